/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --json=short|pretty output of the command-line programs, through json-c. */
#pragma once

#include <json-c/json.h>
#include "macro.h"

typedef enum JsonFormat {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
} JsonFormat;

/* "short", "pretty" or "off"; NULL (a bare --json) means pretty on a tty, short otherwise. */
int json_format_from_string(const char *s, JsonFormat *ret);
void json_print(struct json_object *o, JsonFormat format, FILE *out);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Adds key → string (or null when value is NULL). Returns 0 or -ENOMEM. */
int json_add_string(struct json_object *o, const char *key, const char *value);
int json_add_uint64(struct json_object *o, const char *key, uint64_t value);
int json_add_bool(struct json_object *o, const char *key, bool value);
/* Takes ownership of value. */
int json_add(struct json_object *o, const char *key, struct json_object *value);
