/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The squashfs writer against the peers: trees written by squashfs_write_tree are listed and
 * unpacked with squashfs-tools (unsquashfs) and squashfs-tools-ng (rdsquashfs) and compared with
 * the source; reproducibility, every compression, errors naming their source path, and the
 * incompressibility probe (squashfs-compressor.c). */
#include <sqfs/compressor.h>

#include "squashfs-internal.h"
#include "test-tree.h"

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

/* ---- the incompressibility probe ---- */

static sqfs_compressor_t *make_sqfs_compressor(SQFS_COMPRESSOR id, bool uncompress) {
        sqfs_compressor_config_t cfg;
        sqfs_compressor_t *c = NULL;
        ASSERT_EQ(sqfs_compressor_config_init(&cfg, id, 128 * 1024, uncompress ? SQFS_COMP_FLAG_UNCOMPRESS : 0), 0);
        ASSERT_EQ(sqfs_compressor_create(&cfg, &c), 0);
        return c;
}

/* Compresses in with both, checks the probing one gives the same answer (and bytes) as the real
 * one would, or stores the block uncompressed where want_stored. */
static void check_block(sqfs_compressor_t *real, sqfs_compressor_t *probe, const uint8_t *in, uint32_t n,
                        bool want_stored) {
        _cleanup_free_ uint8_t *a = malloc(n), *b = malloc(n);
        ASSERT_TRUE(a && b);
        sqfs_s32 ka = real->do_block(real, in, n, a, n), kb = probe->do_block(probe, in, n, b, n);
        ASSERT_TRUE(ka >= 0 && kb >= 0);
        if (want_stored) {
                ASSERT_EQ(kb, 0);
                return;
        }
        ASSERT_EQ(kb, ka);
        ASSERT_TRUE(memcmp(a, b, (size_t) ka) == 0);
}

TEST(probe_compressor) {
        const uint32_t n = 128 * 1024;
        _cleanup_free_ uint8_t *rnd = malloc(n), *text = malloc(n), *rep = malloc(n), *half = malloc(n);
        ASSERT_TRUE(rnd && text && rep && half);
        random_bytes(rnd, n);
        for (uint32_t i = 0; i < n; i++)
                text[i] = (uint8_t) "a squashfs block of ordinary text\n"[i % 34];
        /* 8 KiB of random bytes over and over: random byte statistics, yet it compresses. */
        for (uint32_t i = 0; i < n; i++)
                rep[i] = rnd[i % 8192];
        memcpy(half, rnd, n / 2);
        memset(half + n / 2, 'x', n / 2);

        ASSERT_TRUE(squashfs_block_looks_random(rnd, n));
        ASSERT_TRUE(squashfs_block_looks_random(rep, n));
        ASSERT_FALSE(squashfs_block_looks_random(text, n));
        ASSERT_FALSE(squashfs_block_looks_random(half, n));

        sqfs_compressor_t *real = make_sqfs_compressor(SQFS_COMP_ZSTD, false), *probe = NULL;
        SquashfsProbeStats st = {};
        ASSERT_EQ(squashfs_probe_compressor_new(real, n, &st, &probe), 0);
        /* It stands in for real everywhere: same configuration, same (default: none) options. */
        sqfs_compressor_config_t ca, cb;
        real->get_configuration(real, &ca);
        probe->get_configuration(probe, &cb);
        ASSERT_EQ(cb.id, SQFS_COMP_ZSTD);
        ASSERT_EQ(cb.level, ca.level);

        check_block(real, probe, rnd, n, true);
        check_block(real, probe, text, n, false);
        check_block(real, probe, rep, n, false);
        check_block(real, probe, half, n, false);
        check_block(real, probe, rnd, 4000, false); /* too small to probe */
        ASSERT_EQ(st.blocks, 5);
        ASSERT_EQ(st.probed, 2);
        ASSERT_EQ(st.stored, 1);
        ASSERT_EQ(st.stored_bytes, n);

        /* Worker copies: their own compressors, the same statistics. */
        sqfs_compressor_t *copy = sqfs_copy(probe);
        ASSERT_TRUE(copy);
        sqfs_destroy(probe);
        check_block(real, copy, rnd, n, true);
        check_block(real, copy, text, n, false);
        ASSERT_EQ(st.blocks, 7);
        ASSERT_EQ(st.stored, 2);

        /* What it compressed decompresses to the input. */
        sqfs_compressor_t *un = make_sqfs_compressor(SQFS_COMP_ZSTD, true);
        _cleanup_free_ uint8_t *c = malloc(n), *d = malloc(n);
        sqfs_s32 k = copy->do_block(copy, rep, n, c, n);
        ASSERT_TRUE(k > 0);
        ASSERT_EQ(un->do_block(un, c, (sqfs_u32) k, d, n), (sqfs_s32) n);
        ASSERT_TRUE(memcmp(d, rep, n) == 0);
        sqfs_destroy(un);
        sqfs_destroy(copy);
        sqfs_destroy(real);

        /* Slow compressors are spared too; LZ4 is not probed, being as fast as the probe. */
        static const SQFS_COMPRESSOR ids[] = { SQFS_COMP_XZ, SQFS_COMP_GZIP, SQFS_COMP_LZ4 };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                SquashfsProbeStats s = {};
                real = make_sqfs_compressor(ids[i], false);
                ASSERT_EQ(squashfs_probe_compressor_new(real, n, &s, &probe), 0);
                check_block(real, probe, rnd, n, true);
                check_block(real, probe, text, n, false);
                ASSERT_EQ(s.stored, ids[i] == SQFS_COMP_LZ4 ? 0u : 1u);
                sqfs_destroy(probe);
                sqfs_destroy(real);
        }
}

