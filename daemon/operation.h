/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation queue: every request becomes an operation that runs in a worker thread of its own
 * while the main loop keeps serving. Changes carry a key ("portable", "sysext", "confext"): those
 * with the same key run one at a time, in the order they came; reads (no key) run at once. An
 * operation that started always finishes, whether or not its caller is still there to get the
 * reply: the work does not depend on the caller's connection. */
#pragma once

#include <pthread.h>
#include <systemd/sd-bus.h>

#include "error.h"
#include "manager.h"

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
        OperationRunFn run;
        OperationReplyFn reply;
        OperationDoneFn done;
        void *data;
        void (*free_data)(void *data);

        uid_t uid;            /* the caller's, once authorization asked */
        sd_bus *systemd;      /* borrowed for the run (live host only) */
        int r;
        GraftError error;
        uint64_t queued_usec, started_usec, finished_usec;
        pthread_t thread;
        sd_bus_slot *auth_slot;
        Operation *next;
};

/* A new operation for a method call (referenced); data is freed with free_data. */
Operation *operation_new(Manager *m, sd_bus_message *call, const char *key, const char *action, void *data,
                         void (*free_data)(void *data));
Operation *operation_free(Operation *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(Operation *, operation_free);
/* Adds " WHAT" (escaped: the log line must not carry a caller's control characters) to the
 * method name that describes the operation in the log. */
void operation_describe(Operation *op, const char *what);

int operation_queue_new(Manager *m, unsigned max_workers, OperationQueue **ret);
OperationQueue *operation_queue_free(OperationQueue *q);
/* Operations waiting or running. */
size_t operation_queue_pending(const OperationQueue *q);

/* Authorizes (authorize.c) and queues: the caller's method handler returns 1 (reply comes later).
 * Takes the operation; on a refusal it replies with the error and frees it. */
int operation_start(Operation *op);
/* Replies op->error (an authorization refusal) and frees op. */
void operation_refuse(Operation *op);
/* Queues an authorized operation. */
void operation_submit(Operation *op);
/* Replies an error to every operation still waiting (none has begun: nothing is half done). */
void operation_queue_refuse_waiting(OperationQueue *q, const char *message);

/* The polkit action of reads that name a path or pass an image policy (see bus-portable.c). */
#define INSPECT_ACTION "org.graft.inspect-images"

/* authorize.c: decides whether op's caller may run it: 1 yes (now), 0 asked polkit (the answer
 * submits or refuses op later), negative: refused (op->error filled). */
int operation_authorize(Operation *op);
