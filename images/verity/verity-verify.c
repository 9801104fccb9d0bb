/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Full userspace verification of a dm-verity hash area against its data: every block of every
 * layer is hashed by a pool of workers and compared with its slot in the parent block, the top
 * block with the root hash. All layers are independent given the stored tree, so all are checked
 * at once; the first mismatch in storage order (top of the tree first, data last) is reported,
 * whichever thread finds what when. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "fileio.h"
#include "hex.h"
#include "verity-tree.h"

typedef enum FailureKind {
        FAILURE_MISMATCH,
        FAILURE_PADDING,
        FAILURE_ROOT,
} FailureKind;

typedef struct Failure {
        uint64_t key;             /* position in the order of report; lowest wins */
        FailureKind kind;
        unsigned layer;
        uint64_t block;           /* within the layer */
        size_t byte;              /* FAILURE_PADDING: offset within the block */
} Failure;

typedef struct VerifyState {
        const VerityVerify *v;
        const VerityGeometry *g;
        const VerityHasher *h;
        VerityProgress progress;
        /* Chunks are numbered top layer first; chunk_first[i] is the first chunk of layer
         * n_levels - i, chunk_blocks[i] its blocks per chunk. */
        uint64_t chunk_first[VERITY_MAX_LEVELS + 2];
        uint64_t chunk_blocks[VERITY_MAX_LEVELS + 1];
        uint8_t root[EVP_MAX_MD_SIZE];   /* written by the one worker that hashes the top */
        _Atomic uint64_t best_key;
        pthread_mutex_t lock;
        Failure best;                    /* under lock */
        const char *failed_read;         /* the range a read failed on */
} VerifyState;

static uint64_t failure_key(const VerityGeometry *g, unsigned layer, uint64_t block) {
        return layer == 0 ? g->tree_blocks + block : g->level_start[layer - 1] + block;
}

static void record_failure(VerifyState *s, const Failure *f) {
        pthread_mutex_lock(&s->lock);
        if (f->key < s->best.key) {
                s->best = *f;
                atomic_store(&s->best_key, f->key);
        }
        pthread_mutex_unlock(&s->lock);
}

static size_t first_nonzero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != 0)
                        return i;
        return n;
}

/* Every byte of a hash block that is not part of a digest in use must be zero: slot tails when
 * digests are shorter than their slots, and the slots after the last child. */
static size_t hash_block_padding(const VerityGeometry *g, unsigned layer, uint64_t block,
                                 const uint8_t *p) {
        uint64_t children = verity_layer_blocks(g, layer - 1) - block * g->hashes_per_block;
        size_t used = (size_t) MIN(children, (uint64_t) g->hashes_per_block), i;

        if (g->slot_size > g->digest_size)
                for (size_t slot = 0; slot < used; slot++) {
                        size_t start = slot * g->slot_size + g->digest_size;
                        i = first_nonzero(p + start, g->slot_size - g->digest_size);
                        if (i < g->slot_size - g->digest_size)
                                return start + i;
                }
        size_t start = used * g->slot_size;
        return start + first_nonzero(p + start, g->hash_block_size - start);
}

static int read_layer(VerifyState *s, unsigned layer, uint64_t first, size_t n, uint8_t *buf) {
        const ImageRange *range = layer == 0 ? s->v->data : s->v->hash;
        size_t bs = verity_layer_block_size(s->g, layer);
        uint64_t offset = verity_layer_offset(s->g, layer, s->v->data, s->v->hash) + first * bs;

        int r = pread_full(range->fd, buf, n * bs, offset);
        if (r < 0) {
                pthread_mutex_lock(&s->lock);
                if (!s->failed_read)
                        s->failed_read = range->what;
                pthread_mutex_unlock(&s->lock);
        }
        return r;
}

/* Whether the digest of the top block, the root hash, is the one the caller expects. */
static bool root_matches(VerifyState *s) {
        const VerityVerify *v = s->v;
        if (!v->expected_root_hash)
                return true;
        return v->expected_root_hash_size == s->g->digest_size &&
               memcmp(v->expected_root_hash, s->root, s->g->digest_size) == 0;
}

