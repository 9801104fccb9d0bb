/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the trust rule for files and paths (see file-trust.h). */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "file-trust.h"
#include "fileio.h"
#include "path-util.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

static bool owner_trusted(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

/* Who may write a file of this owner and mode besides root and us, in words; NULL: nobody. */
static const char *writers(const struct stat *st, char buf[static 64]) {
        if (!owner_trusted(st->st_uid))
                snprintf(buf, 64, "uid %u (its owner)", (unsigned) st->st_uid);
        else if (st->st_mode & S_IWOTH)
                snprintf(buf, 64, "everyone");
        else if ((st->st_mode & S_IWGRP) && !S_ISBLK(st->st_mode))
                snprintf(buf, 64, "group %u", (unsigned) st->st_gid);
        else
                return NULL;
        return buf;
}

/* Whether some process holds the regular file open for writing (or mapped shared and writable):
 * a read lease cannot be taken then. Where leases are not to be had (a file system without them,
 * a file neither ours nor root's lease to take) the permission check has to do. The lease is
 * taken on a descriptor of our own for a moment; should somebody open the file for writing in
 * that moment, the kernel tells the lease holder with a signal, SIGIO by default, which would
 * kill us: it is SIGURG here, which is ignored unless a program asks for it. */
static int open_for_writing(int fd) {
        _cleanup_close_ int rd = fd_reopen(fd, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (rd < 0)
                return 0;
        if (fcntl(rd, F_SETSIG, SIGURG) < 0)
                return 0;
        if (fcntl(rd, F_SETLEASE, F_RDLCK) >= 0) {
                (void) fcntl(rd, F_SETLEASE, F_UNLCK);
                return 0;
        }
        return errno == EAGAIN ? 1 : 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/* Whether the file is the backing file of a loop device attached read-write. systemd 252 attaches
 * the RootImage= and ExtensionImages= of a running service that way whenever it can, so the image
 * of every running portable service is open for writing: by the kernel, on behalf of whoever set
 * the loop device up, which takes CAP_SYS_ADMIN. Read from sysfs: each loop device's backing file
 * by path, as seen from our root, compared by device and inode. */
static bool backs_writable_loop(const struct stat *st) {
        _cleanup_(closedirp) DIR *d = opendir("/sys/block");
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (strncmp(de->d_name, "loop", 4) != 0)
                        continue;
                _cleanup_free_ char *backing = NULL, *ro = NULL, *bp = NULL, *rp = NULL;
                if (asprintf(&bp, "%s/loop/backing_file", de->d_name) < 0 || asprintf(&rp, "%s/ro", de->d_name) < 0)
                        return false;
                if (read_full_file_at(dirfd(d), bp, PATH_MAX, &backing, NULL) < 0 ||
                    read_full_file_at(dirfd(d), rp, 16, &ro, NULL) < 0)
                        continue;
                backing[strcspn(backing, "\n")] = 0;
                struct stat b;
                if (ro[0] == '0' && stat(backing, &b) >= 0 && b.st_dev == st->st_dev && b.st_ino == st->st_ino)
                        return true;
        }
        return false;
}

int fd_check_trusted(int fd, const char *shown, GraftError *err) {
        struct stat st;
        struct statfs sf;
        if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", shown);
        char who[64];
        if (writers(&st, who))
                return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                       "%s is writable by %s, who could change it after graft checked it (make it "
                                       "root's and not writable by group or others)", shown, who);
        if ((uint32_t) sf.f_type == FUSE_SUPER_MAGIC)
                return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                       "%s is on a FUSE file system, whose owner can change what every read returns: "
                                       "copy it to a local file system", shown);
        if (S_ISREG(st.st_mode)) {
                int r = open_for_writing(fd);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot check %s: %s", shown, strerror(-r));
                /* A read-write loop device over it is a writer root made: then another writer is
                 * not seen, and the mode and owner checks above are what is left. */
                if (r > 0 && !backs_writable_loop(&st))
                        return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                               "%s is open for writing by another process (a writable descriptor or "
                                               "shared mapping), which could change it after it was verified", shown);
        }
        return 0;
}

