/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an image says about itself: os-release, extension-release, and the unit files it ships. */
#pragma once

#include "image-fs.h"

typedef struct ImageMetadata {
        char **os_release;        /* key/value strv, or NULL if the image has none */
        char *os_release_path;    /* where it was found: /etc/os-release or /usr/lib/os-release */
        char **extension_release; /* key/value strv of extension-release.NAME, or NULL */
        char *extension_release_path;
        char **units;             /* unit file names in the system unit directories, sorted */
} ImageMetadata;

void image_metadata_done(ImageMetadata *m);

/* Reads the metadata of an image whose name (for extension-release.NAME) is name. A release file
 * that exists but cannot be parsed is an error; missing ones are left NULL. Without
 * extension-release.NAME, the one extension-release.* file marked with the xattr
 * user.extension-release.strict=false stands in (the image's author allows renaming it, as
 * systemd does); more than one such file is refused (-ENOTUNIQ). */
int image_metadata_read(ImageFs *fs, const char *name, ImageMetadata *ret, GraftError *err);

typedef enum ImageReleaseFlags {
        /* No release file by any of the names: the one extension-release.* file the image has stands
         * in, marked or not (portable --force). */
        IMAGE_RELEASE_ANY_NAME = 1 << 0,
} ImageReleaseFlags;

/* image_metadata_read() trying extension-release.NAME for each of names in order (a versioned
 * name, then the name without its version), then the stand-in of the first name. */
int image_metadata_read_full(ImageFs *fs, char * const *names, ImageReleaseFlags flags, ImageMetadata *ret,
                             GraftError *err);

/* Reads one release file (os-release syntax) from the image: 1 and the key/value strv if it
 * exists, 0 if it does not. */
int image_read_release(ImageFs *fs, const char *path, char ***ret, GraftError *err);

/* The directories, inside an image, where portable services keep their unit files. */
extern const char * const image_unit_dirs[];
/* Whether a file name is a unit type a portable service may ship
 * (.service .socket .target .timer .path). */
bool unit_name_is_portable_type(const char *name);
