/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the test programs that build a tree and compare it with what comes back
 * (test-squashfs.c: the reader; test-squashfs-writer.c: the writer against the peers;
 * test-loop-mount.c: the kernel's view of a mounted image): scratch directories, running the peer
 * tools, and the oracle tree with every inode type. Included by exactly one .c file per program. */
#pragma once

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "fileio.h"
#include "squashfs.h"
#include "strv.h"
#include "tests.h"

#define MB (1024u * 1024u)

static bool is_root;

/* ---- helpers ---- */

_printf_(1, 2)
static int run(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, format);
        ASSERT_TRUE(vasprintf(&cmd, format, ap) >= 0);
        va_end(ap);
        int r = system(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : 128;
}

_unused_ static bool have_program(const char *name) {
        return run("command -v %s >/dev/null 2>&1", name) == 0;
}

static char *scratch_new(void) {
        char *d = strdup("/tmp/graft-test-squashfs.XXXXXX");
        ASSERT_TRUE(d && mkdtemp(d));
        return d;
}

static void scratch_remove(char *d) {
        if (d) {
                ASSERT_EQ(run("chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", d, d), 0);
                free(d);
        }
}

_printf_(1, 2)
static char *pathf(const char *format, ...) {
        char *p = NULL;
        va_list ap;
        va_start(ap, format);
        ASSERT_TRUE(vasprintf(&p, format, ap) >= 0);
        va_end(ap);
        return p;
}

static void write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(pwrite_full(fd, data, size, 0));
        ASSERT_OK(fchmod(fd, mode));
        close(fd);
}

static void random_bytes(void *buf, size_t n) {
        for (size_t i = 0; i < n;) {
                ssize_t k = getrandom((uint8_t *) buf + i, n - i, 0);
                ASSERT_TRUE(k > 0);
                i += (size_t) k;
        }
}

static bool xattrs_supported;

static void make_tree_names(const char *root);
static void make_tree_attributes(const char *root);

/* The tree the oracle tests compare against: every inode type, odd modes, fragments and
 * multi-block files, symlinks of every kind, a hard link, xattrs, a 255-byte name and a
 * directory with 2000 entries. */
static void make_tree(const char *root) {
        static const char *dirs[] = { "usr", "usr/bin", "usr/lib", "usr/lib/deep", "usr/lib/deep/er",
                                      "usr/lib/deep/er/est", "empty", "many" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = pathf("%s/%s", root, dirs[i]);
                ASSERT_OK(mkdir(p, 0755));
        }
        _cleanup_free_ char *empty_file = pathf("%s/empty-file", root), *small = pathf("%s/small", root),
                            *small2 = pathf("%s/usr/lib/small2", root), *small3 = pathf("%s/usr/lib/deep/er/est/leaf", root),
                            *rnd = pathf("%s/usr/lib/big-random", root), *txt = pathf("%s/usr/lib/big-text", root),
                            *sparse = pathf("%s/usr/lib/sparse", root), *tool = pathf("%s/usr/bin/tool", root),
                            *hard = pathf("%s/usr/bin/tool-hardlink", root), *secret = pathf("%s/secret", root),
                            *fifo = pathf("%s/fifo", root), *sock = pathf("%s/usr/socket", root);
        write_file(empty_file, "", 0, 0644);
        write_file(small, "hello\n", 6, 0644);
        write_file(small2, "small file number two\n", 22, 0600);
        write_file(small3, "deep leaf\n", 10, 0444);

        size_t n_rnd = 5 * 128 * 1024 + 1234;
        _cleanup_free_ uint8_t *b = malloc(n_rnd);
        random_bytes(b, n_rnd);
        write_file(rnd, b, n_rnd, 0644);

        size_t n_txt = MB + 77;
        _cleanup_free_ char *t = malloc(n_txt);
        for (size_t i = 0; i < n_txt; i++)
                t[i] = "graft composes a host from signed images\n"[i % 41];
        write_file(txt, t, n_txt, 0644);

        /* A hole of two whole blocks between data: sparse blocks in squashfs. */
        write_file(sparse, "start", 5, 0644);
        int fd = open(sparse, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(pwrite_full(fd, "end", 3, 3 * 128 * 1024));
        close(fd);

        write_file(tool, "#!/bin/sh\necho tool\n", 20, 04755);
        ASSERT_OK(link(tool, hard));
        /* mode 0000 only where the build can still read it */
        write_file(secret, "nobody may read this\n", 21, is_root ? 0000 : 0400);
        ASSERT_OK(mkfifo(fifo, 0640));

        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        ASSERT_TRUE(s >= 0 && strlen(sock) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, sock);
        ASSERT_OK(bind(s, (struct sockaddr *) &sa, sizeof(sa)));
        close(s);

        make_tree_names(root);
        make_tree_attributes(root);
}

/* Symlinks of every kind, a 255-byte name, 2000 entries in one directory. */
static void make_tree_names(const char *root) {
        static const char *links[][2] = {
                { "link-abs", "/usr/bin/tool" },           { "link-rel", "usr/bin/tool" },
                { "link-dangling", "/nonexistent/file" },  { "link-loop", "link-loop" },
                { "link-up", "../../../../usr/bin/tool" }, { "usr/lib/link-dotdot", "../bin/tool" },
                { "link-dir", "usr/lib/deep/" },           { "link-chain", "link-abs" },
        };
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                _cleanup_free_ char *p = pathf("%s/%s", root, links[i][0]);
                ASSERT_OK(symlink(links[i][1], p));
        }

        char longname[256];
        memset(longname, 'n', 255);
        longname[255] = 0;
        memcpy(longname, "long-", 5);
        _cleanup_free_ char *lp = pathf("%s/usr/%s", root, longname);
        write_file(lp, "long name\n", 10, 0644);

        for (unsigned i = 0; i < 2000; i++) {
                char c[32];
                _cleanup_free_ char *p = pathf("%s/many/entry-%04u", root, i);
                int n = snprintf(c, sizeof(c), "content %u\n", i);
                write_file(p, c, (size_t) n, 0644);
        }
}