/* The directory dir_fd (shown as shown) as a step on a path whose next entry is next_st. */
static int check_directory(int dir_fd, const char *shown, const struct stat *next_st, const char *what,
                           const char *path, GraftError *err) {
        struct stat st;
        if (fstat(dir_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", shown);
        char who[64];
        const char *w = writers(&st, who);
        /* A sticky directory lets nobody rename or remove an entry that is not theirs. */
        if (w && owner_trusted(st.st_uid) && (st.st_mode & S_ISVTX) && owner_trusted(next_st->st_uid))
                w = NULL;
        if (w)
                return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                       "%s %s: the directory %s is writable by %s, who could replace it", what, path,
                                       shown, w);
        return 0;
}

int path_check_trusted(const char *path, const char *what, GraftError *err) {
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return graft_error_set(err, negative_errno(), errno == ENOENT ? GRAFT_ERROR_MISSING_FILE : GRAFT_ERROR_IO,
                                       "%s %s: %m", what, path);
        _cleanup_close_ int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open /: %m");
        _cleanup_free_ char *shown = strdup("/");
        if (!shown)
                return -ENOMEM;
        /* Walk the canonical path one entry at a time, never following a link: what we check is
         * what the path names. */
        for (char *p = real + 1; *p;) {
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *name = strndup(p, n);
                if (!name)
                        return -ENOMEM;
                int next = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s %s: cannot open %s/%s: %m",
                                               what, path, streq(shown, "/") ? "" : shown, name);
                struct stat st;
                int r = fstat(next, &st) < 0 ? graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                                               "cannot stat %s/%s: %m", shown, name)
                                             : check_directory(dir, shown, &st, what, path, err);
                safe_close(dir);
                dir = next;
                if (r < 0)
                        return r;
                char *s = path_join(shown, name);
                if (!s)
                        return -ENOMEM;
                free(shown);
                shown = s;
                p += n;
                while (*p == '/')
                        p++;
        }
        /* The file itself, through a real descriptor (a lease needs one) opened only once it is
         * known not to be a FIFO or device (which could block us, or act on being opened). */
        _cleanup_free_ char *label = NULL;
        if (asprintf(&label, "%s %s", what, path) < 0)
                return -ENOMEM;
        struct stat st;
        if (fstat(dir, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", label);
        int r = stat_check_type(&st, FILE_ACCEPT_DIRECTORY | FILE_ACCEPT_BLOCK, label, GRAFT_ERROR_INVALID_ARGUMENT, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = fd_reopen(dir, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s: %s", label, strerror(-fd));
        return fd_check_trusted(fd, label, err);
}

/* Deeper than this is no file system tree that anybody ships; refusing it keeps the walk's
 * recursion (one descriptor per level) bounded. */
#define TREE_DEPTH_MAX 128


static int walk_tree(int dir_fd, dev_t dev, const char *shown, const char *rel, unsigned depth, GraftError *err) {
        if (depth > TREE_DEPTH_MAX)
                return graft_error_set(err, -ELOOP, GRAFT_ERROR_POLICY, "%s: %s is nested more than %u directories deep",
                                       shown, rel, TREE_DEPTH_MAX);
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot open %s: %m", shown, rel);
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot read %s: %m", shown, rel);
        }
        for (struct dirent *e; (errno = 0, e = readdir(d));) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot stat %s/%s: %m",
                                               shown, rel, e->d_name);
                /* Links are not followed (what they name is checked where it is used); FIFOs,
                 * sockets and devices hold no bytes of the tree; other mounts are not the tree. */
                if (!(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) || st.st_dev != dev)
                        continue;
                _cleanup_free_ char *sub = streq(rel, ".") ? strdup(e->d_name) : path_join(rel, e->d_name);
                if (!sub)
                        return -ENOMEM;
                char who[64];
                if (writers(&st, who))
                        return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                               "%s: %s is writable by %s, who could change what graft checked (make "
                                               "the whole tree root's and not writable by group or others)",
                                               shown, sub, who);
                if (!S_ISDIR(st.st_mode))
                        continue;
                _cleanup_close_ int child = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot open %s: %m", shown, sub);
                int r = walk_tree(child, dev, shown, sub, depth + 1, err);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot read %s: %m", shown, rel);
        return 0;
}

int tree_check_trusted(int dir_fd, const char *shown, GraftError *err) {
        int r = fd_check_trusted(dir_fd, shown, err);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(dir_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", shown);
        return walk_tree(dir_fd, st.st_dev, shown, ".", 0, err);
}
