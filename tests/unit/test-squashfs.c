/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* squashfs reader and writer against the peers: trees written by squashfs_write_tree are listed
 * and unpacked with squashfs-tools (unsquashfs) and squashfs-tools-ng (rdsquashfs) and compared
 * with the source; images made by mksquashfs, including hostile byte-patched ones, are read. */
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

static bool have_program(const char *name) {
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

typedef struct Progress {
        uint64_t done, total;
        unsigned calls;
} Progress;

static void progress_cb(void *userdata, uint64_t done, uint64_t total) {
        Progress *p = userdata;
        ASSERT_TRUE(done >= p->done);
        p->done = done;
        p->total = total;
        p->calls++;
}

static int build_image(const char *src, const char *out, uint64_t offset, const SquashfsWriteOptions *o,
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

static void check_xattrs(const char *a, const char *b) {
        char la[4096], lb[4096];
        ssize_t na = llistxattr(a, la, sizeof(la)), nb = llistxattr(b, lb, sizeof(lb));
        ASSERT_TRUE(na >= 0 && nb >= 0);
        /* Only user.* is compared: the extracting tool may add or drop security labels. */
        for (ssize_t i = 0; i < na; i += (ssize_t) strlen(la + i) + 1) {
                if (strncmp(la + i, "user.", 5) != 0)
                        continue;
                char va[256], vb[256];
                ssize_t x = lgetxattr(a, la + i, va, sizeof(va)), y = lgetxattr(b, la + i, vb, sizeof(vb));
                if (y < 0)
                        ASSERT_FAIL_("%s: xattr %s missing", b, la + i);
                ASSERT_EQ(x, y);
                ASSERT_TRUE(memcmp(va, vb, (size_t) x) == 0);
        }
}

typedef struct CompareFlags {
        bool owners, times, xattrs, devices, sockets;
        bool setid; /* setuid/setgid bits, which unsquashfs drops when not root */
} CompareFlags;

/* Every entry of source is in copy with the same type, mode, size, owner, target, content. */
static unsigned compare_trees(const char *source, const char *copy, const CompareFlags *f) {
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
                        ASSERT_FAIL_("%s: missing in the unpacked copy", b);
                n++;
                mode_t mask = f->setid ? 07777 : 01777;
                if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT) || (sa.st_mode & mask) != (sb.st_mode & mask))
                        ASSERT_FAIL_("%s: mode %o, source %o", b, sb.st_mode, sa.st_mode);
                if (f->owners && (sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid))
                        ASSERT_FAIL_("%s: owner %u:%u, source %u:%u", b, sb.st_uid, sb.st_gid, sa.st_uid, sa.st_gid);
                if (f->times && !S_ISLNK(sa.st_mode) && sa.st_mtim.tv_sec != sb.st_mtim.tv_sec)
                        ASSERT_FAIL_("%s: mtime %lld, source %lld", b, (long long) sb.st_mtim.tv_sec,
                                     (long long) sa.st_mtim.tv_sec);
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
                } else if (S_ISDIR(sa.st_mode))
                        n += compare_trees(a, b, f);
                if (f->xattrs && !S_ISLNK(sa.st_mode))
                        check_xattrs(a, b);
        }
        closedir(d);
        return n;
}

