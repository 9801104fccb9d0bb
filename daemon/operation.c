/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the operation queue (see operation.h): waiting list, keys in use, one thread per running
 * operation, and the way back to the main loop (a pipe carrying finished operations). */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "bus-util.h"
#include "daemon-log.h"
#include "escape.h"
#include "operation.h"
#include "strv.h"

#define DEFAULT_MAX_WORKERS 8

struct OperationQueue {
        Manager *manager;
        Operation *waiting, *waiting_tail;
        size_t n_waiting, n_running;
        unsigned max_workers;
        char **busy_keys;
        int pipe[2];              /* workers write finished operations here */
        sd_event_source *source;
};

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

Operation *operation_new(Manager *m, sd_bus_message *call, const char *key, const char *action, void *data,
                         void (*free_data)(void *data)) {
        Operation *op = calloc(1, sizeof(*op));
        if (!op) {
                if (free_data)
                        free_data(data);
                return NULL;
        }
        *op = (Operation) {
                .manager = m, .call = sd_bus_message_ref(call), .action = action, .data = data,
                .free_data = free_data, .uid = (uid_t) -1, .queued_usec = now_usec(),
        };
        const char *member = sd_bus_message_get_member(call);
        if (asprintf(&op->description, "%s", strna(member)) < 0 || (key && !(op->key = strdup(key))))
                return operation_free(op);
        return op;
}

void operation_describe(Operation *op, const char *what) {
        _cleanup_free_ char *e = escape_string(what);
        char *d = NULL;
        if (e && asprintf(&d, "%s %s", op->description, e) >= 0) {
                free(op->description);
                op->description = d;
        }
}

Operation *operation_free(Operation *op) {
        if (!op)
                return NULL;
        sd_bus_slot_unref(op->auth_slot);
        sd_bus_message_unref(op->call);
        if (op->free_data)
                op->free_data(op->data);
        graft_error_done(&op->error);
        free(op->key);
        free(op->description);
        free(op);
        return NULL;
}

size_t operation_queue_pending(const OperationQueue *q) {
        return q ? q->n_waiting + q->n_running : 0;
}

static void *worker(void *userdata) {
        Operation *op = userdata;
        Manager *m = op->manager;
        if (!m->root)
                op->systemd = manager_borrow_systemd(m);
        op->r = op->run(op);
        if (op->systemd)
                manager_return_systemd(m, TAKE_PTR(op->systemd));
        op->finished_usec = now_usec();
        /* A pointer is far below PIPE_BUF: the write is atomic. The main loop takes it from here. */
        ssize_t k;
        do
                k = write(m->queue->pipe[1], &op, sizeof(op));
        while (k < 0 && errno == EINTR);
        return NULL;
}

static bool key_busy(OperationQueue *q, const char *key) {
        return key && strv_contains(q->busy_keys, key);
}

static void unlink_waiting(OperationQueue *q, Operation *prev, Operation *op) {
        if (prev)
                prev->next = op->next;
        else
                q->waiting = op->next;
        if (q->waiting_tail == op)
                q->waiting_tail = prev;
        op->next = NULL;
        q->n_waiting--;
}

/* Starts every waiting operation whose key is free, in order, while there are workers left. An
 * operation that must wait keeps the ones behind it with the same key waiting too. */
static void dispatch(OperationQueue *q) {
        Operation *prev = NULL, *op = q->waiting;
        while (op && q->n_running < q->max_workers) {
                Operation *next = op->next;
                if (key_busy(q, op->key)) {
                        prev = op;
                        op = next;
                        continue;
                }
                unlink_waiting(q, prev, op);
                if (op->key && strv_extend(&q->busy_keys, op->key) < 0)
                        op->r = -ENOMEM;
                op->started_usec = now_usec();
                q->n_running++;
                int r = op->r < 0 ? op->r : -pthread_create(&op->thread, NULL, worker, op);
                if (r < 0) { /* no thread: it finishes (fails) through the pipe like any other */
                        op->r = r;
                        op->thread = 0;
                        op->finished_usec = now_usec();
                        if (write(q->pipe[1], &op, sizeof(op)) != sizeof(op))
                                abort(); /* cannot happen: the pipe holds thousands, and only we read it */
                }
                op = next;
        }
}

static void release_key(OperationQueue *q, const char *key) {
        if (!key)
                return;
        char **l = q->busy_keys;
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], key)) {
                        free(l[i]);
                        memmove(l + i, l + i + 1, (strv_length(l + i + 1) + 1) * sizeof(char *));
                        return;
                }
}

