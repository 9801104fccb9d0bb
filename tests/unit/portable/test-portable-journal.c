/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent journal: its text form read back as written, the journals it refuses (with the line
 * named), and the replay of a replaced file from each state a crash can leave it in, run twice
 * (a replay interrupted and run again) to the same end. The crash loops over whole operations are
 * in tests/hostile (they need fault points). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "journal.h"
#include "path-util.h"
#include "tests.h"

static char root[] = "/tmp/test-portable-journal-XXXXXX";
static bool made;

static char *at(const char *rel) {
        char *p = path_join(root, rel);
        ASSERT_TRUE(p);
        return p;
}

static void put(const char *rel, const char *content) {
        _cleanup_free_ char *p = at(rel);
        ASSERT_OK(write_file_atomic(p, content, strlen(content), 0644));
}

static char *get(const char *rel) {
        _cleanup_free_ char *p = at(rel);
        char *s = NULL;
        size_t n;
        return read_full_file_at(AT_FDCWD, p, 4096, &s, &n) < 0 ? NULL : s;
}

static int root_fd(void) {
        if (!made) {
                ASSERT_TRUE(mkdtemp(root));
                made = true;
                _cleanup_free_ char *etc = at("etc");
                ASSERT_OK(mkdir(etc, 0755));
        }
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

TEST(written_and_read_back) {
        _cleanup_close_ int rfd = root_fd();
        _cleanup_(journal_done) Journal j = { .state = JOURNAL_STAGED, .what = strdup("attach /srv/my image.raw") };
        ASSERT_OK(journal_add(&j, JOURNAL_MKDIR, "/etc/a dir", NULL, NULL));
        ASSERT_OK(journal_add(&j, JOURNAL_NEW, "/etc/a dir/f", ".#pctl0000000000000001", NULL));
        ASSERT_OK(journal_add(&j, JOURNAL_NEW, "/etc/old", ".#pctl0000000000000002", ".#pctl0000000000000003"));
        ASSERT_OK(journal_add(&j, JOURNAL_UNLINK, "/etc/gone", NULL, ".#pctl0000000000000004"));
        ASSERT_OK(journal_add(&j, JOURNAL_RMDIR, "/etc/empty", NULL, NULL));
        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_close_ int dfd = journal_dir_open(rfd, root, false, true, &e);
        ASSERT_OK(dfd);
        ASSERT_OK(journal_write(dfd, root, &j, &e));

        _cleanup_(journal_done) Journal k = {};
        ASSERT_EQ(journal_read(dfd, root, false, &k, &e), 1);
        ASSERT_EQ(k.state, JOURNAL_STAGED);
        ASSERT_STREQ(k.what, "attach /srv/my image.raw");
        ASSERT_EQ(k.n_steps, 5);
        ASSERT_STREQ(k.steps[0].path, "/etc/a dir");
        ASSERT_STREQ(k.steps[2].backup, ".#pctl0000000000000003");
        ASSERT_TRUE(k.steps[3].temp == NULL);
        ASSERT_EQ(k.steps[4].kind, JOURNAL_RMDIR);

        ASSERT_OK(journal_remove(dfd, root, &k, &e));
        _cleanup_(journal_done) Journal none = {};
        ASSERT_EQ(journal_read(dfd, root, false, &none, &e), 0);
}

static void refused(const char *text, const char *needle) {
        _cleanup_close_ int rfd = root_fd();
        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_close_ int dfd = journal_dir_open(rfd, root, false, true, &e);
        ASSERT_OK(dfd);
        _cleanup_free_ char *p = at("var/lib/graft/" JOURNAL_FILE);
        ASSERT_OK(write_file_atomic(p, text, strlen(text), 0600));
        _cleanup_(journal_done) Journal j = {};
        ASSERT_ERRNO(journal_read(dfd, root, false, &j, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        ASSERT_MESSAGE_CONTAINS(&e, "check the files it names, then remove it");
        graft_error_done(&e);
        ASSERT_OK(unlink(p));
}

TEST(damaged_journals_are_refused) {
        refused("graft-portable-journal 2\nstate staged\nwhat -\n", "is damaged (line 1)");
        refused("graft-portable-journal 1\nstate done\nwhat -\n", "is damaged (line 2)");
        refused("graft-portable-journal 1\nstate staged\n", "is damaged (line 3)");
        /* A temporary or backup name that is not one of ours (it would steer a rename). */
        refused("graft-portable-journal 1\nstate staged\nwhat -\nunlink /etc/passwd - ../../x\n", "(line 4)");
        refused("graft-portable-journal 1\nstate staged\nwhat -\nnew etc/x .#pctl01 -\n", "(line 4)");
        refused("graft-portable-journal 1\nstate staged\nwhat -\nnew /etc/x - -\n", "(line 4)");
        refused("graft-portable-journal 1\nstate staged\nwhat -\nmkdir /etc/x - .#pctl01\n", "(line 4)");
        refused("graft-portable-journal 1\nstate staged\nwhat -\nmkdir /etc/../x - -\n", "(line 4)");
        /* Torn: the last line without its newline. */
        refused("graft-portable-journal 1\nstate staged\nwhat -\nmkdir /etc/x - -", "is damaged (line 4)");
}

/* A replaced file: the old content at path, the new staged as temp, the old linked as backup on
 * commit. Each state a crash can leave, undone twice, ends with the old file only. */
TEST(undo_of_a_replacement_from_every_state) {
        _cleanup_close_ int rfd = root_fd();
        static const char * const states[] = { "staged", "linked", "renamed", "restored" };
        for (size_t i = 0; i < ELEMENTSOF(states); i++) {
                put("etc/conf", "old\n");
                put("etc/.#pctl00000000000000aa", "new\n");
                _cleanup_free_ char *path = at("etc/conf"), *temp = at("etc/.#pctl00000000000000aa"),
                                    *backup = at("etc/.#pctl00000000000000bb");
                if (i >= 1)
                        ASSERT_OK(link(path, backup));
                if (i >= 2)
                        ASSERT_OK(rename(temp, path));
                if (i >= 3)
                        ASSERT_OK(rename(backup, path));
                _cleanup_(journal_done) Journal j = { .state = JOURNAL_STAGED };
                ASSERT_OK(journal_add(&j, JOURNAL_NEW, "/etc/conf", ".#pctl00000000000000aa", ".#pctl00000000000000bb"));
                GraftError e = GRAFT_ERROR_INIT;
                for (int round = 0; round < 2; round++) {
                        ASSERT_OK(journal_undo(rfd, root, &j, &e));
                        _cleanup_free_ char *c = get("etc/conf");
                        ASSERT_STREQ(c, "old\n");
                        struct stat st;
                        ASSERT_TRUE(lstat(temp, &st) < 0 && lstat(backup, &st) < 0);
                }
                fprintf(stderr, "undone from %s\n", states[i]);
        }
}

/* A committed removal is finished however far its finish got; a pending one never touches the
 * paths it names. */
TEST(finish_and_pending_undo) {
        _cleanup_close_ int rfd = root_fd();
        put("etc/.#pctl00000000000000cc", "removed\n");
        _cleanup_free_ char *d = at("etc/emptied");
        ASSERT_OK(mkdir(d, 0755));
        _cleanup_(journal_done) Journal j = { .state = JOURNAL_COMMITTED };
        ASSERT_OK(journal_add(&j, JOURNAL_UNLINK, "/etc/gone", NULL, ".#pctl00000000000000cc"));
        ASSERT_OK(journal_add(&j, JOURNAL_RMDIR, "/etc/emptied", NULL, NULL));
        GraftError e = GRAFT_ERROR_INIT;
        bool removed[2] = {};
        ASSERT_OK(journal_finish(rfd, root, &j, removed, &e));
        ASSERT_TRUE(removed[1]);
        ASSERT_OK(journal_finish(rfd, root, &j, removed, &e));
        ASSERT_FALSE(removed[1]); /* gone already: nothing left to do */
        struct stat st;
        ASSERT_TRUE(lstat(d, &st) < 0);
        ASSERT_ERRNO(journal_undo(rfd, root, &j, &e), -EINVAL); /* committed: only finished */

        put("etc/new", "someone's\n");
        _cleanup_(journal_done) Journal p = { .state = JOURNAL_PENDING };
        ASSERT_OK(journal_add(&p, JOURNAL_NEW, "/etc/new", ".#pctl00000000000000dd", NULL));
        ASSERT_OK(journal_undo(rfd, root, &p, &e));
        _cleanup_free_ char *c = get("etc/new");
        ASSERT_STREQ(c, "someone's\n"); /* nothing was renamed before "staged" */
}

static void cleanup(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (made)
                (void) system(cmd);
}

int main(int argc, char **argv) {
        int r = tests_run(argc, argv);
        cleanup();
        return r;
}
