/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "json-out.h"

int json_format_from_string(const char *s, JsonFormat *ret) {
        if (!s)
                *ret = isatty(STDOUT_FILENO) ? JSON_PRETTY : JSON_SHORT;
        else if (streq(s, "short"))
                *ret = JSON_SHORT;
        else if (streq(s, "pretty"))
                *ret = JSON_PRETTY;
        else if (streq(s, "off"))
                *ret = JSON_OFF;
        else
                return -EINVAL;
        return 0;
}

void json_print(struct json_object *o, JsonFormat format, FILE *out) {
        int flags = format == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                          : JSON_C_TO_STRING_PLAIN;
        fputs(json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE), out);
        fputc('\n', out);
}

int json_add(struct json_object *o, const char *key, struct json_object *value) {
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

int json_add_string(struct json_object *o, const char *key, const char *value) {
        struct json_object *v = NULL;
        if (value) {
                v = json_object_new_string(value);
                if (!v)
                        return -ENOMEM;
        }
        return json_add(o, key, v);
}

int json_add_uint64(struct json_object *o, const char *key, uint64_t value) {
        struct json_object *v = json_object_new_uint64(value);
        return v ? json_add(o, key, v) : -ENOMEM;
}

int json_add_bool(struct json_object *o, const char *key, bool value) {
        struct json_object *v = json_object_new_boolean(value);
        return v ? json_add(o, key, v) : -ENOMEM;
}
