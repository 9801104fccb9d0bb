/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What building and verifying a dm-verity hash tree share: the tree's geometry (cryptsetup's
 * level arithmetic), salted block hashing through OpenSSL EVP, the progress counter and the
 * pool of worker threads. */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "fileio.h"
#include "verity-tree.h"

int verity_digest_size(const char *algorithm, size_t *ret) {
        EVP_MD *md = EVP_MD_fetch(NULL, algorithm, NULL);
        if (!md)
                return -EOPNOTSUPP;

        /* An XOF has no fixed digest size, so it cannot fill fixed slots. */
        bool xof = EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF;
        int size = EVP_MD_get_size(md);
        EVP_MD_free(md);
        if (xof || size <= 0)
                return -EOPNOTSUPP;

        *ret = (size_t) size;
        return 0;
}

int verity_geometry_init(VerityGeometry *g, const VerityParams *p, size_t digest_size,
                         bool with_superblock) {
        VerityGeometry t = {
                .digest_size = digest_size,
                .data_block_size = p->data_block_size,
                .hash_block_size = p->hash_block_size,
                .data_blocks = p->data_blocks,
        };

        if (digest_size == 0 || p->data_blocks == 0)
                return -EINVAL;
        t.slot_size = 1;
        while (t.slot_size < digest_size)
                t.slot_size <<= 1;
        if (t.slot_size * 2 > p->hash_block_size)
                return -EINVAL;
        t.hashes_per_block = (uint32_t) (p->hash_block_size / t.slot_size);
        if (p->data_blocks > UINT64_MAX / p->data_block_size)
                return -ERANGE;

        unsigned bits = (unsigned) __builtin_ctz(t.hashes_per_block);

        /* As many levels as it takes for the top level to be a single block (none for a single
         * data block): the count the kernel and veritysetup derive. */
        while (t.n_levels * bits < 64 && ((p->data_blocks - 1) >> (t.n_levels * bits)) != 0)
                t.n_levels++;

        uint64_t below = p->data_blocks;
        for (unsigned i = 0; i < t.n_levels; i++) {
                below = below / t.hashes_per_block + (below % t.hashes_per_block != 0);
                t.level_blocks[i] = below;
        }

        /* Stored top level first, leaf level last. */
        uint64_t pos = 0;
        for (unsigned i = t.n_levels; i > 0; i--) {
                t.level_start[i - 1] = pos;
                if (pos + t.level_blocks[i - 1] < pos)
                        return -ERANGE;
                pos += t.level_blocks[i - 1];
        }
        t.tree_blocks = pos;
        t.tree_offset = with_superblock ? ALIGN_TO((uint64_t) VERITY_SUPERBLOCK_SIZE,
                                                   (uint64_t) p->hash_block_size) : 0;
        if (t.tree_blocks > (UINT64_MAX - t.tree_offset) / p->hash_block_size)
                return -ERANGE;

        *g = t;
        return 0;
}

uint64_t verity_layer_chunk_blocks(const VerityGeometry *g, unsigned layer) {
        uint64_t per_parent = (uint64_t) g->hashes_per_block * verity_layer_block_size(g, layer);
        return g->hashes_per_block * MAX(UINT64_C(1), VERITY_CHUNK_BYTES / per_parent);
}

uint64_t verity_layer_offset(const VerityGeometry *g, unsigned layer, const ImageRange *data,
                             const ImageRange *hash) {
        if (layer == 0)
                return data->offset;
        return hash->offset + g->tree_offset + g->level_start[layer - 1] * g->hash_block_size;
}

