/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock every state-changing operation on a root takes, whichever way it came in (a CLI
 * in-process, graftd on a caller's behalf, a boot unit): one file per root and key ("portable",
 * "sysext", "confext") in ROOT/run/graft/locks/, held with flock() for the whole operation. The
 * kernel drops it when the holder dies, so a crash never leaves it taken. The holder writes who
 * it is into the file, so that a waiter can say whom it waits for. The directory is created 0700
 * and must belong to us: nobody else can open the file, so nobody else can hold it.
 *
 * Next to the lock, the holder may keep the record of a change it is making (KEY.intent, see
 * op_lock_intent_write()): written before the first step that others can see and removed after
 * the last, it tells whoever takes the lock next that its holder died half way. Nobody but root
 * can write the directory, so nobody else can plant a record that root would act on. */
#pragma once

#include "error.h"

/* Default wait for a holder; GRAFT_LOCK_TIMEOUT_SEC overrides it (tests). */
#define OP_LOCK_TIMEOUT_USEC (60u * 1000000u)

typedef struct OpLockRequest {
        const char *root;      /* NULL or "/": the host */
        const char *key;       /* a file name: "portable", "sysext", "confext" */
        const char *what;      /* what the holder does, e.g. "pctl attach foo.raw" (for waiters) */
        uint64_t timeout_usec; /* 0: OP_LOCK_TIMEOUT_USEC (or the environment's) */
        /* Called once when the lock is held by another, before waiting; holder is the holder's
         * line ("pid 123 (sextctl): merge, since 10:01:02") or "another process". May be NULL. */
        void (*on_wait)(const char *holder, void *userdata);
        void *userdata;
        bool no_wait;          /* held by another: -EBUSY (GRAFT_ERROR_CONFLICT) at once, no on_wait */
} OpLockRequest;

typedef struct OpLock {
        int fd;     /* -EBADF: not held */
        int dir_fd; /* the lock directory, while held */
        char *key;
} OpLock;

#define OP_LOCK_INIT ((OpLock) { .fd = -EBADF, .dir_fd = -EBADF })

/* Takes the lock, waiting for its holder up to the timeout. On timeout -EBUSY with
 * GRAFT_ERROR_CONFLICT naming the holder. */
int op_lock_take(const OpLockRequest *q, OpLock *ret, GraftError *err);
/* Releases (closes) it; accepts a lock not held. */
void op_lock_release(OpLock *l);

/* The holder's record of the change it is making, as text of the caller's format: written to a
 * temporary file and renamed over KEY.intent, so that it is either the old record or the new one,
 * whole (not fsync'd: it describes this boot's mounts, which a power cut takes along; see
 * op-lock.c). Recovery reads it after taking the lock (0 and
 * *ret = NULL when there is none) and removes it once the change is finished or undone. A
 * temporary file left by a holder that died while writing is removed when the lock is taken. */
int op_lock_intent_write(const OpLock *l, const char *text, GraftError *err);
int op_lock_intent_read(const OpLock *l, char **ret, GraftError *err);
int op_lock_intent_remove(const OpLock *l, GraftError *err);
/* Whether ROOT's KEY lock has a record (or half of one) next to it, without taking the lock (a
 * cheap test before trying to take it for recovery). False when the directory cannot be read. */
bool op_lock_intent_exists(const char *root, const char *key);

/* Who holds the lock now: 1 and *ret (the holder's line) if held, 0 if free. For status output. */
int op_lock_holder(const char *root, const char *key, char **ret);
