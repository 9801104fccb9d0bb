/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A memory of verified hash trees, so that an image whose every block was checked is not hashed
 * again while it is unchanged. An entry is keyed on the state of the files the data and the hash
 * tree live in (device, inode, size, mtime, ctime of each) and on the byte ranges checked; any
 * change to either file (a write changes its ctime) makes the key differ, and the entry is
 * dropped. Only the hash-tree check is remembered: signatures, policy and release files are
 * checked on every use. Thread-safe; graftd keeps one for its lifetime. */
#pragma once

#include "range.h"
#include "verity.h"

typedef struct VerifyCache VerifyCache;

/* max_entries: how many images to remember (the oldest entry is dropped first); 0: 256. */
VerifyCache *verify_cache_new(size_t max_entries);
VerifyCache *verify_cache_free(VerifyCache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(VerifyCache *, verify_cache_free);

/* 1 and *ret (the parameters and root hash found then) when the hash tree of data + hash was
 * verified while both files were in exactly the state they are in now, and its root hash equals
 * expected_hex (if given; case-insensitive); 0 otherwise (an entry whose files changed is removed).
 * Ranges in anything but regular files are never cached (writes to a block device do not change
 * its node's times). */
int verify_cache_lookup(VerifyCache *c, const ImageRange *data, const ImageRange *hash, const char *expected_hex,
                        VerityResult *ret);

/* The state of the files of data and hash now (-EMEDIUMTYPE for anything but regular files). */
typedef struct VerifyCacheKey VerifyCacheKey;
int verify_cache_key(const ImageRange *data, const ImageRange *hash, VerifyCacheKey **ret);
VerifyCacheKey *verify_cache_key_free(VerifyCacheKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(VerifyCacheKey *, verify_cache_key_free);

/* Remembers a successful verification. state_before: the key taken before the hash tree was read;
 * the entry is stored only if the files are still in that state, and not if either was changed in
 * the last second (a write within the same timestamp tick as the key would go unnoticed).
 * Returns 1 if stored, 0 if not. */
int verify_cache_store(VerifyCache *c, const ImageRange *data, const ImageRange *hash,
                       const VerifyCacheKey *state_before, const VerityResult *result);

typedef struct VerifyCacheStats {
        uint64_t entries;
        uint64_t hits;
        uint64_t misses;       /* lookups that found nothing usable */
        uint64_t invalidated;  /* entries dropped because their files changed */
} VerifyCacheStats;
void verify_cache_stats(VerifyCache *c, VerifyCacheStats *ret);
