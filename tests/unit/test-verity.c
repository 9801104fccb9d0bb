/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dm-verity superblock, build and verify on small in-memory files, checked against a naive
 * reference tree computed here; the kernel activation path where the kernel cannot do it. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "fileio.h"
#include "hex.h"
#include "tests.h"
#include "verity.h"

static const unsigned thread_counts[] = { 1, 2, 7 };

static int memfd_with(const void *data, size_t size) {
        int fd = memfd_create("test-verity", MFD_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(ftruncate(fd, (off_t) size));
        if (size > 0)
                ASSERT_OK(pwrite_full(fd, data, size, 0));
        return fd;
}

static uint8_t *random_bytes(size_t n, uint32_t seed) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));
        ASSERT_TRUE(p);
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p[i] = (uint8_t) x;
        }
        return p;
}

static void assert_params_equal(const VerityParams *a, const VerityParams *b) {
        ASSERT_STREQ(a->algorithm, b->algorithm);
        ASSERT_EQ(a->data_block_size, b->data_block_size);
        ASSERT_EQ(a->hash_block_size, b->hash_block_size);
        ASSERT_EQ(a->data_blocks, b->data_blocks);
        ASSERT_EQ(a->salt_size, b->salt_size);
        ASSERT_TRUE(memcmp(a->salt, b->salt, a->salt_size) == 0);
        ASSERT_TRUE(memcmp(a->uuid, b->uuid, sizeof(a->uuid)) == 0);
        ASSERT_EQ(a->hash_type, b->hash_type);
}

static VerityParams make_params(const char *algorithm, uint32_t dbs, uint32_t hbs, uint64_t blocks,
                                uint16_t salt_size) {
        VerityParams p = {
                .data_block_size = dbs,
                .hash_block_size = hbs,
                .data_blocks = blocks,
                .salt_size = salt_size,
                .hash_type = 1,
        };
        snprintf(p.algorithm, sizeof(p.algorithm), "%s", algorithm);
        for (unsigned i = 0; i < salt_size; i++)
                p.salt[i] = (uint8_t) (i * 7 + 3);
        for (unsigned i = 0; i < 16; i++)
                p.uuid[i] = (uint8_t) (0xa0 + i);
        return p;
}

static void digest(const VerityParams *p, const uint8_t *block, size_t size, uint8_t *out) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ASSERT_TRUE(ctx);
        ASSERT_EQ(EVP_DigestInit_ex(ctx, EVP_get_digestbyname(p->algorithm), NULL), 1);
        ASSERT_EQ(EVP_DigestUpdate(ctx, p->salt, p->salt_size), 1);
        ASSERT_EQ(EVP_DigestUpdate(ctx, block, size), 1);
        ASSERT_EQ(EVP_DigestFinal_ex(ctx, out, NULL), 1);
        EVP_MD_CTX_free(ctx);
}

/* The tree the plain way: hash each layer into the next until one block is left; the hash
 * area is the superblock block, then the levels top first. Returns the area, its size, the
 * root hash. */
static uint8_t *reference_tree(const VerityParams *p, const uint8_t *data, size_t *ret_size,
                               uint8_t *root) {
        size_t ds = (size_t) EVP_MD_get_size(EVP_get_digestbyname(p->algorithm)), slot = 1;
        while (slot < ds)
                slot <<= 1;
        size_t per = p->hash_block_size / slot;

        uint8_t *levels[64];
        size_t counts[64], n_levels = 0;
        const uint8_t *layer = data;
        size_t count = p->data_blocks, bs = p->data_block_size;
        while (count > 1) {
                size_t parents = (count + per - 1) / per;
                uint8_t *next = calloc(parents, p->hash_block_size);
                ASSERT_TRUE(next);
                for (size_t i = 0; i < count; i++)
                        digest(p, layer + i * bs, bs, next + i * slot);
                levels[n_levels] = next;
                counts[n_levels++] = parents;
                layer = next;
                count = parents;
                bs = p->hash_block_size;
        }
        digest(p, layer, bs, root);

        size_t total = p->hash_block_size;
        for (size_t i = 0; i < n_levels; i++)
                total += counts[i] * p->hash_block_size;
        uint8_t *area = calloc(1, total);
        ASSERT_TRUE(area);
        verity_superblock_format(p, area);
        size_t pos = p->hash_block_size;
        for (size_t i = n_levels; i > 0; i--) {
                memcpy(area + pos, levels[i - 1], counts[i - 1] * p->hash_block_size);
                pos += counts[i - 1] * p->hash_block_size;
                free(levels[i - 1]);
        }
        *ret_size = total;
        return area;
}