int verity_hasher_init(VerityHasher *h, const VerityParams *p) {
        VerityHasher t = {};

        t.md = EVP_MD_fetch(NULL, p->algorithm, NULL);
        if (!t.md)
                return -EOPNOTSUPP;
        t.digest_size = (size_t) EVP_MD_get_size(t.md);
        t.salted = EVP_MD_CTX_new();
        if (!t.salted) {
                verity_hasher_done(&t);
                return -ENOMEM;
        }
        if (EVP_DigestInit_ex2(t.salted, t.md, NULL) != 1 ||
            EVP_DigestUpdate(t.salted, p->salt, p->salt_size) != 1) {
                verity_hasher_done(&t);
                return -EIO;
        }

        *h = t;
        return 0;
}

void verity_hasher_done(VerityHasher *h) {
        EVP_MD_CTX_free(h->salted);
        EVP_MD_free(h->md);
        *h = (VerityHasher) {};
}

int verity_hash_block(const VerityHasher *h, EVP_MD_CTX *work, const void *block, size_t size,
                      uint8_t *ret_digest) {
        /* Copying the salted state costs less than hashing the salt again for every block. */
        if (EVP_MD_CTX_copy_ex(work, h->salted) != 1 ||
            EVP_DigestUpdate(work, block, size) != 1 ||
            EVP_DigestFinal_ex(work, ret_digest, NULL) != 1)
                return -EIO;
        return 0;
}

void verity_progress_add(VerityProgress *p, uint64_t bytes) {
        uint64_t done = atomic_fetch_add(&p->done, bytes) + bytes;
        if (p->fn)
                p->fn(p->userdata, done, p->total);
}

typedef struct Pool {
        const VerityRun *run;
        _Atomic uint64_t next;
        _Atomic int error;
} Pool;

static void pool_fail(Pool *pool, int r) {
        int expected = 0;
        (void) atomic_compare_exchange_strong(&pool->error, &expected, r);
}

static void *pool_worker(void *userdata) {
        Pool *pool = userdata;
        const VerityRun *run = pool->run;
        VerityWorker w = {
                .ctx = EVP_MD_CTX_new(),
                .child_buf = malloc(MAX(run->child_buf_size, (size_t) 1)),
                .parent_buf = malloc(MAX(run->parent_buf_size, (size_t) 1)),
        };

        if (!w.ctx || !w.child_buf || !w.parent_buf)
                pool_fail(pool, -ENOMEM);

        while (atomic_load(&pool->error) == 0) {
                uint64_t chunk = atomic_fetch_add(&pool->next, 1);
                if (chunk >= run->n_chunks)
                        break;
                int r = run->fn(&w, chunk, run->userdata);
                if (r < 0)
                        pool_fail(pool, r);
        }

        EVP_MD_CTX_free(w.ctx);
        free(w.child_buf);
        free(w.parent_buf);
        return NULL;
}

int verity_run_chunks(const VerityRun *r) {
        Pool pool = { .run = r };
        unsigned started = 0;

        if (r->n_chunks == 0)
                return 0;
        unsigned n = r->n_threads ?: cpus_available();
        n = (unsigned) MIN((uint64_t) MIN(n, VERITY_MAX_THREADS), r->n_chunks);
        pthread_t threads[n];

        /* If a thread cannot be started the others simply take more chunks. */
        for (unsigned i = 1; i < n; i++) {
                if (pthread_create(&threads[started], NULL, pool_worker, &pool) != 0)
                        break;
                started++;
        }
        pool_worker(&pool);
        for (unsigned i = 0; i < started; i++)
                (void) pthread_join(threads[i], NULL);

        return atomic_load(&pool.error);
}

int verity_check_range(const ImageRange *r, GraftError *err) {
        uint64_t size;
        int k = fd_get_size(r->fd, &size);
        if (k < 0)
                return graft_error_set(err, k, GRAFT_ERROR_IO, "cannot get the size of %s: %s",
                                       r->what, strerror(-k));
        if (r->offset + r->size < r->offset || r->offset + r->size > size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s is truncated: it ends at byte %" PRIu64
                                       " but the file has only %" PRIu64, r->what,
                                       r->offset + r->size, size);
        return 0;
}
