/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns org.graft.Update1, the update interface (see org.graft.Manager1(5)): List and CheckNew
 * (reads), Update, MarkBad and Unmark (changes, one at a time under the key "update", polkit
 * action org.graft.update), each the update/ library call graft-update makes in-process; the
 * signals that tell how an update goes (its notes, the download's progress, how it ended), which
 * the workers hand to the main loop through a pipe (sd-bus is not for several threads); and the
 * resolution at start of the updates a crash or a reboot cut short. */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "bus-update.h"
#include "bus-util.h"
#include "daemon-log.h"
#include "operation.h"
#include "strv.h"
#include "update.h"

#define UPDATE_ACTION "org.graft.update"
/* Download progress is signalled at most this often per update. */
#define PROGRESS_INTERVAL_USEC (250u * 1000u)

typedef enum SignalKind { SIGNAL_NOTE, SIGNAL_DOWNLOAD, SIGNAL_FINISHED } SignalKind;

/* A signal a worker wants sent. */
typedef struct PendingSignal {
        SignalKind kind;
        char *component;
        char *text;                 /* NOTE: the line; FINISHED: the error message */
        char *version, *previous;   /* FINISHED */
        const char *error_name;     /* FINISHED: NULL on success (static) */
        uint64_t done, total;       /* DOWNLOAD */
} PendingSignal;

struct BusUpdate {
        Manager *manager;
        int pipe[2];
        sd_event_source *source;
};

static void pending_signal_free(PendingSignal *s) {
        if (!s)
                return;
        free(s->component);
        free(s->text);
        free(s->version);
        free(s->previous);
        free(s);
}

static void emit(Manager *m, const PendingSignal *s) {
        const char *c = strempty(s->component);
        int r;
        if (s->kind == SIGNAL_NOTE)
                r = sd_bus_emit_signal(m->bus, GRAFT_BUS_PATH, GRAFT_BUS_UPDATE_INTERFACE, "Progress", "ss", c, s->text);
        else if (s->kind == SIGNAL_DOWNLOAD)
                r = sd_bus_emit_signal(m->bus, GRAFT_BUS_PATH, GRAFT_BUS_UPDATE_INTERFACE, "DownloadProgress", "stt", c,
                                       s->done, s->total);
        else
                r = sd_bus_emit_signal(m->bus, GRAFT_BUS_PATH, GRAFT_BUS_UPDATE_INTERFACE, "Finished", "sssss", c,
                                       strempty(s->version), strempty(s->previous), strempty(s->error_name),
                                       strempty(s->text));
        if (r < 0)
                daemon_log(LOG_DEBUG, "cannot emit an update signal: %s", strerror(-r));
}

static int on_signal_queued(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        BusUpdate *u = userdata;
        PendingSignal *l[64];
        ssize_t k = read(fd, l, sizeof l);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (size_t i = 0; i < (size_t) k / sizeof(PendingSignal *); i++) {
                if (u->manager->bus)
                        emit(u->manager, l[i]);
                pending_signal_free(l[i]);
        }
        return 0;
}

/* Main thread, when the first update request comes. */
static int bus_update_get(Manager *m, BusUpdate **ret) {
        if (m->update) {
                *ret = m->update;
                return 0;
        }
        BusUpdate *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *u = (BusUpdate) { .manager = m, .pipe = { -EBADF, -EBADF } };
        int r = pipe2(u->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ? -errno : 0;
        /* Workers block on a full pipe rather than lose a signal; the main loop never blocks. */
        if (r >= 0 && fcntl(u->pipe[1], F_SETFL, 0) < 0)
                r = -errno;
        if (r >= 0)
                r = sd_event_add_io(m->event, &u->source, u->pipe[0], EPOLLIN, on_signal_queued, u);
        if (r < 0) {
                bus_update_free(u);
                return r;
        }
        *ret = m->update = u;
        return 0;
}

BusUpdate *bus_update_free(BusUpdate *u) {
        if (!u)
                return NULL;
        sd_event_source_disable_unref(u->source);
        PendingSignal *s;
        while (u->pipe[0] >= 0 && read(u->pipe[0], &s, sizeof s) == sizeof s)
                pending_signal_free(s);
        safe_close(u->pipe[0]);
        safe_close(u->pipe[1]);
        free(u);
        return NULL;
}

/* Worker thread: hands a signal to the main loop (a pointer: the write is atomic). */
static void queue_signal(BusUpdate *u, PendingSignal *s) {
        ssize_t k;
        do
                k = write(u->pipe[1], &s, sizeof s);
        while (k < 0 && errno == EINTR);
        if (k != sizeof s)
                pending_signal_free(s);
}

typedef struct UpdateRequest {
        BusUpdate *signals;
        char *component;       /* NULL: sysupdate.d */
        char *version;         /* Update, MarkBad, Unmark */
        char *reason;          /* MarkBad */
        uint64_t last_progress_usec;
        UpdateContext *context; /* List, CheckNew: read by the reply */
        UpdateResult result;
} UpdateRequest;

static void request_free(void *p) {
        UpdateRequest *q = p;
        if (!q)
                return;
        free(q->component);
        free(q->version);
        free(q->reason);
        update_context_free(q->context);
        update_result_done(&q->result);
        free(q);
}

static void on_note(void *userdata, const char *line) {
        UpdateRequest *q = userdata;
        PendingSignal *s = calloc(1, sizeof(*s));
        if (!s)
                return;
        *s = (PendingSignal) { .kind = SIGNAL_NOTE, .component = q->component ? strdup(q->component) : NULL,
                               .text = strdup(line) };
        queue_signal(q->signals, s);
}

static void on_progress(void *userdata, uint64_t done, uint64_t total) {
        UpdateRequest *q = userdata;
        uint64_t now = now_usec();
        if (done != total && now - q->last_progress_usec < PROGRESS_INTERVAL_USEC)
                return;
        q->last_progress_usec = now;
        PendingSignal *s = calloc(1, sizeof(*s));
        if (!s)
                return;
        *s = (PendingSignal) { .kind = SIGNAL_DOWNLOAD, .component = q->component ? strdup(q->component) : NULL,
                               .done = done, .total = total };
        queue_signal(q->signals, s);
}

/* The library's options for this daemon: its root, its verification cache, its connection to
 * systemd, the notes and progress as signals. */
static UpdateOptions request_options(Operation *op) {
        UpdateRequest *q = op->data;
        return (UpdateOptions) {
                .root = op->manager->root, .component = q->component, .verify = -1,
                .fetch = { .retries = 3, .progress = on_progress, .progress_userdata = q },
                .verify_cache = op->manager->cache, .bus = op->systemd, .on_note = on_note, .userdata = q,
        };
}

static int run_load(Operation *op, bool offline) {
        UpdateRequest *q = op->data;
        UpdateOptions o = request_options(op);
        return update_context_new(&o, offline, &q->context, &op->error);
}

static int run_list(Operation *op) {
        return run_load(op, false);
}

static int reply_list(Operation *op, sd_bus_message *reply) {
        const UpdateContext *c = ((UpdateRequest *) op->data)->context;
        int r = bus_append_string(reply, c->current);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sass)");
        for (size_t i = 0; r >= 0 && i < c->n_versions; i++) {
                const UpdateVersion *v = &c->versions[i];
                _cleanup_strv_free_ char **states = update_version_flags_to_strv(v->flags);
                r = sd_bus_message_open_container(reply, 'r', "sass");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", v->version);
                if (r >= 0)
                        r = bus_append_strv(reply, states);
                if (r >= 0)
                        r = bus_append_string(reply, v->bad ? v->bad->reason : NULL);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int reply_check_new(Operation *op, sd_bus_message *reply) {
        const UpdateContext *c = ((UpdateRequest *) op->data)->context;
        const UpdateVersion *v = update_context_newest_candidate(c);
        int r = bus_append_string(reply, c->current);
        return r < 0 ? r : bus_append_string(reply, v ? v->version : NULL);
}

static int run_update(Operation *op) {
        UpdateRequest *q = op->data;
        int r = run_load(op, false);
        if (r >= 0)
                r = update_place(q->context, q->version, &q->result, &op->error);
        PendingSignal *s = calloc(1, sizeof(*s));
        if (s) {
                *s = (PendingSignal) {
                        .kind = SIGNAL_FINISHED,
                        .component = q->component ? strdup(q->component) : NULL,
                        .version = r >= 0 && q->result.version ? strdup(q->result.version) : NULL,
                        .previous = r >= 0 && q->result.previous ? strdup(q->result.previous) : NULL,
                        .error_name = r < 0 ? op->error.name ?: GRAFT_ERROR_IO : NULL,
                        .text = r < 0 ? strdup(op->error.message ?: strerror(-r)) : NULL,
                };
                queue_signal(q->signals, s);
        }
        return r;
}

static int reply_update(Operation *op, sd_bus_message *reply) {
        const UpdateResult *res = &((UpdateRequest *) op->data)->result;
        int r = bus_append_string(reply, res->version);
        if (r >= 0)
                r = bus_append_string(reply, res->previous);
        if (r >= 0)
                r = sd_bus_message_append(reply, "bb", !res->already_current && !res->older, res->switched);
        if (r >= 0)
                r = bus_append_string(reply, res->resolved);
        if (r >= 0)
                r = bus_append_strv(reply, res->passed_over);
        if (r >= 0)
                r = bus_append_strv(reply, res->placed);
        if (r >= 0)
                r = bus_append_strv(reply, res->removed);
        return r < 0 ? r : sd_bus_message_append(reply, "t", res->bytes_fetched);
}

static int run_mark(Operation *op) {
        UpdateRequest *q = op->data;
        const char *root = op->manager->root;
        if (!q->version)
                return graft_error_set(&op->error, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "no version given");
        if (streq(sd_bus_message_get_member(op->call), "Unmark"))
                return bad_mark_clear(root, q->component, q->version, &op->error);
        return bad_mark_add(root, q->component, q->version, q->reason ?: "marked bad by hand", &op->error);
}

typedef enum Args { ARGS_COMPONENT, ARGS_UPDATE, ARGS_MARK, ARGS_UNMARK } Args;

static int read_args(sd_bus_message *m, Args args, UpdateRequest *q, sd_bus_error *error) {
        int r = bus_read_string(m, &q->component);
        if (r >= 0 && args != ARGS_COMPONENT)
                r = bus_read_string(m, &q->version);
        if (r >= 0 && args == ARGS_MARK)
                r = bus_read_string(m, &q->reason);
        if (r >= 0 && args == ARGS_UPDATE) {
                uint64_t flags;
                r = sd_bus_message_read(m, "t", &flags);
                if (r >= 0 && flags != 0)
                        return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "unknown flags 0x%" PRIx64, flags);
        }
        return r;
}

static int start(sd_bus_message *m, Manager *mgr, Args args, OperationRunFn run, OperationReplyFn reply,
                 sd_bus_error *error) {
        UpdateRequest *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        int r = read_args(m, args, q, error);
        if (r >= 0)
                r = bus_update_get(mgr, &q->signals);
        if (r < 0) {
                request_free(q);
                return r;
        }
        bool change = run != run_list; /* List and CheckNew read */
        Operation *op = operation_new(mgr, m, change ? "update" : NULL, change ? UPDATE_ACTION : NULL, q, request_free);
        if (!op)
                return -ENOMEM;
        operation_describe(op, q->component ?: "default");
        op->run = run;
        op->reply = reply;
        return operation_start(op);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, ARGS_COMPONENT, run_list, reply_list, error);
}

static int method_check_new(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, ARGS_COMPONENT, run_list, reply_check_new, error);
}

