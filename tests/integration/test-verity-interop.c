/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hash trees against the real veritysetup: what it formats, verity_verify() accepts with the
 * same root hash; what verity_build() writes is byte-identical to veritysetup's output for the
 * same salt and UUID, and `veritysetup verify` accepts it. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "hex.h"
#include "tests.h"
#include "uuid.h"
#include "verity.h"

static char scratch[] = "/var/tmp/test-verity-interop.XXXXXX";

typedef struct Case {
        const char *algorithm;
        uint32_t data_block_size;
        uint32_t hash_block_size;
        uint64_t data_blocks;
        uint16_t salt_size;
        uint64_t hash_offset;     /* > 0: the hash area follows the data in the same file */
} Case;

static const Case cases[] = {
        { "sha256", 4096, 4096, 1, 32, 0 },
        { "sha256", 4096, 4096, 2, 32, 0 },
        { "sha256", 4096, 4096, 129, 32, 0 },
        { "sha256", 4096, 4096, 20000, 32, 0 },
        { "sha256", 512, 512, 300, 32, 0 },        /* systemd-repart 252's geometry */
        { "sha256", 512, 512, 40000, 32, 0 },
        { "sha256", 4096, 512, 1000, 32, 0 },
        { "sha256", 4096, 4096, 777, 0, 0 },       /* no salt */
        { "sha256", 1024, 2048, 3000, 256, 0 },
        { "sha1", 4096, 4096, 5000, 32, 0 },
        { "sha512", 512, 1024, 5000, 16, 0 },
        { "sha256", 4096, 4096, 3000, 32, 3000 * 4096 },
};

