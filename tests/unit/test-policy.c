/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image policies: parsing with systemd's rules, canonical printing and round trips, every
 * refusal, and a table of checks. */
#include <string.h>

#include "policy.h"
#include "tests.h"

static ImagePolicy parse_ok(const char *s) {
        ImagePolicy p;
        GraftError e = GRAFT_ERROR_INIT;
        int r = image_policy_parse(s, &p, &e);
        if (r < 0)
                ASSERT_FAIL_("parsing \"%s\": %s", s, e.message ?: "?");
        return p;
}

static bool policy_equal(const ImagePolicy *a, const ImagePolicy *b) {
        return memcmp(a, b, sizeof(*a)) == 0;
}

TEST(parse_uniform) {
        ImagePolicy p = parse_ok("*");
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                ASSERT_EQ(p.designators[d], POLICY_ANY);
        ASSERT_EQ(p.default_flags, POLICY_ANY);

        p = parse_ok("-");
        ASSERT_EQ(p.designators[PARTITION_ROOT], POLICY_IGNORE);
        ASSERT_EQ(p.default_flags, POLICY_IGNORE);
        ImagePolicy q = parse_ok("");
        ASSERT_TRUE(policy_equal(&p, &q)); /* systemd reads the empty string as "-" too */
        q = parse_ok("  -  ");
        ASSERT_TRUE(policy_equal(&p, &q));

        p = parse_ok("~");
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY_SIG], POLICY_ABSENT);
        ASSERT_EQ(p.default_flags, POLICY_ABSENT);
}

TEST(parse_rules) {
        ImagePolicy p = parse_ok("root=signed+verity:usr=absent:=unused+absent");
        ASSERT_EQ(p.designators[PARTITION_ROOT], POLICY_SIGNED | POLICY_VERITY);
        ASSERT_EQ(p.designators[PARTITION_USR], POLICY_ABSENT);
        ASSERT_EQ(p.designators[PARTITION_HOME], POLICY_UNUSED | POLICY_ABSENT);
        ASSERT_EQ(p.default_flags, POLICY_UNUSED | POLICY_ABSENT);
        /* root-verity follows root (which asks for verity); root-verity-sig too (signed). */
        ASSERT_EQ(p.designators[PARTITION_ROOT_VERITY], POLICY_UNPROTECTED);
        ASSERT_EQ(p.designators[PARTITION_ROOT_VERITY_SIG], POLICY_UNPROTECTED);
        /* usr does not ask for verity: its verity partitions get the default. */
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY], POLICY_IGNORE);

        /* Without a default rule the default is systemd's "ignore". */
        p = parse_ok("usr=verity");
        ASSERT_EQ(p.default_flags, POLICY_IGNORE);
        ASSERT_EQ(p.designators[PARTITION_ROOT], POLICY_IGNORE);
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY], POLICY_UNPROTECTED);
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY_SIG], POLICY_IGNORE); /* verity only, no signature */

        /* A data designator that may be absent lets its verity partition be absent too. */
        p = parse_ok("usr=signed+absent+read-only-on");
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY], POLICY_UNPROTECTED | POLICY_ABSENT | POLICY_READ_ONLY_ON);
        ASSERT_EQ(p.designators[PARTITION_USR_VERITY_SIG], POLICY_UNPROTECTED | POLICY_ABSENT | POLICY_READ_ONLY_ON);

        /* An explicit verity rule wins over the derived one. */
        p = parse_ok("root=verity:root-verity=absent");
        ASSERT_EQ(p.designators[PARTITION_ROOT_VERITY], POLICY_ABSENT);

        /* Whitespace around everything, aliases, partition flags. */
        p = parse_ok(" root = open : usr = ignore + read-only-on + growfs-off : home=- : srv= : = ~ ");
        ASSERT_EQ(p.designators[PARTITION_ROOT], POLICY_ANY);
        ASSERT_EQ(p.designators[PARTITION_USR], POLICY_IGNORE | POLICY_READ_ONLY_ON | POLICY_GROWFS_OFF);
        ASSERT_EQ(p.designators[PARTITION_HOME], 0);
        ASSERT_EQ(p.designators[PARTITION_SRV], 0);
        ASSERT_EQ(p.default_flags, POLICY_ABSENT);
        ASSERT_EQ(p.designators[PARTITION_ESP], POLICY_ABSENT);

        /* graft also takes "*" and "~" as flag values. */
        p = parse_ok("root=*:usr=~");
        ASSERT_EQ(p.designators[PARTITION_ROOT], POLICY_ANY);
        ASSERT_EQ(p.designators[PARTITION_USR], POLICY_ABSENT);

        /* Every designator systemd documents. */
        p = parse_ok("root=verity:usr=verity:home=encrypted:srv=encrypted:esp=unprotected:xbootldr=unprotected:"
                     "swap=encrypted:root-verity=unprotected:root-verity-sig=unprotected:usr-verity=unprotected:"
                     "usr-verity-sig=unprotected:tmp=encrypted:var=encrypted");
        ASSERT_EQ(p.designators[PARTITION_XBOOTLDR], POLICY_UNPROTECTED);
        ASSERT_EQ(p.designators[PARTITION_VAR], POLICY_ENCRYPTED);
}

