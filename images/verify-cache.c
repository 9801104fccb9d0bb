/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the memory of verified hash trees (see verify-cache.h): keys from fstat(), a small table
 * with the least recently used entry dropped first, one mutex. */
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "hex.h"
#include "verify-cache.h"

typedef struct FileState {
        dev_t dev;
        ino_t ino;
        uint64_t offset, size; /* the range */
        uint64_t file_size;
        struct timespec mtime, ctime;
} FileState;

struct VerifyCacheKey {
        FileState data, hash;
};

typedef struct Entry {
        VerifyCacheKey key;
        VerityResult result;
        uint64_t used; /* tick of the last hit or store */
} Entry;

struct VerifyCache {
        pthread_mutex_t lock;
        Entry *entries;
        size_t n, max;
        uint64_t tick;
        VerifyCacheStats stats;
};

VerifyCache *verify_cache_new(size_t max_entries) {
        VerifyCache *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->max = max_entries ?: 256;
        c->entries = calloc(c->max, sizeof(Entry));
        if (!c->entries)
                return mfree(c);
        pthread_mutex_init(&c->lock, NULL);
        return c;
}

VerifyCache *verify_cache_free(VerifyCache *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c->entries);
        free(c);
        return NULL;
}

static int file_state(const ImageRange *r, FileState *ret) {
        struct stat st;
        if (fstat(r->fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EMEDIUMTYPE; /* block devices: writes elsewhere do not touch the node's times */
        *ret = (FileState) {
                .dev = st.st_dev, .ino = st.st_ino, .offset = r->offset, .size = r->size,
                .file_size = (uint64_t) st.st_size, .mtime = st.st_mtim, .ctime = st.st_ctim,
        };
        return 0;
}

int verify_cache_key(const ImageRange *data, const ImageRange *hash, VerifyCacheKey **ret) {
        VerifyCacheKey k;
        int r = file_state(data, &k.data);
        if (r >= 0)
                r = file_state(hash, &k.hash);
        if (r < 0)
                return r;
        *ret = malloc(sizeof(k));
        if (!*ret)
                return -ENOMEM;
        **ret = k;
        return 0;
}

VerifyCacheKey *verify_cache_key_free(VerifyCacheKey *k) {
        free(k);
        return NULL;
}

static bool same_file(const FileState *a, const FileState *b) {
        return a->dev == b->dev && a->ino == b->ino && a->offset == b->offset && a->size == b->size;
}

static bool same_time(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same_state(const FileState *a, const FileState *b) {
        return same_file(a, b) && a->file_size == b->file_size && same_time(&a->mtime, &b->mtime) &&
               same_time(&a->ctime, &b->ctime);
}

static int64_t nsec(const struct timespec *t) {
        return (int64_t) t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Changed within the last second: a write right after the key was taken could fall into the
 * same (coarse) timestamp tick and leave the times as they were. */
static bool recently_changed(const FileState *s) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t t = MAX(nsec(&s->ctime), nsec(&s->mtime));
        return nsec(&now) - t < 1000000000;
}

static Entry *find(VerifyCache *c, const VerifyCacheKey *k) {
        for (size_t i = 0; i < c->n; i++)
                if (same_file(&c->entries[i].key.data, &k->data) && same_file(&c->entries[i].key.hash, &k->hash))
                        return &c->entries[i];
        return NULL;
}

static void drop(VerifyCache *c, Entry *e) {
        *e = c->entries[--c->n];
}

int verify_cache_lookup(VerifyCache *c, const ImageRange *data, const ImageRange *hash, const char *expected_hex,
                        VerityResult *ret) {
        if (!c)
                return 0;
        _cleanup_(verify_cache_key_freep) VerifyCacheKey *k = NULL;
        if (verify_cache_key(data, hash, &k) < 0)
                return 0;
        pthread_mutex_lock(&c->lock);
        int found = 0;
        Entry *e = find(c, k);
        if (e && (!same_state(&e->key.data, &k->data) || !same_state(&e->key.hash, &k->hash))) {
                drop(c, e);
                c->stats.invalidated++;
        } else if (e) {
                _cleanup_free_ char *hex = hexmem(e->result.root_hash, e->result.root_hash_size);
                if (hex && (!expected_hex || strcasecmp(hex, expected_hex) == 0)) {
                        e->used = ++c->tick;
                        *ret = e->result;
                        found = 1;
                }
        }
        if (found)
                c->stats.hits++;
        else
                c->stats.misses++;
        pthread_mutex_unlock(&c->lock);
        return found;
}

int verify_cache_store(VerifyCache *c, const ImageRange *data, const ImageRange *hash,
                       const VerifyCacheKey *state_before, const VerityResult *result) {
        if (!c || !state_before)
                return 0;
        _cleanup_(verify_cache_key_freep) VerifyCacheKey *k = NULL;
        if (verify_cache_key(data, hash, &k) < 0)
                return 0;
        /* Changed while it was being hashed, or so recently that a change could hide: the
         * result may describe content that is no longer there. */
        if (!same_state(&k->data, &state_before->data) || !same_state(&k->hash, &state_before->hash) ||
            recently_changed(&k->data) || recently_changed(&k->hash))
                return 0;
        pthread_mutex_lock(&c->lock);
        Entry *e = find(c, k);
        if (!e && c->n < c->max)
                e = &c->entries[c->n++];
        else if (!e) {
                e = &c->entries[0];
                for (size_t i = 1; i < c->n; i++)
                        if (c->entries[i].used < e->used)
                                e = &c->entries[i];
        }
        *e = (Entry) { .key = *k, .result = *result, .used = ++c->tick };
        pthread_mutex_unlock(&c->lock);
        return 1;
}

void verify_cache_stats(VerifyCache *c, VerifyCacheStats *ret) {
        *ret = (VerifyCacheStats) {};
        if (!c)
                return;
        pthread_mutex_lock(&c->lock);
        *ret = c->stats;
        ret->entries = c->n;
        pthread_mutex_unlock(&c->lock);
}