/* Already-compressed data is stored as it is and reads back the same, with every thread count
 * giving the same bytes; data that only looks random is still compressed. */
TEST(write_incompressible) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *a = pathf("%s/a.sqfs", scratch),
                            *b = pathf("%s/b.sqfs", scratch), *u = pathf("%s/u", scratch),
                            *rnd = pathf("%s/random.gz", src), *rep = pathf("%s/repeated", src);
        ASSERT_OK(mkdir(src, 0755));
        const size_t n = 3 * 128 * 1024 + 5000;
        _cleanup_free_ uint8_t *buf = malloc(n), *r = malloc(n);
        random_bytes(buf, n);
        write_file(rnd, buf, n, 0644);
        for (size_t i = 0; i < n; i++)
                r[i] = buf[i % 8192];
        write_file(rep, r, n, 0644);

        SquashfsWriteOptions o = { .compression = SQUASHFS_ZSTD, .n_threads = 2, .have_epoch = true, .epoch = 1 };
        GraftError e = {};
        uint64_t sa = 0, sb = 0;
        ASSERT_OK(build_image(src, a, 0, &o, &sa, &e));
        o.n_threads = 1;
        ASSERT_OK(build_image(src, b, 0, &o, &sb, &e));
        ASSERT_EQ(sa, sb);
        ASSERT_EQ(run("cmp -s '%s' '%s'", a, b), 0);

        /* The random file: three whole blocks, stored; its tail sits in the fragment block,
         * which shares it with the other file's tail. The repeated one is compressed. */
        ASSERT_EQ(run("test \"$(rdsquashfs -s /random.gz '%s' | grep -c '(uncompressed)$')\" = 3", a), 0);
        ASSERT_EQ(run("rdsquashfs -s /repeated '%s' | grep -q 'uncompressed'", a), 1);
        ASSERT_TRUE(sa < 2 * n);

        ASSERT_EQ(run("unsquashfs -q -n -d '%s' '%s' >/dev/null 2>&1", u, a), 0);
        CompareFlags f = { .owners = is_root };
        ASSERT_EQ(compare_trees(src, u, &f), 2);
        scratch_remove(scratch);
}

int main(int argc, char **argv) {
        static const char *peers[] = { "unsquashfs", "rdsquashfs" };
        for (size_t i = 0; i < ELEMENTSOF(peers); i++)
                if (!have_program(peers[i])) {
                        fprintf(stderr, "skipped: %s missing (apt-get install squashfs-tools squashfs-tools-ng)\n",
                                peers[i]);
                        return EXIT_TEST_SKIP;
                }
        is_root = geteuid() == 0;
        return tests_run(argc, argv);
}