static unsigned count_entries(const char *dir) {
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

static void mode_string(mode_t m, char out[11]) {
        out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
        static const char rwx[] = "rwxrwxrwx";
        for (int i = 0; i < 9; i++)
                out[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
        if (m & S_ISUID)
                out[3] = (m & 0100) ? 's' : 'S';
        if (m & S_ISGID)
                out[6] = (m & 0010) ? 's' : 'S';
        if (m & S_ISVTX)
                out[9] = (m & 0001) ? 't' : 'T';
        out[10] = 0;
}

/* Checks each source entry against its line of `unsquashfs -lln`: mode string, numeric owner,
 * size (or device numbers) and symlink target. */
static unsigned check_listing(const char *source, const char *rel, char **lines) {
        _cleanup_free_ char *dir = pathf("%s%s", source, rel);
        DIR *d = opendir(dir);
        ASSERT_TRUE(d);
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *r = pathf("%s/%s", rel, de->d_name), *a = pathf("%s%s", source, r);
                struct stat st;
                ASSERT_OK(lstat(a, &st));
                char ms[11];
                mode_string(st.st_mode, ms);
                /* unsquashfs -lln prints a device as (encoded >> 8, encoded & 0xff) of the squashfs
                 * encoding, which is major,minor only for minors below 256. */
                unsigned enc = (minor(st.st_rdev) & 0xffu) | (major(st.st_rdev) << 8) | ((minor(st.st_rdev) & ~0xffu) << 12);
                _cleanup_free_ char *size = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                        ? pathf("%u,%u", enc >> 8, enc & 0xffu)
                        : pathf("%llu", S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? (unsigned long long) st.st_size : 0ull);
                char target[4096] = {};
                if (S_ISLNK(st.st_mode))
                        ASSERT_TRUE(readlink(a, target, sizeof(target) - 1) > 0);

                bool found = false;
                STRV_FOREACH(l, lines) {
                        /* "<mode> <uid>/<gid> <size> <date> <time> squashfs-root<path>[ -> target]" */
                        char lm[16], owner[32], lsize[32], date[16], tm[16];
                        int off = 0;
                        if (sscanf(*l, "%15s %31s %31s %15s %15s %n", lm, owner, lsize, date, tm, &off) != 5)
                                continue;
                        /* devices: "c 1, 3" prints the size as "1," "3" */
                        const char *p = *l + off;
                        if (lsize[strlen(lsize) - 1] == ',') {
                                char minor_s[16];
                                strcpy(lsize + strlen(lsize), date);
                                strcpy(date, tm);
                                if (sscanf(p, "%15s %n", minor_s, &off) != 1)
                                        continue;
                                strcpy(tm, minor_s);
                                p += off;
                        }
                        _cleanup_free_ char *want = pathf("squashfs-root%s", r);
                        size_t wl = strlen(want);
                        if (strncmp(p, want, wl) != 0 || (p[wl] != 0 && p[wl] != ' '))
                                continue;
                        found = true;
                        /* a directory's size is its listing's, nothing to compare */
                        if (!streq(lm, ms) || (!S_ISDIR(st.st_mode) && !streq(lsize, size)))
                                ASSERT_FAIL_("%s: listed as \"%s\", expected %s size %s", r, *l, ms, size);
                        _cleanup_free_ char *o = pathf("%u/%u", st.st_uid, st.st_gid);
                        if (!streq(owner, o))
                                ASSERT_FAIL_("%s: listed as \"%s\", expected owner %s", r, *l, o);
                        if (S_ISLNK(st.st_mode)) {
                                _cleanup_free_ char *arrow = pathf(" -> %s", target);
                                ASSERT_STREQ(p + wl, arrow);
                        }
                        break;
                }
                if (!found)
                        ASSERT_FAIL_("%s: not in the unsquashfs listing", r);
                n++;
                if (S_ISDIR(st.st_mode))
                        n += check_listing(source, r, lines);
        }
        closedir(d);
        return n;
}

static char **command_lines(const char *cmd) {
        FILE *f = popen(cmd, "r");
        ASSERT_TRUE(f);
        char **lines = NULL;
        char *line = NULL;
        size_t n = 0;
        while (getline(&line, &n, f) > 0) {
                line[strcspn(line, "\n")] = 0;
                ASSERT_OK(strv_extend(&lines, line));
        }
        free(line);
        ASSERT_EQ(pclose(f), 0);
        return lines;
}

/* ---- writer against the peers ---- */

TEST(write_tree_matches_source) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/image.sqfs", scratch);
        ASSERT_OK(mkdir(src, 0755));
        make_tree(src);

        Progress p = {};
        SquashfsWriteOptions o = { .compression = SQUASHFS_ZSTD, .n_threads = 2, .progress = progress_cb,
                                   .progress_userdata = &p };
        GraftError e = {};
        uint64_t size = 0;
        ASSERT_OK(build_image(src, img, 0, &o, &size, &e));
        ASSERT_TRUE(size > 0 && size % 4096 == 0);
        struct stat st;
        ASSERT_OK(stat(img, &st));
        ASSERT_EQ(st.st_size, size);
        /* Progress counts file data once per inode: the hard link is not read twice. */
        ASSERT_EQ(p.total, 6 + 22 + 10 + 5 * 128 * 1024 + 1234 + MB + 77 + 3 * 128 * 1024 + 3 + 20 + 21 + 10 +
                               (10 * 10 + 11 * 90 + 12 * 900 + 13 * 1000));
        ASSERT_EQ(p.done, p.total);
        ASSERT_TRUE(p.calls > 2);

        ASSERT_EQ(run("unsquashfs -s '%s' | grep -q '^Compression zstd$'", img), 0);
        ASSERT_EQ(run("unsquashfs -s '%s' | grep -q '^Block size 131072$'", img), 0);

        /* squashfs-tools: listing with numeric owners, then a full unpack. */
        _cleanup_free_ char *cmd = pathf("unsquashfs -lln '%s'", img);
        _cleanup_strv_free_ char **lines = command_lines(cmd);
        unsigned n_src = count_entries(src);
        ASSERT_EQ(check_listing(src, "", lines), n_src);
        ASSERT_EQ(strv_length(lines), n_src + 1); /* + squashfs-root itself */

        _cleanup_free_ char *u1 = pathf("%s/unsquashfs", scratch), *u2 = pathf("%s/rdsquashfs", scratch);
        ASSERT_EQ(run("unsquashfs -q -n -d '%s' '%s' >/dev/null 2>&1", u1, img), 0);
        CompareFlags f1 = { .owners = is_root, .times = true, .xattrs = xattrs_supported, .devices = is_root,
                            .setid = is_root };
        ASSERT_TRUE(compare_trees(src, u1, &f1) > 2000);
        /* The hard link came back as one inode. */
        _cleanup_free_ char *h1 = pathf("%s/usr/bin/tool", u1), *h2 = pathf("%s/usr/bin/tool-hardlink", u1);
        struct stat s1, s2;
        ASSERT_OK(lstat(h1, &s1));
        ASSERT_OK(lstat(h2, &s2));
        ASSERT_EQ(s1.st_ino, s2.st_ino);
        ASSERT_EQ(s1.st_nlink, 2);

        /* squashfs-tools-ng: unpack with owners, modes, times and xattrs. */
        ASSERT_EQ(run("rdsquashfs -q -u / -p '%s' -C -T -X %s '%s' >/dev/null 2>&1", u2, is_root ? "-O" : "-D -S", img), 0);
        CompareFlags f2 = { .owners = is_root, .times = true, .xattrs = xattrs_supported, .devices = is_root,
                            .sockets = is_root, .setid = true };
        ASSERT_TRUE(compare_trees(src, u2, &f2) > 2000);
        ASSERT_EQ(run("rdsquashfs -s /usr/bin/tool-hardlink '%s' | grep -q 'Hard link count: 2'", img), 0);
        if (xattrs_supported)
                ASSERT_EQ(run("rdsquashfs -x /usr/bin/tool-hardlink '%s' | grep -q 'user.graft.hardlinked=both names'", img), 0);

        scratch_remove(scratch);
}

