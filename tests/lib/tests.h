/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal harness for the unit tests: TEST(name) { … } functions run in order by
 * tests_run(); ASSERT_* print file:line and the values, then abort the test binary. Exit status
 * 77 means "skipped" to meson. */
#pragma once

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_TEST_SKIP 77

typedef struct TestCase {
        const char *name;
        void (*func)(void);
} TestCase;

#define TEST(n)                                                                         \
        static void test_##n(void);                                                     \
        static const TestCase test_case_##n                                             \
                __attribute__((used, section("graft_tests"), aligned(sizeof(void *)))) = { \
                        .name = #n, .func = test_##n                                    \
                };                                                                      \
        static void test_##n(void)

extern const TestCase __start_graft_tests[];
extern const TestCase __stop_graft_tests[];

static inline int tests_run(int argc, char **argv) {
        unsigned n = 0;
        for (const TestCase *t = __start_graft_tests; t < __stop_graft_tests; t++) {
                if (argc > 1 && strcmp(argv[1], t->name) != 0)
                        continue;
                fprintf(stderr, "/* %s */\n", t->name);
                t->func();
                n++;
        }
        fprintf(stderr, "%u test case(s) passed\n", n);
        return 0;
}

#define TESTS_MAIN                                     \
        int main(int argc, char **argv) {              \
                return tests_run(argc, argv);          \
        }

#define ASSERT_FAIL_(fmt, ...)                                                                \
        do {                                                                                  \
                fprintf(stderr, "%s:%d: assertion failed: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
                abort();                                                                      \
        } while (0)

#define ASSERT_TRUE(expr)                                                                     \
        do {                                                                                  \
                if (!(expr))                                                                  \
                        ASSERT_FAIL_("%s", #expr);                                            \
        } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_OK(expr)                                                                       \
        do {                                                                                  \
                long long _r = (long long) (expr);                                            \
                if (_r < 0)                                                                   \
                        ASSERT_FAIL_("%s returned %lld (%s)", #expr, _r, strerror((int) -_r)); \
        } while (0)

#define ASSERT_ERRNO(expr, err)                                                               \
        do {                                                                                  \
                long long _r = (long long) (expr);                                            \
                if (_r != (long long) (err))                                                  \
                        ASSERT_FAIL_("%s returned %lld, expected %lld (%s)", #expr, _r,       \
                                     (long long) (err), strerror((int) -(err)));              \
        } while (0)

#define ASSERT_EQ(a, b)                                                                       \
        do {                                                                                  \
                long long _a = (long long) (a), _b = (long long) (b);                         \
                if (_a != _b)                                                                 \
                        ASSERT_FAIL_("%s == %s (%lld != %lld)", #a, #b, _a, _b);              \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                    \
        do {                                                                                  \
                const char *_a = (a), *_b = (b);                                              \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                        \
                        ASSERT_FAIL_("%s == %s (\"%s\" != \"%s\")", #a, #b, _a ?: "(null)",   \
                                     _b ?: "(null)");                                         \
        } while (0)

/* The error record's message contains needle. */
#define ASSERT_MESSAGE_CONTAINS(e, needle)                                                    \
        do {                                                                                  \
                const char *_m = (e)->message;                                                \
                if (!_m || !strstr(_m, (needle)))                                             \
                        ASSERT_FAIL_("message \"%s\" does not contain \"%s\"", _m ?: "(null)", (needle)); \
        } while (0)
