/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Progress reporting. Library code takes a ProgressFn and calls it (from any of its threads,
 * possibly concurrently) with the amount done so far; the CLI passes progress_report with a
 * Progress that draws a bar on stderr when stderr is a terminal. */
#pragma once

#include "macro.h"

typedef void (*ProgressFn)(void *userdata, uint64_t done, uint64_t total);

typedef struct Progress Progress;

/* Returns NULL (and draws nothing) when stderr is not a terminal. */
Progress *progress_new(const char *label);
Progress *progress_free(Progress *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Progress *, progress_free);

/* A ProgressFn; userdata is a Progress (or NULL: then it does nothing). */
void progress_report(void *userdata, uint64_t done, uint64_t total);
