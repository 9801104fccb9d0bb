/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string vectors. */
#pragma once

#include "macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char * const *l);
bool strv_contains(char * const *l, const char *s);
/* Takes ownership of value (freed on failure too). */
int strv_consume(char ***l, char *value);
int strv_extend(char ***l, const char *value);
int strv_extendf(char ***l, const char *format, ...) _printf_(2, 3);
char **strv_copy(char * const *l);
void strv_sort(char **l);
/* Splits on any of the separator characters, dropping empty pieces. */
char **strv_split(const char *s, const char *separators);
char *strv_join(char * const *l, const char *separator);

/* Key/value lists: even-length vectors, key at 2i, value at 2i+1. */
const char *strv_env_get(char * const *l, const char *key);

#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)
#define STRV_FOREACH_PAIR(k, v, l) \
        for (char * const *k = (l), * const *v = (l) ? (l) + 1 : NULL; k && *k; k += 2, v = k + 1)
