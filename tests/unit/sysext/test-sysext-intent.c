/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent record of an extension change: its text round-trips, a record that is none is
 * refused naming what is wrong; and the operation lock keeps it next to itself (written whole,
 * read, removed; half of one left by a dead writer goes when the lock is taken), unprivileged in
 * a scratch root. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"
#include "tests.h"

TEST(round_trip) {
        _cleanup_(sysext_intent_done) SysextIntent in = {
                .op = SYSEXT_OP_REFRESH, .boot_id = strdup("0c3b9c0c-7d8e-4b1e-9f0e-2a3b4c5d6e7f"),
                .noexec = true, .reload = true, .resumed = true, .policy = strdup("root=verity+signed:usr=absent"),
        };
        ASSERT_TRUE(in.boot_id && in.policy);
        ASSERT_OK(sysext_intent_add(&in, "/usr", makedev(0, 61), makedev(0, 75)));
        ASSERT_OK(sysext_intent_add(&in, "/opt", 0, makedev(0, 76)));
        ASSERT_OK(sysext_intent_add(&in, "/srv/with space", makedev(0, 62), 0));
        _cleanup_free_ char *text = NULL;
        ASSERT_OK(sysext_intent_format(&in, &text));
        ASSERT_TRUE(strstr(text, "hierarchy 0:61 0:75 /usr\n"));
        ASSERT_TRUE(strstr(text, "hierarchy - 0:76 /opt\n"));

        _cleanup_(sysext_intent_done) SysextIntent out = {};
        ASSERT_OK(sysext_intent_parse(text, &out, NULL));
        ASSERT_EQ(out.op, SYSEXT_OP_REFRESH);
        ASSERT_STREQ(out.boot_id, in.boot_id);
        ASSERT_STREQ(out.policy, in.policy);
        ASSERT_FALSE(out.force);
        ASSERT_TRUE(out.noexec && out.reload && out.resumed && !out.no_reload);
        ASSERT_EQ(out.n, 3);
        ASSERT_STREQ(out.paths[2], "/srv/with space");
        ASSERT_TRUE(out.old[0] == makedev(0, 61) && out.target[0] == makedev(0, 75));
        ASSERT_TRUE(out.old[1] == 0 && out.target[1] == makedev(0, 76));
        ASSERT_TRUE(out.old[2] == makedev(0, 62) && out.target[2] == 0);
        ASSERT_STREQ(sysext_op_to_string(SYSEXT_OP_UNMERGE), "unmerge");
}

TEST(not_a_record) {
        static const struct {
                const char *text, *message;
        } bad[] = {
                { "", "does not start with \"graft-sysext-intent 1\"" },
                { "graft-sysext-intent 2\nop merge\nboot x\n", "does not start with" },
                { "graft-sysext-intent 1\nop merge\n", "names no boot" },
                { "graft-sysext-intent 1\nboot x\n", "names no operation" },
                { "graft-sysext-intent 1\nop fold\nboot x\n", "line 2 of the intent record is not understood: op fold" },
                { "graft-sysext-intent 1\nop merge\nboot x\nhierarchy 0:1 /usr\n", "hierarchy 0:1 /usr" },
                { "graft-sysext-intent 1\nop merge\nboot x\nhierarchy 0:1 0:2 usr\n", "not understood" },
                { "graft-sysext-intent 1\nop merge\nboot x\noptions force=1\n", "options force=1" },
                { "graft-sysext-intent 1\nop merge\nboot x\nrm -rf /\n", "not understood: rm -rf /" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                GraftError e = GRAFT_ERROR_INIT;
                SysextIntent out = {};
                ASSERT_ERRNO(sysext_intent_parse(bad[i].text, &out, &e), -EBADMSG);
                ASSERT_MESSAGE_CONTAINS(&e, bad[i].message);
                ASSERT_TRUE(out.n == 0 && !out.boot_id);
                graft_error_done(&e);
        }
}

TEST(boot_id) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        ASSERT_OK(sysext_boot_id(&a));
        ASSERT_OK(sysext_boot_id(&b));
        ASSERT_STREQ(a, b);
        ASSERT_EQ(strlen(a), 36);
}

