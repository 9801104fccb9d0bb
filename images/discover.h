/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding images in the search directories of system extensions, configuration extensions and
 * portable services (under a root), by systemd's rules: precedence of directories, NAME.raw files,
 * directories and block devices, NAME.v/ and NAME.raw.v/ directories holding versions of which
 * the newest for the running architecture is used, and a symlink's own name as the image name. */
#pragma once

#include <sys/types.h>
#include "dps.h"
#include "error.h"

typedef enum ImageClass {
        IMAGE_CLASS_SYSEXT,
        IMAGE_CLASS_CONFEXT,
        IMAGE_CLASS_PORTABLE,
        _IMAGE_CLASS_MAX,
} ImageClass;

/* Search directories, highest precedence first, NULL-terminated. */
const char * const *image_class_search_dirs(ImageClass c);

typedef struct DiscoveredImage {
        char *name;        /* image name: "foo" for foo.raw, foo/, foo.v/, foo.raw.v/ */
        char *path;        /* what to open: root-prefixed, symlinks resolved inside root */
        char *found_as;    /* the search directory entry it was found as, relative to root (as given for paths) */
        char *version;     /* from the NAME_VERSION entry of a .v/ directory, else NULL */
        mode_t type;       /* S_IFREG, S_IFDIR or S_IFBLK */
} DiscoveredImage;

void discovered_image_done(DiscoveredImage *d);

typedef struct Discovery {
        DiscoveredImage *images; /* sorted by name; the first of a name in precedence order */
        size_t n_images;
        char **skipped;          /* "PATH: reason" for entries that could not be used */
        /* Extensions only (not portable): names masked by an empty directory or a symlink to
         * /dev/null of their name in a directory of higher precedence, as in systemd. */
        char **masked;
        /* "PATH: why" for what was found and deliberately not used (no error): a mask, an image
         * of a masked name or of a name an earlier directory has, an older version in a .v/. */
        char **passed_over;
} Discovery;

void discovery_done(Discovery *d);

/* Lists every image of a class under root (NULL: the host). Entries with unusable names ("..",
 * control characters, a hidden file), unusable types or empty .v/ directories are listed in
 * skipped rather than failing the whole discovery: one bad entry must not hide the others. */
int image_discover(const char *root, ImageClass c, Architecture arch, Discovery *ret, GraftError *err);

/* Picks the newest entry NAME_VERSION[_ARCH][.raw] of a .v/ directory for arch (or for no
 * architecture suffix), comparing versions with version_compare(). -ENOENT with a message when
 * there is none. */
int image_pick_versioned(const char *vdir, const char *name, Architecture arch, char **ret_path,
                         char **ret_version, GraftError *err);

/* Finds one image: a name is looked up in the search directories, anything with a '/' is taken as
 * a path (outside root, as given). GRAFT_ERROR_NO_SUCH_IMAGE names the directories looked in. */
int image_find(const char *root, ImageClass c, Architecture arch, const char *name_or_path,
               DiscoveredImage *ret, GraftError *err);

/* Whether s may be an image name: a valid file name, not hidden, no control characters or
 * whitespace. */
bool image_name_is_valid(const char *s);
