/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the text of 20-portable.conf: writing it and reading its marker back (see dropin.h). */
#include <stdarg.h>
#include <string.h>

#include "dropin.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

#define MARKER_BEGIN "# Drop-in created for image '"
#define MARKER_END "', do not edit."
#define RECORD_BEGIN "# graft-portable:"

void portable_marker_done(PortableMarker *m) {
        if (!m)
                return;
        free(m->image);
        strv_free(m->extensions);
        free(m->name);
        free(m->version);
        free(m->root_hash);
        strv_free(m->extension_root_hashes);
        free(m->profile);
        free(m->link);
        strv_free(m->extension_links);
        strv_free(m->created);
        *m = (PortableMarker) {};
}

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return !s || *ret ? 0 : -ENOMEM;
}

static int dup_strv(char * const *l, char ***ret) {
        *ret = l ? strv_copy(l) : NULL;
        return !l || *ret ? 0 : -ENOMEM;
}

int portable_marker_copy(const PortableMarker *m, PortableMarker *ret) {
        _cleanup_(portable_marker_done) PortableMarker c = { .graft = m->graft };
        if (dup_or_null(m->image, &c.image) < 0 || dup_strv(m->extensions, &c.extensions) < 0 ||
            dup_or_null(m->name, &c.name) < 0 || dup_or_null(m->version, &c.version) < 0 ||
            dup_or_null(m->root_hash, &c.root_hash) < 0 ||
            dup_strv(m->extension_root_hashes, &c.extension_root_hashes) < 0 ||
            dup_or_null(m->profile, &c.profile) < 0 || dup_or_null(m->link, &c.link) < 0 ||
            dup_strv(m->extension_links, &c.extension_links) < 0 || dup_strv(m->created, &c.created) < 0)
                return -ENOMEM;
        *ret = c;
        c = (PortableMarker) {};
        return 0;
}

/* A growing string. */
typedef struct Buf {
        char *s;
        size_t n;
        bool oom;
} Buf;

static void buf_printf(Buf *b, const char *format, ...) _printf_(2, 3);
static void buf_printf(Buf *b, const char *format, ...) {
        if (b->oom)
                return;
        va_list ap;
        va_start(ap, format);
        char *piece = NULL;
        int k = vasprintf(&piece, format, ap);
        va_end(ap);
        char *g = k < 0 ? NULL : realloc(b->s, b->n + (size_t) k + 1);
        if (!g) {
                free(piece);
                b->oom = true;
                return;
        }
        memcpy(g + b->n, piece, (size_t) k + 1);
        b->s = g;
        b->n += (size_t) k;
        free(piece);
}

static void buf_value(Buf *b, const char *key, const char *value) {
        if (!value)
                return;
        _cleanup_free_ char *e = portable_value_encode(value);
        if (!e) {
                b->oom = true;
                return;
        }
        buf_printf(b, " %s=%s", key, e);
}

static void buf_list(Buf *b, const char *key, char * const *l) {
        if (strv_length(l) == 0)
                return;
        buf_printf(b, " %s=", key);
        STRV_FOREACH(v, l) {
                _cleanup_free_ char *e = portable_value_encode(*v);
                if (!e) {
                        b->oom = true;
                        return;
                }
                buf_printf(b, "%s%s", v == l ? "" : ",", e);
        }
}

static void format_marker(Buf *b, const PortableMarker *m) {
        buf_printf(b, MARKER_BEGIN "%s", m->image);
        STRV_FOREACH(e, m->extensions)
                buf_printf(b, ":%s", *e);
        buf_printf(b, MARKER_END "\n" RECORD_BEGIN);
        buf_value(b, "name", m->name);
        buf_value(b, "version", m->version);
        buf_value(b, "root-hash", m->root_hash ?: "-");
        buf_list(b, "extension-root-hashes", m->extension_root_hashes);
        buf_value(b, "profile", m->profile);
        buf_value(b, "link", m->link);
        buf_list(b, "extension-links", m->extension_links);
        buf_list(b, "created", m->created);
        buf_printf(b, "\n");
}

