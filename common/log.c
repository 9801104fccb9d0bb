/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <string.h>

#include "log.h"

static const char *program = "graft";
static int max_level = LOG_INFO;

void log_set_program(const char *name) {
        program = name;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

bool colors_enabled(int fd) {
        static int cached[3] = { -1, -1, -1 };
        if (fd < 0 || fd > 2)
                return false;
        if (cached[fd] < 0) {
                const char *term = getenv("TERM");
                cached[fd] = isatty(fd) && !getenv("NO_COLOR") && !(term && streq(term, "dumb"));
        }
        return cached[fd];
}

#define ANSI(name, seq)                                       \
        const char *name(int fd) {                            \
                return colors_enabled(fd) ? seq : "";         \
        }
ANSI(ansi_highlight_red, "\x1B[0;1;31m")
ANSI(ansi_highlight_green, "\x1B[0;1;32m")
ANSI(ansi_highlight_yellow, "\x1B[0;1;33m")
ANSI(ansi_bold, "\x1B[0;1;39m")
ANSI(ansi_normal, "\x1B[0m")

int log_fullv(int level, int error, const char *format, va_list ap) {
        if (level > max_level)
                return error;

        int saved = errno;
        const char *on = level <= LOG_ERR ? ansi_highlight_red(STDERR_FILENO)
                       : level <= LOG_WARNING ? ansi_highlight_yellow(STDERR_FILENO) : "";
        const char *off = *on ? ansi_normal(STDERR_FILENO) : "";

        fprintf(stderr, "%s%s: ", on, program);
        vfprintf(stderr, format, ap);
        if (error < 0)
                fprintf(stderr, ": %s", strerror(-error));
        fprintf(stderr, "%s\n", off);
        errno = saved;
        return error;
}

int log_full(int level, int error, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = log_fullv(level, error, format, ap);
        va_end(ap);
        return r;
}

int log_graft_error(const GraftError *e, int r, const char *fallback, ...) {
        if (graft_error_is_set(e) && e->message)
                return log_full(LOG_ERR, 0, "%s", e->message), r;

        va_list ap;
        va_start(ap, fallback);
        _cleanup_free_ char *m = NULL;
        if (vasprintf(&m, fallback, ap) < 0)
                m = NULL;
        va_end(ap);
        log_full(LOG_ERR, r, "%s", m ?: fallback);
        return r;
}
