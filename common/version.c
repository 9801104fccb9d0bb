/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Written from the UAPI "Version Format Specification": characters outside [0-9A-Za-z~^.-]
 * separate; at the first difference '~' < end < '-' < '^' < '.' < letters < digits; digit runs
 * compare numerically, letter runs bytewise with the longer run newer. The special characters
 * are looked at in a fixed order within one step, and separators are only skipped at the start
 * of a step: that detail decides strings such as "~_1" and is what the oracle
 * (systemd-analyze compare-versions) does too. */
#include <string.h>

#include "macro.h"
#include "version.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_letter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_version_char(char c) {
        return is_digit(c) || is_letter(c) || strchr("~^.-", c);
}

static const char *skip_separators(const char *s) {
        while (*s && !is_version_char(*s))
                s++;
        return s;
}

/* If either side starts with mark, the side that does not is newer; else both drop it. */
static int compare_mark(const char **a, const char **b, char mark) {
        if (**a != mark && **b != mark)
                return 0;
        int r = CMP(**a != mark, **b != mark);
        if (r != 0)
                return r;
        (*a)++;
        (*b)++;
        return 0;
}

static size_t run_length(const char *s, bool (*in_run)(char)) {
        size_t n = 0;
        while (in_run(s[n]))
                n++;
        return n;
}

static int compare_digit_runs(const char *a, size_t na, const char *b, size_t nb) {
        /* An empty run (a letter or separator here) is older than any number. */
        int r = CMP(na > 0, nb > 0);
        if (r != 0)
                return r;
        while (na > 0 && *a == '0')
                a++, na--;
        while (nb > 0 && *b == '0')
                b++, nb--;
        r = CMP(na, nb);
        if (r != 0)
                return r;
        return memcmp(a, b, na);
}

static int compare_letter_runs(const char *a, size_t na, const char *b, size_t nb) {
        int r = memcmp(a, b, MIN(na, nb));
        if (r != 0)
                return r;
        return CMP(na, nb);
}

int version_compare(const char *a, const char *b) {
        if (!a || !b)
                return CMP(a != NULL, b != NULL);

        for (;;) {
                int r;

                a = skip_separators(a);
                b = skip_separators(b);

                r = compare_mark(&a, &b, '~');
                if (r != 0)
                        return CMP(r, 0);

                /* End of either string: the one that goes on is newer. */
                if (*a == '\0' || *b == '\0')
                        return CMP(*a != '\0', *b != '\0');

                const char marks[] = { '-', '^', '.' };
                for (size_t i = 0; i < ELEMENTSOF(marks); i++) {
                        r = compare_mark(&a, &b, marks[i]);
                        if (r != 0)
                                return CMP(r, 0);
                }

                size_t na, nb;
                if (is_digit(*a) || is_digit(*b)) {
                        na = run_length(a, is_digit);
                        nb = run_length(b, is_digit);
                        r = compare_digit_runs(a, na, b, nb);
                } else {
                        na = run_length(a, is_letter);
                        nb = run_length(b, is_letter);
                        r = compare_letter_runs(a, na, b, nb);
                }
                if (r != 0)
                        return CMP(r, 0);
                a += na;
                b += nb;
        }
}
