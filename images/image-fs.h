/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading files out of an image's data file system, whatever holds it: a squashfs (read with
 * libsquashfs, unprivileged), a directory image (openat2 confined to it), or an erofs (mounted
 * read-only through a loop device in a private directory; needs root). Symlinks are resolved
 * inside the image, never on the host. */
#pragma once

#include "dissect.h"
#include "squashfs.h"

typedef struct ImageFs ImageFs;

int image_fs_open(const DissectedImage *image, ImageFs **ret, GraftError *err);
ImageFs *image_fs_free(ImageFs *fs);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageFs *, image_fs_free);

/* -ENOENT without an error record when the file does not exist. */
int image_fs_read_file(ImageFs *fs, const char *path, size_t max, char **ret, size_t *ret_size,
                       GraftError *err);
/* Sorted entries; -ENOENT without an error record when the directory does not exist. */
int image_fs_list_dir(ImageFs *fs, const char *path, SquashfsEntry **ret, size_t *ret_n, GraftError *err);
/* The extended attribute key of a file in the image, as a string; -ENODATA without an error record
 * when it has none (or the file system keeps none), -ENOENT when the file does not exist. */
int image_fs_get_xattr(ImageFs *fs, const char *path, const char *key, char **ret, GraftError *err);
