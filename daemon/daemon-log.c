/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graftd's log lines (see daemon-log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "daemon-log.h"

static int max_level = LOG_INFO;

void daemon_log_set_max_level(int level) {
        max_level = level;
}

int daemon_log_get_max_level(void) {
        return max_level;
}

int daemon_log(int level, const char *format, ...) {
        if (level > max_level)
                return 0;
        char *m = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&m, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        /* One write per line, so that lines of concurrent workers never interleave. */
        fprintf(stderr, "<%d>%s\n", level, m);
        free(m);
        return 0;
}
