/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lock every state-changing operation on a root takes, whichever way it came in (a CLI
 * in-process, graftd on a caller's behalf, a boot unit): one file per root and key ("portable",
 * "sysext", "confext") in ROOT/run/graft/locks/, held with flock() for the whole operation. The
 * kernel drops it when the holder dies, so a crash never leaves it taken. The holder writes who
 * it is into the file, so that a waiter can say whom it waits for. The directory is created 0700
 * and must belong to us: nobody else can open the file, so nobody else can hold it. */
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
} OpLockRequest;

typedef struct OpLock {
        int fd; /* -EBADF: not held */
} OpLock;

#define OP_LOCK_INIT ((OpLock) { .fd = -EBADF })

/* Takes the lock, waiting for its holder up to the timeout. On timeout -EBUSY with
 * GRAFT_ERROR_CONFLICT naming the holder. */
int op_lock_take(const OpLockRequest *q, OpLock *ret, GraftError *err);
/* Releases (closes) it; accepts a lock not held. */
void op_lock_release(OpLock *l);

/* Who holds the lock now: 1 and *ret (the holder's line) if held, 0 if free. For status output. */
int op_lock_holder(const char *root, const char *key, char **ret);