static int verify_chunk(VerityWorker *w, uint64_t chunk, void *userdata) {
        VerifyState *s = userdata;
        const VerityGeometry *g = s->g;
        unsigned i = 0;
        int r;

        while (chunk >= s->chunk_first[i + 1])
                i++;
        unsigned layer = g->n_levels - i;
        uint64_t first = (chunk - s->chunk_first[i]) * s->chunk_blocks[i];
        size_t n = (size_t) MIN(s->chunk_blocks[i], verity_layer_blocks(g, layer) - first);
        size_t bs = verity_layer_block_size(g, layer);

        /* A mismatch earlier in the order was found already: nothing here could be reported. */
        if (failure_key(g, layer, first) > atomic_load(&s->best_key))
                return 0;

        r = read_layer(s, layer, first, n, w->child_buf);
        if (r < 0)
                return r;
        if (layer < g->n_levels) {
                /* Chunks start on a parent block boundary (see verity_layer_chunk_blocks()). */
                size_t n_parents = DIV_ROUND_UP(n, (size_t) g->hashes_per_block);
                r = read_layer(s, layer + 1, first / g->hashes_per_block, n_parents,
                               w->parent_buf);
                if (r < 0)
                        return r;
        }

        for (size_t j = 0; j < n; j++) {
                const uint8_t *block = w->child_buf + j * bs;
                uint8_t digest[EVP_MAX_MD_SIZE];
                Failure f = {
                        .key = failure_key(g, layer, first + j),
                        .layer = layer,
                        .block = first + j,
                };

                if (layer > 0) {
                        f.byte = hash_block_padding(g, layer, first + j, block);
                        if (f.byte < g->hash_block_size) {
                                f.kind = FAILURE_PADDING;
                                record_failure(s, &f);
                                return 0;
                        }
                }

                r = verity_hash_block(s->h, w->ctx, block, bs, digest);
                if (r < 0)
                        return r;

                if (layer == g->n_levels) {
                        memcpy(s->root, digest, g->digest_size);
                        f.kind = FAILURE_ROOT;
                        if (!root_matches(s)) {
                                record_failure(s, &f);
                                return 0;
                        }
                } else if (memcmp(digest, w->parent_buf + j * g->slot_size, g->digest_size) != 0) {
                        f.kind = FAILURE_MISMATCH;
                        record_failure(s, &f);
                        return 0;
                }
        }

        verity_progress_add(&s->progress, (uint64_t) n * bs);
        return 0;
}

static int report_failure(const VerifyState *s, GraftError *err) {
        const VerityGeometry *g = s->g;
        const VerityVerify *v = s->v;
        const Failure *f = &s->best;

        if (f->kind == FAILURE_ROOT) {
                _cleanup_free_ char *got = hexmem(s->root, g->digest_size);
                _cleanup_free_ char *want = hexmem(v->expected_root_hash,
                                                   v->expected_root_hash_size);
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "root hash of %s is %s, expected %s", v->data->what,
                                       strna(got), strna(want));
        }
        if (f->layer == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "data block %" PRIu64 " of %s does not match the hash tree",
                                       f->block, v->data->what);

        /* Hash blocks are numbered from the start of the hash area, so the number times the
         * block size is where to look. */
        uint64_t number = g->tree_offset / g->hash_block_size + g->level_start[f->layer - 1] +
                          f->block;
        if (f->kind == FAILURE_PADDING)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "hash block %" PRIu64 " (level %u) of %s has non-zero "
                                       "padding at byte %zu", number, f->layer - 1,
                                       v->hash->what, f->byte);
        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                               "hash block %" PRIu64 " (level %u) of %s does not match the "
                               "hash tree", number, f->layer - 1, v->hash->what);
}

