/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What graft-update remembers across runs and reboots, in ROOT/var/lib/graft/update/: the
 * versions marked bad (COMPONENT.bad: a version whose health check failed is never picked again
 * until a person clears the mark), and the update in flight (COMPONENT.pending: placed and
 * switched to, health not yet confirmed; a run that finds it finishes the job: checks health and
 * keeps or rolls back). "default" names the component of sysupdate.d/. Files are replaced
 * atomically (written aside, fsynced, renamed, directory fsynced). */
#pragma once

#include "error.h"

typedef struct BadMark {
        char *version;
        uint64_t when_usec; /* CLOCK_REALTIME */
        char *reason;
} BadMark;

typedef struct BadMarks {
        BadMark *marks;
        size_t n;
} BadMarks;

void bad_marks_done(BadMarks *m);
int bad_marks_load(const char *root, const char *component, BadMarks *ret, GraftError *err);
const BadMark *bad_marks_find(const BadMarks *m, const char *version);
/* Adds (or replaces) the mark of version. */
int bad_mark_add(const char *root, const char *component, const char *version, const char *reason, GraftError *err);
/* Removes it; -ENOENT with GRAFT_ERROR_INVALID_ARGUMENT if version carries none. */
int bad_mark_clear(const char *root, const char *component, const char *version, GraftError *err);

typedef struct PendingUpdate {
        char *version;   /* switched to, health unconfirmed */
        char *previous;  /* what ran before (NULL: nothing did) */
} PendingUpdate;

void pending_update_done(PendingUpdate *p);
/* 1 and *ret if an update is in flight, 0 if none. */
int pending_update_load(const char *root, const char *component, PendingUpdate *ret, GraftError *err);
int pending_update_save(const char *root, const char *component, const PendingUpdate *p, GraftError *err);
int pending_update_clear(const char *root, const char *component, GraftError *err);
