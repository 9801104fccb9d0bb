/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns %-specifier expansion (see specifier.h). */
#include <fcntl.h>
#include <string.h>
#include <sys/utsname.h>

#include "dps.h"
#include "fileio.h"
#include "path-util.h"
#include "release-match.h"
#include "specifier.h"
#include "strv.h"

static char *read_line_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        if (read_full_file_at(AT_FDCWD, path, 4096, &text, NULL) < 0)
                return NULL;
        text[strcspn(text, "\n")] = '\0';
        return isempty(text) ? NULL : TAKE_PTR(text);
}

int specifier_context_load(const char *root, SpecifierContext *ret, GraftError *err) {
        SpecifierContext c = { .arch = architecture_to_string(architecture_native()) };
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        int r = host_os_release_read(root, &c.os_release, &e);
        if (r < 0 && r != -ENOENT) {
                specifier_context_done(&c);
                return graft_error_set(err, r, e.name ?: GRAFT_ERROR_IO, "%s", e.message ?: strerror(-r));
        }

        _cleanup_free_ char *mid = path_prefix_root(root, "/etc/machine-id");
        if (!mid) {
                specifier_context_done(&c);
                return -ENOMEM;
        }
        c.machine_id = read_line_file(mid);
        c.boot_id = read_line_file("/proc/sys/kernel/random/boot_id");
        if (c.boot_id) { /* systemd prints ids without dashes */
                char *w = c.boot_id;
                for (char *p = c.boot_id; *p; p++)
                        if (*p != '-')
                                *w++ = *p;
                *w = '\0';
        }
        struct utsname u;
        if (uname(&u) >= 0) {
                c.hostname = strdup(u.nodename);
                c.kernel_release = strdup(u.release);
        }
        *ret = c;
        return 0;
}

void specifier_context_done(SpecifierContext *c) {
        strv_free(c->os_release);
        free(c->machine_id);
        free(c->boot_id);
        free(c->hostname);
        free(c->kernel_release);
        *c = (SpecifierContext) {};
}

static const char *os_field(const SpecifierContext *c, const char *key) {
        return c->os_release ? strv_env_get(c->os_release, key) : NULL;
}

/* The expansion of %x, or -EINVAL for an unknown letter. *ret may be set to NULL: "". */
static int specifier_value(const SpecifierContext *c, char x, const char **ret, char *buf, size_t bufsize) {
        switch (x) {
        case 'a': *ret = c->arch; return 0;
        case 'A': *ret = os_field(c, "IMAGE_VERSION"); return 0;
        case 'b': *ret = c->boot_id; return 0;
        case 'B': *ret = os_field(c, "BUILD_ID"); return 0;
        case 'H': *ret = c->hostname; return 0;
        case 'l':
                snprintf(buf, bufsize, "%s", strempty(c->hostname));
                buf[strcspn(buf, ".")] = '\0';
                *ret = buf;
                return 0;
        case 'm': *ret = c->machine_id; return 0;
        case 'M': *ret = os_field(c, "IMAGE_ID"); return 0;
        case 'o': *ret = os_field(c, "ID"); return 0;
        case 'v': *ret = c->kernel_release; return 0;
        case 'w': *ret = os_field(c, "VERSION_ID"); return 0;
        case 'W': *ret = os_field(c, "VARIANT_ID"); return 0;
        case 'T': *ret = "/tmp"; return 0;
        case 'V': *ret = "/var/tmp"; return 0;
        case '%': *ret = "%"; return 0;
        default: return -EINVAL;
        }
}

int specifier_expand(const SpecifierContext *c, const char *s, const char *what, char **ret, GraftError *err) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = s; *p; p++) {
                if (*p != '%') {
                        fputc(*p, f);
                        continue;
                }
                const char *v = NULL;
                char buf[256];
                if (!p[1] || specifier_value(c, p[1], &v, buf, sizeof buf) < 0) {
                        fclose(f);
                        free(out);
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s: unknown specifier \"%%%c\" in \"%s\"", what, p[1] ? p[1] : ' ', s);
                }
                fputs(strempty(v), f);
                p++;
        }
        if (fclose(f) != 0) {
                free(out);
                return -ENOMEM;
        }
        *ret = out;
        return 0;
}
