/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns keeping the mounts below a hierarchy visible while it is merged. An overlay's layers are
 * directories, not mount trees: a tmpfs on /usr/lib/locale or a disk on /opt/app lies on the host
 * hierarchy's own file system and would be hidden under the merge. So before a merge covers a
 * hierarchy, every mount right below its top mount is cloned (with what is mounted below it), and
 * the clones are put at the same places in the new merged tree before that tree is attached: they
 * appear together with it, in one mount move. Unmerge does the reverse for mounts that were made
 * on the merged tree and have no twin on the hierarchy below (one whose mount point only an
 * extension had goes with the extension). */
#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

void sysext_submounts_done(SysextSubmounts *s) {
        if (!s)
                return;
        strv_free(s->rel);
        for (size_t i = 0; i < s->n; i++)
                safe_close(s->fds[i]);
        free(s->fds);
        *s = (SysextSubmounts) {};
}

static void table_unrefp(struct libmnt_table **t) {
        mnt_unref_table(*t);
}

/* The mount table as the calling thread sees it (libmount parses and unescapes it). */
static int read_table(const char *file, struct libmnt_table **ret) {
        struct libmnt_table *t = mnt_new_table_from_file(file);
        if (!t)
                return errno > 0 ? -errno : -EIO;
        *ret = t;
        return 0;
}

/* The mount points of the mounts whose parent is mount parent_id, as this thread sees them. */
static int children_of(uint64_t parent_id, char ***ret) {
        __attribute__((cleanup(table_unrefp))) struct libmnt_table *t = NULL;
        int r = read_table("/proc/thread-self/mountinfo", &t);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = NULL;
        struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
        if (!it)
                return -ENOMEM;
        struct libmnt_fs *fs;
        while (r >= 0 && mnt_table_next_fs(t, it, &fs) == 0)
                if ((uint64_t) mnt_fs_get_parent_id(fs) == parent_id && (uint64_t) mnt_fs_get_id(fs) != parent_id)
                        r = strv_extend(&l, mnt_fs_get_target(fs));
        mnt_free_iter(it);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int sysext_mounts_at(const char *path) {
        __attribute__((cleanup(table_unrefp))) struct libmnt_table *t = NULL;
        if (read_table("/proc/self/mountinfo", &t) < 0)
                return 2; /* cannot tell: as if stacked, so the caller looks */
        struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
        if (!it)
                return 2;
        struct libmnt_fs *fs;
        int n = 0;
        while (mnt_table_next_fs(t, it, &fs) == 0)
                n += streq(strempty(mnt_fs_get_target(fs)), path);
        mnt_free_iter(it);
        return n;
}

static int mount_id(const char *path, uint64_t *ret) {
        struct statx sx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
                return negative_errno();
        if (!(sx.stx_mask & STATX_MNT_ID))
                return -EOPNOTSUPP;
        *ret = sx.stx_mnt_id;
        return 0;
}

int sysext_submounts_take(ImageClass class, const char *path, SysextSubmounts *ret, GraftError *err) {
        uint64_t id;
        int r = mount_id(path, &id);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot tell which mount %s is: %s", path, strerror(-r));
        _cleanup_strv_free_ char **mps = NULL;
        r = children_of(id, &mps);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read the mount table: %s", strerror(-r));

        _cleanup_(sysext_submounts_done) SysextSubmounts s = {};
        s.fds = calloc(strv_length(mps) + 1, sizeof(int));
        if (!s.fds)
                return -ENOMEM;
        STRV_FOREACH(mp, mps) {
                const char *rel = startswith(*mp, path) ? *mp + strlen(path) : NULL;
                if (!rel || rel[0] != '/' || !rel[1])
                        continue;
                rel++;
                /* systemd's read-only bind of its metadata directory belongs to its merge. */
                if (startswith(rel, sysext_metadata_dir(class)))
                        continue;
                int fd = (int) syscall(SYS_open_tree, AT_FDCWD, *mp,
                                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
                if (fd < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "cannot keep the mount on %s visible over the merge: %m", *mp);
                s.fds[s.n++] = fd;
                if (strv_extend(&s.rel, rel) < 0)
                        return -ENOMEM;
        }
        *ret = s;
        s = (SysextSubmounts) {};
        return 0;
}

int sysext_submounts_put(SysextSubmounts *s, int dir_fd, const char *shown, GraftError *err) {
        for (size_t i = 0; i < s->n; i++) {
                /* Resolved inside the tree: a symlink an extension ships leads nowhere else. */
                _cleanup_close_ int t = open_in_root(dir_fd, s->rel[i], O_PATH, 0);
                if (t == -ENOENT) {
                        /* Made on a directory only an extension that is no longer merged had: it
                         * goes with that extension, as on unmerge. */
                        s->fds[i] = safe_close(s->fds[i]);
                        continue;
                }
                if (t < 0)
                        return graft_error_set(err, t, GRAFT_ERROR_CONFLICT,
                                               "the mount on %s/%s cannot stay visible over the merge: %s", shown,
                                               s->rel[i], strerror(-t));
                if (sys_move_mount(s->fds[i], "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "cannot keep the mount on %s/%s visible over the merge: %m", shown,
                                               s->rel[i]);
                s->fds[i] = safe_close(s->fds[i]);
        }
        return 0;
}

/* Whether path is the root of a mount of the file system dev. */
static bool is_mount_of(const char *path, dev_t dev) {
        struct statx sx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx) < 0)
                return false;
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && makedev(sx.stx_dev_major, sx.stx_dev_minor) == dev;
}

int sysext_submounts_keep_below(SysextSubmounts *s, const char *path, GraftError *err) {
        _cleanup_close_ int fd = s->n > 0 ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -EBADF;
        if (s->n > 0 && fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m", path);
        for (size_t i = 0; i < s->n; i++) {
                struct stat st;
                _cleanup_free_ char *p = path_join(path, s->rel[i]);
                if (!p)
                        return -ENOMEM;
                /* Our clone of a mount that lies on the hierarchy below: visible again by itself. */
                if (fstat(s->fds[i], &st) < 0 || is_mount_of(p, st.st_dev)) {
                        s->fds[i] = safe_close(s->fds[i]);
                        continue;
                }
                _cleanup_close_ int t = open_in_root(fd, s->rel[i], O_PATH, 0);
                if (t == -ENOENT || t == -ENOTDIR) {
                        /* Its mount point was an extension's: it goes with the extension. */
                        s->fds[i] = safe_close(s->fds[i]);
                        continue;
                }
                if (t < 0 || sys_move_mount(s->fds[i], "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        return graft_error_set(err, t < 0 ? t : negative_errno(), GRAFT_ERROR_IO,
                                               "the mount on %s, made while merged, cannot be moved to the unmerged "
                                               "tree: %s", p, strerror(t < 0 ? -t : errno));
                s->fds[i] = safe_close(s->fds[i]);
                fault_point("sysext-submount-kept");
        }
        return 0;
}
