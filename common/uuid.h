/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* 128-bit identifiers in string byte order ("4f68bce3-e8cd-…" is bytes 4f 68 bc e3 …). */
#pragma once

#include "macro.h"

typedef struct Uuid {
        uint8_t bytes[16];
} Uuid;

#define UUID_STRING_MAX 37

static inline bool uuid_equal(const Uuid *a, const Uuid *b) {
        return __builtin_memcmp(a->bytes, b->bytes, 16) == 0;
}
static inline bool uuid_is_null(const Uuid *a) {
        static const Uuid null;
        return uuid_equal(a, &null);
}

/* Accepts "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and the 32-hex-digit form, either case. */
int uuid_from_string(const char *s, Uuid *ret);
/* Lowercase, dashed; buf must hold UUID_STRING_MAX bytes. Returns buf. */
char *uuid_to_string(const Uuid *u, char buf[static UUID_STRING_MAX]);
#define UUID_TO_STRING(u) uuid_to_string((u), (char[UUID_STRING_MAX]) {})

/* GPT stores the first three fields little-endian; these convert to and from that layout. */
void uuid_to_gpt_bytes(const Uuid *u, uint8_t out[static 16]);
void uuid_from_gpt_bytes(const uint8_t in[static 16], Uuid *ret);

/* Marks 16 bytes as an RFC 4122 version-4 style UUID (what systemd-repart does to UUIDs it
 * derives from hashes), keeping the rest of the bits. */
void uuid_make_v4(Uuid *u);