static void log_finished(const Operation *op) {
        uint64_t wait = (op->started_usec - op->queued_usec) / 1000, run = (op->finished_usec - op->started_usec) / 1000;
        char who[32] = ""; /* reads are not asked who calls */
        if (op->uid != (uid_t) -1)
                snprintf(who, sizeof who, " (uid %u)", (unsigned) op->uid);
        if (op->r >= 0)
                daemon_log(op->key ? LOG_INFO : LOG_DEBUG, "%s%s: done in %" PRIu64 " ms (waited %" PRIu64 " ms)",
                           op->description, who, run, wait);
        else
                daemon_log(op->key ? LOG_NOTICE : LOG_DEBUG, "%s%s: failed after %" PRIu64 " ms: %s", op->description, who,
                           run, graft_error_is_set(&op->error) && op->error.message ? op->error.message : strerror(-op->r));
}

/* Main thread: the reply (which goes nowhere if the caller left; the work is done either way),
 * the signals, the next operations. */
static void finish(OperationQueue *q, Operation *op) {
        if (op->thread)
                pthread_join(op->thread, NULL);
        q->n_running--;
        release_key(q, op->key);
        log_finished(op);

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = op->r;
        if (r >= 0) {
                r = sd_bus_message_new_method_return(op->call, &reply);
                if (r >= 0 && op->reply)
                        r = op->reply(op, reply);
                if (r >= 0)
                        r = sd_bus_send(NULL, reply, NULL);
                else
                        (void) bus_reply_graft_error(op->call, NULL, r);
        } else
                r = bus_reply_graft_error(op->call, &op->error, op->r);
        if (r < 0)
                daemon_log(LOG_DEBUG, "%s: cannot reply (caller gone?): %s", op->description, strerror(-r));
        if (op->r >= 0 && op->done)
                op->done(op);
        Manager *m = op->manager;
        operation_free(op);
        dispatch(q);
        manager_activity(m);
}

static int fd_wait_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, -1) < 0 ? negative_errno() : 0;
}

static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        OperationQueue *q = userdata;
        Operation *ops[64];
        ssize_t k = read(fd, ops, sizeof(ops));
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (size_t i = 0; i < (size_t) k / sizeof(Operation *); i++)
                finish(q, ops[i]);
        return 0;
}

int operation_queue_new(Manager *m, unsigned max_workers, OperationQueue **ret) {
        OperationQueue *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (OperationQueue) { .manager = m, .max_workers = max_workers ?: DEFAULT_MAX_WORKERS, .pipe = { -EBADF, -EBADF } };
        int r = pipe2(q->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ? negative_errno() : 0;
        if (r >= 0) {
                /* Workers must never block on a full pipe: their write end blocks, our end does not. */
                int flags = fcntl(q->pipe[1], F_GETFL);
                if (flags < 0 || fcntl(q->pipe[1], F_SETFL, flags & ~O_NONBLOCK) < 0)
                        r = negative_errno();
        }
        if (r >= 0)
                r = sd_event_add_io(m->event, &q->source, q->pipe[0], EPOLLIN, on_finished, q);
        if (r < 0) {
                operation_queue_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

OperationQueue *operation_queue_free(OperationQueue *q) {
        if (!q)
                return NULL;
        for (Operation *op = q->waiting, *next; op; op = next) {
                next = op->next;
                operation_free(op);
        }
        q->waiting = q->waiting_tail = NULL;
        q->n_waiting = 0;
        /* The loop ended (bus gone) with workers still busy: their work is finished, not cut. */
        while (q->n_running > 0) {
                Operation *op;
                if (read(q->pipe[0], &op, sizeof(op)) == sizeof(op))
                        finish(q, op);
                else if (errno == EAGAIN)
                        (void) fd_wait_readable(q->pipe[0]);
                else if (errno != EINTR)
                        break;
        }
        sd_event_source_disable_unref(q->source);
        safe_close(q->pipe[0]);
        safe_close(q->pipe[1]);
        strv_free(q->busy_keys);
        free(q);
        return NULL;
}

void operation_submit(Operation *op) {
        OperationQueue *q = op->manager->queue;
        if (q->waiting_tail)
                q->waiting_tail->next = op;
        else
                q->waiting = op;
        q->waiting_tail = op;
        q->n_waiting++;
        if (key_busy(q, op->key))
                daemon_log(LOG_DEBUG, "%s: waits for the running change of %s", op->description, op->key);
        dispatch(q);
}

void operation_refuse(Operation *op) {
        daemon_log(LOG_NOTICE, "%s (uid %u): refused: %s", op->description, (unsigned) op->uid, strna(op->error.message));
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_error_set(&e, op->error.name ?: SD_BUS_ERROR_ACCESS_DENIED, op->error.message);
        (void) sd_bus_reply_method_error(op->call, &e);
        operation_free(op);
}

int operation_start(Operation *op) {
        int r = operation_authorize(op);
        if (r > 0)
                operation_submit(op);
        else if (r < 0)
                operation_refuse(op);
        return 1;
}

void operation_queue_refuse_waiting(OperationQueue *q, const char *message) {
        while (q->waiting) {
                Operation *op = q->waiting;
                unlink_waiting(q, NULL, op);
                (void) sd_bus_reply_method_errorf(op->call, GRAFT_ERROR_IO, "%s", message);
                operation_free(op);
        }
}