typedef struct Fixture {
        VerityParams params;
        uint8_t *data;
        size_t data_size;
        int data_fd, hash_fd;
        ImageRange data_range, hash_range;
        uint8_t root[VERITY_MAX_DIGEST_SIZE];
        size_t root_size;
} Fixture;

/* Builds with verity_build() and checks the result against the reference. */
static void fixture_build(Fixture *f, const VerityParams *p, unsigned n_threads) {
        *f = (Fixture) { .params = *p };
        f->data_size = p->data_blocks * p->data_block_size;
        f->data = random_bytes(f->data_size, (uint32_t) p->data_blocks + p->salt_size);
        f->data_fd = memfd_with(f->data, f->data_size);
        f->hash_fd = memfd_with(NULL, 0);
        uint64_t area = verity_hash_area_size(p, true);
        ASSERT_TRUE(area > 0);
        f->data_range = (ImageRange) { f->data_fd, 0, f->data_size, "partition 1" };
        f->hash_range = (ImageRange) { f->hash_fd, 0, area, "partition 2" };

        GraftError e = GRAFT_ERROR_INIT;
        VerityBuild b = {
                .data = &f->data_range,
                .hash = &f->hash_range,
                .params = p,
                .with_superblock = true,
                .n_threads = n_threads,
        };
        ASSERT_OK(verity_build(&b, f->root, &f->root_size, &e));
        ASSERT_FALSE(graft_error_is_set(&e));

        size_t ref_size;
        uint8_t ref_root[VERITY_MAX_DIGEST_SIZE];
        _cleanup_free_ uint8_t *ref = reference_tree(p, f->data, &ref_size, ref_root);
        ASSERT_EQ(ref_size, area);
        _cleanup_free_ uint8_t *got = malloc(area);
        ASSERT_OK(pread_full(f->hash_fd, got, area, 0));
        ASSERT_TRUE(memcmp(got, ref, area) == 0);
        ASSERT_EQ(f->root_size, (size_t) EVP_MD_get_size(EVP_get_digestbyname(p->algorithm)));
        ASSERT_TRUE(memcmp(f->root, ref_root, f->root_size) == 0);
}

static void fixture_done(Fixture *f) {
        free(f->data);
        safe_close(f->data_fd);
        safe_close(f->hash_fd);
}

/* Verifies with each thread count; all must agree. Returns the error record's message of the
 * last run (or NULL), after checking r and the error name. */
static char *verify_all(Fixture *f, const uint8_t *expected, size_t expected_size, int want_r,
                        const char *want_name) {
        char *first = NULL;
        for (size_t i = 0; i < ELEMENTSOF(thread_counts); i++) {
                GraftError e = GRAFT_ERROR_INIT;
                VerityResult res = {};
                VerityVerify v = {
                        .data = &f->data_range,
                        .hash = &f->hash_range,
                        .expected_root_hash = expected,
                        .expected_root_hash_size = expected_size,
                        .n_threads = thread_counts[i],
                };
                ASSERT_ERRNO(verity_verify(&v, &res, &e), want_r);
                if (want_r == 0) {
                        ASSERT_FALSE(graft_error_is_set(&e));
                        ASSERT_EQ(res.root_hash_size, f->root_size);
                        ASSERT_TRUE(memcmp(res.root_hash, f->root, f->root_size) == 0);
                        ASSERT_EQ(res.params.data_blocks, f->params.data_blocks);
                        ASSERT_EQ(res.params.salt_size, f->params.salt_size);
                        continue;
                }
                ASSERT_STREQ(e.name, want_name);
                ASSERT_EQ(e.error, want_r);
                if (!first)
                        first = TAKE_PTR(e.message);
                else
                        ASSERT_STREQ(e.message, first);
                graft_error_done(&e);
        }
        return first;
}

