/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns match patterns (see pattern.h). A pattern is a list of tokens, literal text or a wildcard;
 * matching tries each place where the literal after a wildcard occurs, so "foo_@v.raw" takes
 * "foo_1.raw.raw" apart as version "1.raw" rather than failing at the first ".raw". */
#include <ctype.h>
#include <string.h>

#include "path-util.h"
#include "pattern.h"

static const char pattern_letters[_PATTERN_FIELD_MAX] = {
        [PATTERN_VERSION] = 'v', [PATTERN_UUID] = 'u', [PATTERN_FLAGS] = 'f', [PATTERN_NO_AUTO] = 'a',
        [PATTERN_GROW_FS] = 'g', [PATTERN_READ_ONLY] = 'r', [PATTERN_MTIME] = 't', [PATTERN_MODE] = 'm',
        [PATTERN_SIZE] = 's', [PATTERN_TRIES_DONE] = 'd', [PATTERN_TRIES_LEFT] = 'l', [PATTERN_SHA256] = 'h',
};

static int field_from_letter(char c) {
        for (int i = 0; i < _PATTERN_FIELD_MAX; i++)
                if (pattern_letters[i] == c)
                        return i;
        return -EINVAL;
}

void pattern_fields_done(PatternFields *f) {
        for (size_t i = 0; i < _PATTERN_FIELD_MAX; i++)
                free(f->value[i]);
        *f = (PatternFields) {};
}

int pattern_fields_set(PatternFields *f, PatternField field, const char *value) {
        char *c = NULL;
        if (value && !(c = strdup(value)))
                return -ENOMEM;
        free(f->value[field]);
        f->value[field] = c;
        return 0;
}

bool pattern_version_is_valid(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr(".,_+~^-", *s))
                        return false;
        return true;
}

static bool all_of(const char *s, size_t n, const char *set) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr(set, s[i]))
                        return false;
        return true;
}

static bool field_value_is_valid(PatternField f, const char *s, size_t n) {
        static const char dec[] = "0123456789", hex[] = "0123456789abcdefABCDEF";
        switch (f) {
        case PATTERN_VERSION: {
                _cleanup_free_ char *v = strndup(s, n);
                return v && pattern_version_is_valid(v);
        }
        case PATTERN_UUID:
                if (n != 36)
                        return false;
                for (size_t i = 0; i < n; i++)
                        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr(hex, s[i]))
                                return false;
                return true;
        case PATTERN_FLAGS:
                if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                        s += 2, n -= 2;
                return all_of(s, n, hex);
        case PATTERN_NO_AUTO:
        case PATTERN_GROW_FS:
        case PATTERN_READ_ONLY:
                return n == 1 && (s[0] == '0' || s[0] == '1');
        case PATTERN_MODE:
                return n <= 4 && all_of(s, n, "01234567");
        case PATTERN_SHA256:
                return n == 64 && all_of(s, n, hex);
        default: /* mtime, size, tries */
                return n <= 20 && all_of(s, n, dec);
        }
}

int pattern_validate(const char *pattern, GraftError *err) {
        bool seen[_PATTERN_FIELD_MAX] = {};
        bool previous_wildcard = false;
        if (isempty(pattern))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "empty match pattern");
        if (strchr(pattern, '/'))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "match pattern \"%s\": patterns with '/' (files in subdirectories) are not supported by graft",
                                       pattern);
        for (const char *p = pattern; *p; p++) {
                if (*p != '@') {
                        previous_wildcard = false;
                        continue;
                }
                int f = field_from_letter(p[1]);
                if (f < 0)
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "match pattern \"%s\": unknown wildcard \"@%c\"", pattern,
                                               p[1] ? p[1] : ' ');
                if (seen[f])
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "match pattern \"%s\": @%c is used twice", pattern, p[1]);
                if (previous_wildcard)
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "match pattern \"%s\": two wildcards without text between them", pattern);
                seen[f] = true;
                previous_wildcard = true;
                p++;
        }
        if (!seen[PATTERN_VERSION])
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "match pattern \"%s\" has no @v (version) wildcard", pattern);
        return 0;
}

/* Matches pattern p against name n from these positions on, filling f. */
static bool match_from(const char *p, const char *n, PatternFields *f) {
        while (*p && *p != '@') {
                if (*p != *n)
                        return false;
                p++, n++;
        }
        if (!*p)
                return *n == '\0';

        int field = field_from_letter(p[1]);
        if (field < 0)
                return false;
        p += 2;
        /* The literal that follows the wildcard (up to the next one or the end). */
        size_t lit = strcspn(p, "@");
        if (lit == 0) {
                if (*p) /* two wildcards in a row: refused by pattern_validate() */
                        return false;
                if (!field_value_is_valid(field, n, strlen(n)))
                        return false;
                return pattern_fields_set(f, field, n) >= 0;
        }
        if (!*n)
                return false;
        for (const char *at = n + 1; *at; at++) {
                if (strncmp(at, p, lit) != 0)
                        continue;
                size_t len = (size_t) (at - n);
                if (!field_value_is_valid(field, n, len))
                        continue;
                if (!match_from(p, at, f))
                        continue;
                _cleanup_free_ char *v = strndup(n, len);
                return v && pattern_fields_set(f, field, v) >= 0;
        }
        return false;
}

int pattern_match(const char *pattern, const char *name, PatternFields *ret) {
        PatternFields f = {};
        if (!match_from(pattern, name, &f)) {
                pattern_fields_done(&f);
                return 0;
        }
        if (!f.value[PATTERN_VERSION]) { /* a pattern without @v matches nothing */
                pattern_fields_done(&f);
                return 0;
        }
        if (ret)
                *ret = f;
        else
                pattern_fields_done(&f);
        return 1;
}

int pattern_match_any(char * const *patterns, const char *name, PatternFields *ret) {
        for (char * const *p = patterns; p && *p; p++) {
                int r = pattern_match(*p, name, ret);
                if (r != 0)
                        return r;
        }
        return 0;
}

int pattern_format(const char *pattern, const PatternFields *f, char **ret, GraftError *err) {
        size_t cap = strlen(pattern) + 1;
        for (size_t i = 0; i < _PATTERN_FIELD_MAX; i++)
                cap += f->value[i] ? strlen(f->value[i]) : 0;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        size_t k = 0;
        for (const char *p = pattern; *p; p++) {
                if (*p != '@') {
                        out[k++] = *p;
                        continue;
                }
                int field = field_from_letter(p[1]);
                if (field < 0 || !f->value[field])
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "match pattern \"%s\": no value to fill in for @%c", pattern,
                                               p[1] ? p[1] : ' ');
                size_t n = strlen(f->value[field]);
                memcpy(out + k, f->value[field], n);
                k += n;
                p++;
        }
        out[k] = '\0';
        if (!filename_is_valid(out) || out[0] == '.')
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "match pattern \"%s\" gives \"%s\", which is no valid file name", pattern, out);
        *ret = TAKE_PTR(out);
        return 0;
}