int portable_dropin_format(const PortableMarker *m, bool image_is_dir, const bool *ext_is_dir, const char *unit,
                           const char *provider, char **ret) {
        Buf b = {};
        format_marker(&b, m);
        if (endswith(unit, ".service")) {
                buf_printf(&b, "\n[Service]\n%s=%s\n", image_is_dir ? "RootDirectory" : "RootImage", m->image);
                buf_printf(&b, "Environment=PORTABLE=%s\n", provider);
                buf_printf(&b, "BindReadOnlyPaths=/etc/os-release:/run/host/os-release\n");
                buf_printf(&b, "LogExtraFields=PORTABLE=%s\n", provider);
                size_t i = 0;
                STRV_FOREACH(e, m->extensions)
                        buf_printf(&b, "%s=%s\n", ext_is_dir[i++] ? "ExtensionDirectories" : "ExtensionImages", *e);
        }
        if (b.oom) {
                free(b.s);
                return -ENOMEM;
        }
        *ret = b.s;
        return 0;
}

static int parse_list(const char *v, size_t n, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i <= n;) {
                size_t k = 0;
                while (i + k < n && v[i + k] != ',')
                        k++;
                char *d = NULL;
                int r = portable_value_decode(v + i, k, &d);
                if (r < 0)
                        return r;
                r = strv_consume(&l, d);
                if (r < 0)
                        return r;
                i += k + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_record(const char *line, size_t n, PortableMarker *m) {
        for (size_t i = 0; i < n;) {
                while (i < n && line[i] == ' ')
                        i++;
                size_t k = 0;
                while (i + k < n && line[i + k] != ' ')
                        k++;
                const char *word = line + i, *eq = memchr(word, '=', k);
                i += k;
                if (!eq)
                        continue;
                size_t kl = (size_t) (eq - word), vl = k - kl - 1;
                const char *v = eq + 1;
                int r = 0;
#define KEY(s) (kl == STRLEN(s) && strncmp(word, s, kl) == 0)
                if (KEY("name"))
                        r = portable_value_decode(v, vl, &m->name);
                else if (KEY("version"))
                        r = portable_value_decode(v, vl, &m->version);
                else if (KEY("root-hash") && !(vl == 1 && v[0] == '-'))
                        r = portable_value_decode(v, vl, &m->root_hash);
                else if (KEY("extension-root-hashes"))
                        r = parse_list(v, vl, &m->extension_root_hashes);
                else if (KEY("profile"))
                        r = portable_value_decode(v, vl, &m->profile);
                else if (KEY("link"))
                        r = portable_value_decode(v, vl, &m->link);
                else if (KEY("extension-links"))
                        r = parse_list(v, vl, &m->extension_links);
                else if (KEY("created"))
                        r = parse_list(v, vl, &m->created);
#undef KEY
                if (r < 0)
                        return r;
        }
        m->graft = true;
        return 0;
}

int portable_marker_parse(const char *text, size_t size, PortableMarker *ret) {
        _cleanup_(portable_marker_done) PortableMarker m = {};
        const char *nl = memchr(text, '\n', size);
        size_t n = nl ? (size_t) (nl - text) : size;
        if (n < STRLEN(MARKER_BEGIN) + STRLEN(MARKER_END) || strncmp(text, MARKER_BEGIN, STRLEN(MARKER_BEGIN)) != 0 ||
            strncmp(text + n - STRLEN(MARKER_END), MARKER_END, STRLEN(MARKER_END)) != 0)
                return -EBADMSG;
        _cleanup_free_ char *inner = strndup(text + STRLEN(MARKER_BEGIN), n - STRLEN(MARKER_BEGIN) - STRLEN(MARKER_END));
        if (!inner)
                return -ENOMEM;
        _cleanup_strv_free_ char **parts = strv_split(inner, ":");
        if (!parts || !parts[0] || parts[0][0] != '/')
                return -EBADMSG;
        m.image = strdup(parts[0]);
        if (!m.image)
                return -ENOMEM;
        if (parts[1]) {
                m.extensions = strv_copy(parts + 1);
                if (!m.extensions)
                        return -ENOMEM;
        }

        if (nl) {
                const char *line = nl + 1, *end = memchr(line, '\n', size - (size_t) (line - text));
                size_t ln = end ? (size_t) (end - line) : size - (size_t) (line - text);
                if (ln >= STRLEN(RECORD_BEGIN) && strncmp(line, RECORD_BEGIN, STRLEN(RECORD_BEGIN)) == 0) {
                        int r = parse_record(line + STRLEN(RECORD_BEGIN), ln - STRLEN(RECORD_BEGIN), &m);
                        if (r < 0)
                                return r;
                }
        }
        *ret = m;
        m = (PortableMarker) {};
        return 0;
}