static void flip_byte(int fd, uint64_t offset) {
        uint8_t b;
        ASSERT_OK(pread_full(fd, &b, 1, offset));
        b ^= 0x40;
        ASSERT_OK(pwrite_full(fd, &b, 1, offset));
}

TEST(superblock_round_trip) {
        VerityParams p = make_params("sha256", 4096, 512, 123456789, 32), q;
        uint8_t buf[VERITY_SUPERBLOCK_SIZE];
        GraftError e = GRAFT_ERROR_INIT;

        verity_superblock_format(&p, buf);
        ASSERT_TRUE(memcmp(buf, "verity\0\0\1\0\0\0\1\0\0\0", 16) == 0);
        ASSERT_TRUE(memcmp(buf + 32, "sha256\0", 7) == 0);
        ASSERT_OK(verity_superblock_parse(buf, "partition 2", &q, &e));
        assert_params_equal(&p, &q);

        /* Large data blocks are refused for building but accepted when reading. */
        p = make_params("sha512", 65536, 4096, 3, 0);
        verity_superblock_format(&p, buf);
        ASSERT_OK(verity_superblock_parse(buf, "partition 2", &q, &e));
        ASSERT_EQ(q.data_block_size, 65536);
        ASSERT_STREQ(q.algorithm, "sha512");
}

static void check_refused(void (*mutate)(uint8_t *buf), const char *message) {
        VerityParams p = make_params("sha256", 4096, 4096, 100, 32), q = {};
        uint8_t buf[VERITY_SUPERBLOCK_SIZE];
        GraftError e = GRAFT_ERROR_INIT;

        verity_superblock_format(&p, buf);
        mutate(buf);
        ASSERT_ERRNO(verity_superblock_parse(buf, "partition 2", &q, &e), -EBADMSG);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(e.message, message);
        ASSERT_EQ(q.data_blocks, 0);
        graft_error_done(&e);
}

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static void bad_magic(uint8_t *b) { b[1] = 'E'; }
static void bad_version(uint8_t *b) { put32(b + 8, 2); }
static void hash_type_0(uint8_t *b) { put32(b + 12, 0); }
static void hash_type_5(uint8_t *b) { put32(b + 12, 5); }
static void data_bs_odd(uint8_t *b) { put32(b + 64, 1000); }
static void data_bs_small(uint8_t *b) { put32(b + 64, 256); }
static void data_bs_large(uint8_t *b) { put32(b + 64, 131072); }
static void hash_bs_large(uint8_t *b) { put32(b + 68, 8192); }
static void no_blocks(uint8_t *b) { memset(b + 72, 0, 8); }
static void salt_large(uint8_t *b) { b[80] = 0x2c; b[81] = 1; }
static void algo_unknown(uint8_t *b) { memcpy(b + 32, "nosuchhash", 11); }
static void algo_unterminated(uint8_t *b) { memset(b + 32, 'a', 32); }
static void algo_xof(uint8_t *b) { memcpy(b + 32, "shake256", 9); }