/* Extended attributes where the file system takes them; device nodes and owners as root. */
static void make_tree_attributes(const char *root) {
        _cleanup_free_ char *small = pathf("%s/small", root), *small2 = pathf("%s/usr/lib/small2", root),
                            *tool = pathf("%s/usr/bin/tool", root), *fifo = pathf("%s/fifo", root);
        xattrs_supported = setxattr(small, "user.graft.test", "value-1", 7, 0) >= 0;
        if (xattrs_supported) {
                _cleanup_free_ char *usr = pathf("%s/usr", root);
                ASSERT_OK(setxattr(usr, "user.graft.dir", "on a directory", 14, 0));
                ASSERT_OK(setxattr(small, "user.graft.empty", "", 0, 0));
                ASSERT_OK(setxattr(root, "user.graft.root", "root!", 5, 0));
                ASSERT_OK(setxattr(tool, "user.graft.hardlinked", "both names", 10, 0));
        } else
                fprintf(stderr, "(the file system under /tmp refuses user.* xattrs: xattr checks skipped)\n");

        if (is_root) {
                _cleanup_free_ char *chr = pathf("%s/usr/null-ish", root), *blk = pathf("%s/usr/blockdev", root);
                ASSERT_OK(mknod(chr, S_IFCHR | 0666, makedev(1, 3)));
                ASSERT_OK(mknod(blk, S_IFBLK | 0600, makedev(259, 70000))); /* minor > 255 */
                ASSERT_OK(lchown(small2, 1234, 5678));
                ASSERT_OK(lchown(fifo, 4242, 0));
        } else
                fprintf(stderr, "(not root: device nodes and owners skipped)\n");
}

_unused_ static int build_image(const char *src, const char *out, uint64_t offset, const SquashfsWriteOptions *o,
                       uint64_t *ret_size, GraftError *err) {
        int fd = open(out, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        int r = squashfs_write_tree(src, fd, offset, o, ret_size, err);
        close(fd);
        return r;
}

static void read_whole(const char *path, char **ret, size_t *ret_size) {
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 64 * MB, ret, ret_size));
}

/* ---- comparing a tree with its copy (unpacked or mounted) ---- */

static void check_xattrs(const char *a, const char *b) {
        char la[4096];
        ssize_t na = llistxattr(a, la, sizeof(la));
        ASSERT_TRUE(na >= 0);
        for (ssize_t i = 0; i < na; i += (ssize_t) strlen(la + i) + 1) {
                if (strncmp(la + i, "user.", 5) != 0)
                        continue;
                char va[256], vb[256];
                ssize_t x = lgetxattr(a, la + i, va, sizeof(va)), y = lgetxattr(b, la + i, vb, sizeof(vb));
                if (y < 0)
                        ASSERT_FAIL_("%s: xattr %s missing", b, la + i);
                if (y != x || memcmp(va, vb, (size_t) x) != 0)
                        ASSERT_FAIL_("%s: xattr %s differs", b, la + i);
        }
}