/* Superblock, and that the data and the tree it describes fit into their ranges. */
static int verify_load(const VerityVerify *v, VerityParams *ret_params,
                       VerityGeometry *ret_geometry, GraftError *err) {
        uint8_t sb[VERITY_SUPERBLOCK_SIZE];
        size_t digest_size;
        VerityParams p;
        int r;

        r = verity_check_range(v->data, err);
        if (r < 0)
                return r;
        r = verity_check_range(v->hash, err);
        if (r < 0)
                return r;
        if (v->hash->size < VERITY_SUPERBLOCK_SIZE)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s is too small for a dm-verity superblock (%" PRIu64
                                       " bytes)", v->hash->what, v->hash->size);
        r = pread_full(v->hash->fd, sb, sizeof(sb), v->hash->offset);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s",
                                       v->hash->what, strerror(-r));
        r = verity_superblock_parse(sb, v->hash->what, &p, err);
        if (r < 0)
                return r;

        if (p.data_blocks > v->data->size / p.data_block_size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the dm-verity superblock covers %" PRIu64
                                       " data blocks of %" PRIu32 " bytes, but %s has only %"
                                       PRIu64 " bytes", v->hash->what, p.data_blocks,
                                       p.data_block_size, v->data->what, v->data->size);

        r = verity_digest_size(p.algorithm, &digest_size);
        if (r >= 0)
                r = verity_geometry_init(ret_geometry, &p, digest_size, true);
        if (r < 0) /* verity_superblock_parse() checked all this already */
                return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: unusable dm-verity parameters", v->hash->what);

        uint64_t area = ret_geometry->tree_offset +
                        ret_geometry->tree_blocks * ret_geometry->hash_block_size;
        if (area > v->hash->size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s is too small for its hash tree: it needs %" PRIu64
                                       " bytes but has %" PRIu64, v->hash->what, area,
                                       v->hash->size);
        *ret_params = p;
        return 0;
}

static VerityRun verify_plan(VerifyState *s) {
        const VerityGeometry *g = s->g;
        size_t child_buf = 0, parent_buf = 0;

        for (unsigned i = 0; i <= g->n_levels; i++) {
                unsigned layer = g->n_levels - i;
                uint64_t per = verity_layer_chunk_blocks(g, layer);
                s->chunk_blocks[i] = per;
                s->chunk_first[i + 1] = s->chunk_first[i] +
                                        DIV_ROUND_UP(verity_layer_blocks(g, layer), per);
                child_buf = MAX(child_buf, (size_t) per * verity_layer_block_size(g, layer));
                parent_buf = MAX(parent_buf,
                                 (size_t) (per / g->hashes_per_block) * g->hash_block_size);
        }

        return (VerityRun) {
                .n_threads = s->v->n_threads,
                .n_chunks = s->chunk_first[g->n_levels + 1],
                .child_buf_size = child_buf,
                .parent_buf_size = parent_buf,
                .fn = verify_chunk,
                .userdata = s,
        };
}

int verity_verify(const VerityVerify *v, VerityResult *ret, GraftError *err) {
        VerityParams p;
        VerityGeometry g;
        VerityHasher h = {};
        int r;

        r = verify_load(v, &p, &g, err);
        if (r < 0)
                return r;
        r = verity_hasher_init(&h, &p);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE,
                                       "cannot set up %s hashing for %s", p.algorithm,
                                       v->hash->what);

        VerifyState s = {
                .v = v,
                .g = &g,
                .h = &h,
                .progress = {
                        .total = g.data_blocks * g.data_block_size +
                                 g.tree_blocks * g.hash_block_size,
                        .fn = v->progress,
                        .userdata = v->progress_userdata,
                },
                .best_key = UINT64_MAX,
                .best = { .key = UINT64_MAX },
        };
        pthread_mutex_init(&s.lock, NULL);

        (void) posix_fadvise(v->data->fd, (off_t) v->data->offset, (off_t) v->data->size,
                             POSIX_FADV_SEQUENTIAL);

        VerityRun run = verify_plan(&s);
        r = verity_run_chunks(&run);
        verity_hasher_done(&h);
        pthread_mutex_destroy(&s.lock);

        if (r < 0 && s.failed_read)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s",
                                       s.failed_read, strerror(-r));
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot hash %s: %s",
                                       v->data->what, strerror(-r));
        if (s.best.key != UINT64_MAX)
                return report_failure(&s, err);

        if (ret) {
                *ret = (VerityResult) { .params = p, .root_hash_size = g.digest_size };
                memcpy(ret->root_hash, s.root, g.digest_size);
        }
        return 0;
}