TEST(superblock_refusals) {
        check_refused(bad_magic, "partition 2 has no dm-verity superblock (bad magic)");
        check_refused(bad_version, "partition 2: unsupported dm-verity superblock version 2");
        check_refused(hash_type_0,
                      "partition 2: dm-verity hash type 0 (Chrome OS) is not supported");
        check_refused(hash_type_5, "partition 2: unknown dm-verity hash type 5");
        check_refused(data_bs_odd, "partition 2: invalid dm-verity data block size 1000 "
                                   "(must be a power of two from 512 to 65536)");
        check_refused(data_bs_small, "partition 2: invalid dm-verity data block size 256 "
                                     "(must be a power of two from 512 to 65536)");
        check_refused(data_bs_large, "partition 2: invalid dm-verity data block size 131072 "
                                     "(must be a power of two from 512 to 65536)");
        check_refused(hash_bs_large, "partition 2: invalid dm-verity hash block size 8192 "
                                     "(must be a power of two from 512 to 4096)");
        check_refused(no_blocks, "partition 2: dm-verity superblock covers no data blocks");
        check_refused(salt_large, "partition 2: dm-verity salt size 300 exceeds 256 bytes");
        check_refused(algo_unknown, "partition 2: unknown dm-verity hash algorithm \"nosuchhash\"");
        check_refused(algo_unterminated, "partition 2: unknown dm-verity hash algorithm "
                                         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
        check_refused(algo_xof, "partition 2: unknown dm-verity hash algorithm \"shake256\"");
}

TEST(hash_area_size) {
        /* Figures veritysetup 2.6 prints for the same geometry. */
        VerityParams p = make_params("sha256", 4096, 4096, 262144, 32);
        ASSERT_EQ(verity_hash_area_size(&p, true), 8462336);
        ASSERT_EQ(verity_hash_area_size(&p, false), 8462336 - 4096);
        p = make_params("sha256", 4096, 4096, 1, 32);
        ASSERT_EQ(verity_hash_area_size(&p, true), 4096);
        p = make_params("sha256", 512, 512, 1000, 32);
        /* 1000 → 63 → 4 → 1 blocks of 16 digests */
        ASSERT_EQ(verity_hash_area_size(&p, true), (1 + 63 + 4 + 1) * 512);
        p = make_params("nosuchhash", 512, 512, 1000, 32);
        ASSERT_EQ(verity_hash_area_size(&p, true), 0);
}

static void build_and_verify(const char *algorithm, uint32_t dbs, uint32_t hbs, uint64_t blocks,
                             uint16_t salt_size) {
        VerityParams p = make_params(algorithm, dbs, hbs, blocks, salt_size);
        for (size_t i = 0; i < ELEMENTSOF(thread_counts); i++) {
                Fixture f;
                fixture_build(&f, &p, thread_counts[i]);
                ASSERT_TRUE(verify_all(&f, f.root, f.root_size, 0, NULL) == NULL);
                ASSERT_TRUE(verify_all(&f, NULL, 0, 0, NULL) == NULL);
                fixture_done(&f);
        }
}

TEST(build_verify_sizes) {
        /* 1 block (no hash levels), 2 blocks, and counts that need 2 and 3 levels of 512-byte
         * hash blocks (16 digests each). */
        static const uint64_t counts[] = { 1, 2, 16, 17, 256, 257, 1000 };
        static const uint32_t sizes[][2] = { { 4096, 4096 }, { 512, 512 }, { 4096, 512 } };
        for (size_t s = 0; s < ELEMENTSOF(sizes); s++)
                for (size_t c = 0; c < ELEMENTSOF(counts); c++)
                        build_and_verify("sha256", sizes[s][0], sizes[s][1], counts[c], 32);
        build_and_verify("sha256", 4096, 4096, 129, 32); /* 2 levels of 4096-byte blocks */
        build_and_verify("sha256", 512, 512, 300, 0);
        build_and_verify("sha256", 512, 512, 300, 256);
        build_and_verify("sha1", 4096, 512, 300, 32);
        build_and_verify("sha512", 512, 512, 300, 32);
        /* More than one chunk per layer, for the thread pool. */
        build_and_verify("sha256", 512, 512, 5000, 32);
}

TEST(corrupt_data) {
        VerityParams p = make_params("sha256", 4096, 4096, 300, 32);
        Fixture f;
        fixture_build(&f, &p, 0);

        flip_byte(f.data_fd, 1234 + 4096 * 257);
        _cleanup_free_ char *m = verify_all(&f, f.root, f.root_size, -EBADMSG,
                                            GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "data block 257 of partition 1 does not match the hash tree");

        /* The lowest block is reported, whichever thread sees what first. */
        flip_byte(f.data_fd, 4096 * 3 + 4095);
        flip_byte(f.data_fd, 4096 * 299);
        free(m);
        m = verify_all(&f, f.root, f.root_size, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "data block 3 of partition 1 does not match the hash tree");
        fixture_done(&f);
}

TEST(corrupt_hash_block) {
        /* 300 blocks of 512 bytes, 16 digests a block: levels of 19, 2, 1 blocks; in the area
         * the superblock is block 0, the top 1, level 1 blocks 2-3, level 0 blocks 4-22. */
        VerityParams p = make_params("sha256", 512, 512, 300, 32);
        Fixture f;
        fixture_build(&f, &p, 0);

        /* A digest in leaf block 7 of the area (the data behind it is fine). */
        flip_byte(f.hash_fd, 7 * 512 + 100);
        flip_byte(f.data_fd, 512 * 200);
        _cleanup_free_ char *m = verify_all(&f, f.root, f.root_size, -EBADMSG,
                                            GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "hash block 7 (level 0) of partition 2 does not match the hash tree");
        flip_byte(f.hash_fd, 7 * 512 + 100);
        flip_byte(f.data_fd, 512 * 200);

        /* Padding: the last leaf block holds 300 - 18 * 16 = 12 digests, level 1's second
         * block 3 digests. */
        flip_byte(f.hash_fd, 22 * 512 + 12 * 32 + 5);
        free(m);
        m = verify_all(&f, f.root, f.root_size, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "hash block 22 (level 0) of partition 2 has non-zero padding at byte 389");
        flip_byte(f.hash_fd, 3 * 512 + 500);
        free(m);
        m = verify_all(&f, f.root, f.root_size, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "hash block 3 (level 1) of partition 2 has non-zero padding at byte 500");
        fixture_done(&f);
}

TEST(corrupt_slot_tail) {
        /* sha1's 20-byte digests sit in 32-byte slots; the 12 bytes after each are padding. */
        VerityParams p = make_params("sha1", 4096, 4096, 10, 32);
        Fixture f;
        fixture_build(&f, &p, 0);
        flip_byte(f.hash_fd, 4096 + 2 * 32 + 25);
        _cleanup_free_ char *m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, "hash block 1 (level 0) of partition 2 has non-zero padding at byte 89");
        fixture_done(&f);
}