/* The test tree written as xz into a bigger file, at 1 MiB with junk around it, and opened. */
typedef struct Written {
        char *scratch, *src;
        int fd;
        SquashfsReader *r;
} Written;

static void written_open(Written *w) {
        w->scratch = scratch_new();
        w->src = pathf("%s/src", w->scratch);
        _cleanup_free_ char *img = pathf("%s/image", w->scratch);
        ASSERT_OK(mkdir(w->src, 0755));
        make_tree(w->src);

        w->fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_TRUE(w->fd >= 0);
        uint8_t junk[8192];
        random_bytes(junk, sizeof(junk));
        ASSERT_OK(pwrite_full(w->fd, junk, sizeof(junk), 0));
        SquashfsWriteOptions o = { .compression = SQUASHFS_XZ };
        GraftError e = {};
        uint64_t size = 0;
        ASSERT_OK(squashfs_write_tree(w->src, w->fd, MB, &o, &size, &e));
        ASSERT_OK(pwrite_full(w->fd, junk, sizeof(junk), MB + size));
        ASSERT_EQ(run("unsquashfs -o 1M -s '%s' | grep -q '^Compression xz$'", img), 0);

        ImageRange range = { .fd = w->fd, .offset = MB, .size = size, .what = "partition 1" };
        ASSERT_OK(squashfs_reader_open(&range, &w->r, &e));
}

static void written_close(Written *w) {
        squashfs_reader_free(w->r);
        close(w->fd);
        free(w->src);
        scratch_remove(w->scratch);
}

TEST(reader_read_file) {
        Written w = {};
        written_open(&w);
        SquashfsReader *r = w.r;
        const char *src = w.src;
        GraftError e = {};

        char *data = NULL;
        size_t n = 0;
        ASSERT_OK(squashfs_read_file(r, "/small", 100, &data, &n, &e));
        ASSERT_EQ(n, 6);
        ASSERT_STREQ(data, "hello\n");
        free(data);

        /* Multi-block, sparse and fragment-only files match the source byte for byte. */
        static const char *files[] = { "/usr/lib/big-random", "/usr/lib/big-text", "/usr/lib/sparse",
                                       "usr/lib/deep/er/est/leaf", "/many/entry-1999", "/empty-file" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = pathf("%s/%s", src, files[i]), *want = NULL, *got = NULL;
                size_t wn, gn;
                read_whole(p, &want, &wn);
                ASSERT_OK(squashfs_read_file(r, files[i], 4 * MB, &got, &gn, &e));
                ASSERT_EQ(gn, wn);
                ASSERT_TRUE(memcmp(want, got, wn) == 0);
        }

        /* Symlinks resolve inside the image: absolute ones from its root, ".." stops there. */
        static const char *via_links[] = { "/link-abs", "/link-rel", "/link-up", "/usr/lib/link-dotdot",
                                           "/link-chain", "/../../usr/./bin//tool", "/link-dir/er/est/../../../../bin/tool" };
        for (size_t i = 0; i < ELEMENTSOF(via_links); i++) {
                data = NULL;
                int k = squashfs_read_file(r, via_links[i], 100, &data, &n, &e);
                if (k < 0)
                        ASSERT_FAIL_("%s: %s", via_links[i], e.message ?: strerror(-k));
                ASSERT_STREQ(data, "#!/bin/sh\necho tool\n");
                free(data);
        }
        data = (char *) "untouched";
        ASSERT_ERRNO(squashfs_read_file(r, "/link-dangling", 100, &data, &n, &e), -ENOENT);
        ASSERT_FALSE(graft_error_is_set(&e));
        ASSERT_ERRNO(squashfs_read_file(r, "/no/such/file", 100, &data, &n, &e), -ENOENT);
        ASSERT_FALSE(graft_error_is_set(&e));
        ASSERT_STREQ(data, "untouched");

        ASSERT_ERRNO(squashfs_read_file(r, "/link-loop", 100, &data, &n, &e), -ELOOP);
        ASSERT_STREQ(e.message, "partition 1: squashfs path /link-loop: more than 32 symbolic links");
        graft_error_done(&e);
        ASSERT_ERRNO(squashfs_read_file(r, "/usr/lib", 100, &data, &n, &e), -EISDIR);
        ASSERT_STREQ(e.message, "partition 1: squashfs path /usr/lib is a directory");
        graft_error_done(&e);
        ASSERT_ERRNO(squashfs_read_file(r, "/fifo", 100, &data, &n, &e), -EINVAL);
        ASSERT_STREQ(e.message, "partition 1: squashfs path /fifo is not a regular file");
        graft_error_done(&e);
        ASSERT_ERRNO(squashfs_read_file(r, "/usr/lib/big-text", 1000, &data, &n, &e), -EFBIG);
        ASSERT_STREQ(e.message, "partition 1: squashfs file /usr/lib/big-text is larger than 1000 bytes");
        graft_error_done(&e);
        ASSERT_ERRNO(squashfs_read_file(r, "/small/x", 100, &data, &n, &e), -ENOTDIR);
        ASSERT_MESSAGE_CONTAINS(&e, "squashfs path /small/x: a component before \"x\" is not a directory");
        graft_error_done(&e);
        written_close(&w);
}

