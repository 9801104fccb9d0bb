/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Escaping untrusted names (from images, directories) before they go into messages, so a file
 * name cannot carry terminal escape sequences or fake line breaks into an operator's terminal. */
#pragma once

#include "macro.h"

/* Backslash-escapes '\\' and '"', and writes bytes outside 0x20..0x7e as \xNN. malloc'd. */
char *escape_bytes(const void *s, size_t n);
static inline char *escape_string(const char *s) {
        return escape_bytes(s, __builtin_strlen(s));
}