TEST(wrong_root_hash) {
        VerityParams p = make_params("sha256", 4096, 4096, 40, 32);
        Fixture f;
        fixture_build(&f, &p, 0);

        uint8_t wrong[VERITY_MAX_DIGEST_SIZE];
        memcpy(wrong, f.root, f.root_size);
        wrong[31] ^= 1;
        _cleanup_free_ char *got = hexmem(f.root, f.root_size);
        _cleanup_free_ char *want = hexmem(wrong, f.root_size);
        _cleanup_free_ char *expected = NULL;
        ASSERT_TRUE(asprintf(&expected, "root hash of partition 1 is %s, expected %s", got,
                             want) > 0);

        _cleanup_free_ char *m = verify_all(&f, wrong, f.root_size, -EBADMSG,
                                            GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, expected);

        /* The top block itself damaged: only the root hash can tell. It wins over a data
         * mismatch further down. */
        flip_byte(f.hash_fd, 4096 + 10);
        flip_byte(f.data_fd, 4096 * 5);
        free(m);
        m = verify_all(&f, f.root, f.root_size, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_TRUE(strstr(m, "root hash of partition 1 is "));
        ASSERT_TRUE(strstr(m, got));
        fixture_done(&f);
}

TEST(short_expected_root_hash) {
        VerityParams p = make_params("sha256", 4096, 4096, 3, 32);
        Fixture f;
        fixture_build(&f, &p, 0);
        _cleanup_free_ char *got = hexmem(f.root, f.root_size);
        _cleanup_free_ char *want = hexmem(f.root, 20), *expected = NULL;
        ASSERT_TRUE(asprintf(&expected, "root hash of partition 1 is %s, expected %s", got,
                             want) > 0);
        _cleanup_free_ char *m = verify_all(&f, f.root, 20, -EBADMSG, GRAFT_ERROR_INTEGRITY);
        ASSERT_STREQ(m, expected);
        fixture_done(&f);
}

TEST(read_errors) {
        /* Write-only descriptors: the size is known, reading fails. */
        VerityParams p = make_params("sha256", 4096, 4096, 300, 32);
        Fixture f;
        fixture_build(&f, &p, 0);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%i", f.data_fd);
        int wfd = open(path, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(wfd >= 0);

        int saved = f.data_range.fd;
        f.data_range.fd = wfd;
        _cleanup_free_ char *m = verify_all(&f, NULL, 0, -EBADF, GRAFT_ERROR_IO);
        ASSERT_STREQ(m, "cannot read partition 1: Bad file descriptor");
        f.data_range.fd = saved;

        snprintf(path, sizeof(path), "/proc/self/fd/%i", f.hash_fd);
        safe_close(wfd);
        wfd = open(path, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(wfd >= 0);
        f.hash_range.fd = wfd;
        free(m);
        m = verify_all(&f, NULL, 0, -EBADF, GRAFT_ERROR_IO);
        ASSERT_STREQ(m, "cannot read partition 2: Bad file descriptor");
        f.hash_range.fd = f.hash_fd;
        safe_close(wfd);
        fixture_done(&f);
}

TEST(single_block_root) {
        /* One data block: no hash levels, the root hash is the digest of the data block. */
        VerityParams p = make_params("sha256", 4096, 4096, 1, 1);
        Fixture f;
        fixture_build(&f, &p, 0);
        flip_byte(f.data_fd, 17);
        _cleanup_free_ char *m = verify_all(&f, f.root, f.root_size, -EBADMSG,
                                            GRAFT_ERROR_INTEGRITY);
        ASSERT_TRUE(strstr(m, "root hash of partition 1 is "));
        fixture_done(&f);
}

TEST(truncated_and_short_ranges) {
        VerityParams p = make_params("sha256", 4096, 4096, 300, 32);
        Fixture f;
        fixture_build(&f, &p, 0);
        _cleanup_free_ char *m = NULL;
        uint64_t area = f.hash_range.size;

        f.hash_range.offset = 4096;
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        _cleanup_free_ char *want = NULL;
        ASSERT_TRUE(asprintf(&want, "partition 2 is truncated: it ends at byte %" PRIu64
                             " but the file has only %" PRIu64, area + 4096, area) > 0);
        ASSERT_STREQ(m, want);
        f.hash_range.offset = 0;

        f.data_range.size += 1;
        free(m);
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(m, "partition 1 is truncated: it ends at byte 1228801 but the file has only "
                        "1228800");
        f.data_range.size -= 4097;
        free(m);
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(m, "partition 2: the dm-verity superblock covers 300 data blocks of 4096 "
                        "bytes, but partition 1 has only 1224704 bytes");
        f.data_range.size += 4096;

        f.hash_range.size = area - 1;
        free(m);
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        want = mfree(want);
        ASSERT_TRUE(asprintf(&want, "partition 2 is too small for its hash tree: it needs %" PRIu64
                             " bytes but has %" PRIu64, area, area - 1) > 0);
        ASSERT_STREQ(m, want);
        f.hash_range.size = 100;
        free(m);
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(m, "partition 2 is too small for a dm-verity superblock (100 bytes)");
        f.hash_range.size = area;

        flip_byte(f.hash_fd, 0);
        free(m);
        m = verify_all(&f, NULL, 0, -EBADMSG, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(m, "partition 2 has no dm-verity superblock (bad magic)");
        fixture_done(&f);
}

TEST(build_refusals) {
        VerityParams p = make_params("sha256", 4096, 4096, 10, 32);
        _cleanup_free_ uint8_t *data = random_bytes(4096 * 10, 1);
        int dfd = memfd_with(data, 4096 * 10), hfd = memfd_with(NULL, 0);
        ImageRange d = { dfd, 0, 4096 * 10, "partition 1" }, h = { hfd, 0, 8192, "partition 2" };
        VerityBuild b = { .data = &d, .hash = &h, .params = &p, .with_superblock = true };
        GraftError e = GRAFT_ERROR_INIT;

        h.size = 4096;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -ENOSPC);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_STREQ(e.message, "partition 2 is too small for the hash tree: it needs 8192 bytes "
                                "but has 4096");
        graft_error_done(&e);
        h.size = 8192;

        p.data_blocks = 11;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -EINVAL);
        ASSERT_STREQ(e.message, "partition 1 has 40960 bytes, fewer than 11 data blocks of 4096 "
                                "bytes");
        graft_error_done(&e);
        p.data_blocks = 10;

        d.size += 4096;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -EBADMSG);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_STREQ(e.message, "partition 1 is truncated: it ends at byte 45056 but the file "
                                "has only 40960");
        graft_error_done(&e);
        d.size -= 4096;

        p.data_block_size = 8192;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -EINVAL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_STREQ(e.message, "partition 2: invalid dm-verity data block size 8192 (must be a "
                                "power of two from 512 to 4096)");
        graft_error_done(&e);
        p.data_block_size = 4096;

        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%i", hfd);
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(rfd >= 0);
        h.fd = rfd;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -EBADF);
        ASSERT_STREQ(e.name, GRAFT_ERROR_IO);
        ASSERT_STREQ(e.message, "cannot write partition 2: Bad file descriptor");
        graft_error_done(&e);
        b.with_superblock = false;
        ASSERT_ERRNO(verity_build(&b, NULL, NULL, &e), -EBADF);
        ASSERT_STREQ(e.message, "cannot write partition 2: Bad file descriptor");
        graft_error_done(&e);
        b.with_superblock = true;
        h.fd = hfd;
        safe_close(rfd);

        uint8_t root[VERITY_MAX_DIGEST_SIZE];
        size_t root_size;
        ASSERT_OK(verity_build(&b, root, &root_size, &e));
        ASSERT_EQ(root_size, 32);
        safe_close(dfd);
        safe_close(hfd);
}

