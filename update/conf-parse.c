/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the configuration file syntax (see conf-parse.h). */
#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "conf-parse.h"
#include "fileio.h"

#define CONF_FILE_MAX (1024u * 1024u)

static char *strip(char *s) {
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* One logical line: physical lines joined where a line ends in a backslash. *pos advances past
 * it, *lines counts the physical lines consumed. */
static int next_logical_line(const char *text, size_t *pos, unsigned *lines, char **ret) {
        size_t n = strlen(text + *pos);
        _cleanup_free_ char *buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;
        size_t k = 0;
        const char *p = text + *pos;
        for (;;) {
                const char *eol = strchr(p, '\n');
                size_t len = eol ? (size_t) (eol - p) : strlen(p);
                (*lines)++;
                memcpy(buf + k, p, len);
                k += len;
                p += len + (eol ? 1 : 0);
                /* A comment line never continues, as in systemd. */
                bool comment = len > 0 && (buf[0] == '#' || buf[0] == ';');
                if (!comment && k > 0 && buf[k - 1] == '\\' && eol) {
                        buf[k - 1] = ' ';
                        continue;
                }
                break;
        }
        buf[k] = '\0';
        *pos = (size_t) (p - text);
        *ret = TAKE_PTR(buf);
        return 0;
}

int conf_parse_text(const char *text, const char *file, ConfAssignmentFn fn, void *userdata, GraftError *err) {
        _cleanup_free_ char *section = strdup("");
        if (!section)
                return -ENOMEM;
        size_t pos = 0, total = strlen(text);
        unsigned line = 0;
        while (pos < total) {
                unsigned start = line + 1;
                _cleanup_free_ char *raw = NULL;
                int r = next_logical_line(text, &pos, &line, &raw);
                if (r < 0)
                        return r;
                char *l = strip(raw);
                if (*l == '\0' || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        size_t n = strlen(l);
                        if (n < 3 || l[n - 1] != ']')
                                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "%s:%u: invalid section header \"%s\"", file, start, l);
                        free(section);
                        section = strndup(l + 1, n - 2);
                        if (!section)
                                return -ENOMEM;
                        continue;
                }
                char *eq = strchr(l, '=');
                if (!eq || eq == l)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s:%u: not a Key=Value assignment: \"%s\"", file, start, l);
                *eq = '\0';
                ConfAssignment a = {
                        .file = file, .line = start, .section = section, .key = strip(l), .value = strip(eq + 1),
                };
                r = fn(&a, userdata, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int conf_parse_file(const char *path, ConfAssignmentFn fn, void *userdata, GraftError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file_at(AT_FDCWD, path, CONF_FILE_MAX, &text, &size);
        if (r < 0)
                return graft_error_set(err, r, r == -ENOENT ? GRAFT_ERROR_MISSING_FILE : GRAFT_ERROR_IO,
                                       "cannot read %s: %s", path, strerror(-r));
        if (strlen(text) != size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INVALID_ARGUMENT, "%s: contains a NUL byte", path);
        return conf_parse_text(text, path, fn, userdata, err);
}

int conf_parse_boolean(const char *s) {
        static const char * const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char * const no[] = { "0", "no", "n", "false", "f", "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}
