/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parser for os-release / extension-release style files: KEY=VALUE lines, shell-like quoting. */
#pragma once

#include "error.h"

/* Parses text (not necessarily NUL-terminated) into a key/value strv (see strv_env_get()).
 * Lines that are not assignments are ignored, as os-release(5) tells readers to do; a later
 * assignment of the same key replaces an earlier one. "what" names the file in messages. */
int env_file_parse(const char *text, size_t size, const char *what, char ***ret, GraftError *err);

/* Whether key is a valid assignment name: [A-Za-z_][A-Za-z0-9_]*. */
bool env_key_is_valid(const char *key, size_t n);