static int method_update(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, ARGS_UPDATE, run_update, reply_update, error);
}

static int method_mark_bad(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, ARGS_MARK, run_mark, NULL, error);
}

static int method_unmark(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, ARGS_UNMARK, run_mark, NULL, error);
}

void bus_update_resolve_pending(Manager *m) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        if (pending_update_components(m->root, &l, &e) < 0) {
                daemon_log(LOG_WARNING, "cannot look for unfinished updates: %s", strna(e.message));
                return;
        }
        STRV_FOREACH(comp, l) {
                const char *component = streq(*comp, "default") ? NULL : *comp;
                UpdateOptions o = { .root = m->root, .component = component, .verify = -1, .verify_cache = m->cache };
                _cleanup_(update_context_freep) UpdateContext *c = NULL;
                _cleanup_free_ char *what = NULL;
                GraftError ce = GRAFT_ERROR_INIT;
                int r = update_context_new(&o, true, &c, &ce);
                if (r >= 0)
                        r = update_resolve(c, &what, &ce);
                if (r < 0)
                        daemon_log(LOG_ERR, "component %s: cannot finish the update a crash or a reboot cut short: %s",
                                   *comp, ce.message ?: strerror(-r));
                else if (r > 0)
                        daemon_log(LOG_WARNING, "component %s: %s", *comp, what);
                graft_error_done(&ce);
        }
}

#define UPDATE_RESULT                                                                                                \
        SD_BUS_RESULT("s", version, "s", previous, "b", changed, "b", switched, "s", resolved, "as", passed_over, "as", \
                      placed, "as", removed, "t", bytes_fetched)

const sd_bus_vtable manager_update_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", component), SD_BUS_RESULT("s", current, "a(sass)", versions),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CheckNew", SD_BUS_ARGS("s", component), SD_BUS_RESULT("s", current, "s", available),
                                method_check_new, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", component, "s", version, "t", flags), UPDATE_RESULT,
                                method_update, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkBad", SD_BUS_ARGS("s", component, "s", version, "s", reason), SD_BUS_NO_RESULT,
                                method_mark_bad, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unmark", SD_BUS_ARGS("s", component, "s", version), SD_BUS_NO_RESULT, method_unmark,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", component, "s", message), 0),
        SD_BUS_SIGNAL_WITH_ARGS("DownloadProgress", SD_BUS_ARGS("s", component, "t", done, "t", total), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Finished",
                                SD_BUS_ARGS("s", component, "s", version, "s", previous, "s", error, "s", message), 0),
        SD_BUS_VTABLE_END,
};
