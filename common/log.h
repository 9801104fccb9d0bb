/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Messages of the command-line programs and the daemon. Library code does not log: it fills a
 * GraftError. Errors go to stderr as "PROGRAM: message", coloured only on a tty without NO_COLOR. */
#pragma once

#include <syslog.h>
#include "error.h"

void log_set_program(const char *name);
void log_set_max_level(int level); /* LOG_ERR .. LOG_DEBUG */
int log_get_max_level(void);

int log_fullv(int level, int error, const char *format, va_list ap) _printf_(3, 0);
int log_full(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_debug(...) log_full(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, 0, __VA_ARGS__)
/* Appends ": strerror(-r)" and returns r. */
#define log_error_errno(r, ...) log_full(LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full(LOG_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_full(LOG_DEBUG, (r), __VA_ARGS__)

static inline int log_oom(void) {
        return log_error_errno(-ENOMEM, "out of memory");
}

/* Prints the error record if set, else "fallback: strerror(r)". Returns r. */
int log_graft_error(const GraftError *e, int r, const char *fallback, ...) _printf_(3, 4);

/* Whether stdout / stderr should be coloured (a tty, NO_COLOR unset, TERM not dumb). */
bool colors_enabled(int fd);
const char *ansi_highlight_red(int fd);
const char *ansi_highlight_green(int fd);
const char *ansi_highlight_yellow(int fd);
const char *ansi_bold(int fd);
const char *ansi_normal(int fd);
