/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hierarchies: defaults and environment overrides, the metadata directory names, recognising a
 * merge (and not taking an unmounted copy of a merged tree for one), status of a scratch root. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"
#include "tests.h"

static void unset_env(void) {
        unsetenv("GRAFT_SYSEXT_HIERARCHIES");
        unsetenv("SYSTEMD_SYSEXT_HIERARCHIES");
        unsetenv("GRAFT_CONFEXT_HIERARCHIES");
        unsetenv("SYSTEMD_CONFEXT_HIERARCHIES");
}

TEST(defaults) {
        unset_env();
        _cleanup_strv_free_ char **l = NULL, **c = NULL;
        ASSERT_OK(sysext_hierarchies_default(IMAGE_CLASS_SYSEXT, &l, NULL));
        ASSERT_EQ(strv_length(l), 2);
        ASSERT_STREQ(l[0], "/usr");
        ASSERT_STREQ(l[1], "/opt");
        ASSERT_OK(sysext_hierarchies_default(IMAGE_CLASS_CONFEXT, &c, NULL));
        ASSERT_EQ(strv_length(c), 1);
        ASSERT_STREQ(c[0], "/etc");
        ASSERT_STREQ(sysext_metadata_dir(IMAGE_CLASS_SYSEXT), ".systemd-sysext");
        ASSERT_STREQ(sysext_metadata_dir(IMAGE_CLASS_CONFEXT), ".systemd-confext");
}

TEST(environment) {
        unset_env();
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        setenv("SYSTEMD_SYSEXT_HIERARCHIES", "/usr", 1);
        ASSERT_OK(sysext_hierarchies_default(IMAGE_CLASS_SYSEXT, &a, NULL));
        ASSERT_EQ(strv_length(a), 1);
        /* graft's own variable wins over systemd's */
        setenv("GRAFT_SYSEXT_HIERARCHIES", "/a/b:/c", 1);
        ASSERT_OK(sysext_hierarchies_default(IMAGE_CLASS_SYSEXT, &b, NULL));
        ASSERT_EQ(strv_length(b), 2);
        ASSERT_STREQ(b[0], "/a/b");
        ASSERT_STREQ(b[1], "/c");

        static const char * const bad[] = { "usr", "/usr/../etc", "/", "/usr//lib", "/./usr" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                GraftError e = GRAFT_ERROR_INIT;
                char **l = NULL;
                setenv("GRAFT_SYSEXT_HIERARCHIES", bad[i], 1);
                ASSERT_ERRNO(sysext_hierarchies_default(IMAGE_CLASS_SYSEXT, &l, &e), -EINVAL);
                ASSERT_MESSAGE_CONTAINS(&e, "$GRAFT_SYSEXT_HIERARCHIES");
                ASSERT_MESSAGE_CONTAINS(&e, "is not an absolute, normalised path");
                ASSERT_TRUE(l == NULL);
                graft_error_done(&e);
        }
        GraftError e = GRAFT_ERROR_INIT;
        char **l = NULL;
        setenv("GRAFT_SYSEXT_HIERARCHIES", ":", 1);
        ASSERT_ERRNO(sysext_hierarchies_default(IMAGE_CLASS_SYSEXT, &l, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "names no hierarchy");
        graft_error_done(&e);

        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .hierarchies = (char *[]) { "/x/../y", NULL } };
        ASSERT_ERRNO(sysext_hierarchies(&o, &l, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "hierarchy \"/x/../y\" is not an absolute, normalised path");
        graft_error_done(&e);
        unset_env();
}

TEST(booleans) {
        ASSERT_TRUE(sysext_parse_boolean("1"));
        ASSERT_TRUE(sysext_parse_boolean("yes"));
        ASSERT_TRUE(sysext_parse_boolean("TRUE"));
        ASSERT_FALSE(sysext_parse_boolean("0"));
        ASSERT_FALSE(sysext_parse_boolean(""));
        ASSERT_FALSE(sysext_parse_boolean(NULL));
        ASSERT_FALSE(sysext_parse_boolean("11"));
}

TEST(names) {
        ASSERT_STREQ(sysext_action_to_string(SYSEXT_ACTION_REPLACED), "replaced");
        ASSERT_STREQ(sysext_action_to_string(SYSEXT_ACTION_SWAPPED), "swapped");
        ASSERT_TRUE(sysext_action_to_string(_SYSEXT_ACTION_MAX) == NULL);
        ASSERT_STREQ(sysext_reload_to_string(SYSEXT_RELOAD_SKIPPED), "skipped");
}

/* A tree that carries merge metadata naming its own device, but is no mount point (a copy of a
 * merged /usr, or one left behind): not a merge, as for systemd-sysext. */
TEST(offline_copy_is_not_merged) {
        char tmpl[] = "/tmp/test-sysext-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        _cleanup_free_ char *usr = path_join(tmpl, "usr"), *md = path_join(tmpl, "usr/.systemd-sysext");
        _cleanup_free_ char *dev = path_join(md, "dev"), *ext = path_join(md, "extensions");
        ASSERT_OK(mkdir(usr, 0755));
        ASSERT_OK(mkdir(md, 0755));
        struct stat st;
        ASSERT_OK(stat(usr, &st));
        char buf[64];
        snprintf(buf, sizeof buf, "%u:%u\n", major(st.st_dev), minor(st.st_dev));
        ASSERT_OK(write_file_atomic(dev, buf, strlen(buf), 0644));
        ASSERT_OK(write_file_atomic(ext, "foo\n", 4, 0644));

        ASSERT_EQ(sysext_path_is_merged(IMAGE_CLASS_SYSEXT, usr, NULL), 0);
        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .root = tmpl, .hierarchies = (char *[]) { "/usr", "/opt", NULL } };
        SysextStatus s = {};
        ASSERT_OK(sysext_status(&o, &s, NULL));
        ASSERT_EQ(s.n_hierarchies, 2);
        ASSERT_FALSE(s.hierarchies[0].merged);
        ASSERT_TRUE(startswith(s.hierarchies[0].resolved, tmpl));
        ASSERT_TRUE(s.hierarchies[1].resolved == NULL); /* no /opt in this root */
        ASSERT_FALSE(s.hierarchies[1].merged);
        sysext_status_done(&s);

        unlink(dev);
        unlink(ext);
        rmdir(md);
        rmdir(usr);
        rmdir(tmpl);
}

TESTS_MAIN