static void expect_refused(const char *s, const char *needle) {
        ImagePolicy p = { .default_flags = 12345 };
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(image_policy_parse(s, &p, &e), -EINVAL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        ASSERT_EQ(p.default_flags, 12345); /* untouched */
        fprintf(stderr, "  %s → %s\n", s, e.message);
        graft_error_done(&e);
}

TEST(parse_refusals) {
        expect_refused("roots=verity", "unknown partition designator \"roots\"");
        expect_refused("root-x86-64=verity", "unknown partition designator \"root-x86-64\"");
        expect_refused("root=verity+sined", "unknown flag \"sined\" for root");
        expect_refused("=verity+bogus", "unknown flag \"bogus\" for the default");
        expect_refused("root=squashfs", "file system type flag \"squashfs\" (for root) is not supported");
        expect_refused("root=verity:root=signed", "designator \"root\" is given more than once");
        expect_refused("=verity:=signed", "the default (\"=flags\") is given more than once");
        expect_refused("root", "rule \"root\" has no '='");
        expect_refused("root=verity:usr", "rule \"usr\" has no '='");
        expect_refused("verity", "rule \"verity\" has no '='");
        expect_refused("root=verity::usr=signed", "empty rule");
        expect_refused("root=verity:", "empty rule");
        expect_refused(":root=verity", "empty rule");
        expect_refused("root=verity++signed", "empty flag for root");
        expect_refused("root=verity+", "empty flag for root");
        expect_refused("*:root=verity", "rule \"*\" has no '='");
}

static void expect_string(const char *in, const char *canonical) {
        ImagePolicy p = parse_ok(in);
        char *s = image_policy_to_string(&p);
        ASSERT_TRUE(s);
        ASSERT_STREQ(s, canonical);
        /* And back: the same policy. */
        ImagePolicy q = parse_ok(s);
        ASSERT_TRUE(policy_equal(&p, &q));
        free(s);
}

TEST(to_string_round_trip) {
        expect_string("*", "*");
        expect_string("-", "-");
        expect_string("", "-");
        expect_string("~", "~");
        expect_string("=open", "*");
        expect_string("=unused+absent", "-");
        expect_string("=absent", "~");
        expect_string("root=signed", "root=signed");
        expect_string("root=signed:=ignore", "root=signed");
        expect_string("root=verity+signed:usr=absent:=unused+absent", "root=verity+signed:usr=absent");
        expect_string("usr=signed+verity:=absent", "usr=verity+signed:=absent");
        expect_string("root=open:=~", "root=open:=absent");
        expect_string("usr=ignore+read-only-on+growfs-off", "usr=ignore+read-only-on+growfs-off");
        expect_string("home=-", "home=-");
        expect_string("root=verity:root-verity=absent", "root=verity:root-verity=absent");
        /* root is the default, so unnamed; its verity partitions then follow the default,
         * unlike in the input, so they must be spelled out. */
        expect_string("root=signed:=signed", "root-verity=unprotected:root-verity-sig=unprotected:=signed");
        expect_string("esp=unprotected+absent:xbootldr=absent:swap=encrypted:=*",
                      "esp=unprotected+absent:xbootldr=absent:swap=encrypted:=open");
        /* The example from systemd.image-policy(7). */
        expect_string("usr=verity+read-only-on:root=encrypted:swap=encrypted",
                      "root=encrypted:usr=verity+read-only-on:swap=encrypted");

        char *s = policy_flags_to_string(0);
        ASSERT_STREQ(s, "-");
        free(s);
        s = policy_flags_to_string(POLICY_ANY | POLICY_GROWFS_ON);
        ASSERT_STREQ(s, "open+growfs-on");
        free(s);
        s = policy_flags_to_string(POLICY_UNPROTECTED | POLICY_ENCRYPTED | POLICY_ABSENT);
        ASSERT_STREQ(s, "unprotected+encrypted+absent");
        free(s);
}

TEST(get_normalised) {
        ImagePolicy p = parse_ok("root=-:home=verity+absent:root-verity=signed+unused");
        /* No use flag: anything. */
        ASSERT_EQ(image_policy_get(&p, PARTITION_ROOT) & POLICY_ANY, POLICY_ANY);
        /* home has no verity: what is left is absent. */
        ASSERT_EQ(image_policy_get(&p, PARTITION_HOME) & POLICY_ANY, POLICY_ABSENT);
        /* A verity partition is the protection: "signed" means nothing for it. */
        ASSERT_EQ(image_policy_get(&p, PARTITION_ROOT_VERITY) & POLICY_ANY, POLICY_UNUSED);
        /* Unspecified partition flags: both allowed; absent-only drops them. */
        ASSERT_EQ(image_policy_get(&p, PARTITION_ROOT) & POLICY_PARTITION_FLAGS, POLICY_PARTITION_FLAGS);
        ASSERT_EQ(image_policy_get(&p, PARTITION_HOME) & POLICY_PARTITION_FLAGS, 0);
        /* No policy: everything. */
        ASSERT_EQ(image_policy_get(NULL, PARTITION_USR) & POLICY_ANY, POLICY_ANY);
}

typedef struct CheckCase {
        const char *policy;
        PartitionDesignator designator;
        PolicyOffer offer;
        int result;          /* 0, POLICY_CHECK_UNUSED or -EPERM */
        const char *message; /* for -EPERM */
} CheckCase;

static const CheckCase check_cases[] = {
        /* Protection levels: stronger satisfies weaker. */
        { "root=signed", PARTITION_ROOT, OFFER_SIGNED, 0, NULL },
        { "root=signed", PARTITION_ROOT, OFFER_VERITY, -EPERM,
          "image policy requires the root partition to be signed, but foo.raw has verity but no trusted signature" },
        { "root=signed", PARTITION_ROOT, OFFER_UNPROTECTED, -EPERM,
          "requires the root partition to be signed, but foo.raw has it without verity" },
        { "root=signed", PARTITION_ROOT, OFFER_ABSENT, -EPERM,
          "requires the root partition to be signed, but foo.raw has none" },
        { "root=verity", PARTITION_ROOT, OFFER_SIGNED, 0, NULL },
        { "root=verity", PARTITION_ROOT, OFFER_VERITY, 0, NULL },
        { "root=verity", PARTITION_ROOT, OFFER_UNPROTECTED, -EPERM,
          "requires the root partition to be protected by verity, but foo.raw has it without verity" },
        { "root=verity+signed", PARTITION_ROOT, OFFER_UNPROTECTED, -EPERM,
          "to be protected by verity or signed, but" },
        { "usr=unprotected", PARTITION_USR, OFFER_SIGNED, 0, NULL },
        { "usr=unprotected", PARTITION_USR, OFFER_VERITY, 0, NULL },
        { "usr=unprotected", PARTITION_USR, OFFER_UNPROTECTED, 0, NULL },
        { "usr=encrypted", PARTITION_USR, OFFER_SIGNED, -EPERM,
          "requires the usr partition to be encrypted, but foo.raw has it with verity and a trusted signature" },
        { "usr=encrypted+absent", PARTITION_USR, OFFER_ABSENT, 0, NULL },
        /* Absent and unused. */
        { "root=signed+absent", PARTITION_ROOT, OFFER_ABSENT, 0, NULL },
        { "root=absent", PARTITION_ROOT, OFFER_UNPROTECTED, -EPERM,
          "requires the root partition to be absent, but foo.raw has it without verity" },
        { "root=absent", PARTITION_ROOT, OFFER_SIGNED, -EPERM, "to be absent, but foo.raw has it with verity" },
        { "root=unused", PARTITION_ROOT, OFFER_SIGNED, POLICY_CHECK_UNUSED, NULL },
        { "root=unused", PARTITION_ROOT, OFFER_ABSENT, -EPERM,
          "requires the root partition to be present but unused, but foo.raw has none" },
        { "root=unused+absent", PARTITION_ROOT, OFFER_ABSENT, 0, NULL },
        { "root=verity+unused", PARTITION_ROOT, OFFER_UNPROTECTED, POLICY_CHECK_UNUSED, NULL },
        { "root=verity+unused", PARTITION_ROOT, OFFER_VERITY, 0, NULL },
        /* Defaults: systemd's "ignore" unless given. */
        { "root=signed", PARTITION_ESP, OFFER_UNPROTECTED, POLICY_CHECK_UNUSED, NULL },
        { "root=signed", PARTITION_USR, OFFER_ABSENT, 0, NULL },
        { "root=signed:=absent", PARTITION_USR, OFFER_SIGNED, -EPERM,
          "requires the usr partition to be absent, but foo.raw has it with verity and a trusted signature" },
        { "root=signed:=absent", PARTITION_HOME, OFFER_UNPROTECTED, -EPERM,
          "requires the home partition to be absent, but foo.raw has one" },
        { "*", PARTITION_ROOT, OFFER_UNPROTECTED, 0, NULL },
        { "*", PARTITION_LINUX_GENERIC, OFFER_ABSENT, 0, NULL },
        { "-", PARTITION_ROOT, OFFER_SIGNED, POLICY_CHECK_UNUSED, NULL },
        { "-", PARTITION_ROOT, OFFER_ABSENT, 0, NULL },
        { "~", PARTITION_USR, OFFER_VERITY, -EPERM, "requires the usr partition to be absent, but foo.raw has verity" },
        { "~", PARTITION_USR, OFFER_ABSENT, 0, NULL },
        /* Verity partitions follow their data partition. */
        { "root=signed", PARTITION_ROOT_VERITY, OFFER_UNPROTECTED, 0, NULL },
        { "root=signed", PARTITION_ROOT_VERITY_SIG, OFFER_UNPROTECTED, 0, NULL },
        { "root=signed", PARTITION_ROOT_VERITY, OFFER_ABSENT, -EPERM,
          "requires the root-verity partition to be present, but foo.raw has none" },
        { "root=signed+absent", PARTITION_ROOT_VERITY_SIG, OFFER_ABSENT, 0, NULL },
        { "root=verity:=absent", PARTITION_ROOT_VERITY_SIG, OFFER_UNPROTECTED, -EPERM,
          "requires the root-verity-sig partition to be absent, but foo.raw has one" },
        /* Flags that do not apply leave nothing allowed (as in systemd). */
        { "home=verity", PARTITION_HOME, OFFER_ABSENT, -EPERM,
          "image policy permits no home partition at all (not even an absent one), and foo.raw has none" },
        /* No use flags at all: anything. */
        { "root=read-only-on", PARTITION_ROOT, OFFER_UNPROTECTED, 0, NULL },
        { "root=-", PARTITION_ROOT, OFFER_ABSENT, 0, NULL },
        /* No policy: anything. */
        { NULL, PARTITION_ROOT, OFFER_UNPROTECTED, 0, NULL },
};

TEST(check_table) {
        for (size_t i = 0; i < ELEMENTSOF(check_cases); i++) {
                const CheckCase *c = &check_cases[i];
                ImagePolicy p;
                if (c->policy)
                        p = parse_ok(c->policy);
                GraftError e = GRAFT_ERROR_INIT;
                int r = image_policy_check(c->policy ? &p : NULL, c->designator, c->offer, "foo.raw", &e);
                if (r != c->result)
                        ASSERT_FAIL_("case %zu (%s, %s, offer %d): got %d, expected %d (%s)", i, c->policy ?: "NULL",
                                     partition_designator_to_string(c->designator), c->offer, r, c->result,
                                     e.message ?: "no message");
                if (r < 0) {
                        ASSERT_STREQ(e.name, GRAFT_ERROR_POLICY);
                        ASSERT_MESSAGE_CONTAINS(&e, c->message);
                } else
                        ASSERT_FALSE(graft_error_is_set(&e));
                graft_error_done(&e);
        }
}

TEST(check_bad_arguments) {
        ImagePolicy p = parse_ok("*");
        ASSERT_ERRNO(image_policy_check(&p, _PARTITION_DESIGNATOR_MAX, OFFER_ABSENT, "x", NULL), -EINVAL);
        ASSERT_ERRNO(image_policy_check(&p, PARTITION_ROOT, (PolicyOffer) 17, "x", NULL), -EINVAL);
        /* No image name: still a sentence. */
        p = parse_ok("~");
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(image_policy_check(&p, PARTITION_ROOT, OFFER_VERITY, NULL, &e), -EPERM);
        ASSERT_MESSAGE_CONTAINS(&e, "but the image has verity");
        graft_error_done(&e);
}

TESTS_MAIN
