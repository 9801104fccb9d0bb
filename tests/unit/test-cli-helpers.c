/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tables and verb dispatch of the command-line programs. */
#include "json-out.h"
#include "table.h"
#include "tests.h"
#include "verbs.h"

static char *print_to_string(const Table *t, bool legend) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        ASSERT_TRUE(f);
        ASSERT_OK(table_print(t, f, legend));
        fclose(f);
        return buf;
}

TEST(table) {
        _cleanup_(table_freep) Table *t = table_new("NAME", "TYPE", "STATE", NULL);
        ASSERT_TRUE(t);
        ASSERT_OK(table_add_rowv(t, "debugtools", "raw", "merged"));
        ASSERT_OK(table_add_rowv(t, "x", NULL, "-"));
        _cleanup_free_ char *with = print_to_string(t, true), *without = print_to_string(t, false);
        ASSERT_STREQ(with, "NAME       TYPE STATE\ndebugtools raw  merged\nx          -    -\n");
        ASSERT_STREQ(without, "debugtools raw merged\nx          -   -\n");

        _cleanup_json_ struct json_object *j = table_to_json(t);
        ASSERT_STREQ(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                     "[{\"name\":\"debugtools\",\"type\":\"raw\",\"state\":\"merged\"},"
                     "{\"name\":\"x\",\"type\":null,\"state\":\"-\"}]");
}

static int seen;
static int verb_a(int argc, char **argv, void *userdata) {
        seen = argc;
        return 0;
}

TEST(verbs) {
        static const Verb verbs[] = {
                { "status", VERB_ANY, 2, VERB_DEFAULT, verb_a },
                { "merge", 1, 1, 0, verb_a },
                { "attach", 2, VERB_ANY, 0, verb_a },
                {}
        };
        char *none[] = { NULL };
        ASSERT_EQ(dispatch_verb(0, none, verbs, NULL), 0);
        ASSERT_EQ(seen, 1);
        char *merge_extra[] = { (char *) "merge", (char *) "x", NULL };
        ASSERT_EQ(dispatch_verb(2, merge_extra, verbs, NULL), EXIT_USAGE);
        char *attach[] = { (char *) "attach", (char *) "img", (char *) "p1", (char *) "p2", NULL };
        ASSERT_EQ(dispatch_verb(4, attach, verbs, NULL), 0);
        ASSERT_EQ(seen, 4);
        char *attach_none[] = { (char *) "attach", NULL };
        ASSERT_EQ(dispatch_verb(1, attach_none, verbs, NULL), EXIT_USAGE);
        char *bogus[] = { (char *) "bogus", NULL };
        ASSERT_EQ(dispatch_verb(1, bogus, verbs, NULL), EXIT_USAGE);
}

TESTS_MAIN
