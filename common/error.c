/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "error.h"

int graft_error_setv(GraftError *e, int r, const char *name, const char *format, va_list ap) {
        if (!e || e->name)
                return r;

        char *m = NULL;
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        e->name = name;
        e->message = m;
        e->error = r;
        return r;
}

int graft_error_set(GraftError *e, int r, const char *name, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        r = graft_error_setv(e, r, name, format, ap);
        va_end(ap);
        return r;
}

int graft_error_prefix(GraftError *e, int r, const char *format, ...) {
        if (!e || !e->name)
                return r;

        _cleanup_free_ char *p = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&p, format, ap);
        va_end(ap);
        if (k < 0)
                return r;

        char *m = NULL;
        if (asprintf(&m, "%s: %s", p, e->message ?: "") < 0)
                return r;
        free(e->message);
        e->message = m;
        return r;
}

void graft_error_done(GraftError *e) {
        if (!e)
                return;
        free(e->message);
        *e = GRAFT_ERROR_INIT;
}

static const struct {
        const char *name;
        int code;
} exit_codes[] = {
        { GRAFT_ERROR_INVALID_ARGUMENT, EXIT_USAGE },
        { GRAFT_ERROR_NO_SUCH_IMAGE, EXIT_MISSING },
        { GRAFT_ERROR_MISSING_FILE, EXIT_MISSING },
        { GRAFT_ERROR_BAD_IMAGE, EXIT_BAD_IMAGE },
        { GRAFT_ERROR_INTEGRITY, EXIT_INTEGRITY },
        { GRAFT_ERROR_BAD_SIGNATURE, EXIT_SIGNATURE },
        { GRAFT_ERROR_UNTRUSTED, EXIT_SIGNATURE },
        { GRAFT_ERROR_POLICY, EXIT_POLICY },
        { GRAFT_ERROR_UNSUPPORTED, EXIT_FAILED },
        { GRAFT_ERROR_IO, EXIT_FAILED },
        { GRAFT_ERROR_INCOMPATIBLE, EXIT_INCOMPATIBLE },
        { GRAFT_ERROR_CONFLICT, EXIT_CONFLICT },
        { GRAFT_ERROR_UNHEALTHY, EXIT_UNHEALTHY },
};

int graft_error_exit_code(const GraftError *e, int r) {
        if (e && e->name)
                for (size_t i = 0; i < ELEMENTSOF(exit_codes); i++)
                        if (streq(exit_codes[i].name, e->name))
                                return exit_codes[i].code;
        if (r == -EINVAL)
                return EXIT_USAGE;
        if (r == -ENOENT)
                return EXIT_MISSING;
        return r < 0 ? EXIT_FAILED : EXIT_OK;
}