TEST(reader_list_dir_and_check) {
        Written w = {};
        written_open(&w);
        SquashfsReader *r = w.r;
        GraftError e = {};

        /* Listings: sorted, with modes, sizes and link targets. */
        SquashfsEntry *ents = NULL;
        size_t ne = 0;
        ASSERT_OK(squashfs_list_dir(r, "/", &ents, &ne, &e));
        static const char *top[] = { "empty", "empty-file", "fifo", "link-abs", "link-chain", "link-dangling",
                                     "link-dir", "link-loop", "link-rel", "link-up", "many", "secret", "small", "usr" };
        ASSERT_EQ(ne, ELEMENTSOF(top));
        for (size_t i = 0; i < ne; i++)
                ASSERT_STREQ(ents[i].name, top[i]);
        ASSERT_EQ(ents[3].mode, S_IFLNK | 0777);
        ASSERT_STREQ(ents[3].link_target, "/usr/bin/tool");
        ASSERT_EQ(ents[3].size, 13);
        ASSERT_EQ(ents[11].mode, S_IFREG | (is_root ? 0000 : 0400));
        ASSERT_EQ(ents[12].size, 6);
        ASSERT_EQ(ents[13].mode, S_IFDIR | 0755);
        ASSERT_EQ(ents[2].mode, S_IFIFO | 0640);
        squashfs_entries_free(ents, ne);

        ASSERT_OK(squashfs_list_dir(r, "/link-dir/../../bin", &ents, &ne, &e));
        ASSERT_EQ(ne, 2);
        ASSERT_STREQ(ents[0].name, "tool");
        ASSERT_EQ(ents[0].mode, S_IFREG | 04755);
        squashfs_entries_free(ents, ne);

        ASSERT_OK(squashfs_list_dir(r, "/many", &ents, &ne, &e));
        ASSERT_EQ(ne, 2000);
        ASSERT_STREQ(ents[1234].name, "entry-1234");
        squashfs_entries_free(ents, ne);

        ASSERT_OK(squashfs_list_dir(r, "/empty", &ents, &ne, &e));
        ASSERT_EQ(ne, 0);
        squashfs_entries_free(ents, ne);
        ASSERT_ERRNO(squashfs_list_dir(r, "/small", &ents, &ne, &e), -ENOTDIR);
        ASSERT_STREQ(e.message, "partition 1: squashfs path /small is not a directory");
        graft_error_done(&e);

        uint64_t inodes = 0;
        ASSERT_OK(squashfs_check_tree(r, &inodes, &e));
        ASSERT_EQ(inodes, count_entries(w.src) + 1);
        written_close(&w);
}

TEST(write_reproducible) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *a = pathf("%s/a.sqfs", scratch),
                            *b = pathf("%s/b.sqfs", scratch), *u = pathf("%s/u", scratch);
        ASSERT_OK(mkdir(src, 0755));
        make_tree(src);

        SquashfsWriteOptions o = { .compression = SQUASHFS_ZSTD, .n_threads = 2, .have_epoch = true,
                                   .epoch = 1000000000 };
        GraftError e = {};
        uint64_t sa = 0, sb = 0;
        ASSERT_OK(build_image(src, a, 0, &o, &sa, &e));
        o.n_threads = 1; /* the thread count must not change the bytes either */
        ASSERT_OK(build_image(src, b, 0, &o, &sb, &e));
        ASSERT_EQ(sa, sb);
        ASSERT_EQ(run("cmp -s '%s' '%s'", a, b), 0);

        ASSERT_EQ(run("test \"$(unsquashfs -mkfs-time '%s')\" = 1000000000", a), 0);
        ASSERT_EQ(run("unsquashfs -q -n -d '%s' '%s' >/dev/null 2>&1", u, a), 0);
        _cleanup_free_ char *p = pathf("%s/usr/lib/big-text", u);
        struct stat st;
        ASSERT_OK(stat(p, &st));
        ASSERT_EQ(st.st_mtim.tv_sec, 1000000000);

        /* Without an epoch the mtimes are kept. */
        o.have_epoch = false;
        ASSERT_OK(build_image(src, b, 0, &o, &sb, &e));
        ASSERT_EQ(run("rm -rf '%s' && unsquashfs -q -n -d '%s' '%s' >/dev/null 2>&1", u, u, b), 0);
        _cleanup_free_ char *q = pathf("%s/usr/lib/big-text", src);
        struct stat st2;
        ASSERT_OK(stat(p, &st));
        ASSERT_OK(stat(q, &st2));
        ASSERT_EQ(st.st_mtim.tv_sec, st2.st_mtim.tv_sec);

        scratch_remove(scratch);
}

