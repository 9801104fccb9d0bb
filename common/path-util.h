/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Path and file-name helpers; resolving paths inside a root directory. */
#pragma once

#include "macro.h"

/* Joins pieces with exactly one '/' between them. */
char *path_join_many(const char *first, ...) __attribute__((sentinel));
#define path_join(...) path_join_many(__VA_ARGS__, NULL)

/* A single path component that is safe to create in a directory: not empty, not "." or "..",
 * no '/', no control characters, at most 255 bytes. */
bool filename_is_valid(const char *name);
bool filename_is_validn(const char *name, size_t n);

/* A relative path whose components are all filename_is_valid(). */
bool path_is_safe_relative(const char *path);

/* The last component of path (without trailing slashes), malloc'd. */
char *path_basename(const char *path);
/* path with the suffix removed if it ends in it, malloc'd. */
char *strdup_strip_suffix(const char *s, const char *suffix);
bool endswith(const char *s, const char *suffix);
bool startswith(const char *s, const char *prefix);

/* "root" + "/path", treating NULL or "/" root as the host. */
char *path_prefix_root(const char *root, const char *path);

/* Opens path below root_fd with every symlink and ".." resolved inside root_fd (openat2
 * RESOLVE_IN_ROOT), so an image or scratch root can never point us at the host's files. */
int open_in_root(int root_fd, const char *path, int flags, mode_t mode);
