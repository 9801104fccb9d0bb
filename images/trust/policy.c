/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns image policies: parsing systemd's policy syntax, printing it back, and checking what an
 * image offers against it. The rules follow systemd.image-policy(7) (systemd 254+) so that one
 * string means the same to graft and to systemd:
 *   - designators: all of dps.h's (root usr home srv esp xbootldr swap root-verity root-verity-sig
 *     usr-verity usr-verity-sig tmp var, and user-home and linux-generic, which systemd's parser
 *     takes too); architecture-agnostic.
 *   - unnamed designators get the default, which is "ignore" (unused+absent) unless "=flags"
 *     sets it; an unnamed verity (signature) designator follows a named data designator that
 *     allows verity (a signature): present, or unused/absent when the data one may be.
 *   - the partition flags read-only-on/off and growfs-on/off are kept and printed, not enforced:
 *     graft only ever uses read-only file systems that never grow.
 * Where graft differs: it also takes "*" and "~" as flag values (systemd only takes them as the
 * whole string), and it refuses empty rules ("root=verity::usr=signed") and systemd 256's file
 * system type flags, with a message saying so. */
#include <string.h>

#include "policy.h"

static const struct {
        const char *name;
        PolicyFlags flags;
} flag_names[] = {
        /* Printing order. */
        { "unprotected", POLICY_UNPROTECTED },
        { "verity", POLICY_VERITY },
        { "signed", POLICY_SIGNED },
        { "encrypted", POLICY_ENCRYPTED },
        { "unused", POLICY_UNUSED },
        { "absent", POLICY_ABSENT },
        { "read-only-off", POLICY_READ_ONLY_OFF },
        { "read-only-on", POLICY_READ_ONLY_ON },
        { "growfs-off", POLICY_GROWFS_OFF },
        { "growfs-on", POLICY_GROWFS_ON },
        /* Aliases, parsed only. */
        { "open", POLICY_ANY },
        { "ignore", POLICY_IGNORE },
        { "*", POLICY_ANY },
        { "~", POLICY_ABSENT },
};
#define N_PRINTED_FLAGS 10

/* systemd 256's file system type flags, refused by name so the message can say why. */
static const char *const fs_type_flags[] = { "btrfs", "erofs", "ext4", "f2fs", "squashfs", "vfat", "xfs" };

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
                s[--n] = 0;
        return s;
}

static int flag_from_string(const char *w, const char *designator, PolicyFlags *ret, GraftError *err) {
        for (size_t i = 0; i < ELEMENTSOF(flag_names); i++)
                if (streq(flag_names[i].name, w)) {
                        *ret = flag_names[i].flags;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(fs_type_flags); i++)
                if (streq(fs_type_flags[i], w))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "image policy: file system type flag \"%s\" (for %s) is not supported",
                                               w, designator);
        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                               "image policy: unknown flag \"%s\" for %s (known: unprotected, verity, signed, encrypted, unused, absent, open, ignore, read-only-on/off, growfs-on/off)",
                               w, designator);
}

static int parse_flags(char *s, const char *designator, PolicyFlags *ret, GraftError *err) {
        PolicyFlags flags = 0;
        s = strip(s);
        if (isempty(s) || streq(s, "-")) { /* no constraint, as systemd reads it */
                *ret = 0;
                return 0;
        }
        for (char *w = s, *next; w; w = next) {
                next = strchr(w, '+');
                if (next)
                        *next++ = 0;
                w = strip(w);
                if (isempty(w))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "image policy: empty flag for %s (two '+' in a row, or one at either end)",
                                               designator);
                PolicyFlags one = 0;
                int r = flag_from_string(w, designator, &one, err);
                if (r < 0)
                        return r;
                flags |= one;
        }
        *ret = flags;
        return 0;
}

/* The flags systemd synthesises for an unnamed verity or signature designator from its named
 * data designator, or -1 when it takes the default instead. */
static int derived_flags(const ImagePolicy *p, uint32_t named, PartitionDesignator d, PolicyFlags *ret) {
        PartitionDesignator data = partition_data_of(d);
        if (data < 0 || !(named & (1u << data)))
                return -1;
        PolicyFlags df = image_policy_get(p, data);
        PolicyFlags need = d == partition_verity_of(data) ? POLICY_VERITY | POLICY_SIGNED : POLICY_SIGNED;
        if (!(df & need))
                return -1;
        *ret = POLICY_UNPROTECTED | (df & POLICY_IGNORE) | (p->designators[data] & POLICY_PARTITION_FLAGS);
        return 0;
}

