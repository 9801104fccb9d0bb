/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "env-file.h"
#include "strv.h"
#include "tests.h"

static char **parse(const char *text) {
        char **l = NULL;
        ASSERT_OK(env_file_parse(text, strlen(text), "test", &l, NULL));
        return l;
}

TEST(os_release) {
        _cleanup_strv_free_ char **l = parse(
                "# comment\n"
                "NAME=\"Debian GNU/Linux\"\n"
                "ID=debian\n"
                "VERSION_ID='12'\n"
                "  ID_LIKE=\"rhel \\\"fedora\\\"\"\n"
                "PRETTY_NAME=\"a\\$b\\\\c\"\n"
                "not an assignment\n"
                "1BAD=x\n"
                "EMPTY=\n"
                "TRAIL=value   # trailing comment\n"
                "ID=debian2\n");
        ASSERT_STREQ(strv_env_get(l, "NAME"), "Debian GNU/Linux");
        ASSERT_STREQ(strv_env_get(l, "ID"), "debian2");
        ASSERT_STREQ(strv_env_get(l, "VERSION_ID"), "12");
        ASSERT_STREQ(strv_env_get(l, "ID_LIKE"), "rhel \"fedora\"");
        ASSERT_STREQ(strv_env_get(l, "PRETTY_NAME"), "a$b\\c");
        ASSERT_STREQ(strv_env_get(l, "EMPTY"), "");
        ASSERT_STREQ(strv_env_get(l, "TRAIL"), "value");
        ASSERT_TRUE(strv_env_get(l, "1BAD") == NULL);
        ASSERT_EQ(strv_length(l), 14);
}

TEST(nul_refused) {
        GraftError e = GRAFT_ERROR_INIT;
        char **l = NULL;
        ASSERT_ERRNO(env_file_parse("A=1\0B=2", 7, "/etc/os-release", &l, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "/etc/os-release contains a NUL byte");
        ASSERT_TRUE(l == NULL);
        graft_error_done(&e);
}

TEST(no_newline_at_end) {
        _cleanup_strv_free_ char **l = parse("A=\"x y\"");
        ASSERT_STREQ(strv_env_get(l, "A"), "x y");
}

TESTS_MAIN
