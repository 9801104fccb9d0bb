/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "env-file.h"
#include "strv.h"

bool env_key_is_valid(const char *key, size_t n) {
        if (n == 0 || (key[0] >= '0' && key[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = key[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                        return false;
        }
        return true;
}

/* Appends the value that starts at *p (up to the end of the line) to *out, undoing quotes and
 * escapes; leaves *p at the end of the line. */
static int parse_value(const char **p, const char *end, char *out) {
        char quote = 0;
        size_t n = 0;
        const char *s = *p;

        while (s < end) {
                char c = *s;
                if (!quote && c == '\n')
                        break;
                if (!quote && (c == '"' || c == '\'')) {
                        quote = c;
                        s++;
                        continue;
                }
                if (quote && c == quote) {
                        quote = 0;
                        s++;
                        continue;
                }
                if (c == '\\' && quote != '\'' && s + 1 < end) {
                        char d = s[1];
                        if (d == '\n') { /* line continuation */
                                s += 2;
                                continue;
                        }
                        /* In double quotes only these are escapes; elsewhere any char is. */
                        if (!quote || strchr("\"\\`$", d)) {
                                out[n++] = d;
                                s += 2;
                                continue;
                        }
                }
                if (!quote && (c == ' ' || c == '\t')) {
                        /* Unquoted whitespace ends the value; the rest of the line is ignored. */
                        while (s < end && *s != '\n')
                                s++;
                        break;
                }
                out[n++] = c;
                s++;
        }
        out[n] = 0;
        *p = s;
        return 0;
}

int env_file_parse(const char *text, size_t size, const char *what, char ***ret, GraftError *err) {
        const char *p = text, *end = text + size;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        if (memchr(text, 0, size))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s contains a NUL byte, it is not a release file", what);

        while (p < end) {
                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                        p++;
                if (p >= end)
                        break;
                const char *eol = memchr(p, '\n', end - p) ?: end;
                const char *eq = memchr(p, '=', eol - p);
                if (*p == '#' || *p == ';' || !eq || !env_key_is_valid(p, eq - p)) {
                        p = eol;
                        continue;
                }

                _cleanup_free_ char *key = strndup(p, eq - p);
                _cleanup_free_ char *value = malloc(end - eq);
                if (!key || !value)
                        return -ENOMEM;
                p = eq + 1;
                parse_value(&p, end, value);

                bool replaced = false;
                for (size_t i = 0; l[i]; i += 2)
                        if (streq(l[i], key)) {
                                free(l[i + 1]);
                                l[i + 1] = TAKE_PTR(value);
                                replaced = true;
                                break;
                        }
                if (!replaced) {
                        if (strv_consume(&l, TAKE_PTR(key)) < 0 || strv_consume(&l, TAKE_PTR(value)) < 0)
                                return -ENOMEM;
                }
        }

        *ret = TAKE_PTR(l);
        return 0;
}