TEST(write_compressions) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/c.sqfs", scratch);
        ASSERT_OK(mkdir(src, 0755));
        _cleanup_free_ char *f = pathf("%s/file", src);
        _cleanup_free_ char *t = malloc(300000);
        for (size_t i = 0; i < 300000; i++)
                t[i] = (char) ('a' + (i * 7 + i / 1000) % 26);
        write_file(f, t, 300000, 0644);

        for (SquashfsCompression c = 0; c < _SQUASHFS_COMPRESSION_MAX; c++) {
                const char *name = squashfs_compression_to_string(c);
                ASSERT_EQ(squashfs_compression_from_string(name), c);
                SquashfsWriteOptions o = { .compression = c, .block_size = 65536 };
                GraftError e = {};
                uint64_t size = 0;
                (void) unlink(img);
                int k = build_image(src, img, 0, &o, &size, &e);
                if (k == -EOPNOTSUPP) {
                        _cleanup_free_ char *m = pathf("squashfs compression %s is not supported by this libsquashfs", name);
                        ASSERT_STREQ(e.message, m);
                        fprintf(stderr, "(%s: not supported by this libsquashfs)\n", name);
                        graft_error_done(&e);
                        continue;
                }
                ASSERT_OK(k);
                ASSERT_TRUE(size < 300000);
                ASSERT_EQ(run("unsquashfs -s '%s' | grep -q '^Compression %s$'", img, name), 0);
                ASSERT_EQ(run("unsquashfs -s '%s' | grep -q '^Block size 65536$'", img), 0);

                int fd = open(img, O_RDONLY | O_CLOEXEC);
                ImageRange range = { .fd = fd, .size = size, .what = name };
                _cleanup_(squashfs_reader_freep) SquashfsReader *r = NULL;
                ASSERT_OK(squashfs_reader_open(&range, &r, &e));
                char *got = NULL;
                size_t n = 0;
                ASSERT_OK(squashfs_read_file(r, "/file", MB, &got, &n, &e));
                ASSERT_EQ(n, 300000);
                ASSERT_TRUE(memcmp(got, t, n) == 0);
                free(got);
                close(fd);
        }
        ASSERT_EQ(squashfs_compression_from_string("lzo"), _SQUASHFS_COMPRESSION_INVALID);
        ASSERT_EQ(squashfs_compression_to_string(_SQUASHFS_COMPRESSION_MAX), NULL);
        scratch_remove(scratch);
}

typedef struct Sabotage {
        const char *victim;
        bool replace, done;
} Sabotage;

/* Once the first file has been read, shrinks or replaces the next one. */
static void sabotage_cb(void *userdata, uint64_t done, uint64_t total) {
        Sabotage *s = userdata;
        if (done == 0 || s->done)
                return;
        s->done = true;
        if (s->replace) {
                /* a new inode while the old one still exists, so the number differs */
                _cleanup_free_ char *tmp = pathf("%s.new", s->victim);
                write_file(tmp, "0123456789012345678901234567890123456789", 40, 0644);
                ASSERT_OK(rename(tmp, s->victim));
        } else
                ASSERT_OK(truncate(s->victim, 10));
}

TEST(write_errors) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/e.sqfs", scratch),
                            *missing = pathf("%s/missing", scratch), *secret = pathf("%s/src/usr/secret", scratch),
                            *usr = pathf("%s/src/usr", scratch);
        ASSERT_OK(mkdir(src, 0755));
        ASSERT_OK(mkdir(usr, 0755));
        write_file(secret, "x", 1, 0000);

        GraftError e = {};
        uint64_t size = 0;
        SquashfsWriteOptions o = { .compression = SQUASHFS_GZIP };
        ASSERT_ERRNO(build_image(missing, img, 0, &o, &size, &e), -ENOENT);
        _cleanup_free_ char *m1 = pathf("%s: No such file or directory", missing);
        ASSERT_STREQ(e.message, m1);
        graft_error_done(&e);

        ASSERT_ERRNO(build_image(secret, img, 0, &o, &size, &e), -ENOTDIR);
        _cleanup_free_ char *m2 = pathf("%s: Not a directory", secret);
        ASSERT_STREQ(e.message, m2);
        graft_error_done(&e);

        o.block_size = 100000;
        ASSERT_ERRNO(build_image(src, img, 0, &o, &size, &e), -EINVAL);
        ASSERT_STREQ(e.message, "squashfs block size 100000 is not a power of two between 4 KiB and 1 MiB");
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        graft_error_done(&e);
        o.block_size = 0;

        o.compression = (SquashfsCompression) 17;
        ASSERT_ERRNO(build_image(src, img, 0, &o, &size, &e), -EINVAL);
        ASSERT_STREQ(e.message, "unknown squashfs compression 17");
        graft_error_done(&e);
        o.compression = SQUASHFS_GZIP;

        /* A full disk. */
        int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
        if (full >= 0) {
                ASSERT_ERRNO(squashfs_write_tree(src, full, 0, &o, &size, &e), -ENOSPC);
                ASSERT_STREQ(e.message, "writing squashfs superblock: No space left on device");
                ASSERT_STREQ(e.name, GRAFT_ERROR_IO);
                graft_error_done(&e);
                close(full);
        }
        scratch_remove(scratch);
}

