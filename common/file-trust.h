/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether anybody but us could change a file after we checked it. graft verifies an image and
 * then uses it (mounts it through a loop device, copies unit files out of it, remembers that its
 * hash tree verified, writes its path into a unit for systemd to open later): that is only sound
 * when nobody else can write the file, nor replace it under its path. "Us" is root or the user
 * graft runs as; everybody else is untrusted.
 *
 * A file is trusted when it belongs to root or to us, no group or other may write it (an ACL
 * granting write shows in the group bits: they are its mask), it is not on a FUSE file system
 * (whose owner serves whatever bytes it likes on every read), and nobody holds it open for
 * writing right now (a writable descriptor or shared mapping taken before its mode changed: a
 * read lease can only be had when there is none), unless it backs a loop device attached
 * read-write, a writer only root can make (systemd 252 attaches a running service's RootImage= and
 * ExtensionImages= so): another writer beside it is then not seen. Block devices may be group-writable (the disk
 * group can write every disk anyway). A path is trusted when, in addition, every directory above
 * it belongs to root or to us and nobody else may write it, except a sticky directory (/tmp)
 * whose entry on the path is ours: nobody else can then rename or remove it. A directory tree
 * (a directory image, which is used live: overlaid on /usr, or a service's root) is trusted when
 * every directory and file in it is. */
#pragma once

#include "error.h"

/* 0 if fd (a regular file, block device or directory) is trusted; else -EPERM with
 * GRAFT_ERROR_POLICY saying who could write it, e.g. "foo.raw is writable by uid 1000 (its
 * owner)". shown names the file in the message. */
int fd_check_trusted(int fd, const char *shown, GraftError *err);

/* Like fd_check_trusted() for the file at path, and every directory above it (path is made
 * canonical first; symlinks on the way are followed, and their directories checked too, as the
 * path resolves through them). what says what the path is, for the message ("profile"). */
int path_check_trusted(const char *path, const char *what, GraftError *err);

/* Like fd_check_trusted() for every directory and regular file below the directory dir_fd (shown
 * as shown, which names the tree in the message), without following links or crossing into other
 * mounts. Which processes hold its files open is not asked of every file: a writer needed write
 * permission when it opened one, and the mode check finds who had it. */
int tree_check_trusted(int dir_fd, const char *shown, GraftError *err);
