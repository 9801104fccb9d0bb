/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Carrying out plans: every kind of step, the order changes are reported in, and all or nothing:
 * a failure while staging or while committing leaves the tree exactly as it was. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "plan.h"
#include "strv.h"
#include "tests.h"
#include "tree-state.h"

static char root[] = "/tmp/test-portable-plan-XXXXXX";

static void put(const char *rel, const char *content) {
        _cleanup_free_ char *p = path_join(root, rel);
        ASSERT_OK(write_file_atomic(p, content, strlen(content), 0644));
}

static char *get(const char *rel) {
        _cleanup_free_ char *p = path_join(root, rel);
        char *s = NULL;
        size_t n;
        return read_full_file_at(AT_FDCWD, p, 4096, &s, &n) < 0 ? NULL : s;
}

static bool exists(const char *rel) {
        _cleanup_free_ char *p = path_join(root, rel);
        struct stat st;
        return lstat(p, &st) >= 0;
}

static void setup(void) {
        /* Once: mkdtemp() may well end the name in an 'X' of its own. */
        static bool done = false;
        if (done)
                return;
        done = true;
        ASSERT_TRUE(mkdtemp(root));
        _cleanup_free_ char *d = path_join(root, "etc");
        ASSERT_OK(mkdir(d, 0755));
        put("etc/old", "old\n");
        put("etc/gone", "gone\n");
}

static void add_file(PortablePlan *p, const char *path, const char *content, bool replace) {
        ASSERT_OK(plan_add_file(p, PORTABLE_CHANGE_WRITE, path, NULL, strdup(content), strlen(content), 0640, replace));
}

TEST(every_step) {
        setup();
        _cleanup_(portable_plan_done) PortablePlan p = {};
        _cleanup_(portable_changes_done) PortableChanges c = {};
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(plan_add_mkdir(&p, "/etc/new"));
        ASSERT_OK(plan_add_mkdir(&p, "/etc/new/sub"));
        add_file(&p, "/etc/new/sub/file", "hello\n", false);
        ASSERT_OK(plan_add_symlink(&p, "/etc/new/link", "/etc/new/sub/file", false));
        ASSERT_OK(plan_add_file(&p, PORTABLE_CHANGE_COPY, "/etc/old", "/image/etc/old", strdup("new\n"), 4, 0644, true));
        ASSERT_OK(plan_add_unlink(&p, "/etc/gone", false));
        ASSERT_OK(portable_plan_execute(root, &p, &c, &e));
        ASSERT_EQ(c.n, 6);
        ASSERT_STREQ(portable_change_type_to_string(c.items[0].type), "mkdir");
        ASSERT_STREQ(c.items[3].source, "/etc/new/sub/file");
        ASSERT_STREQ(c.items[4].source, "/image/etc/old");
        ASSERT_STREQ(portable_change_type_to_string(c.items[5].type), "unlink");

        _cleanup_free_ char *f = get("etc/new/sub/file"), *o = get("etc/old");
        ASSERT_STREQ(f, "hello\n");
        ASSERT_STREQ(o, "new\n");
        ASSERT_FALSE(exists("etc/gone"));
        _cleanup_free_ char *fp = path_join(root, "etc/new/sub/file");
        struct stat st;
        ASSERT_OK(stat(fp, &st));
        ASSERT_EQ(st.st_mode & 07777, 0640); /* not what the umask would leave */

        /* No temporary or backup file is left behind. */
        _cleanup_free_ char *state = tree_state(root);
        ASSERT_TRUE(strstr(state, ".#pctl") == NULL);

        /* Removing directories: only empty ones go, and only those are reported. */
        _cleanup_(portable_plan_done) PortablePlan q = {};
        _cleanup_(portable_changes_done) PortableChanges d = {};
        ASSERT_OK(plan_add_unlink(&q, "/etc/new/link", false));
        ASSERT_OK(plan_add_unlink(&q, "/etc/new/sub", true)); /* still holds file: stays */
        ASSERT_OK(plan_add_unlink(&q, "/etc/new", true));
        ASSERT_OK(portable_plan_execute(root, &q, &d, &e));
        ASSERT_EQ(d.n, 1);
        ASSERT_TRUE(exists("etc/new/sub/file"));
        ASSERT_FALSE(exists("etc/new/link"));
}

TEST(staging_failure_changes_nothing) {
        setup();
        _cleanup_free_ char *before = tree_state(root);
        _cleanup_(portable_plan_done) PortablePlan p = {};
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(plan_add_mkdir(&p, "/etc/a"));
        add_file(&p, "/etc/a/one", "1\n", false);
        add_file(&p, "/etc/old", "clobbered\n", false); /* exists, not to be replaced */
        ASSERT_ERRNO(portable_plan_execute(root, &p, NULL, &e), -EEXIST);
        ASSERT_MESSAGE_CONTAINS(&e, "cannot create ");
        ASSERT_MESSAGE_CONTAINS(&e, "/etc/old: File exists");
        graft_error_done(&e);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
}

TEST(commit_failure_is_undone) {
        setup();
        put("etc/keep", "keep\n");
        _cleanup_free_ char *before = tree_state(root);
        _cleanup_(portable_plan_done) PortablePlan p = {};
        GraftError e = GRAFT_ERROR_INIT;
        /* The last step writes a file the step before it created: staging cannot see the clash,
         * so the commit fails after a removal, a replacement and a creation are in place. */
        ASSERT_OK(plan_add_mkdir(&p, "/etc/b"));
        ASSERT_OK(plan_add_unlink(&p, "/etc/keep", false));
        add_file(&p, "/etc/old", "replaced\n", true);
        add_file(&p, "/etc/b/twice", "first\n", false);
        add_file(&p, "/etc/b/twice", "second\n", false);
        ASSERT_ERRNO(portable_plan_execute(root, &p, NULL, &e), -EEXIST);
        ASSERT_MESSAGE_CONTAINS(&e, "/etc/b/twice");
        graft_error_done(&e);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
}

TEST(paths_stay_inside_the_root) {
        setup();
        _cleanup_free_ char *outside = strdup("/tmp/test-portable-plan-outside-XXXXXX");
        ASSERT_TRUE(mkdtemp(outside));
        /* A symlink in the tree pointing at an absolute host path resolves inside the root. */
        _cleanup_free_ char *lnk = path_join(root, "etc/escape");
        ASSERT_OK(symlink(outside, lnk));
        _cleanup_(portable_plan_done) PortablePlan p = {};
        GraftError e = GRAFT_ERROR_INIT;
        add_file(&p, "/etc/escape/file", "x\n", false);
        ASSERT_TRUE(portable_plan_execute(root, &p, NULL, &e) < 0);
        graft_error_done(&e);
        _cleanup_free_ char *leak = path_join(outside, "file");
        struct stat st;
        ASSERT_TRUE(lstat(leak, &st) < 0);
        ASSERT_OK(rmdir(outside));

        _cleanup_(portable_plan_done) PortablePlan q = {};
        add_file(&q, "/etc/../../x", "x\n", false);
        ASSERT_ERRNO(portable_plan_execute(root, &q, NULL, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "refusing unsafe path /etc/../../x");
        graft_error_done(&e);
}

static void cleanup(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) system(cmd);
}

int main(int argc, char **argv) {
        int r = tests_run(argc, argv);
        cleanup();
        return r;
}