TEST(lock_keeps_the_record) {
        char tmpl[] = "/tmp/test-sysext-intent-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        _cleanup_free_ char *run = path_join(tmpl, "run"), *tmp = path_join(tmpl, "run/graft/locks/sysext.intent.tmp");
        _cleanup_free_ char *rec = path_join(tmpl, "run/graft/locks/sysext.intent");
        ASSERT_OK(mkdir(run, 0755));
        ASSERT_FALSE(op_lock_intent_exists(tmpl, "sysext"));

        OpLock l = OP_LOCK_INIT;
        ASSERT_OK(op_lock_take(&(OpLockRequest) { .root = tmpl, .key = "sysext", .what = "test" }, &l, NULL));
        _cleanup_free_ char *text = NULL;
        ASSERT_EQ(op_lock_intent_read(&l, &text, NULL), 0);
        ASSERT_TRUE(text == NULL);
        ASSERT_OK(op_lock_intent_write(&l, "first\n", NULL));
        ASSERT_OK(op_lock_intent_write(&l, "second\n", NULL));
        ASSERT_TRUE(op_lock_intent_exists(tmpl, "sysext"));
        ASSERT_FALSE(op_lock_intent_exists(tmpl, "confext"));
        ASSERT_EQ(op_lock_intent_read(&l, &text, NULL), 1);
        ASSERT_STREQ(text, "second\n");
        struct stat st;
        ASSERT_OK(stat(rec, &st));
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_TRUE(access(tmp, F_OK) < 0);

        /* Another taker does not get it while it is held, and a try does not wait. */
        OpLock other = OP_LOCK_INIT;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(op_lock_take(&(OpLockRequest) { .root = tmpl, .key = "sysext", .what = "other", .no_wait = true },
                                  &other, &e),
                     -EBUSY);
        ASSERT_MESSAGE_CONTAINS(&e, "): test, since");
        ASSERT_TRUE(other.fd < 0);
        graft_error_done(&e);

        ASSERT_OK(op_lock_intent_remove(&l, NULL));
        ASSERT_OK(op_lock_intent_remove(&l, NULL)); /* none: fine */
        ASSERT_FALSE(op_lock_intent_exists(tmpl, "sysext"));

        /* Half a record of a writer that died: seen, and removed by the next taker. */
        ASSERT_OK(write_file_atomic(tmp, "half", 4, 0600));
        ASSERT_TRUE(op_lock_intent_exists(tmpl, "sysext"));
        op_lock_release(&l);
        ASSERT_TRUE(l.fd < 0 && l.dir_fd < 0 && !l.key);
        ASSERT_OK(op_lock_take(&(OpLockRequest) { .root = tmpl, .key = "sysext", .what = "next" }, &l, NULL));
        ASSERT_TRUE(access(tmp, F_OK) < 0);
        ASSERT_FALSE(op_lock_intent_exists(tmpl, "sysext"));

        /* A record that is no regular file is refused, not read. */
        ASSERT_OK(mkfifo(rec, 0600));
        free(text);
        text = NULL;
        ASSERT_ERRNO(op_lock_intent_read(&l, &text, &e), -EBADF);
        ASSERT_MESSAGE_CONTAINS(&e, "the sysext intent record is not a regular file");
        graft_error_done(&e);
        unlink(rec);
        op_lock_release(&l);

        _cleanup_free_ char *lock = path_join(tmpl, "run/graft/locks/sysext.lock");
        _cleanup_free_ char *locks = path_join(tmpl, "run/graft/locks"), *graft = path_join(tmpl, "run/graft");
        unlink(lock);
        rmdir(locks);
        rmdir(graft);
        rmdir(run);
        rmdir(tmpl);
}

TESTS_MAIN
