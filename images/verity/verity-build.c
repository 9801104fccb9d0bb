/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building a dm-verity hash area: the superblock, then the tree one level at a time from the
 * leaves up, each level hashed by all workers over disjoint runs of whole parent blocks. */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include "fileio.h"
#include "verity-tree.h"

typedef enum BuildOp {
        BUILD_OP_NONE,
        BUILD_OP_READ,
        BUILD_OP_WRITE,
} BuildOp;

typedef struct BuildState {
        const VerityBuild *b;
        const VerityGeometry *g;
        const VerityHasher *h;
        VerityProgress progress;
        unsigned layer;           /* the layer being hashed into layer + 1 */
        uint64_t chunk_blocks;
        _Atomic int failed_op;    /* BuildOp of the first I/O error */
        const char *failed_what;  /* and the range it was on; read after the workers joined */
} BuildState;

static int build_fail(BuildState *s, BuildOp op, const char *what, int r) {
        int expected = BUILD_OP_NONE;
        if (atomic_compare_exchange_strong(&s->failed_op, &expected, (int) op))
                s->failed_what = what;
        return r;
}

static const ImageRange *layer_range(const BuildState *s, unsigned layer) {
        return layer == 0 ? s->b->data : s->b->hash;
}

static int build_chunk(VerityWorker *w, uint64_t chunk, void *userdata) {
        BuildState *s = userdata;
        const VerityGeometry *g = s->g;
        unsigned layer = s->layer;
        size_t bs = verity_layer_block_size(g, layer);
        uint64_t first = chunk * s->chunk_blocks;
        size_t n = (size_t) MIN(s->chunk_blocks, verity_layer_blocks(g, layer) - first);
        const ImageRange *child = layer_range(s, layer);
        int r;

        r = pread_full(child->fd, w->child_buf, n * bs,
                       verity_layer_offset(g, layer, s->b->data, s->b->hash) + first * bs);
        if (r < 0)
                return build_fail(s, BUILD_OP_READ, child->what, r);

        /* Chunks start on a parent block, so this chunk owns its parent blocks entirely, and
         * zeroing them first leaves slot tails and unused slots zero. */
        size_t n_parents = DIV_ROUND_UP(n, (size_t) g->hashes_per_block);
        memset(w->parent_buf, 0, n_parents * g->hash_block_size);
        for (size_t i = 0; i < n; i++) {
                r = verity_hash_block(s->h, w->ctx, w->child_buf + i * bs, bs,
                                      w->parent_buf + i * g->slot_size);
                if (r < 0)
                        return r;
        }

        uint64_t parent_offset = verity_layer_offset(g, layer + 1, s->b->data, s->b->hash) +
                                 first / g->hashes_per_block * g->hash_block_size;
        r = pwrite_full(s->b->hash->fd, w->parent_buf, n_parents * g->hash_block_size,
                        parent_offset);
        if (r < 0)
                return build_fail(s, BUILD_OP_WRITE, s->b->hash->what, r);

        verity_progress_add(&s->progress, (uint64_t) n * bs);
        return 0;
}

static int build_layer(BuildState *s, unsigned layer) {
        const VerityGeometry *g = s->g;

        s->layer = layer;
        s->chunk_blocks = verity_layer_chunk_blocks(g, layer);

        uint64_t blocks = verity_layer_blocks(g, layer);
        VerityRun run = {
                .n_threads = s->b->n_threads,
                .n_chunks = DIV_ROUND_UP(blocks, s->chunk_blocks),
                .child_buf_size = (size_t) s->chunk_blocks * verity_layer_block_size(g, layer),
                .parent_buf_size = (size_t) (s->chunk_blocks / g->hashes_per_block) *
                                   g->hash_block_size,
                .fn = build_chunk,
                .userdata = s,
        };
        return verity_run_chunks(&run);
}