typedef struct ProgressSeen {
        _Atomic uint64_t max_done;
        _Atomic unsigned calls;
        _Atomic uint64_t total;
} ProgressSeen;

static void progress_cb(void *userdata, uint64_t done, uint64_t total) {
        ProgressSeen *s = userdata;
        uint64_t m = atomic_load(&s->max_done);
        while (done > m && !atomic_compare_exchange_weak(&s->max_done, &m, done))
                ;
        atomic_store(&s->total, total);
        atomic_fetch_add(&s->calls, 1);
}

TEST(progress) {
        VerityParams p = make_params("sha256", 512, 512, 5000, 32);
        Fixture f;
        fixture_build(&f, &p, 0);
        uint64_t total = 5000 * 512 + f.hash_range.size - 512;

        ProgressSeen seen = {};
        VerityVerify v = {
                .data = &f.data_range,
                .hash = &f.hash_range,
                .n_threads = 2,
                .progress = progress_cb,
                .progress_userdata = &seen,
        };
        ASSERT_OK(verity_verify(&v, NULL, NULL));
        ASSERT_EQ(atomic_load(&seen.total), total);
        ASSERT_EQ(atomic_load(&seen.max_done), total);
        ASSERT_TRUE(atomic_load(&seen.calls) > 1);

        ProgressSeen built = {};
        VerityBuild b = {
                .data = &f.data_range,
                .hash = &f.hash_range,
                .params = &p,
                .with_superblock = true,
                .progress = progress_cb,
                .progress_userdata = &built,
        };
        ASSERT_OK(verity_build(&b, NULL, NULL, NULL));
        ASSERT_EQ(atomic_load(&built.total), total);
        ASSERT_EQ(atomic_load(&built.max_done), total);
        fixture_done(&f);
}