static int parse_rule(char *rule, ImagePolicy *p, uint32_t *named, bool *default_named, GraftError *err) {
        char *eq = strchr(rule, '=');
        if (!eq)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "image policy: rule \"%s\" has no '=' (expected designator=flags)", strip(rule));
        *eq = 0;
        const char *name = strip(rule);
        PolicyFlags flags;

        if (isempty(name)) {
                if (*default_named)
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "image policy: the default (\"=flags\") is given more than once");
                int r = parse_flags(eq + 1, "the default", &flags, err);
                if (r < 0)
                        return r;
                p->default_flags = flags;
                *default_named = true;
                return 0;
        }

        PartitionDesignator d = partition_designator_from_string(name);
        if (d < 0)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "image policy: unknown partition designator \"%s\"", name);
        if (*named & (1u << d))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "image policy: designator \"%s\" is given more than once", name);
        int r = parse_flags(eq + 1, name, &flags, err);
        if (r < 0)
                return r;
        p->designators[d] = flags;
        *named |= 1u << d;
        return 0;
}

static void fill_unnamed(ImagePolicy *p, uint32_t named) {
        /* Data designators first: the verity ones derive from them. */
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                if (!(named & (1u << d)) && partition_data_of(d) < 0)
                        p->designators[d] = p->default_flags;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                PolicyFlags f;
                if ((named & (1u << d)) || partition_data_of(d) < 0)
                        continue;
                p->designators[d] = derived_flags(p, named, d, &f) >= 0 ? f : p->default_flags;
        }
}

static int uniform_policy(const char *s, PolicyFlags *ret) {
        if (isempty(s) || streq(s, "-"))
                *ret = POLICY_IGNORE;
        else if (streq(s, "*"))
                *ret = POLICY_ANY;
        else if (streq(s, "~"))
                *ret = POLICY_ABSENT;
        else
                return 0;
        return 1;
}

int image_policy_parse(const char *s, ImagePolicy *ret, GraftError *err) {
        ImagePolicy p = { .default_flags = POLICY_IGNORE };
        PolicyFlags u;
        uint32_t named = 0;
        bool default_named = false;

        _cleanup_free_ char *copy = strdup(s ?: "");
        if (!copy)
                return -ENOMEM;
        char *t = strip(copy);
        if (uniform_policy(t, &u)) {
                p.default_flags = u;
                for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                        p.designators[d] = u;
                *ret = p;
                return 0;
        }

        for (char *rule = t;;) {
                char *colon = strchr(rule, ':');
                if (colon)
                        *colon = 0;
                if (isempty(strip(rule)))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "image policy \"%s\": empty rule (two ':' in a row, or one at either end)", s);
                int r = parse_rule(rule, &p, &named, &default_named, err);
                if (r < 0)
                        return r;
                if (!colon)
                        break;
                rule = colon + 1;
        }
        fill_unnamed(&p, named);
        *ret = p;
        return 0;
}

char *policy_flags_to_string(PolicyFlags f) {
        char buf[256] = "";
        PolicyFlags use = f & POLICY_ANY;

        /* systemd's short forms for the two common combinations. */
        if (use == POLICY_ANY)
                strcat(buf, "open");
        else if (use == POLICY_IGNORE)
                strcat(buf, "ignore");
        for (size_t i = 0; i < N_PRINTED_FLAGS; i++) {
                if (!(f & flag_names[i].flags))
                        continue;
                if ((flag_names[i].flags & POLICY_ANY) && (use == POLICY_ANY || use == POLICY_IGNORE))
                        continue;
                if (buf[0])
                        strcat(buf, "+");
                strcat(buf, flag_names[i].name);
        }
        return strdup(buf[0] ? buf : "-");
}

static bool policy_is_uniform(const ImagePolicy *p) {
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                if (p->designators[d] != p->default_flags)
                        return false;
        return p->default_flags == POLICY_ANY || p->default_flags == POLICY_IGNORE || p->default_flags == POLICY_ABSENT;
}

char *image_policy_to_string(const ImagePolicy *p) {
        if (policy_is_uniform(p))
                return strdup(p->default_flags == POLICY_ANY ? "*" : p->default_flags == POLICY_IGNORE ? "-" : "~");

        /* A designator is printed when parsing without it would give it other flags; data
         * designators are decided first, since unnamed verity designators derive from them. */
        uint32_t printed = 0;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                if (partition_data_of(d) < 0 && p->designators[d] != p->default_flags)
                        printed |= 1u << d;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                PolicyFlags f;
                if (partition_data_of(d) < 0)
                        continue;
                if (p->designators[d] != (derived_flags(p, printed, d, &f) >= 0 ? f : p->default_flags))
                        printed |= 1u << d;
        }

        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        bool first = true;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                if (!(printed & (1u << d)))
                        continue;
                _cleanup_free_ char *flags = policy_flags_to_string(p->designators[d]);
                fprintf(f, "%s%s=%s", first ? "" : ":", partition_designator_to_string(d), strna(flags));
                first = false;
        }
        if (p->default_flags != POLICY_IGNORE || first) {
                _cleanup_free_ char *flags = policy_flags_to_string(p->default_flags);
                fprintf(f, "%s=%s", first ? "" : ":", strna(flags));
        }
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

