/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers of graft-update without a network: match patterns (matching, ambiguity, refusals,
 * filling in), configuration syntax (continuations, comments, errors with file:line), specifiers,
 * SHA256SUMS lines, transfer files (defaults, kinds, image names, refusals). */
#include <fcntl.h>
#include <sys/stat.h>

#include "conf-parse.h"
#include "fileio.h"
#include "manifest.h"
#include "path-util.h"
#include "pattern.h"
#include "specifier.h"
#include "strv.h"
#include "tests.h"
#include "transfer.h"

TEST(pattern_match) {
        PatternFields f = {};
        ASSERT_EQ(pattern_match("foo_@v.raw", "foo_1.2.raw", &f), 1);
        ASSERT_STREQ(f.value[PATTERN_VERSION], "1.2");
        pattern_fields_done(&f);
        /* the first ".raw" is not the end */
        ASSERT_EQ(pattern_match("foo_@v.raw", "foo_1.raw.raw", &f), 1);
        ASSERT_STREQ(f.value[PATTERN_VERSION], "1.raw");
        pattern_fields_done(&f);
        ASSERT_EQ(pattern_match("foo_@v+@l-@d.efi", "foo_7+3-0.efi", &f), 1);
        ASSERT_STREQ(f.value[PATTERN_VERSION], "7");
        ASSERT_STREQ(f.value[PATTERN_TRIES_LEFT], "3");
        ASSERT_STREQ(f.value[PATTERN_TRIES_DONE], "0");
        pattern_fields_done(&f);
        ASSERT_EQ(pattern_match("foo_@v.raw", "bar_1.raw", NULL), 0);
        ASSERT_EQ(pattern_match("foo_@v.raw", "foo_.raw", NULL), 0);
        ASSERT_EQ(pattern_match("foo_@v.raw", "foo_1 2.raw", NULL), 0); /* no spaces in versions */
        ASSERT_EQ(pattern_match("foo_@v_@h.raw", "foo_1_abc.raw", NULL), 0); /* @h is 64 hex digits */
        char *l[] = { (char *) "a_@v.raw", (char *) "b_@v.raw", NULL };
        ASSERT_EQ(pattern_match_any(l, "b_3.raw", &f), 1);
        ASSERT_STREQ(f.value[PATTERN_VERSION], "3");
        pattern_fields_done(&f);
}