static int run(const char *command) {
        int status = system(command);
        ASSERT_TRUE(status != -1);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* veritysetup format prints a few hundred bytes. */
static char *run_output(const char *command) {
        const size_t max = 64 * 1024;
        FILE *f = popen(command, "r");
        ASSERT_TRUE(f);
        char *out = calloc(1, max);
        ASSERT_TRUE(out);
        size_t n = fread(out, 1, max - 1, f);
        ASSERT_TRUE(n > 0 && n < max - 1);
        ASSERT_EQ(pclose(f), 0);
        return out;
}

static void write_data(const char *path, uint64_t size, uint32_t seed) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(fd >= 0);
        _cleanup_free_ uint8_t *buf = malloc(1 << 20);
        uint32_t x = seed * 2654435761u + 7;
        for (uint64_t off = 0; off < size; off += 1 << 20) {
                size_t n = (size_t) MIN(size - off, (uint64_t) 1 << 20);
                for (size_t i = 0; i < n; i++) {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        buf[i] = (uint8_t) x;
                }
                ASSERT_OK(pwrite_full(fd, buf, n, off));
        }
        close(fd);
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

static VerityParams case_params(const Case *c, unsigned index) {
        VerityParams p = {
                .data_block_size = c->data_block_size,
                .hash_block_size = c->hash_block_size,
                .data_blocks = c->data_blocks,
                .salt_size = c->salt_size,
                .hash_type = 1,
        };
        snprintf(p.algorithm, sizeof(p.algorithm), "%s", c->algorithm);
        for (unsigned i = 0; i < c->salt_size; i++)
                p.salt[i] = (uint8_t) (i * 31 + index);
        for (unsigned i = 0; i < 16; i++)
                p.uuid[i] = (uint8_t) (i * 17 + index);
        uuid_make_v4((Uuid *) p.uuid);
        return p;
}

/* "Root hash:      \t<hex>" from veritysetup format's output. */
static void parse_root(const char *out, uint8_t *root, size_t *root_size) {
        const char *l = strstr(out, "Root hash:");
        ASSERT_TRUE(l);
        l += strlen("Root hash:");
        l += strspn(l, " \t");
        size_t len = strcspn(l, "\n");
        _cleanup_free_ uint8_t *b = NULL;
        ASSERT_OK(unhexmem(l, len, &b, root_size));
        memcpy(root, b, *root_size);
}

static void check_case(const Case *c, unsigned index) {
        VerityParams p = case_params(c, index);
        uint64_t data_size = c->data_blocks * c->data_block_size;
        _cleanup_free_ char *data = NULL, *hash = NULL, *built = NULL, *cmd = NULL, *salt = NULL;
        _cleanup_free_ char *out = NULL, *root_hex = NULL;

        ASSERT_TRUE(asprintf(&data, "%s/data%u", scratch, index) > 0);
        ASSERT_TRUE(asprintf(&hash, "%s/hash%u", scratch, index) > 0);
        ASSERT_TRUE(asprintf(&built, "%s/built%u", scratch, index) > 0);
        write_data(data, data_size, index);
        if (c->hash_offset > 0) {
                free(hash);
                hash = strdup(data);
        }
        salt = c->salt_size > 0 ? hexmem(p.salt, p.salt_size) : strdup("-");
        fprintf(stderr, "  %s %u/%u, %" PRIu64 " blocks, %u-byte salt%s\n", c->algorithm,
                c->data_block_size, c->hash_block_size, c->data_blocks, c->salt_size,
                c->hash_offset ? ", hash area in the data file" : "");

        ASSERT_TRUE(asprintf(&cmd, "veritysetup format --hash=%s --data-block-size=%u "
                             "--hash-block-size=%u --data-blocks=%" PRIu64 " --salt=%s "
                             "--uuid=%s --hash-offset=%" PRIu64 " %s %s",
                             c->algorithm, c->data_block_size, c->hash_block_size,
                             c->data_blocks, salt, UUID_TO_STRING((const Uuid *) p.uuid),
                             c->hash_offset, data, hash) > 0);
        out = run_output(cmd);
        uint8_t root[VERITY_MAX_DIGEST_SIZE];
        size_t root_size;
        parse_root(out, root, &root_size);

        /* veritysetup's tree, verified here. */
        int dfd = open(data, O_RDONLY | O_CLOEXEC), hfd = open(hash, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0 && hfd >= 0);
        uint64_t hash_file_size, area = verity_hash_area_size(&p, true);
        ASSERT_OK(fd_get_size(hfd, &hash_file_size));
        ASSERT_EQ(hash_file_size, c->hash_offset + area);
        ImageRange dr = { dfd, 0, data_size, "partition 1" };
        ImageRange hr = { hfd, c->hash_offset, area, "partition 2" };
        VerityVerify v = {
                .data = &dr,
                .hash = &hr,
                .expected_root_hash = root,
                .expected_root_hash_size = root_size,
        };
        VerityResult res;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(verity_verify(&v, &res, &e));
        ASSERT_EQ(res.root_hash_size, root_size);
        ASSERT_TRUE(memcmp(res.root_hash, root, root_size) == 0);
        assert_params_equal(&res.params, &p);

        /* Our tree, byte for byte the same. */
        int bfd = open(built, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(bfd >= 0);
        ImageRange br = { bfd, 0, area, "file built" };
        VerityBuild b = { .data = &dr, .hash = &br, .params = &p, .with_superblock = true };
        uint8_t built_root[VERITY_MAX_DIGEST_SIZE];
        size_t built_root_size;
        ASSERT_OK(verity_build(&b, built_root, &built_root_size, &e));
        ASSERT_EQ(built_root_size, root_size);
        ASSERT_TRUE(memcmp(built_root, root, root_size) == 0);
        _cleanup_free_ uint8_t *theirs = malloc(area), *ours = malloc(area);
        ASSERT_OK(pread_full(hfd, theirs, area, c->hash_offset));
        ASSERT_OK(pread_full(bfd, ours, area, 0));
        ASSERT_TRUE(memcmp(theirs, ours, area) == 0);

        root_hex = hexmem(root, root_size);
        free(cmd);
        ASSERT_TRUE(asprintf(&cmd, "veritysetup verify %s %s %s", data, built, root_hex) > 0);
        ASSERT_EQ(run(cmd), 0);

        /* A damaged block: both refuse. */
        uint8_t byte = 0x5a;
        uint64_t victim = (c->data_blocks / 2) * c->data_block_size + 1;
        int wfd = open(data, O_WRONLY | O_CLOEXEC);
        ASSERT_OK(pwrite_full(wfd, &byte, 1, victim));
        close(wfd);
        free(cmd);
        ASSERT_TRUE(asprintf(&cmd, "veritysetup verify %s %s %s >/dev/null 2>&1", data, built,
                             root_hex) > 0);
        ASSERT_TRUE(run(cmd) != 0);
        ASSERT_ERRNO(verity_verify(&v, NULL, &e), -EBADMSG);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INTEGRITY);
        if (c->data_blocks > 1) {
                _cleanup_free_ char *want = NULL;
                ASSERT_TRUE(asprintf(&want, "data block %" PRIu64 " of partition 1 does not "
                                     "match the hash tree", c->data_blocks / 2) > 0);
                ASSERT_STREQ(e.message, want);
        }
        graft_error_done(&e);

        close(dfd);
        close(hfd);
        close(bfd);
        ASSERT_OK(unlink(data));
        if (c->hash_offset == 0)
                ASSERT_OK(unlink(hash));
        ASSERT_OK(unlink(built));
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "not root, skipping\n");
                return EXIT_TEST_SKIP;
        }
        if (run("veritysetup --version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "veritysetup is not installed, skipping\n");
                return EXIT_TEST_SKIP;
        }
        ASSERT_TRUE(mkdtemp(scratch));
        for (unsigned i = 0; i < ELEMENTSOF(cases); i++)
                check_case(&cases[i], i);
        ASSERT_OK(rmdir(scratch));
        fprintf(stderr, "%zu veritysetup comparisons passed\n", ELEMENTSOF(cases));
        return 0;
}