PolicyFlags image_policy_get(const ImagePolicy *p, PartitionDesignator d) {
        PolicyFlags f = p ? p->designators[d] : POLICY_ANY;

        if (!(f & POLICY_ANY))
                f |= POLICY_ANY;
        if (!(f & (POLICY_READ_ONLY_OFF | POLICY_READ_ONLY_ON)))
                f |= POLICY_READ_ONLY_OFF | POLICY_READ_ONLY_ON;
        if (!(f & (POLICY_GROWFS_OFF | POLICY_GROWFS_ON)))
                f |= POLICY_GROWFS_OFF | POLICY_GROWFS_ON;
        if (partition_data_of(d) >= 0)
                f &= ~(POLICY_VERITY | POLICY_SIGNED | POLICY_ENCRYPTED);
        if (partition_verity_of(d) < 0)
                f &= ~(POLICY_VERITY | POLICY_SIGNED);
        if ((f & POLICY_ANY) == POLICY_ABSENT)
                f &= ~POLICY_PARTITION_FLAGS;
        return f;
}

/* "signed", "protected by verity or signed", "unused or absent"; for verity and signature
 * partitions, which are never protected themselves, "unprotected" reads "present". */
static void describe_required(PolicyFlags f, PartitionDesignator d, char *buf, size_t size) {
        static const struct {
                PolicyFlags flag;
                const char *words;
        } words[] = {
                { POLICY_UNPROTECTED, "unprotected" },
                { POLICY_VERITY, "protected by verity" },
                { POLICY_SIGNED, "signed" },
                { POLICY_ENCRYPTED, "encrypted" },
                { POLICY_UNUSED, "present but unused" },
                { POLICY_ABSENT, "absent" },
        };
        size_t n = 0, total = 0;
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                total += !!(f & words[i].flag);
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                if (!(f & words[i].flag))
                        continue;
                size_t l = strlen(buf);
                const char *w = words[i].flag == POLICY_UNPROTECTED && partition_data_of(d) >= 0 ? "present" : words[i].words;
                snprintf(buf + l, size - l, "%s%s", n == 0 ? "" : n + 1 == total ? " or " : ", ", w);
                n++;
        }
}

static const char *describe_offer(PolicyOffer offer, PartitionDesignator d) {
        switch (offer) {
        case OFFER_ABSENT:
                return "none";
        case OFFER_UNPROTECTED:
                return partition_verity_of(d) >= 0 ? "it without verity" : "one";
        case OFFER_VERITY:
                return "verity but no trusted signature";
        case OFFER_SIGNED:
                return "it with verity and a trusted signature";
        }
        return "something unknown";
}

int image_policy_check(const ImagePolicy *p, PartitionDesignator d, PolicyOffer offer,
                       const char *image, GraftError *err) {
        static const PolicyFlags satisfied_by[] = {
                [OFFER_ABSENT] = POLICY_ABSENT,
                [OFFER_UNPROTECTED] = POLICY_UNPROTECTED,
                [OFFER_VERITY] = POLICY_UNPROTECTED | POLICY_VERITY,
                [OFFER_SIGNED] = POLICY_UNPROTECTED | POLICY_VERITY | POLICY_SIGNED,
        };
        if (d < 0 || d >= _PARTITION_DESIGNATOR_MAX || offer < 0 || offer >= (int) ELEMENTSOF(satisfied_by))
                return -EINVAL;

        PolicyFlags f = image_policy_get(p, d);
        if (f & satisfied_by[offer])
                return 0;
        if (offer != OFFER_ABSENT && (f & POLICY_UNUSED))
                return POLICY_CHECK_UNUSED;

        const char *name = partition_designator_to_string(d);
        image = image ?: "the image";
        char required[128];
        describe_required(f, d, required, sizeof(required));
        if (!required[0])
                return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                       "image policy permits no %s partition at all (not even an absent one), and %s has %s",
                                       name, image, describe_offer(offer, d));
        return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                               "image policy requires the %s partition to be %s, but %s has %s", name, required, image,
                               describe_offer(offer, d));
}
