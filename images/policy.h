/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image policies in systemd's syntax ("root=signed+verity:usr=absent:=unused+absent"), and the
 * check of a policy against what an image offers. */
#pragma once

#include "dps.h"
#include "error.h"

typedef enum PolicyFlags {
        POLICY_UNPROTECTED = 1 << 0,
        POLICY_VERITY = 1 << 1,
        POLICY_SIGNED = 1 << 2,
        POLICY_ENCRYPTED = 1 << 3,
        POLICY_UNUSED = 1 << 4,
        POLICY_ABSENT = 1 << 5,
        POLICY_OPEN = POLICY_UNPROTECTED | POLICY_VERITY | POLICY_SIGNED | POLICY_ENCRYPTED,
        POLICY_ANY = POLICY_OPEN | POLICY_UNUSED | POLICY_ABSENT, /* "*" */
} PolicyFlags;

typedef struct ImagePolicy {
        PolicyFlags designators[_PARTITION_DESIGNATOR_MAX];
        PolicyFlags default_flags; /* for designators the string does not name */
} ImagePolicy;

/* Parses a policy string. Designators not named get the default ("=flags" in the string; if it
 * names none, "*"). "*", "-" (unused+absent) and "~" (absent) are whole-policy shorthands as well
 * as flag values. Unknown designators or flags, repeated designators: -EINVAL with a message. */
int image_policy_parse(const char *s, ImagePolicy *ret, GraftError *err);
/* Canonical string form, malloc'd. */
char *image_policy_to_string(const ImagePolicy *p);

/* What an image offers for one designator. */
typedef enum PolicyOffer {
        OFFER_ABSENT,      /* the image has no such partition */
        OFFER_UNPROTECTED, /* present, no verity */
        OFFER_VERITY,      /* verity, no (valid) signature */
        OFFER_SIGNED,      /* verity with a signature by a trusted key */
} PolicyOffer;

/* Whether the policy accepts what is offered for d. A signed partition also satisfies a
 * policy that only asks for verity, and a verity one one that allows unprotected (the stronger
 * protection is simply not relied on). Refusals are -EPERM with GRAFT_ERROR_POLICY and a message
 * like "image policy requires the root partition to be signed, but foo.raw has verity without a
 * signature". */
int image_policy_check(const ImagePolicy *p, PartitionDesignator d, PolicyOffer offer,
                       const char *image, GraftError *err);