TEST(write_errors_source) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/e.sqfs", scratch),
                            *secret = pathf("%s/src/usr/secret", scratch), *usr = pathf("%s/src/usr", scratch);
        ASSERT_OK(mkdir(src, 0755));
        ASSERT_OK(mkdir(usr, 0755));
        write_file(secret, "x", 1, 0000);
        GraftError e = {};
        uint64_t size = 0;
        SquashfsWriteOptions o = { .compression = SQUASHFS_GZIP };

        /* An unreadable file is named with its source path. Root reads anything, so the check
         * runs in a child that gave up root. */
        _cleanup_free_ char *m3 = pathf("%s: Permission denied", secret);
        ASSERT_OK(chmod(scratch, 0755));
        int out = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(out >= 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (is_root && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                setresuid(65534, 65534, 65534) < 0))
                        _exit(2);
                GraftError ce = {};
                int k = squashfs_write_tree(src, out, 0, &o, &size, &ce);
                if (k != -EACCES || !ce.message || !streq(ce.message, m3)) {
                        fprintf(stderr, "got %i \"%s\", expected \"%s\"\n", k, strna(ce.message), m3);
                        _exit(1);
                }
                _exit(0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(out);

        /* A symlink to outside the tree is stored as a symlink, never followed. */
        _cleanup_free_ char *l = pathf("%s/usr/passwd", src);
        ASSERT_OK(symlink("/etc/passwd", l));
        ASSERT_OK(chmod(secret, 0644));
        ASSERT_OK(build_image(src, img, 0, &o, &size, &e));
        ASSERT_EQ(run("unsquashfs -lln '%s' | grep -q 'squashfs-root/usr/passwd -> /etc/passwd'", img), 0);

        /* Files that change between the scan and the read. */
        _cleanup_free_ char *first = pathf("%s/a-first", src), *victim = pathf("%s/b-victim", src);
        write_file(first, "first file\n", 11, 0644);
        for (int mode = 0; mode < 2; mode++) {
                write_file(victim, "0123456789012345678901234567890123456789", 40, 0644);
                Sabotage sab = { .victim = victim, .replace = mode == 1 };
                o.progress = sabotage_cb;
                o.progress_userdata = &sab;
                ASSERT_ERRNO(build_image(src, img, 0, &o, &size, &e), -EBUSY);
                _cleanup_free_ char *m = pathf("%s: file %s while the image was being built", victim,
                                               mode == 1 ? "was replaced" : "shrank");
                ASSERT_STREQ(e.message, m);
                ASSERT_TRUE(sab.done);
                graft_error_done(&e);
        }

        scratch_remove(scratch);
}

/* ---- reader on images from mksquashfs, also hostile ones ---- */

static char *make_mksquashfs_image(const char *scratch, const char *name) {
        _cleanup_free_ char *src = pathf("%s/msrc", scratch);
        char *img = pathf("%s/%s", scratch, name);
        ASSERT_EQ(run("mkdir -p '%s/usr/lib/zz' '%s/usr/lib/a_b' '%s/usr/lib/y' '%s/usr/bin' && "
                      "echo data > '%s/usr/bin/f'", src, src, src, src, src), 0);
        /* Uncompressed metadata, so that the directory table can be patched in place. */
        ASSERT_EQ(run("mksquashfs '%s' '%s' -noappend -noI -noD -noF -noX -noId -quiet -no-progress >/dev/null 2>&1",
                      src, img), 0);
        return img;
}

static uint64_t super_u64(const char *d, size_t offset) {
        uint64_t v;
        memcpy(&v, d + offset, sizeof(v));
        return le64toh(v);
}

/* The offset of the only occurrence of pattern (a name with its off-by-one size in front) in
 * the directory table. Only the directory table is searched: elsewhere time stamps could hold
 * the same bytes. */
