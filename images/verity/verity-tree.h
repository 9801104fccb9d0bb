/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to the verity files: the geometry of a hash tree (where each level lives), the salted
 * block hashing, and the pool of worker threads that build and verify share. */
#pragma once

#include <openssl/evp.h>
#include <stdatomic.h>

#include "verity.h"

/* With at least two digests per hash block a tree over 2^64 blocks has at most 64 levels. */
#define VERITY_MAX_LEVELS 64

/* More threads than this would only contend for the same few cores. */
#define VERITY_MAX_THREADS 256u

/* Bytes of child blocks a worker reads per chunk: large enough that pread and per-chunk
 * bookkeeping vanish next to hashing, small enough to stay in the L2 cache. */
#define VERITY_CHUNK_BYTES (1024u * 1024u)

/* The tree as "layers": layer 0 is the data, layer k (k ≥ 1) is hash level k - 1, so hash level
 * 0 holds the digests of the data blocks and the top layer (layer n_levels) is a single block
 * whose salted digest is the root hash. With one data block there are no hash levels at all:
 * the root hash is the digest of that block. */
typedef struct VerityGeometry {
        size_t digest_size;
        size_t slot_size;              /* digest_size rounded up to a power of two */
        uint32_t hashes_per_block;     /* hash_block_size / slot_size, a power of two ≥ 2 */
        uint32_t data_block_size;
        uint32_t hash_block_size;
        uint64_t data_blocks;
        unsigned n_levels;
        uint64_t level_blocks[VERITY_MAX_LEVELS]; /* per hash level, 0 = leaf */
        uint64_t level_start[VERITY_MAX_LEVELS];  /* first block in the tree; the top level is 0 */
        uint64_t tree_blocks;
        uint64_t tree_offset;          /* bytes from the start of the hash area to the tree */
} VerityGeometry;

/* -EOPNOTSUPP if OpenSSL does not know the algorithm (or it is an XOF); else its digest size. */
int verity_digest_size(const char *algorithm, size_t *ret);

/* Pure arithmetic over already checked parameters; -ERANGE if the tree would not fit in 64 bits,
 * -EINVAL if fewer than two digests fit into a hash block. */
int verity_geometry_init(VerityGeometry *g, const VerityParams *p, size_t digest_size,
                         bool with_superblock);

static inline uint64_t verity_layer_blocks(const VerityGeometry *g, unsigned layer) {
        return layer == 0 ? g->data_blocks : g->level_blocks[layer - 1];
}
static inline uint32_t verity_layer_block_size(const VerityGeometry *g, unsigned layer) {
        return layer == 0 ? g->data_block_size : g->hash_block_size;
}
/* Children of a layer per chunk: whole parent blocks, about VERITY_CHUNK_BYTES. */
uint64_t verity_layer_chunk_blocks(const VerityGeometry *g, unsigned layer);
/* Byte offset of a layer's first block within the file of its range. */
uint64_t verity_layer_offset(const VerityGeometry *g, unsigned layer, const ImageRange *data,
                             const ImageRange *hash);

/* The salted starting state of every block digest, computed once. */
typedef struct VerityHasher {
        EVP_MD *md;
        EVP_MD_CTX *salted;
        size_t digest_size;
} VerityHasher;

int verity_hasher_init(VerityHasher *h, const VerityParams *p);
void verity_hasher_done(VerityHasher *h);
/* digest = H(salt ‖ block); work is the calling thread's scratch context. */
int verity_hash_block(const VerityHasher *h, EVP_MD_CTX *work, const void *block, size_t size,
                      uint8_t *ret_digest);

/* A running byte count for the progress callback, shared by the workers. */
typedef struct VerityProgress {
        _Atomic uint64_t done;
        uint64_t total;
        ProgressFn fn;
        void *userdata;
} VerityProgress;

void verity_progress_add(VerityProgress *p, uint64_t bytes);

/* Per-thread state of a worker: its digest context and read buffers. */
typedef struct VerityWorker {
        EVP_MD_CTX *ctx;
        uint8_t *child_buf;
        uint8_t *parent_buf;
} VerityWorker;

/* Called for each chunk index, from any worker; a negative return stops all workers and is
 * returned by verity_run_chunks() (the first one wins). */
typedef int (*VerityChunkFn)(VerityWorker *w, uint64_t chunk, void *userdata);

typedef struct VerityRun {
        unsigned n_threads;       /* 0: one per CPU; never more than there are chunks */
        uint64_t n_chunks;
        size_t child_buf_size;
        size_t parent_buf_size;
        VerityChunkFn fn;
        void *userdata;
} VerityRun;

/* Hands out the chunks in increasing order to n_threads workers (the calling thread is one). */
int verity_run_chunks(const VerityRun *r);

/* Both ranges must lie inside their files: a short file is a truncated image. */
int verity_check_range(const ImageRange *r, GraftError *err);

/* Checks what build and parse both need: block sizes (512 to 4096; data blocks up to 65536 when
 * reading), salt size, a known algorithm with room for two digests per hash block, a non-zero
 * block count. Failures are -EBADMSG with GRAFT_ERROR_BAD_IMAGE when reading a superblock,
 * -EINVAL with GRAFT_ERROR_INVALID_ARGUMENT when building. */
int verity_params_check(const VerityParams *p, bool building, const char *what, GraftError *err);
