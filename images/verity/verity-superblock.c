/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The 512-byte dm-verity superblock (veritysetup's format 1) and the checks every set of
 * verity parameters must pass, whether read from disk or given to the builder. */
#include <endian.h>
#include <inttypes.h>
#include <string.h>

#include "verity-tree.h"

#define VERITY_MAGIC "verity\0\0"
#define VERITY_MIN_BLOCK_SIZE 512u
#define VERITY_MAX_HASH_BLOCK_SIZE 4096u
#define VERITY_MAX_READ_BLOCK_SIZE 65536u

/* Field offsets, all little-endian. */
enum {
        SB_MAGIC = 0,
        SB_VERSION = 8,
        SB_HASH_TYPE = 12,
        SB_UUID = 16,
        SB_ALGORITHM = 32,
        SB_DATA_BLOCK_SIZE = 64,
        SB_HASH_BLOCK_SIZE = 68,
        SB_DATA_BLOCKS = 72,
        SB_SALT_SIZE = 80,
        SB_SALT = 88,
        SB_END = SB_SALT + VERITY_MAX_SALT_SIZE + 168,
};

_Static_assert(SB_END == VERITY_SUPERBLOCK_SIZE, "superblock layout");
_Static_assert(sizeof(((VerityParams *) NULL)->algorithm) == 32, "algorithm field size");

static uint32_t get_le32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return le32toh(v);
}

static void put_le32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof(v));
}

static bool block_size_ok(uint32_t size, uint32_t max) {
        return IS_POWER_OF_2(size) && size >= VERITY_MIN_BLOCK_SIZE && size <= max;
}

int verity_params_check(const VerityParams *p, bool building, const char *what, GraftError *err) {
        /* Bad parameters to build with are the caller's mistake; in a superblock, the image's. */
        const char *error_name = building ? GRAFT_ERROR_INVALID_ARGUMENT : GRAFT_ERROR_BAD_IMAGE;
        int error = building ? -EINVAL : -EBADMSG;
        uint32_t max_data_block_size = building ? VERITY_MAX_HASH_BLOCK_SIZE
                                                : VERITY_MAX_READ_BLOCK_SIZE;

        if (p->hash_type == 0)
                return graft_error_set(err, error, error_name,
                                       "%s: dm-verity hash type 0 (Chrome OS) is not supported",
                                       what);
        if (p->hash_type != 1)
                return graft_error_set(err, error, error_name,
                                       "%s: unknown dm-verity hash type %" PRIu32, what,
                                       p->hash_type);
        if (!block_size_ok(p->data_block_size, max_data_block_size))
                return graft_error_set(err, error, error_name,
                                       "%s: invalid dm-verity data block size %" PRIu32
                                       " (must be a power of two from %u to %" PRIu32 ")",
                                       what, p->data_block_size, VERITY_MIN_BLOCK_SIZE,
                                       max_data_block_size);
        if (!block_size_ok(p->hash_block_size, VERITY_MAX_HASH_BLOCK_SIZE))
                return graft_error_set(err, error, error_name,
                                       "%s: invalid dm-verity hash block size %" PRIu32
                                       " (must be a power of two from %u to %u)",
                                       what, p->hash_block_size, VERITY_MIN_BLOCK_SIZE,
                                       VERITY_MAX_HASH_BLOCK_SIZE);
        if (p->salt_size > VERITY_MAX_SALT_SIZE)
                return graft_error_set(err, error, error_name,
                                       "%s: dm-verity salt size %u exceeds %u bytes", what,
                                       p->salt_size, VERITY_MAX_SALT_SIZE);
        if (p->data_blocks == 0)
                return graft_error_set(err, error, error_name,
                                       "%s: dm-verity superblock covers no data blocks", what);

        size_t digest_size;
        if (!memchr(p->algorithm, 0, sizeof(p->algorithm)) || p->algorithm[0] == 0 ||
            verity_digest_size(p->algorithm, &digest_size) < 0)
                return graft_error_set(err, error, error_name,
                                       "%s: unknown dm-verity hash algorithm \"%.*s\"", what,
                                       (int) strnlen(p->algorithm, sizeof(p->algorithm)),
                                       p->algorithm);

        VerityGeometry g;
        int r = verity_geometry_init(&g, p, digest_size, true);
        if (r == -EINVAL || digest_size > VERITY_MAX_DIGEST_SIZE)
                return graft_error_set(err, error, error_name,
                                       "%s: %zu-byte %s digests do not fit twice into %" PRIu32
                                       "-byte hash blocks", what, digest_size, p->algorithm,
                                       p->hash_block_size);
        if (r < 0)
                return graft_error_set(err, error, error_name,
                                       "%s: %" PRIu64 " dm-verity data blocks are too many", what,
                                       p->data_blocks);
        return 0;
}