TEST(pattern_validate_and_format) {
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(pattern_validate("foo_@v.raw", NULL));
        ASSERT_ERRNO(pattern_validate("foo.raw", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "has no @v");
        graft_error_done(&e);
        ASSERT_ERRNO(pattern_validate("foo_@v@u.raw", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "two wildcards without text");
        graft_error_done(&e);
        ASSERT_ERRNO(pattern_validate("foo_@x_@v", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "unknown wildcard \"@x\"");
        graft_error_done(&e);
        ASSERT_ERRNO(pattern_validate("d_@v/foo.efi", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "not supported by graft");
        graft_error_done(&e);

        PatternFields f = {};
        ASSERT_OK(pattern_fields_set(&f, PATTERN_VERSION, "5"));
        char *s = NULL;
        ASSERT_OK(pattern_format("foo_@v.raw", &f, &s, NULL));
        ASSERT_STREQ(s, "foo_5.raw");
        free(s);
        ASSERT_ERRNO(pattern_format("foo_@v+@l.raw", &f, &s, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "no value to fill in for @l");
        graft_error_done(&e);
        pattern_fields_done(&f);
}

static int collect(const ConfAssignment *a, void *userdata, GraftError *err) {
        return strv_extendf(userdata, "%u [%s] %s=%s", a->line, a->section, a->key, a->value);
}

TEST(conf_parse) {
        char **l = NULL;
        ASSERT_OK(conf_parse_text("# c\n[A]\nK = v \\\n  w\n; c\n[B]\nX=\n", "f", collect, &l, NULL));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_STREQ(l[0], "3 [A] K=v    w");
        ASSERT_STREQ(l[1], "7 [B] X=");
        strv_free(l);
        l = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(conf_parse_text("[A]\nnonsense\n", "f.transfer", collect, &l, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "f.transfer:2: not a Key=Value assignment");
        graft_error_done(&e);
        strv_free(l);
        ASSERT_EQ(conf_parse_boolean("Yes"), 1);
        ASSERT_EQ(conf_parse_boolean("off"), 0);
        ASSERT_ERRNO(conf_parse_boolean("maybe"), -EINVAL);
}

TEST(specifiers) {
        char *os[] = { (char *) "ID", (char *) "debian", (char *) "VERSION_ID", (char *) "12", NULL };
        SpecifierContext c = { .os_release = os, .arch = "x86-64", .hostname = (char *) "a.b" };
        char *s = NULL;
        ASSERT_OK(specifier_expand(&c, "%o-%w-%a-%l-%A-%%", "t", &s, NULL));
        ASSERT_STREQ(s, "debian-12-x86-64-a--%");
        free(s);
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(specifier_expand(&c, "x%q", "f:3", &s, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "f:3: unknown specifier \"%q\"");
        graft_error_done(&e);
}

TEST(manifest) {
        static const char text[] =
                "0123456789abcdef0123456789abcdef0123456789ABCDEF0123456789abcdef  foo_1.raw\n"
                "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef *foo_2.raw\r\n";
        Manifest m = {};
        ASSERT_OK(manifest_parse(text, strlen(text), "u", &m, NULL));
        ASSERT_EQ(m.n, 2);
        ASSERT_STREQ(manifest_find(&m, "foo_1.raw")->sha256,
                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        ASSERT_TRUE(manifest_find(&m, "foo_2.raw"));
        manifest_done(&m);
        GraftError e = GRAFT_ERROR_INIT;
        static const char bad[] = "0123  foo\n";
        ASSERT_ERRNO(manifest_parse(bad, strlen(bad), "https://x/SHA256SUMS", &m, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "https://x/SHA256SUMS:1: not a \"SHA256 NAME\" line");
        graft_error_done(&e);
        static const char slash[] =
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  ../etc/passwd\n";
        ASSERT_ERRNO(manifest_parse(slash, strlen(slash), "u", &m, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "is not a plain file name");
        graft_error_done(&e);
}

static char *write_transfer(const char *dir, const char *name, const char *text) {
        char *p = path_join(dir, name);
        ASSERT_OK(write_file_atomic(p, text, strlen(text), 0644));
        return p;
}

TEST(transfer) {
        char dir[] = "/tmp/test-update-parse.XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        SpecifierContext spec = { .arch = "x86-64" };
        char *p = write_transfer(dir, "50-foo.transfer",
                                 "[Source]\nType=url-file\nPath=https://example.com/x/\nMatchPattern=foo_@v.raw\n"
                                 "[Target]\nType=regular-file\nPath=/var/lib/extensions/foo.v\nMatchPattern=foo_@v.raw\n"
                                 "[X-Graft]\nHealthCheck=/bin/true\nHealthGraceSec=1.5\n[X-Other]\nWhatever=1\n");
        Transfer *t = NULL;
        ASSERT_OK(transfer_load(NULL, &spec, p, NULL, &t, NULL));
        ASSERT_STREQ(t->id, "50-foo");
        ASSERT_STREQ(t->source_path, "https://example.com/x"); /* trailing slash dropped */
        ASSERT_EQ(t->kind, UPDATE_KIND_SYSEXT);
        ASSERT_STREQ(t->image_name, "foo");
        ASSERT_EQ(t->instances_max, 2);
        ASSERT_TRUE(t->verify);
        ASSERT_EQ(t->health_grace_usec, 1500000);
        ASSERT_EQ(strv_length(t->warnings), 0);
        transfer_free(t);
        free(p);

        p = write_transfer(dir, "60-svc.transfer",
                           "[Source]\nType=regular-file\nPath=/srv\nMatchPattern=svc_@v.raw\n"
                           "[Target]\nType=regular-file\nPath=/var/lib/portables\nMatchPattern=svc_@v.raw\nInstancesMax=1\n");
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(transfer_load(NULL, &spec, p, NULL, &t, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "60-svc.transfer:9: InstancesMax=1");
        graft_error_done(&e);
        free(p);
        p = write_transfer(dir, "60-svc.transfer",
                           "[Source]\nType=regular-file\nPath=/srv\nMatchPattern=svc_@v.raw\nBogus=1\n"
                           "[Target]\nType=regular-file\nPath=/var/lib/portables\nMatchPattern=svc_@v.raw\n");
        ASSERT_OK(transfer_load(NULL, &spec, p, NULL, &t, NULL));
        ASSERT_EQ(t->kind, UPDATE_KIND_PORTABLE);
        ASSERT_TRUE(t->image_name == NULL); /* svc_1.raw, svc_2.raw side by side */
        ASSERT_EQ(strv_length(t->warnings), 1);
        ASSERT_TRUE(strstr(t->warnings[0], "60-svc.transfer:5: [Source] Bogus= is unknown"));
        transfer_free(t);
        free(p);

        TransferSet s = {};
        ASSERT_OK(transfer_set_load(NULL, NULL, dir, &s, NULL));
        ASSERT_EQ(s.n, 2);
        ASSERT_STREQ(s.transfers[0]->id, "50-foo");
        transfer_set_done(&s);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TESTS_MAIN
