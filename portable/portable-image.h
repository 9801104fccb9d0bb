/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A portable image and its extensions as attach sees them: found, verified under the image
 * policy, their release files checked, and the unit files they ship, selected by prefix. */
#pragma once

#include "dissect.h"
#include "image-fs.h"
#include "image-verify.h"
#include "portable.h"

typedef struct PortableImage {
        char *name;         /* image name: "foo_1" for foo_1.raw, "foo" for foo.v/ */
        char *version;      /* from a .v/ directory or the partition label, else NULL */
        char *path;         /* inside the root, symlinks resolved: what the unit files name */
        char *given;        /* the search directory entry or path it was found as, inside the root
                             * (NULL when given as a path outside the root) */
        bool by_path;       /* given as a path rather than a name */
        bool directory;
        bool in_search_dir; /* lies in a portable search directory (no link needed) */
        char *root_hash;    /* verified; NULL for images without verity */
        char *signer;       /* subject of the trusted signer, if signed */
        char **release;     /* os-release (image) or extension-release (extension) */
        char *release_path;
        DissectedImage *dissected;
        ImageFs *fs;
        char *open_path;    /* root-prefixed, for opening */
} PortableImage;

PortableImage *portable_image_free(PortableImage *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(PortableImage *, portable_image_free);

/* Finds, dissects and verifies an image (or, with extension, an extension image, whose
 * extension-release.NAME must exist). root is canonical (portable_root_canonicalize). A refused
 * verification (under o->image_policy, through o->verify_cache) is reported as image_verify() words it, prefixed by nothing: its message names the
 * image already. */
int portable_image_load(const char *root, const char *name_or_path, bool extension, const PortableOptions *o,
                        PortableImage **ret, GraftError *err);

typedef struct PortableUnit {
        char *name;
        char *image_path;   /* the file inside its image: /usr/lib/systemd/system/NAME */
        char *content;
        size_t size;
        size_t provider;    /* 0: the image; i: extension i-1 */
} PortableUnit;

typedef struct PortableImageSet {
        PortableImage *image;
        PortableImage **extensions;
        size_t n_extensions;
        PortableUnit *units;    /* the selected units, sorted by name */
        size_t n_units;
        char **prefixes;        /* the prefixes used */
} PortableImageSet;

void portable_image_set_done(PortableImageSet *s);

/* Loads the image and o->extensions (each extension's release checked against the image's
 * os-release, scope "portable"), checks os-release and ID=, applies PORTABLE_PREFIXES, selects
 * and reads the matching units. Refusals name the image and, where there is one, the unit. */
int portable_image_set_load(const char *root, const PortableOptions *o, const char *image, char * const *prefixes,
                            PortableImageSet *ret, GraftError *err);

/* For --copy=symlink: the unit's file on the host (inside the root), symlinks inside the image
 * resolved inside the image. Only for units of directory images (attach copies the others);
 * -EMEDIUMTYPE with a message otherwise. */
int portable_unit_link_source(const char *root, const PortableImageSet *s, const PortableUnit *u, char **ret,
                              GraftError *err);
