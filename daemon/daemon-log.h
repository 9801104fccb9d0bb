/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graftd's log: one plain line per message on stderr with a "<N>" syslog priority prefix, which
 * the journal (SyslogLevelPrefix=, on by default) turns into the message's priority. Callable
 * from worker threads (one line is written with one call). */
#pragma once

#include <syslog.h>

#include "error.h"

void daemon_log_set_max_level(int level);
int daemon_log_get_max_level(void);
int daemon_log(int level, const char *format, ...) _printf_(2, 3);