int verity_superblock_parse(const uint8_t buf[static VERITY_SUPERBLOCK_SIZE], const char *what,
                            VerityParams *ret, GraftError *err) {
        VerityParams p = {};

        if (memcmp(buf + SB_MAGIC, VERITY_MAGIC, STRLEN("verity") + 2) != 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s has no dm-verity superblock (bad magic)", what);
        uint32_t version = get_le32(buf + SB_VERSION);
        if (version != 1)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: unsupported dm-verity superblock version %" PRIu32,
                                       what, version);

        p.hash_type = get_le32(buf + SB_HASH_TYPE);
        memcpy(p.uuid, buf + SB_UUID, sizeof(p.uuid));
        memcpy(p.algorithm, buf + SB_ALGORITHM, sizeof(p.algorithm));
        p.data_block_size = get_le32(buf + SB_DATA_BLOCK_SIZE);
        p.hash_block_size = get_le32(buf + SB_HASH_BLOCK_SIZE);
        uint64_t blocks;
        memcpy(&blocks, buf + SB_DATA_BLOCKS, sizeof(blocks));
        p.data_blocks = le64toh(blocks);
        uint16_t salt_size;
        memcpy(&salt_size, buf + SB_SALT_SIZE, sizeof(salt_size));
        p.salt_size = le16toh(salt_size);

        int r = verity_params_check(&p, false, what, err);
        if (r < 0)
                return r;
        memcpy(p.salt, buf + SB_SALT, p.salt_size);

        *ret = p;
        return 0;
}

void verity_superblock_format(const VerityParams *p, uint8_t buf[static VERITY_SUPERBLOCK_SIZE]) {
        memset(buf, 0, VERITY_SUPERBLOCK_SIZE);
        memcpy(buf + SB_MAGIC, VERITY_MAGIC, STRLEN("verity") + 2);
        put_le32(buf + SB_VERSION, 1);
        put_le32(buf + SB_HASH_TYPE, p->hash_type);
        memcpy(buf + SB_UUID, p->uuid, sizeof(p->uuid));
        memcpy(buf + SB_ALGORITHM, p->algorithm, strnlen(p->algorithm, sizeof(p->algorithm)));
        put_le32(buf + SB_DATA_BLOCK_SIZE, p->data_block_size);
        put_le32(buf + SB_HASH_BLOCK_SIZE, p->hash_block_size);
        uint64_t blocks = htole64(p->data_blocks);
        memcpy(buf + SB_DATA_BLOCKS, &blocks, sizeof(blocks));
        uint16_t salt_size = htole16(MIN(p->salt_size, (uint16_t) VERITY_MAX_SALT_SIZE));
        memcpy(buf + SB_SALT_SIZE, &salt_size, sizeof(salt_size));
        memcpy(buf + SB_SALT, p->salt, le16toh(salt_size));
}

uint64_t verity_hash_area_size(const VerityParams *p, bool with_superblock) {
        size_t digest_size;
        VerityGeometry g;

        if (verity_params_check(p, false, "", NULL) < 0 ||
            verity_digest_size(p->algorithm, &digest_size) < 0 ||
            verity_geometry_init(&g, p, digest_size, with_superblock) < 0)
                return 0;
        return g.tree_offset + g.tree_blocks * p->hash_block_size;
}
