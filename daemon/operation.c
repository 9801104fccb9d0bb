/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the operation queue (see operation.h): waiting list, keys in use, the workers each caller
 * and each kind of request may take, the read timeout, one thread per running operation, and the
 * way back to the main loop (a pipe carrying finished operations). */
#include <assert.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "bus-util.h"
#include "daemon-event.h"
#include "daemon-log.h"
#include "escape.h"
#include "fault.h"
#include "operation.h"
#include "strv.h"
#include "time-util.h"

#define DEFAULT_MAX_WORKERS 8
#define DEFAULT_READ_TIMEOUT_USEC (60 * 1000000ULL)
/* Beyond the pool: workers only cheap reads may take, and (after those) workers only root may. */
#define RESERVED_CHEAP_READS 2u
#define RESERVED_ROOT 2u
/* Requests of one unprivileged caller that may wait; more are refused at once. */
#define CALLER_MAX_WAITING 16u

/* Reads that do not open images: what an operator or a boot needs answered whatever else runs. */
static const char * const cheap_reads[] = { "ListImages", "GetImageState", "GetImageStateMatching", "List", "Status",
                                             NULL };

/* What one caller has running and waiting. */
typedef struct CallerLoad {
        uid_t uid;
        unsigned running, waiting;
} CallerLoad;

struct OperationQueue {
        Manager *manager;
        Operation *waiting, *waiting_tail;
        Operation *running;       /* unordered */
        size_t n_waiting, n_running, n_abandoned;
        unsigned max_workers;
        unsigned caller_max_running;
        uint64_t read_timeout_usec;
        CallerLoad *callers;
        size_t n_callers;
        char **busy_keys;
        int pipe[2];              /* workers write finished operations here */
        sd_event_source *source;
};


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

void operation_add_field(Operation *op, const char *key, const char *value) {
        if (value && strv_extendf(&op->fields, "%s=%s", key, value) < 0)
                daemon_log(LOG_WARNING, "%s: cannot keep %s for the journal", op->description, key);
}

/* The journal entry of a refused or failed operation: its own fields, what was called, the error. */
static void refusal(const Operation *op, const char *error_name, const char *format, ...) _printf_(3, 4);
static void refusal(const Operation *op, const char *error_name, const char *format, ...) {
        _cleanup_strv_free_ char **f = strv_copy(op->fields);
        const char *member = sd_bus_message_get_member(op->call);
        if ((op->fields && !f) || strv_extendf(&f, "OPERATION=%s", strna(member)) < 0 ||
            (error_name && strv_extendf(&f, "ERROR=%s", error_name) < 0) ||
            (op->uid != (uid_t) -1 && strv_extendf(&f, "CALLER_UID=%u", (unsigned) op->uid) < 0)) {
                daemon_log(LOG_NOTICE, "%s: refused or failed (and out of memory for its journal entry)", op->description);
                return;
        }
        va_list ap;
        va_start(ap, format);
        (void) daemon_eventv(DAEMON_EVENT_REFUSAL, LOG_NOTICE, f, format, ap);
        va_end(ap);
}

Operation *operation_free(Operation *op) {
        if (!op)
                return NULL;
        sd_event_source_disable_unref(op->deadline);
        sd_bus_slot_unref(op->auth.slot);
        sd_bus_message_unref(op->call);
        if (op->free_data)
                op->free_data(op->data);
        graft_error_done(&op->error);
        free(op->key);
        free(op->description);
        strv_free(op->fields);
        free(op);
        return NULL;
}

size_t operation_queue_pending(const OperationQueue *q) {
        return q ? q->n_waiting + q->n_running - q->n_abandoned : 0;
}

size_t operation_queue_running_changes(const OperationQueue *q) {
        size_t n = 0;
        for (const Operation *op = q ? q->running : NULL; op; op = op->next)
                n += op->key && !op->abandoned;
        return n;
}

static CallerLoad *caller_find(OperationQueue *q, uid_t uid) {
        for (size_t i = 0; i < q->n_callers; i++)
                if (q->callers[i].uid == uid)
                        return &q->callers[i];
        return NULL;
}

static CallerLoad *caller_load(OperationQueue *q, uid_t uid) {
        CallerLoad *c = caller_find(q, uid);
        if (c)
                return c;
        c = reallocarray(q->callers, q->n_callers + 1, sizeof(*c));
        if (!c)
                return NULL;
        q->callers = c;
        c[q->n_callers] = (CallerLoad) { .uid = uid };
        return &c[q->n_callers++];
}

