/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of sysext/ share among themselves and nobody else uses: the new mount API
 * system calls (glibc 2.36 has no wrappers for them), hierarchy helpers and the overlay builder. */
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/syscall.h>

#include "sysext.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* Linux 6.5 */
#endif

static inline int sys_fsopen(const char *fs, unsigned flags) {
        return (int) syscall(SYS_fsopen, fs, flags);
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
        return (int) syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attrs) {
        return (int) syscall(SYS_fsmount, fd, flags, attrs);
}
static inline int sys_move_mount(int from_fd, const char *from, int to_fd, const char *to, unsigned flags) {
        return (int) syscall(SYS_move_mount, from_fd, from, to_fd, to, flags);
}

/* Test knobs, from $GRAFT_SYSEXT_COMPAT (comma-separated): "no-beneath" takes the path for kernels
 * without MOVE_MOUNT_BENEATH, "no-lowerdir-plus" the one for kernels before 6.8 (no per-layer
 * "lowerdir+" option). Only the integration tests set it. */
bool sysext_compat(const char *what);

/* The release file kind of a class. */
static inline ExtensionKind sysext_extension_kind(ImageClass c) {
        return c == IMAGE_CLASS_CONFEXT ? EXTENSION_CONFEXT : EXTENSION_SYSEXT;
}

/* The root as the library uses it: NULL for the host ("" and "/" too). */
static inline const char *sysext_root(const SysextOptions *o) {
        return isempty(o->root) || streq(o->root, "/") ? NULL : o->root;
}

/* The path an fd refers to, as this process sees it (symlinks resolved), malloc'd. */
char *sysext_fd_path(int fd);

/* The hierarchies of o (o->hierarchies or the default), copied. */
int sysext_hierarchies(const SysextOptions *o, char ***ret, GraftError *err);

/* Fills h for one hierarchy: resolved inside root (NULL when it does not exist), and whether it
 * carries a merge whose metadata names its own st_dev. */
int sysext_hierarchy_read(ImageClass class, const char *root, const char *path, SysextHierarchy *ret,
                          GraftError *err);

/* Whether the tree at path (as this process sees it) is a merge made by us or systemd. *ret_dev:
 * the device it names. */
int sysext_path_is_merged(ImageClass class, const char *path, dev_t *ret_dev);

/* The staging directory root/run/graft/{sysext,confext}, created if missing, as a path. */
int sysext_staging_dir(ImageClass class, const char *root, char **ret, GraftError *err);

/* Builds one detached overlay mount per hierarchy (fds[i] = -EBADF where no image ships content),
 * in a private mount namespace: nothing of the staging is ever visible outside. Images that fail
 * to mount are marked skipped in the plan; the content lists of the others are filled in. Where a
 * hierarchy carries a merge now, the new overlay stacks on what lies below that merge. */
int sysext_overlays_build(const SysextOptions *o, SysextPlan *plan, int **ret_fds, GraftError *err);

/* Reads the extension-release files of the extensions a merged hierarchy lists, through the merged
 * tree, and tells whether one of them asks for EXTENSION_RELOAD_MANAGER. */
bool sysext_merged_wants_reload(ImageClass class, const char *root, const SysextHierarchy *h);

/* "1", "yes", "true", "on" (any case). */
bool sysext_parse_boolean(const char *s);
