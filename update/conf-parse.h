/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading systemd-style configuration files (transfer files and their drop-ins): "[Section]"
 * headers, "Key=Value" assignments, '#' and ';' comments, a trailing backslash continuing a line.
 * The parser hands each assignment to a callback with the file and line it came from, so that
 * every message can point at it. */
#pragma once

#include "error.h"

typedef struct ConfAssignment {
        const char *file;    /* as given to conf_parse_file() */
        unsigned line;       /* 1-based, the line the assignment starts on */
        const char *section; /* without brackets; "" before the first header */
        const char *key;
        const char *value;   /* leading and trailing whitespace removed */
} ConfAssignment;

/* Returns 0 to go on or a negative errno (with err set) to stop the parse. */
typedef int (*ConfAssignmentFn)(const ConfAssignment *a, void *userdata, GraftError *err);

/* Parses text; "file" names it in messages. A line that is neither a header, a comment nor an
 * assignment is -EBADMSG with GRAFT_ERROR_INVALID_ARGUMENT ("FILE:LINE: …"). */
int conf_parse_text(const char *text, const char *file, ConfAssignmentFn fn, void *userdata, GraftError *err);

/* Reads (at most 1 MiB) and parses the file at path. */
int conf_parse_file(const char *path, ConfAssignmentFn fn, void *userdata, GraftError *err);

/* systemd's booleans: 1/yes/y/true/t/on and 0/no/n/false/f/off (any case); -EINVAL otherwise. */
int conf_parse_boolean(const char *s);
