/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Version order against systemd-analyze compare-versions: a stored corpus of 4000 pairs that the
 * oracle ordered (gen-version-corpus.py), plus a live sample asked of the oracle now, so the
 * corpus cannot go stale unnoticed. */
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "fileio.h"
#include "strv.h"
#include "tests.h"
#include "version.h"

extern char **environ;

static const char *order_string(int r) {
        return r < 0 ? "<" : r > 0 ? ">" : "==";
}

static char *corpus_path(void) {
        const char *src = getenv("GRAFT_SOURCE_DIR") ?: ".";
        char *p;
        ASSERT_TRUE(asprintf(&p, "%s/tests/unit/data/version-corpus.txt", src) > 0);
        return p;
}

/* Returns the oracle's order, or NULL when systemd-analyze is not there. */
static const char *oracle(const char *a, const char *b) {
        char *argv[] = { (char *) "systemd-analyze", (char *) "compare-versions", (char *) "--",
                         (char *) a, (char *) b, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        int r = posix_spawnp(&pid, "systemd-analyze", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return NULL;
        int status;
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status))
                return NULL;
        switch (WEXITSTATUS(status)) {
        case 0: return "==";
        case 11: return ">";
        case 12: return "<";
        default: return NULL;
        }
}

static char **load_corpus(void) {
        _cleanup_free_ char *path = corpus_path(), *text = NULL;
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 16 * 1024 * 1024, &text, NULL));
        char **lines = NULL;
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchrnul(line, '\n');
                ASSERT_OK(strv_consume(&lines, strndup(line, nl - line)));
                if (!*nl)
                        break;
        }
        return lines;
}

TEST(corpus) {
        _cleanup_strv_free_ char **lines = load_corpus();
        size_t n = 0;
        STRV_FOREACH(l, lines) {
                char *a = *l, *t1 = strchr(a, '\t');
                ASSERT_TRUE(t1);
                char *b = t1 + 1, *t2 = strchr(b, '\t');
                ASSERT_TRUE(t2);
                *t1 = *t2 = 0;
                const char *want = t2 + 1;

                int r = version_compare(a, b);
                if (strcmp(order_string(r), want) != 0)
                        ASSERT_FAIL_("'%s' vs '%s': got %s, oracle said %s", a, b, order_string(r), want);
                /* Antisymmetric and reflexive. */
                ASSERT_EQ(CMP(version_compare(b, a), 0), -CMP(r, 0));
                ASSERT_EQ(version_compare(a, a), 0);
                n++;
        }
        ASSERT_TRUE(n >= 3000);
        fprintf(stderr, "%zu pairs agree with the stored oracle results\n", n);
}

TEST(live_oracle_sample) {
        if (!oracle("1", "2")) {
                fprintf(stderr, "systemd-analyze not available, live sample skipped\n");
                return;
        }
        _cleanup_strv_free_ char **lines = load_corpus();
        size_t n = strv_length(lines), checked = 0;
        for (size_t i = 0; i < n; i += n / 40) {
                char *a = lines[i], *b = strchr(a, '\t');
                *b++ = 0;
                *strchr(b, '\t') = 0;
                const char *o = oracle(a, b);
                ASSERT_TRUE(o);
                ASSERT_STREQ(order_string(version_compare(a, b)), o);
                checked++;
        }
        fprintf(stderr, "%zu pairs agree with systemd-analyze run now\n", checked);
}

TEST(examples) {
        ASSERT_TRUE(version_compare("1.2~rc1", "1.2") < 0);
        ASSERT_TRUE(version_compare("1.2", "1.2-1") < 0);
        ASSERT_TRUE(version_compare("1.2-1", "1.2^1") < 0);
        ASSERT_TRUE(version_compare("1.2^1", "1.2.1") < 0);
        ASSERT_TRUE(version_compare("1.2.1", "1.2a") < 0);
        ASSERT_TRUE(version_compare("1.2a", "1.21") < 0);
        ASSERT_TRUE(version_compare("1.10", "1.9") > 0);
        ASSERT_TRUE(version_compare("001", "1") == 0);
        ASSERT_TRUE(version_compare("abc", "abcd") < 0);
        ASSERT_TRUE(version_compare(NULL, "1") < 0);
        ASSERT_TRUE(version_compare("1_2", "1.2") > 0); /* the separator is skipped, "." is not */
}

TESTS_MAIN