static int build_root(BuildState *s, uint8_t *ret_root) {
        const VerityGeometry *g = s->g;
        unsigned top = g->n_levels;
        size_t bs = verity_layer_block_size(g, top);
        const ImageRange *range = layer_range(s, top);
        _cleanup_free_ uint8_t *block = malloc(bs);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int r;

        if (!block || !ctx) {
                EVP_MD_CTX_free(ctx);
                return -ENOMEM;
        }
        r = pread_full(range->fd, block, bs, verity_layer_offset(g, top, s->b->data, s->b->hash));
        if (r < 0)
                r = build_fail(s, BUILD_OP_READ, range->what, r);
        else
                r = verity_hash_block(s->h, ctx, block, bs, ret_root);
        EVP_MD_CTX_free(ctx);
        if (r >= 0)
                verity_progress_add(&s->progress, bs);
        return r;
}

static int build_check(const VerityBuild *b, VerityGeometry *ret_geometry, GraftError *err) {
        const VerityParams *p = b->params;
        size_t digest_size;
        int r;

        r = verity_params_check(p, true, b->hash->what, err);
        if (r < 0)
                return r;
        r = verity_digest_size(p->algorithm, &digest_size);
        if (r < 0)
                return r;
        r = verity_geometry_init(ret_geometry, p, digest_size, b->with_superblock);
        if (r < 0)
                return r;

        if (p->data_blocks > b->data->size / p->data_block_size)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s has %" PRIu64 " bytes, fewer than %" PRIu64
                                       " data blocks of %" PRIu32 " bytes", b->data->what,
                                       b->data->size, p->data_blocks, p->data_block_size);
        uint64_t area = ret_geometry->tree_offset +
                        ret_geometry->tree_blocks * ret_geometry->hash_block_size;
        if (b->hash->size < area)
                return graft_error_set(err, -ENOSPC, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s is too small for the hash tree: it needs %" PRIu64
                                       " bytes but has %" PRIu64, b->hash->what, area,
                                       b->hash->size);
        return verity_check_range(b->data, err);
}

static int write_superblock(const VerityBuild *b, const VerityGeometry *g) {
        _cleanup_free_ uint8_t *buf = calloc(1, g->tree_offset);
        if (!buf)
                return -ENOMEM;
        verity_superblock_format(b->params, buf);
        return pwrite_full(b->hash->fd, buf, g->tree_offset, b->hash->offset);
}

int verity_build(const VerityBuild *b, uint8_t *ret_root_hash, size_t *ret_root_hash_size,
                 GraftError *err) {
        VerityGeometry g;
        VerityHasher h = {};
        uint8_t root[EVP_MAX_MD_SIZE];
        int r;

        r = build_check(b, &g, err);
        if (r < 0)
                return r;

        r = verity_hasher_init(&h, b->params);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "cannot set up %s hashing for %s", b->params->algorithm,
                                       b->hash->what);

        BuildState s = {
                .b = b,
                .g = &g,
                .h = &h,
                .progress = {
                        .total = g.data_blocks * g.data_block_size +
                                 g.tree_blocks * g.hash_block_size,
                        .fn = b->progress,
                        .userdata = b->progress_userdata,
                },
        };

        (void) posix_fadvise(b->data->fd, (off_t) b->data->offset, (off_t) b->data->size,
                             POSIX_FADV_SEQUENTIAL);

        if (b->with_superblock) {
                r = write_superblock(b, &g);
                if (r < 0)
                        (void) build_fail(&s, BUILD_OP_WRITE, b->hash->what, r);
        }
        /* Each level needs the one below it complete. */
        for (unsigned layer = 0; r >= 0 && layer < g.n_levels; layer++)
                r = build_layer(&s, layer);
        if (r >= 0)
                r = build_root(&s, root);
        verity_hasher_done(&h);

        if (r < 0) {
                int op = atomic_load(&s.failed_op);
                if (op != BUILD_OP_NONE)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot %s %s: %s",
                                               op == BUILD_OP_WRITE ? "write" : "read",
                                               s.failed_what, strerror(-r));
                return graft_error_set(err, r, GRAFT_ERROR_IO,
                                       "cannot build the hash tree of %s: %s", b->data->what,
                                       strerror(-r));
        }

        if (ret_root_hash)
                memcpy(ret_root_hash, root, g.digest_size);
        if (ret_root_hash_size)
                *ret_root_hash_size = g.digest_size;
        return 0;
}