static size_t dir_table_find(const char *d, size_t size, const void *pattern, size_t n) {
        ASSERT_TRUE(size > 96);
        uint64_t start = super_u64(d, 72), end = super_u64(d, 40); /* directory table .. bytes_used */
        for (size_t field = 48; field <= 88; field += 8) { /* the tables that may follow it */
                uint64_t t = super_u64(d, field);
                if (t > start && t < end)
                        end = t;
        }
        ASSERT_TRUE(start < end && end <= size);
        const char *hit = NULL;
        for (const char *p = d + start; (p = memmem(p, (size_t) (d + end - p), pattern, n)); p++) {
                ASSERT_TRUE(!hit);
                hit = p;
        }
        ASSERT_TRUE(hit);
        return (size_t) (hit - d);
}

static void patch_unique(const char *path, const void *from, const void *to, size_t n) {
        _cleanup_free_ char *d = NULL;
        size_t size;
        read_whole(path, &d, &size);
        memcpy(d + dir_table_find(d, size, from, n), to, n);
        write_file(path, d, size, 0644);
}

static SquashfsReader *open_image(const char *path, int *ret_fd, uint64_t size_limit, GraftError *e, int *ret_r) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        uint64_t size;
        ASSERT_OK(fd_get_size(fd, &size));
        ImageRange range = { .fd = fd, .size = size_limit ? MIN(size_limit, size) : size, .what = "partition 1" };
        SquashfsReader *r = NULL;
        *ret_r = squashfs_reader_open(&range, &r, e);
        *ret_fd = fd;
        return r;
}

