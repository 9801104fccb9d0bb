/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hexadecimal encoding of byte strings (root hashes, fingerprints). */
#pragma once

#include "macro.h"

char hexchar(int x);
int unhexchar(char c);
/* Lowercase hex of n bytes, NUL-terminated, malloc'd. */
char *hexmem(const void *p, size_t n);
/* Decodes an even-length hex string (either case). -EINVAL on anything else. */
int unhexmem(const char *s, size_t len, uint8_t **ret, size_t *ret_size);
