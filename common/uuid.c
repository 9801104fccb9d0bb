/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "hex.h"
#include "uuid.h"

int uuid_from_string(const char *s, Uuid *ret) {
        Uuid u;
        size_t i = 0;

        if (!s)
                return -EINVAL;
        size_t n = strlen(s);
        bool dashed = n == 36;
        if (n != 36 && n != 32)
                return -EINVAL;

        for (size_t pos = 0; pos < n;) {
                if (dashed && (pos == 8 || pos == 13 || pos == 18 || pos == 23)) {
                        if (s[pos] != '-')
                                return -EINVAL;
                        pos++;
                        continue;
                }
                int hi = unhexchar(s[pos]), lo = unhexchar(s[pos + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                u.bytes[i++] = (uint8_t) (hi << 4 | lo);
                pos += 2;
        }
        if (i != 16)
                return -EINVAL;
        *ret = u;
        return 0;
}

char *uuid_to_string(const Uuid *u, char buf[static UUID_STRING_MAX]) {
        char *p = buf;
        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *p++ = '-';
                *p++ = hexchar(u->bytes[i] >> 4);
                *p++ = hexchar(u->bytes[i] & 15);
        }
        *p = 0;
        return buf;
}

static void swap_fields(const uint8_t in[static 16], uint8_t out[static 16]) {
        const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
        for (size_t i = 0; i < 16; i++)
                out[i] = in[order[i]];
}

void uuid_to_gpt_bytes(const Uuid *u, uint8_t out[static 16]) {
        swap_fields(u->bytes, out);
}

void uuid_from_gpt_bytes(const uint8_t in[static 16], Uuid *ret) {
        swap_fields(in, ret->bytes);
}

void uuid_make_v4(Uuid *u) {
        u->bytes[6] = (u->bytes[6] & 0x0F) | 0x40;
        u->bytes[8] = (u->bytes[8] & 0x3F) | 0x80;
}
