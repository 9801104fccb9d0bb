/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What graft-update remembers across runs and reboots, in ROOT/var/lib/graft/update/: the
 * versions marked bad (COMPONENT.bad: a version whose health check failed is never picked again
 * until a person clears the mark), and the update in flight (COMPONENT.pending: written before a
 * version is placed, and again before graft switches to it; cleared once its health check passed
 * or it was rolled back, so a run that finds it knows the last one was cut short: see
 * update_resolve()). "default" names the component of sysupdate.d/. Files are replaced
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

typedef enum PendingPhase {
        PENDING_PLACING,  /* verified and being placed; nothing of it has run yet */
        PENDING_SWITCHED, /* the switch to it began: it may have run, its health is unconfirmed */
        _PENDING_PHASE_MAX,
} PendingPhase;

typedef struct PendingUpdate {
        char *version;       /* being placed or switched to */
        char *previous;      /* what ran before (NULL: nothing did) */
        PendingPhase phase;
} PendingUpdate;

void pending_update_done(PendingUpdate *p);
/* 1 and *ret if an update is in flight, 0 if none. */
int pending_update_load(const char *root, const char *component, PendingUpdate *ret, GraftError *err);
int pending_update_save(const char *root, const char *component, const PendingUpdate *p, GraftError *err);
int pending_update_clear(const char *root, const char *component, GraftError *err);
/* The components with an update in flight (NULL for the default one is "default"), sorted. */
int pending_update_components(const char *root, char ***ret, GraftError *err);
