/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Column tables of the command-line programs ("list", "status"), printed aligned with an optional
 * header line, or turned into a JSON array of objects for --json. */
#pragma once

#include <json-c/json.h>
#include "macro.h"

typedef struct Table Table;

/* Headers, NULL-terminated; the JSON keys are the headers in lower case. */
Table *table_new(const char *first, ...) __attribute__((sentinel));
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* One cell per column; a NULL cell prints as "-" and becomes null in JSON. */
int table_add_row(Table *t, const char *const *cells);
int table_add_rowv(Table *t, ...); /* as many const char * as there are columns */
size_t table_rows(const Table *t);

int table_print(const Table *t, FILE *f, bool legend);
struct json_object *table_to_json(const Table *t);
