/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Full verification of a dissected image: signature against the trust store, the image policy,
 * every block of the verity hash tree, and the file system's entry names. The cheap refusals
 * (untrusted signer, policy) come before anything is hashed. */
#pragma once

#include "devmode.h"
#include "dissect.h"
#include "policy.h"
#include "progress.h"
#include "verity.h"
#include "verify-cache.h"

typedef struct ImageVerifyOptions {
        const char *root;            /* where the verity.d trust store lives; NULL: the host */
        const ImagePolicy *policy;   /* NULL: anything, but what is present must verify */
        const uint8_t *root_hash;    /* expected root hash (--root-hash), or NULL */
        size_t root_hash_size;
        unsigned n_threads;          /* 0: one per CPU */
        ProgressFn progress;
        void *progress_userdata;
        /* A signature by a signer that is not trusted (or with an empty trust store) makes the
         * image verity-only instead of failing; the policy then decides. A signature that does not
         * verify at all is always an error. */
        bool untrusted_signature_ok;
        /* Hash trees verified before while their files were unchanged are not hashed again
         * (verify-cache.h); the signature, the policy and the entry names are checked anyway.
         * NULL: always hash. */
        VerifyCache *cache;
} ImageVerifyOptions;

typedef struct ImageVerification {
        PolicyOffer offer;           /* what the data partition proved to offer */
        char *root_hash_hex;         /* NULL for images without verity */
        char *signer;                /* subject of the trusted signer, when signed */
        char *signer_certificate;    /* trusted .crt file that matched */
        TrustRoot trust_root;        /* which store that file is in (NONE: not signed by anyone trusted) */
        char *signature_ignored;     /* why a signature was not relied on (untrusted_signature_ok) */
        bool uuids_match_root_hash;  /* GPT: partition UUIDs derived from the root hash */
        VerityParams params;
        uint64_t inodes;             /* squashfs inodes walked */
        bool hash_tree_cached;       /* the hash tree was not read: o->cache knew it verified */
} ImageVerification;

void image_verification_done(ImageVerification *v);

int image_verify(const DissectedImage *image, const ImageVerifyOptions *o, ImageVerification *ret,
                 GraftError *err);

/* The policy sextctl and pctl apply when given none: if any trusted certificate is installed
 * (under root), the data partition must be signed by one; otherwise anything goes, with the hash
 * tree verified whenever an image has one. */
int image_policy_default(const char *root, ImagePolicy *ret, GraftError *err);

/* Only the hash tree: every block against expected_hex (NULL: compute the root hash), with
 * o's threads and progress. For sign, which must not bless a damaged image. */
int image_verify_hash_tree(const DissectedImage *image, const char *expected_hex, const ImageVerifyOptions *o,
                           VerityResult *ret, GraftError *err);