TEST(reader_unsafe_names) {
        char *scratch = scratch_new();
        /* Each name with its off-by-one length in front, as the directory table has it. */
        static const struct {
                const char *from, *to;
                size_t n;
                const char *shown;
        } cases[] = {
                { "\x01\x00zz", "\x01\x00..", 4, "\"..\"" },
                { "\x02\x00" "a_b", "\x02\x00" "a/b", 5, "\"a/b\"" },
                { "\x00\x00y", "\x00\x00.", 3, "\".\"" },
                { "\x01\x00zz", "\x01\x00z\0", 4, "\"z\\x00\"" },
                { "\x02\x00" "a_b", "\x02\x00\x1b/\"", 5, "\"\\x1b/\\\"\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *img = make_mksquashfs_image(scratch, "hostile.sqfs");
                patch_unique(img, cases[i].from, cases[i].to, cases[i].n);

                GraftError e = {};
                int fd, k;
                _cleanup_(squashfs_reader_freep) SquashfsReader *r = open_image(img, &fd, 0, &e, &k);
                ASSERT_OK(k);

                _cleanup_free_ char *want = pathf("partition 1: squashfs directory /usr/lib has an entry with an unsafe "
                                                  "name %s", cases[i].shown);
                SquashfsEntry *ents = NULL;
                size_t ne = 0;
                ASSERT_ERRNO(squashfs_list_dir(r, "/usr/lib", &ents, &ne, &e), -EBADMSG);
                ASSERT_STREQ(e.message, want);
                ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
                graft_error_done(&e);

                uint64_t inodes = 0;
                ASSERT_ERRNO(squashfs_check_tree(r, &inodes, &e), -EBADMSG);
                ASSERT_STREQ(e.message, want);
                graft_error_done(&e);

                /* Other directories stay readable. */
                ASSERT_OK(squashfs_list_dir(r, "/usr/bin", &ents, &ne, &e));
                ASSERT_EQ(ne, 1);
                squashfs_entries_free(ents, ne);
                close(fd);
        }

        /* The unpatched image passes. */
        _cleanup_free_ char *img = make_mksquashfs_image(scratch, "good.sqfs");
        GraftError e = {};
        int fd, k;
        _cleanup_(squashfs_reader_freep) SquashfsReader *r = open_image(img, &fd, 0, &e, &k);
        ASSERT_OK(k);
        uint64_t inodes = 0;
        ASSERT_OK(squashfs_check_tree(r, &inodes, &e));
        ASSERT_EQ(inodes, 8); /* 7 entries and the root */
        char *data = NULL;
        ASSERT_OK(squashfs_read_file(r, "/usr/lib/../../usr/bin/f", 100, &data, NULL, &e));
        ASSERT_STREQ(data, "data\n");
        free(data);
        close(fd);
        scratch_remove(scratch);
}

TEST(reader_bad_images) {
        char *scratch = scratch_new();
        _cleanup_free_ char *img = make_mksquashfs_image(scratch, "ok.sqfs");
        GraftError e = {};
        int fd, k;
        struct stat st;
        ASSERT_OK(stat(img, &st));

        /* Cut short: the superblock says how long it is. */
        SquashfsReader *r = open_image(img, &fd, 256, &e, &k);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_TRUE(!r);
        ASSERT_MESSAGE_CONTAINS(&e, "partition 1: squashfs is truncated: it is ");
        ASSERT_MESSAGE_CONTAINS(&e, " bytes long, but only 256 bytes are there");
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        graft_error_done(&e);
        close(fd);

        r = open_image(img, &fd, 50, &e, &k);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: too small for a squashfs (50 bytes)");
        graft_error_done(&e);
        close(fd);

        /* Garbage where the superblock should be. */
        _cleanup_free_ char *garbage = pathf("%s/garbage", scratch);
        uint8_t g[8192];
        random_bytes(g, sizeof(g));
        write_file(garbage, g, sizeof(g), 0644);
        r = open_image(garbage, &fd, 0, &e, &k);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: bad squashfs superblock: no squashfs magic in the superblock");
        graft_error_done(&e);
        close(fd);

        /* A compressor libsquashfs does not know. */
        _cleanup_free_ char *comp = pathf("%s/comp.sqfs", scratch);
        ASSERT_EQ(run("cp '%s' '%s' && printf '\\011\\000' | dd of='%s' bs=1 seek=20 conv=notrunc status=none",
                      img, comp, comp), 0);
        r = open_image(comp, &fd, 0, &e, &k);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: squashfs compressor 9 is not supported");
        graft_error_done(&e);
        close(fd);

        /* Tables pointing past the end: the inode table start beyond bytes_used. */
        _cleanup_free_ char *tables = pathf("%s/tables.sqfs", scratch);
        ASSERT_EQ(run("cp '%s' '%s' && printf '\\377\\377\\000\\000' | dd of='%s' bs=1 seek=64 conv=notrunc status=none",
                      img, tables, tables), 0);
        r = open_image(tables, &fd, 0, &e, &k);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: reading the squashfs root inode: a reference points outside the file system");
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        graft_error_done(&e);
        squashfs_reader_free(r);
        close(fd);

        /* Damaged directory table: the listing's header claims far more entries than it holds. */
        _cleanup_free_ char *dir = pathf("%s/dir.sqfs", scratch);
        ASSERT_EQ(run("cp '%s' '%s'", img, dir), 0);
        patch_unique(dir, "\x01\x00zz", "\x01\x40zz", 4);
        r = open_image(dir, &fd, 0, &e, &k);
        ASSERT_OK(k);
        SquashfsEntry *ents = NULL;
        size_t ne = 0;
        k = squashfs_list_dir(r, "/usr/lib", &ents, &ne, &e);
        ASSERT_ERRNO(k, -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: reading squashfs directory /usr/lib: a reference points outside the "
                     "file system");
        graft_error_done(&e);
        squashfs_reader_free(r);
        close(fd);

        scratch_remove(scratch);
}

TEST(check_tree_loops_and_depth) {
        char *scratch = scratch_new();

        /* /usr/lib/zz made to point at the root directory's inode: an endless tree. */
        _cleanup_free_ char *img = make_mksquashfs_image(scratch, "loop.sqfs");
        _cleanup_free_ char *d = NULL;
        size_t size;
        read_whole(img, &d, &size);
        uint64_t root_ref = super_u64(d, 32);
        size_t at = dir_table_find(d, size, "\x01\x00zz", 4);
        uint16_t off = htole16((uint16_t) (root_ref & 0xffff));
        memcpy(d + at - 6, &off, sizeof(off)); /* the entry's inode offset, before type and size */
        write_file(img, d, size, 0644);

        GraftError e = {};
        int fd, k;
        SquashfsReader *r = open_image(img, &fd, 0, &e, &k);
        ASSERT_OK(k);
        uint64_t inodes = 0;
        ASSERT_ERRNO(squashfs_check_tree(r, &inodes, &e), -EBADMSG);
        ASSERT_STREQ(e.message, "partition 1: squashfs directory /usr/lib/zz appears twice in the tree (directory loop)");
        graft_error_done(&e);
        /* Path lookups through it stay finite and land on the root. */
        char *data = NULL;
        ASSERT_OK(squashfs_read_file(r, "/usr/lib/zz/usr/lib/zz/usr/bin/f", 100, &data, NULL, &e));
        ASSERT_STREQ(data, "data\n");
        free(data);
        squashfs_reader_free(r);
        close(fd);

        /* 520 nested directories: more than the walk accepts. */
        _cleanup_free_ char *src = pathf("%s/deep", scratch), *deep = pathf("%s/deep.sqfs", scratch);
        ASSERT_OK(mkdir(src, 0755));
        ASSERT_EQ(run("cd '%s' && for i in $(seq 520); do mkdir d && cd d || exit 1; done", src), 0);
        SquashfsWriteOptions o = { .compression = SQUASHFS_GZIP };
        ASSERT_OK(build_image(src, deep, 0, &o, &size, &e));
        r = open_image(deep, &fd, 0, &e, &k);
        ASSERT_OK(k);
        ASSERT_ERRNO(squashfs_check_tree(r, &inodes, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "partition 1: squashfs directory tree is deeper than 512 levels at /d/d/d/");
        graft_error_done(&e);
        squashfs_reader_free(r);
        close(fd);

        scratch_remove(scratch);
}

int main(int argc, char **argv) {
        static const char *peers[] = { "mksquashfs", "unsquashfs", "rdsquashfs" };
        for (size_t i = 0; i < ELEMENTSOF(peers); i++)
                if (!have_program(peers[i])) {
                        fprintf(stderr, "skipped: %s missing (apt-get install squashfs-tools squashfs-tools-ng)\n",
                                peers[i]);
                        return EXIT_TEST_SKIP;
                }
        is_root = geteuid() == 0;
        return tests_run(argc, argv);
}