/* What a copy keeps of the source, by who made it: unsquashfs (not root) drops owners, devices
 * and set-id bits and the times of symlinks, a kernel mount keeps everything. */
typedef struct CompareFlags {
        bool owners, times, xattrs, devices, sockets;
        bool setid;         /* setuid/setgid bits */
        bool symlink_times; /* with times: the mtime of symlinks too */
        bool links;         /* link counts of non-directories (hard links kept as such) */
        bool exact;         /* no entry in the copy that the source lacks */
} CompareFlags;

static unsigned count_dir_entries(const char *path) {
        DIR *d = opendir(path);
        ASSERT_TRUE(d);
        unsigned n = 0;
        for (struct dirent *e; (e = readdir(d));)
                n++;
        closedir(d);
        return n;
}

/* Every entry of source is in copy with the same type, mode, owner, times, target, content (as
 * far as f asks). Returns the number of entries compared. */
_unused_ static unsigned compare_trees(const char *source, const char *copy, const CompareFlags *f) {
        DIR *d = opendir(source);
        ASSERT_TRUE(d);
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *a = pathf("%s/%s", source, de->d_name), *b = pathf("%s/%s", copy, de->d_name);
                struct stat sa, sb;
                ASSERT_OK(lstat(a, &sa));
                if ((S_ISSOCK(sa.st_mode) && !f->sockets) || ((S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode)) && !f->devices))
                        continue;
                if (lstat(b, &sb) < 0)
                        ASSERT_FAIL_("%s: missing in the copy", b);
                n++;
                mode_t mask = f->setid ? 07777 : 01777;
                if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT) || (sa.st_mode & mask) != (sb.st_mode & mask))
                        ASSERT_FAIL_("%s: mode %o, source %o", b, sb.st_mode, sa.st_mode);
                if (f->owners && (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid))
                        ASSERT_FAIL_("%s: owner %u:%u, source %u:%u", b, sb.st_uid, sb.st_gid, sa.st_uid, sa.st_gid);
                if (f->times && (f->symlink_times || !S_ISLNK(sa.st_mode)) && sa.st_mtim.tv_sec != sb.st_mtim.tv_sec)
                        ASSERT_FAIL_("%s: mtime %lld, source %lld", b, (long long) sb.st_mtim.tv_sec,
                                     (long long) sa.st_mtim.tv_sec);
                if (f->links && !S_ISDIR(sa.st_mode) && sa.st_nlink != sb.st_nlink)
                        ASSERT_FAIL_("%s: %ju links, source %ju", b, (uintmax_t) sb.st_nlink, (uintmax_t) sa.st_nlink);
                if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode))
                        ASSERT_EQ(sa.st_rdev, sb.st_rdev);
                if (S_ISLNK(sa.st_mode)) {
                        char ta[4096] = {}, tb[4096] = {};
                        ASSERT_TRUE(readlink(a, ta, sizeof(ta) - 1) > 0 && readlink(b, tb, sizeof(tb) - 1) > 0);
                        ASSERT_STREQ(ta, tb);
                } else if (S_ISREG(sa.st_mode)) {
                        ASSERT_EQ(sa.st_size, sb.st_size);
                        _cleanup_free_ char *ca = NULL, *cb = NULL;
                        size_t za, zb;
                        read_whole(a, &ca, &za);
                        read_whole(b, &cb, &zb);
                        if (za != zb || memcmp(ca, cb, za) != 0)
                                ASSERT_FAIL_("%s: content differs from the source", b);
                } else if (S_ISDIR(sa.st_mode)) {
                        n += compare_trees(a, b, f);
                        if (f->exact && count_dir_entries(b) != count_dir_entries(a))
                                ASSERT_FAIL_("%s: %u entries, source %u", b, count_dir_entries(b), count_dir_entries(a));
                }
                if (f->xattrs && !S_ISLNK(sa.st_mode))
                        check_xattrs(a, b);
        }
        closedir(d);
        return n;
}

_unused_ static unsigned count_entries(const char *dir) {
        DIR *d = opendir(dir);
        ASSERT_TRUE(d);
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                n++;
                if (de->d_type == DT_DIR) {
                        _cleanup_free_ char *p = pathf("%s/%s", dir, de->d_name);
                        n += count_entries(p);
                }
        }
        closedir(d);
        return n;
}
