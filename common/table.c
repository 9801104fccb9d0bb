/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "json-out.h"
#include "strv.h"
#include "table.h"

struct Table {
        char **headers;
        size_t n_columns;
        char **cells; /* n_rows * n_columns, NULL for "-" */
        size_t n_rows;
};

Table *table_new(const char *first, ...) {
        Table *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        va_list ap;
        va_start(ap, first);
        for (const char *h = first; h; h = va_arg(ap, const char *))
                if (strv_extend(&t->headers, h) < 0) {
                        va_end(ap);
                        return table_free(t);
                }
        va_end(ap);
        t->n_columns = strv_length(t->headers);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        strv_free(t->headers);
        free(t);
        return NULL;
}

int table_add_row(Table *t, const char *const *cells) {
        char **c = reallocarray(t->cells, (t->n_rows + 1) * t->n_columns, sizeof(char *));
        if (!c)
                return -ENOMEM;
        t->cells = c;
        char **row = c + t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                row[i] = cells[i] ? strdup(cells[i]) : NULL;
                if (cells[i] && !row[i]) {
                        while (i > 0)
                                free(row[--i]);
                        return -ENOMEM;
                }
        }
        t->n_rows++;
        return 0;
}

int table_add_rowv(Table *t, ...) {
        const char *cells[64];
        if (t->n_columns > ELEMENTSOF(cells))
                return -E2BIG;
        va_list ap;
        va_start(ap, t);
        for (size_t i = 0; i < t->n_columns; i++)
                cells[i] = va_arg(ap, const char *);
        va_end(ap);
        return table_add_row(t, cells);
}

size_t table_rows(const Table *t) {
        return t->n_rows;
}

int table_print(const Table *t, FILE *f, bool legend) {
        size_t width[64] = {};
        if (t->n_columns > ELEMENTSOF(width))
                return -E2BIG;
        for (size_t c = 0; c < t->n_columns; c++) {
                width[c] = legend ? strlen(t->headers[c]) : 1;
                for (size_t r = 0; r < t->n_rows; r++)
                        width[c] = MAX(width[c], strlen(t->cells[r * t->n_columns + c] ?: "-"));
        }
        for (size_t r = legend ? 0 : 1; r <= t->n_rows; r++) {
                for (size_t c = 0; c < t->n_columns; c++) {
                        const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->n_columns + c] ?: "-";
                        if (c + 1 == t->n_columns)
                                fputs(s, f);
                        else
                                fprintf(f, "%-*s ", (int) width[c], s);
                }
                fputc('\n', f);
        }
        return 0;
}

struct json_object *table_to_json(const Table *t) {
        struct json_object *a = json_object_new_array();
        for (size_t r = 0; a && r < t->n_rows; r++) {
                struct json_object *o = json_object_new_object();
                if (!o || json_object_array_add(a, o) < 0)
                        return json_object_put(o), json_object_put(a), NULL;
                for (size_t c = 0; c < t->n_columns; c++) {
                        char key[64];
                        snprintf(key, sizeof key, "%s", t->headers[c]);
                        for (char *k = key; *k; k++)
                                *k = (char) tolower((unsigned char) *k);
                        if (json_add_string(o, key, t->cells[r * t->n_columns + c]) < 0)
                                return json_object_put(a), NULL;
                }
        }
        return a;
}
