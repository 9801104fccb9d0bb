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
        /* systemd's partition flags: parsed and kept (so a policy prints back as written), but
         * not enforced: graft's data partitions are read-only squashfs/erofs that never grow. */
        POLICY_READ_ONLY_OFF = 1 << 6,
        POLICY_READ_ONLY_ON = 1 << 7,
        POLICY_GROWFS_OFF = 1 << 8,
        POLICY_GROWFS_ON = 1 << 9,
        POLICY_OPEN = POLICY_UNPROTECTED | POLICY_VERITY | POLICY_SIGNED | POLICY_ENCRYPTED,
        POLICY_ANY = POLICY_OPEN | POLICY_UNUSED | POLICY_ABSENT, /* "*", systemd's "open" */
        POLICY_IGNORE = POLICY_UNUSED | POLICY_ABSENT,            /* "-", systemd's "ignore" */
        POLICY_PARTITION_FLAGS = POLICY_READ_ONLY_OFF | POLICY_READ_ONLY_ON | POLICY_GROWFS_OFF | POLICY_GROWFS_ON,
} PolicyFlags;

typedef struct ImagePolicy {
        /* Every designator resolved: named, derived from its data designator, or the default. */
        PolicyFlags designators[_PARTITION_DESIGNATOR_MAX];
        PolicyFlags default_flags; /* for designators the string does not name */
} ImagePolicy;

/* Parses a policy string with systemd's rules (systemd.image-policy(7)): designators not named
 * get the default ("=flags" in the string; if it names none, "-", i.e. unused+absent); a verity
 * or signature designator not named follows its data designator when that one is named and asks
 * for verity (or a signature). The whole string "*" allows everything, "-" (or "") ignores
 * everything, "~" wants everything absent. As flag values "open" and "ignore" are systemd's
 * aliases, "-" or nothing means no constraint, and graft also takes "*" and "~". Unknown
 * designators or flags, repeated designators, rules without '=': -EINVAL with a message
 * (GRAFT_ERROR_INVALID_ARGUMENT). */
int image_policy_parse(const char *s, ImagePolicy *ret, GraftError *err);
char *image_policy_to_string(const ImagePolicy *p);
/* "unprotected+verity", "-" for no flags at all; malloc'd. */
char *policy_flags_to_string(PolicyFlags f);

/* What the policy permits for a designator, normalised as systemd does: no use flag at all means
 * any use; verity, signed and encrypted are dropped for verity and signature partitions (they are
 * the protection) and verity and signed for designators without verity (esp, home, …); an
 * absent-only rule drops the partition flags. NULL policy: everything. */
PolicyFlags image_policy_get(const ImagePolicy *p, PartitionDesignator d);

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
 * signature". Returns 0 when the partition may be used as offered (or is absent and may be),
 * POLICY_CHECK_UNUSED when it is present and the policy accepts it only as "unused": the caller
 * must then not use it. */
#define POLICY_CHECK_UNUSED 1
int image_policy_check(const ImagePolicy *p, PartitionDesignator d, PolicyOffer offer,
                       const char *image, GraftError *err);