/* Forgets a caller with nothing running or waiting. */
static void caller_forget_idle(OperationQueue *q, CallerLoad *c) {
        if (c->running > 0 || c->waiting > 0)
                return;
        *c = q->callers[--q->n_callers];
}

static void *worker(void *userdata) {
        Operation *op = userdata;
        Manager *m = op->manager;
        fault_stall(sd_bus_message_get_member(op->call));
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

/* Takes op out of the waiting list (prev: the one before it, NULL if first). */
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

/* A waiting operation that will not run: answered, then freed. */
static void drop_waiting(OperationQueue *q, Operation *prev, Operation *op, const char *name, const char *message) {
        unlink_waiting(q, prev, op);
        CallerLoad *c = caller_find(q, op->uid);
        c->waiting--;
        caller_forget_idle(q, c);
        (void) sd_bus_reply_method_errorf(op->call, name, "%s", message);
        operation_free(op);
}

static void unlink_running(OperationQueue *q, Operation *op) {
        for (Operation **p = &q->running; *p; p = &(*p)->next)
                if (*p == op) {
                        *p = op->next;
                        break;
                }
        op->next = NULL;
        q->n_running--;
        CallerLoad *c = caller_find(q, op->uid);
        c->running--;
        caller_forget_idle(q, c);
}

/* Whether op may take a worker now: its key is free, its caller (unless root) is below its share,
 * and a worker is left for its kind: the pool, then the cheap reads' reserve, then root's. */
static bool may_start(OperationQueue *q, const Operation *op) {
        if (key_busy(q, op->key))
                return false;
        if (op->uid != 0 && caller_find(q, op->uid)->running >= q->caller_max_running)
                return false;
        unsigned limit = q->max_workers;
        if (op->cheap || op->uid == 0)
                limit += RESERVED_CHEAP_READS;
        if (op->uid == 0)
                limit += RESERVED_ROOT;
        return q->n_running < limit;
}

static void start_worker(OperationQueue *q, Operation *op) {
        CallerLoad *c = caller_find(q, op->uid);
        c->waiting--;
        c->running++;
        op->next = q->running;
        q->running = op;
        q->n_running++;
        if (op->key && strv_extend(&q->busy_keys, op->key) < 0)
                op->r = -ENOMEM;
        op->started_usec = now_usec();
        int r = op->r < 0 ? op->r : -pthread_create(&op->thread, NULL, worker, op);
        if (r < 0) { /* no thread: it finishes (fails) through the pipe like any other */
                op->r = r;
                op->thread = 0;
                op->finished_usec = now_usec();
                if (write(q->pipe[1], &op, sizeof(op)) != sizeof(op))
                        abort(); /* cannot happen: the pipe holds thousands, and only we read it */
        }
}

/* Starts every waiting operation that may start (may_start()), in order. One that must wait keeps
 * the ones behind it with the same key waiting as long as that key is busy; a caller at its share
 * or a full pool does not hold back root's requests and the cheap reads. */
static void dispatch(OperationQueue *q) {
        Operation *prev = NULL, *op = q->waiting;
        while (op) {
                Operation *next = op->next;
                if (may_start(q, op)) {
                        unlink_waiting(q, prev, op);
                        start_worker(q, op);
                } else
                        prev = op;
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

static void who(const Operation *op, char buf[static 32]) {
        buf[0] = 0;
        if (op->uid != (uid_t) -1)
                snprintf(buf, 32, " (uid %u)", (unsigned) op->uid);
}

static void log_finished(const Operation *op) {
        uint64_t wait = (op->started_usec - op->queued_usec) / 1000, run = (op->finished_usec - op->started_usec) / 1000;
        char w[32];
        who(op, w);
        if (op->abandoned)
                daemon_log(LOG_NOTICE, "%s%s: ended after %" PRIu64 " ms, after it was abandoned", op->description, w, run);
        else if (op->r >= 0)
                daemon_log(op->key ? LOG_INFO : LOG_DEBUG, "%s%s: done in %" PRIu64 " ms (waited %" PRIu64 " ms)",
                           op->description, w, run, wait);
        else if (op->key) /* a change that did not happen: one for the journal's refusals */
                refusal(op, op->error.name, "%s%s: failed after %" PRIu64 " ms: %s", op->description, w, run,
                        graft_error_is_set(&op->error) && op->error.message ? op->error.message : strerror(-op->r));
        else
                daemon_log(LOG_DEBUG, "%s%s: failed after %" PRIu64 " ms: %s", op->description, w, run,
                           graft_error_is_set(&op->error) && op->error.message ? op->error.message : strerror(-op->r));
}

/* A running read that graftd stops waiting for: answered now, its worker left to end (it changes
 * nothing); until then it counts against its caller and the pool. */
static void abandon(OperationQueue *q, Operation *op, const char *name, const char *message) {
        assert(!op->key);
        op->abandoned = true;
        q->n_abandoned++;
        op->deadline = sd_event_source_disable_unref(op->deadline);
        char w[32];
        who(op, w);
        daemon_log(LOG_NOTICE, "%s%s: abandoned after %" PRIu64 " ms: %s", op->description, w,
                   (now_usec() - op->started_usec) / 1000, message);
        (void) sd_bus_reply_method_errorf(op->call, name, "%s: %s", op->description, message);
}

static void reply(Operation *op) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = op->r;
        if (r >= 0) {
                r = sd_bus_message_new_method_return(op->call, &m);
                if (r >= 0 && op->reply)
                        r = op->reply(op, m);
                if (r >= 0)
                        r = sd_bus_send(NULL, m, NULL);
                else
                        (void) bus_reply_graft_error(op->call, NULL, r);
        } else
                r = bus_reply_graft_error(op->call, &op->error, op->r);
        if (r < 0)
                daemon_log(LOG_DEBUG, "%s: cannot reply (caller gone?): %s", op->description, strerror(-r));
}

/* Main thread: the reply (which goes nowhere if the caller left; the work is done either way;
 * none if the operation was abandoned), the signals, the next operations. */
static void finish(OperationQueue *q, Operation *op) {
        if (op->thread)
                pthread_join(op->thread, NULL);
        unlink_running(q, op);
        release_key(q, op->key);
        log_finished(op);
        if (op->abandoned)
                q->n_abandoned--;
        else {
                op->deadline = sd_event_source_disable_unref(op->deadline);
                reply(op);
                if (op->r >= 0 && op->done)
                        op->done(op);
        }
        Manager *m = op->manager;
        operation_free(op);
        dispatch(q);
        manager_activity(m);
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

static int on_read_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Operation *op = userdata;
        OperationQueue *q = op->manager->queue;
        unsigned sec = (unsigned) (q->read_timeout_usec / 1000000u);
        _cleanup_free_ char *msg = NULL;
        if (!op->started_usec) {
                Operation *prev = NULL;
                for (Operation *i = q->waiting; i && i != op; i = i->next)
                        prev = i;
                char w[32];
                who(op, w);
                if (asprintf(&msg, "%s: no worker was free for it within %u s (graftd is busy)", op->description,
                             sec) < 0)
                        msg = NULL;
                daemon_log(LOG_NOTICE, "%s%s: not started within %u s", op->description, w, sec);
                drop_waiting(q, prev, op, SD_BUS_ERROR_TIMEOUT, strna(msg));
        } else {
                if (asprintf(&msg, "no result within %u s; graftd stopped waiting for it (it may be stuck on a file "
                             "system or device that does not answer; it changed nothing)", sec) < 0)
                        msg = NULL;
                abandon(q, op, SD_BUS_ERROR_TIMEOUT, strna(msg));
        }
        manager_activity(q->manager);
        return 0;
}

int operation_queue_new(Manager *m, unsigned max_workers, uint64_t read_timeout_usec, OperationQueue **ret) {
        OperationQueue *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (OperationQueue) {
                .manager = m,
                .max_workers = max_workers ?: DEFAULT_MAX_WORKERS,
                .read_timeout_usec = read_timeout_usec ?: DEFAULT_READ_TIMEOUT_USEC,
                .pipe = { -EBADF, -EBADF },
        };
        /* A quarter of the pool per unprivileged caller: four of them at the least to fill it. */
        q->caller_max_running = MAX(q->max_workers / 4, 1u);
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
        assert(q->n_running == 0);
        for (Operation *op = q->waiting, *next; op; op = next) {
                next = op->next;
                operation_free(op);
        }
        sd_event_source_disable_unref(q->source);
        safe_close(q->pipe[0]);
        safe_close(q->pipe[1]);
        strv_free(q->busy_keys);
        free(q->callers);
        free(q);
        return NULL;
}

static bool is_cheap(const Operation *op) {
        const char *member = sd_bus_message_get_member(op->call);
        return !op->key && member && strv_contains((char **) cheap_reads, member);
}

void operation_submit(Operation *op) {
        Manager *m = op->manager;
        OperationQueue *q = m->queue;
        if (m->stop_deadline_usec > 0) {
                (void) sd_bus_reply_method_errorf(op->call, GRAFT_ERROR_IO, "graftd is shutting down; the request was not started");
                operation_free(op);
                return;
        }
        CallerLoad *c = caller_load(q, op->uid);
        if (!c) {
                (void) bus_reply_graft_error(op->call, NULL, -ENOMEM);
                operation_free(op);
                return;
        }
        if (op->uid != 0 && c->waiting >= CALLER_MAX_WAITING) {
                refusal(op, SD_BUS_ERROR_LIMITS_EXCEEDED, "%s (uid %u): refused: %u requests of this caller wait already",
                        op->description, (unsigned) op->uid, c->waiting);
                (void) sd_bus_reply_method_errorf(op->call, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                  "%s: %u requests of uid %u wait for graftd already; try again once they are answered",
                                                  op->description, c->waiting, (unsigned) op->uid);
                operation_free(op);
                return;
        }
        c->waiting++;
        op->cheap = is_cheap(op);
        if (q->waiting_tail)
                q->waiting_tail->next = op;
        else
                q->waiting = op;
        q->waiting_tail = op;
        q->n_waiting++;
        if (!op->key && q->read_timeout_usec != UINT64_MAX &&
            sd_event_add_time_relative(m->event, &op->deadline, CLOCK_MONOTONIC, q->read_timeout_usec, 0,
                                       on_read_timeout, op) < 0)
                daemon_log(LOG_WARNING, "%s: cannot set its read timeout", op->description);
        if (key_busy(q, op->key))
                daemon_log(LOG_DEBUG, "%s: waits for the running change of %s", op->description, op->key);
        dispatch(q);
}

void operation_refuse(Operation *op) {
        refusal(op, op->error.name ?: SD_BUS_ERROR_ACCESS_DENIED, "%s (uid %u): refused: %s", op->description,
                (unsigned) op->uid, strna(op->error.message));
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_error_set(&e, op->error.name ?: SD_BUS_ERROR_ACCESS_DENIED, op->error.message);
        (void) sd_bus_reply_method_error(op->call, &e);
        operation_free(op);
}

/* The caller's uid (root's calls have workers of their own, others a share), asked of the bus. */
static uid_t caller_uid(sd_bus_message *call) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid = (uid_t) -1;
        if (sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds) < 0 ||
            (sd_bus_creds_get_euid(creds, &uid) < 0 && sd_bus_creds_get_uid(creds, &uid) < 0))
                return (uid_t) -1;
        return uid;
}

