/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small rules of portable services: unit names and prefixes, where attached units live, paths seen
 * inside a root, and the characters a path may have to be written into a unit file. */
#pragma once

#include <sys/stat.h>
#include "error.h"

/* The root as given (NULL or "/" mean the host): its canonical path, or NULL for the host. */
int portable_root_canonicalize(const char *root, char **ret, GraftError *err);
/* Opens the root directory (the host's / when root is NULL). */
int portable_root_open(const char *root, GraftError *err);

/* A path on the host seen from inside root: "/srv/x.raw" for root "/tmp/r" and "/tmp/r/srv/x.raw".
 * NULL when path does not lie inside root; a copy of path when root is NULL. */
char *path_strip_root(const char *root, const char *path);

/* /etc/systemd/system.attached or /run/systemd/system.attached. */
const char *portable_attached_dir(bool runtime);
/* /etc/portables or /run/portables. */
const char *portable_link_dir(bool runtime);

/* A unit file name a portable image may ship: [A-Za-z0-9:_.@\-\\]+ with a portable type suffix,
 * not hidden, at most one '@', at most 255 bytes. */
bool portable_unit_name_is_valid(const char *name);
/* A prefix may hold the characters of unit names and must not be empty or hidden. */
bool portable_prefix_is_valid(const char *prefix);
/* Whether unit starts with prefix followed by '-', '.', '@' or the end. */
bool portable_unit_matches_prefix(const char *unit, const char *prefix);
/* The default prefix of an image name: the part before the first '_' ("foo_1.2" → "foo"). */
char *portable_name_family(const char *name);
/* ".service" → "service"; NULL when the name has no portable type suffix. */
const char *portable_unit_type(const char *unit);

/* Refuses a path that cannot be written into a unit file as is (whitespace, quotes, backslash,
 * '%' specifiers, ':' which separates ExtensionImages= options, control characters). what names
 * the path in the message ("image", "extension"). */
int portable_check_unit_file_path(const char *path, const char *what, GraftError *err);

/* Marker values: bytes outside [A-Za-z0-9/._:@+-] as \xNN, so a value never holds a space, '=' or
 * ','. decode returns -EBADMSG on a malformed escape. */
char *portable_value_encode(const char *s);
int portable_value_decode(const char *s, size_t n, char **ret);

/* lstat inside the root: 0 and *ret, -ENOENT, or another negative errno. */
int portable_lstat_in_root(int root_fd, const char *path, struct stat *ret);
/* Reads a symlink inside the root (the link itself, not resolved). */
int portable_readlink_in_root(int root_fd, const char *path, char **ret);
/* Removes name in dir_fd: a file, or a directory with everything below it (symlinks not followed,
 * other mounts not entered: -EXDEV). With check, removes nothing and tells whether the removal
 * could stop half way (-EXDEV: another mount below; -EPERM: an immutable or append-only entry). */
int portable_remove_tree_at(int dir_fd, const char *name, bool check);