TEST(activation_unavailable) {
        const char *reason = NULL;
        if (verity_kernel_available(&reason)) {
                fprintf(stderr, "dm-verity is available here, skipping the unavailable path\n");
                return;
        }
        ASSERT_TRUE(reason);

        static const uint8_t root[32] = { 1, 2, 3 };
        VerityActivation a = {
                .data_device = "/dev/null",
                .hash_device = "/dev/null",
                .root_hash = root,
                .root_hash_size = sizeof(root),
        };
        GraftError e = GRAFT_ERROR_INIT;
        char *path = NULL;
        ASSERT_ERRNO(verity_activate(&a, &path, &e), -EOPNOTSUPP);
        ASSERT_TRUE(!path);
        ASSERT_STREQ(e.name, GRAFT_ERROR_UNSUPPORTED);
        _cleanup_free_ char *want = NULL;
        ASSERT_TRUE(asprintf(&want, "dm-verity is not available: %s; the image was verified in "
                             "userspace instead", reason) > 0);
        ASSERT_STREQ(e.message, want);
        graft_error_done(&e);

        ASSERT_ERRNO(verity_deactivate("graft-0102", &e), -EOPNOTSUPP);
        ASSERT_STREQ(e.message, want);
        graft_error_done(&e);
}

TESTS_MAIN