/* polkit's answer came. */
static void on_authorized(void *userdata, int r) {
        Operation *op = userdata;
        Manager *m = op->manager; /* op may be gone once refused or submitted */
        m->n_authorizing--;
        if (r < 0)
                operation_refuse(op);
        else
                operation_submit(op);
        manager_activity(m);
}

int operation_start(Operation *op) {
        if (op->uid == (uid_t) -1)
                op->uid = caller_uid(op->call);
        op->auth = (AuthorizeRequest) {
                .bus = op->manager->bus, .call = op->call, .action = op->action, .description = op->description,
                .uid = op->uid, .error = &op->error, .done = on_authorized, .userdata = op,
        };
        int r = authorize(&op->auth);
        if (r > 0)
                operation_submit(op);
        else if (r == 0)
                op->manager->n_authorizing++;
        else
                operation_refuse(op);
        return 1;
}

void operation_queue_refuse_waiting(OperationQueue *q, const char *message) {
        while (q->waiting)
                drop_waiting(q, NULL, q->waiting, GRAFT_ERROR_IO, message);
        for (Operation *op = q->running; op; op = op->next)
                if (!op->key && !op->abandoned)
                        abandon(q, op, GRAFT_ERROR_IO, "graftd is shutting down; the read was abandoned (it changed nothing)");
}

size_t operation_queue_stop(OperationQueue *q, uint64_t deadline_usec) {
        operation_queue_refuse_waiting(q, "graftd is shutting down; the request was not started");
        while (operation_queue_running_changes(q) > 0) {
                uint64_t now = now_usec();
                if (now >= deadline_usec)
                        break;
                struct pollfd p = { .fd = q->pipe[0], .events = POLLIN };
                if (poll(&p, 1, (int) DIV_ROUND_UP(deadline_usec - now, 1000u)) < 0 && errno != EINTR)
                        break;
                (void) on_finished(NULL, q->pipe[0], 0, q);
        }
        for (const Operation *op = q->running; op; op = op->next) {
                if (op->abandoned)
                        continue;
                char w[32];
                who(op, w);
                daemon_log(LOG_WARNING, "%s%s: still running after %" PRIu64 " ms at the end of the stop grace period: "
                           "exiting anyway, as a crash would; the next start of pctl, sextctl or graftd completes or "
                           "rolls it back", op->description, w, (now_usec() - op->started_usec) / 1000);
        }
        return q->n_running;
}
