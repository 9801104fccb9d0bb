/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "escape.h"

char *escape_bytes(const void *s, size_t n) {
        const uint8_t *b = s;
        char *out = malloc(n * 4 + 1), *p = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (b[i] == '\\' || b[i] == '"') {
                        *p++ = '\\';
                        *p++ = (char) b[i];
                } else if (b[i] < 0x20 || b[i] >= 0x7f)
                        p += sprintf(p, "\\x%02x", b[i]);
                else
                        *p++ = (char) b[i];
        }
        *p = 0;
        return out;
}
