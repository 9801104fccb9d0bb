/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The squashfs reader: the oracle tree written by squashfs_write_tree and read back in place
 * (inside a bigger file), and images made by mksquashfs, including hostile byte-patched ones. */
#include <sys/xattr.h>

#include "test-tree.h"

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
        ASSERT_ERRNO(squashfs_read_file(r, "/fifo", 100, &data, &n, &e), -EBADFD);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(e.message, "partition 1: squashfs path /fifo is a FIFO, not a regular file");
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

/* Extended attributes (user.extension-release.strict is read this way): found by their full key,
 * absent ones -ENODATA, and a forged id count refused before libsquashfs allocates by it. */
TEST(reader_xattrs) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/xsrc", scratch), *img = pathf("%s/x.sqfs", scratch);
        _cleanup_free_ char *marked = pathf("%s/xsrc/marked", scratch), *plain = pathf("%s/xsrc/plain", scratch);
        ASSERT_OK(mkdir(src, 0755));
        write_file(marked, "ID=x\n", 5, 0644);
        write_file(plain, "ID=y\n", 5, 0644);
        ASSERT_OK(setxattr(marked, "user.extension-release.strict", "false", 5, 0));
        ASSERT_OK(setxattr(marked, "user.other", "1", 1, 0));
        ASSERT_EQ(run("mksquashfs '%s' '%s' -noappend -noI -noD -noF -noX -quiet -no-progress >/dev/null 2>&1", src,
                      img), 0);
        GraftError e = {};
        int fd, k;
        SquashfsReader *r = open_image(img, &fd, 0, &e, &k);
        ASSERT_OK(k);
        char *v = NULL;
        ASSERT_OK(squashfs_get_xattr(r, "/marked", "user.extension-release.strict", &v, &e));
        ASSERT_STREQ(v, "false");
        free(v);
        ASSERT_ERRNO(squashfs_get_xattr(r, "/marked", "user.extension-release", &v, &e), -ENODATA);
        ASSERT_ERRNO(squashfs_get_xattr(r, "/marked", "trusted.extension-release.strict", &v, &e), -ENODATA);
        ASSERT_ERRNO(squashfs_get_xattr(r, "/plain", "user.extension-release.strict", &v, &e), -ENODATA);
        ASSERT_ERRNO(squashfs_get_xattr(r, "/missing", "user.extension-release.strict", &v, &e), -ENOENT);
        ASSERT_TRUE(!e.message);
        squashfs_reader_free(r);
        close(fd);

        /* The xattr id table's count (at its start + 8) forged to 2^31 - 1. */
        _cleanup_free_ char *d = NULL;
        size_t size;
        read_whole(img, &d, &size);
        uint64_t at = super_u64(d, 56);
        ASSERT_TRUE(at + 16 <= size);
        uint32_t forged = htole32(0x7fffffff);
        memcpy(d + at + 8, &forged, sizeof(forged));
        write_file(img, d, size, 0644);
        r = open_image(img, &fd, 0, &e, &k);
        ASSERT_OK(k);
        ASSERT_ERRNO(squashfs_get_xattr(r, "/marked", "user.extension-release.strict", &v, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "partition 1: squashfs xattr table claims 2147483647 entries, more than its ");
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
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
