/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "hex.h"

char hexchar(int x) {
        return "0123456789abcdef"[x & 15];
}

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

char *hexmem(const void *p, size_t n) {
        const uint8_t *b = p;
        char *r = malloc(n * 2 + 1);
        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                r[2 * i] = hexchar(b[i] >> 4);
                r[2 * i + 1] = hexchar(b[i] & 15);
        }
        r[n * 2] = 0;
        return r;
}

int unhexmem(const char *s, size_t len, uint8_t **ret, size_t *ret_size) {
        if (len % 2 != 0)
                return -EINVAL;
        _cleanup_free_ uint8_t *b = malloc(len / 2 + 1);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = unhexchar(s[2 * i]), lo = unhexchar(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                b[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret = TAKE_PTR(b);
        *ret_size = len / 2;
        return 0;
}
