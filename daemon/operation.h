/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation queue: every request becomes an operation that runs in a worker thread of its own
 * while the main loop keeps serving. Changes carry a key ("portable", "sysext", "confext"): those
 * with the same key run one at a time, in the order they came; reads (no key) run as soon as a
 * worker is free. A change that started finishes, whether or not its caller is still there to get
 * the reply: the work does not depend on the caller's connection.
 *
 * Slow or stuck work never takes every worker: a caller other than root runs at most a quarter of
 * the workers at once (the rest of its requests wait, at most 16 of them), and beyond the pool two
 * workers are kept for the cheap reads (ListImages, GetImageState, List, Status) and two more for
 * root. A read gets its answer within the read timeout: one that has not finished (or not begun)
 * by then is answered with org.freedesktop.DBus.Error.Timeout and abandoned; its worker still
 * counts against its caller until it ends. Reads change nothing, so abandoning one is safe. */
#pragma once

#include <pthread.h>
#include <systemd/sd-bus.h>

#include "authorize.h"
#include "error.h"
#include "manager.h"
#include "time-util.h"

typedef struct Operation Operation;
/* In the worker thread: the work (a library call). Returns 0 or a negative errno, with op->error. */
typedef int (*OperationRunFn)(Operation *op);
/* In the main thread, after success: the reply's arguments. */
typedef int (*OperationReplyFn)(Operation *op, sd_bus_message *reply);
/* In the main thread, after the reply: signals. */
typedef void (*OperationDoneFn)(Operation *op);

struct Operation {
        Manager *manager;
        sd_bus_message *call;
        char *key;            /* NULL: a read */
        const char *action;   /* polkit action id of a change; NULL: a read, anyone may */
        char *description;    /* "AttachImage foo", for the log */
        char **fields;        /* "KEY=VALUE" (IMAGE=, CLASS=) for the journal entry of a refusal */
        OperationRunFn run;
        OperationReplyFn reply;
        OperationDoneFn done;
        void *data;
        void (*free_data)(void *data);

        uid_t uid;            /* the caller's (-1: unknown, counted as one more unprivileged caller) */
        bool cheap;           /* a read that may use the workers kept for cheap reads */
        bool abandoned;       /* answered already (read timeout, shutdown); the worker runs on */
        sd_bus *systemd;      /* borrowed for the run (live host only) */
        int r;
        GraftError error;
        uint64_t queued_usec, started_usec, finished_usec;
        pthread_t thread;
        AuthorizeRequest auth;     /* while polkit is asked */
        sd_event_source *deadline; /* reads: the read timeout */
        Operation *next;           /* in the waiting list, or in the running list */
};

/* A new operation for a method call (referenced); data is freed with free_data. */
Operation *operation_new(Manager *m, sd_bus_message *call, const char *key, const char *action, void *data,
                         void (*free_data)(void *data));
Operation *operation_free(Operation *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(Operation *, operation_free);
/* Adds " WHAT" (escaped: the log line must not carry a caller's control characters) to the
 * method name that describes the operation in the log. */
void operation_describe(Operation *op, const char *what);
/* A field for the journal entry if the operation is refused or fails (daemon-event.h). */
void operation_add_field(Operation *op, const char *key, const char *value);

/* max_workers 0: 8; read_timeout_usec 0: 60 s, UINT64_MAX: none. */
int operation_queue_new(Manager *m, unsigned max_workers, uint64_t read_timeout_usec, OperationQueue **ret);
/* Only once operation_queue_stop() returned 0: the workers use the manager. */
OperationQueue *operation_queue_free(OperationQueue *q);
/* Operations waiting or running that are still owed an answer (abandoned ones are not). */
size_t operation_queue_pending(const OperationQueue *q);
/* Changes running. */
size_t operation_queue_running_changes(const OperationQueue *q);

/* Authorizes (authorize.c) and queues: the caller's method handler returns 1 (reply comes later).
 * Takes the operation; on a refusal it replies with the error and frees it. */
int operation_start(Operation *op);
/* Replies op->error (an authorization refusal) and frees op. */
void operation_refuse(Operation *op);
/* Queues an authorized operation. */
void operation_submit(Operation *op);
/* Shutting down: replies an error to every operation still waiting (none has begun: nothing is
 * half done) and to every read running, which is abandoned. Changes keep running. */
void operation_queue_refuse_waiting(OperationQueue *q, const char *message);
/* After the loop: waits until no change runs or until deadline_usec (CLOCK_MONOTONIC), logs the
 * changes still running then, and returns the number of worker threads still running
 * (abandoned reads included). */
size_t operation_queue_stop(OperationQueue *q, uint64_t deadline_usec);
