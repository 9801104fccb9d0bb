/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns org.graft.Extensions1, the system and configuration extensions interface (see
 * org.graft.Manager1(5)): each method parses its arguments here, in the main loop, and becomes an
 * operation whose worker calls exactly the sysext library function sextctl calls in-process.
 * Changes of one class (its hierarchies) run one at a time. */
#include <string.h>

#include "bus-policy-arg.h"
#include "bus-util.h"
#include "daemon-event.h"
#include "daemon-log.h"
#include "operation.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-wire.h"

#define EXTENSIONS_ACTION "org.graft.manage-extensions"

typedef struct ExtensionRequest {
        ImageClass class;
        uint64_t flags;
        ImagePolicy policy;
        bool has_policy;
        char **names;        /* MergeNamed, RefreshNamed: only these; SetEnabled: these */
        bool enable;         /* SetEnabled */
        char **changed;      /* SetEnabled: whose state changed */

        SysextListing listing;
        SysextStatus status;
        SysextResult result;
        char lock_who[64];   /* for the operation lock's holder line */
} ExtensionRequest;

static void request_free(void *p) {
        ExtensionRequest *q = p;
        if (!q)
                return;
        sysext_listing_done(&q->listing);
        sysext_status_done(&q->status);
        sysext_result_done(&q->result);
        strv_free(q->names);
        strv_free(q->changed);
        free(q);
}

/* A change waits for the operation lock, held by another program (sextctl --direct, the boot
 * unit) that works on the same root: said in the log, as sextctl says it on stderr. */
static void on_lock_wait(const char *holder, void *userdata) {
        Operation *op = userdata;
        daemon_log(LOG_INFO, "%s waits for another operation to finish: %s", op->description, holder);
}

static void request_options(Operation *op, SysextOptions *o) {
        ExtensionRequest *q = op->data;
        if (op->uid != (uid_t) -1)
                snprintf(q->lock_who, sizeof q->lock_who, "for uid %u", (unsigned) op->uid);
        *o = (SysextOptions) {
                .class = q->class,
                .root = op->manager->root,
                .policy = q->has_policy ? &q->policy : NULL,
                .verify_cache = op->manager->cache,
                .bus = op->systemd,
                .lock_who = q->lock_who[0] ? q->lock_who : NULL,
                .on_lock_wait = on_lock_wait,
                .lock_userdata = op,
        };
        (void) sysext_options_from_bus_flags(q->flags, o);
        o->only = q->names;
}

static int read_class(sd_bus_message *m, ExtensionRequest *q, sd_bus_error *error) {
        const char *class;
        int r = sd_bus_message_read(m, "s", &class);
        if (r < 0)
                return r;
        if (sysext_class_from_string(class, &q->class) < 0)
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT,
                                         "the class must be \"sysext\" or \"confext\", not \"%s\"", class);
        return 0;
}

/* class, flags and (merge, refresh) an image policy. */
static int read_change_args(sd_bus_message *m, ExtensionRequest *q, bool with_policy, sd_bus_error *error) {
        const char *policy = "";
        int r = read_class(m, q, error);
        if (r >= 0)
                r = sd_bus_message_read(m, "t", &q->flags);
        if (r >= 0 && with_policy)
                r = sd_bus_message_read(m, "s", &policy);
        if (r < 0)
                return r;
        SysextOptions dummy = {};
        if (sysext_options_from_bus_flags(q->flags, &dummy) < 0)
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "unknown flags 0x%" PRIx64,
                                         q->flags & ~(uint64_t) _SYSEXT_BUS_FLAGS_ALL);
        return bus_parse_image_policy(policy, &q->policy, &q->has_policy, error);
}

/* names, each a valid image name (at least one). */
static int read_names(sd_bus_message *m, ExtensionRequest *q, sd_bus_error *error) {
        int r = bus_read_strv(m, &q->names);
        if (r < 0)
                return r;
        if (!q->names || !q->names[0])
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "no extension named");
        STRV_FOREACH(n, q->names)
                if (!image_name_is_valid(*n))
                        return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "\"%s\" is not a valid image name", *n);
        return 0;
}

/* class, names, enable. */
static int read_enable_args(sd_bus_message *m, ExtensionRequest *q, sd_bus_error *error) {
        int enable = 0;
        int r = read_class(m, q, error);
        if (r >= 0)
                r = read_names(m, q, error);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &enable);
        q->enable = enable;
        return r;
}

typedef enum Parse { PARSE_CLASS, PARSE_CHANGE, PARSE_CHANGE_WITH_POLICY, PARSE_CHANGE_NAMED, PARSE_ENABLE } Parse;

static int start(sd_bus_message *m, Manager *mgr, Parse parse, OperationRunFn run, OperationReplyFn reply,
                 OperationDoneFn done, sd_bus_error *error) {
        ExtensionRequest *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        int r = parse == PARSE_CLASS    ? read_class(m, q, error)
              : parse == PARSE_ENABLE ? read_enable_args(m, q, error)
                                      : read_change_args(m, q, parse != PARSE_CHANGE, error);
        if (r >= 0 && parse == PARSE_CHANGE_NAMED)
                r = read_names(m, q, error);
        if (r < 0) {
                request_free(q);
                return r;
        }
        bool change = parse != PARSE_CLASS;
        const char *class = sysext_class_to_string(q->class);
        Operation *op = operation_new(mgr, m, change ? class : NULL, change ? EXTENSIONS_ACTION : NULL, q, request_free);
        if (!op)
                return -ENOMEM;
        operation_describe(op, class);
        operation_add_field(op, "CLASS", class);
        op->run = run;
        op->reply = reply;
        op->done = done;
        return operation_start(op);
}

/* List */
static int run_list(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        return sysext_list(&o, &q->listing, &op->error);
}

static int reply_list(Operation *op, sd_bus_message *reply) {
        ExtensionRequest *q = op->data;
        return sysext_listing_append(reply, &q->listing);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CLASS, run_list, reply_list, NULL, error);
}

/* Status */
static int run_status(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        /* Anyone may ask for the status: that must not make graftd change the hierarchies. */
        o.no_recovery = true;
        return sysext_status(&o, &q->status, &op->error);
}

static int reply_status(Operation *op, sd_bus_message *reply) {
        ExtensionRequest *q = op->data;
        return sysext_status_append(reply, &q->status);
}

static int method_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CLASS, run_status, reply_status, NULL, error);
}

/* Merge, Refresh, Unmerge */
static int run_merge(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        return sysext_merge(&o, &q->result, &op->error);
}

static int run_refresh(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        return sysext_refresh(&o, &q->result, &op->error);
}

static int run_unmerge(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        return sysext_unmerge(&o, &q->result, &op->error);
}

static int run_set_enabled(Operation *op) {
        ExtensionRequest *q = op->data;
        SysextOptions o;
        request_options(op, &o);
        return sysext_set_enabled(&o, q->names, q->enable, &q->changed, &op->error);
}

static int reply_set_enabled(Operation *op, sd_bus_message *reply) {
        ExtensionRequest *q = op->data;
        return bus_append_strv(reply, q->changed);
}

static int reply_result(Operation *op, sd_bus_message *reply) {
        ExtensionRequest *q = op->data;
        if (q->result.recovery) /* the wire has no room for it: the log has */
                daemon_log(LOG_WARNING, "%s recovered first: %s", op->description, q->result.recovery);
        if (q->result.measure_note) /* likewise */
                daemon_log(LOG_WARNING, "%s: %s", op->description, q->result.measure_note);
        return sysext_result_append(reply, &q->result);
}

/* Merged(class, hierarchies, extensions) for hierarchies that carry a new merge, Unmerged(class,
 * hierarchies) for those that lost theirs. */
static void done_change(Operation *op) {
        ExtensionRequest *q = op->data;
        const SysextResult *res = &q->result;
        if (res->dry_run)
                return; /* nothing changed */
        _cleanup_strv_free_ char **merged = NULL, **unmerged = NULL, **names = NULL;
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextAction a = res->hierarchies[i].action;
                char ***l = a == SYSEXT_ACTION_UNMERGED ? &unmerged
                          : a == SYSEXT_ACTION_MERGED || a == SYSEXT_ACTION_REPLACED || a == SYSEXT_ACTION_SWAPPED ? &merged
                                                                                                                  : NULL;
                if (l && strv_extend(l, res->hierarchies[i].path) < 0)
                        return;
        }
        for (size_t i = 0; res->plan && i < res->plan->n_images; i++)
                if (!res->plan->images[i].skipped && strv_extend(&names, res->plan->images[i].name) < 0)
                        return;
        const char *class = sysext_class_to_string(q->class);
        int r = 0;
        if (merged) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                r = sd_bus_message_new_signal(op->manager->bus, &m, GRAFT_BUS_PATH, GRAFT_BUS_EXTENSIONS_INTERFACE,
                                              "Merged");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", class);
                if (r >= 0)
                        r = bus_append_strv(m, merged);
                if (r >= 0)
                        r = bus_append_strv(m, names);
                if (r >= 0)
                        r = sd_bus_send(op->manager->bus, m, NULL);
        }
        if (r >= 0 && unmerged) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                r = sd_bus_message_new_signal(op->manager->bus, &m, GRAFT_BUS_PATH, GRAFT_BUS_EXTENSIONS_INTERFACE,
                                              "Unmerged");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", class);
                if (r >= 0)
                        r = bus_append_strv(m, unmerged);
                if (r >= 0)
                        r = sd_bus_send(op->manager->bus, m, NULL);
        }
        if (r < 0)
                daemon_log(LOG_WARNING, "cannot emit the merge signals: %s", strerror(-r));
}

static void journal(Operation *op, DaemonEvent e) {
        ExtensionRequest *q = op->data;
        if (q->result.dry_run)
                return; /* nothing changed, nothing to record */
        daemon_event_sysext(e, op->manager->root, sysext_class_to_string(q->class), &q->result, op->uid);
}

static void done_merge(Operation *op) {
        done_change(op);
        journal(op, DAEMON_EVENT_MERGE);
}

static void done_refresh(Operation *op) {
        done_change(op);
        journal(op, DAEMON_EVENT_REFRESH);
}

static void done_unmerge(Operation *op) {
        done_change(op);
        journal(op, DAEMON_EVENT_UNMERGE);
}

static int method_merge(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CHANGE_WITH_POLICY, run_merge, reply_result, done_merge, error);
}

static int method_refresh(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CHANGE_WITH_POLICY, run_refresh, reply_result, done_refresh, error);
}

static int method_merge_named(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CHANGE_NAMED, run_merge, reply_result, done_change, error);
}

static int method_refresh_named(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CHANGE_NAMED, run_refresh, reply_result, done_change, error);
}

static int method_set_enabled(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_ENABLE, run_set_enabled, reply_set_enabled, NULL, error);
}

static int method_unmerge(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return start(m, userdata, PARSE_CHANGE, run_unmerge, reply_result, done_unmerge, error);
}

/* At start, before serving: what a change interrupted by a crash (of graftd or of sextctl
 * --direct) left is recovered, for both classes. A change in progress elsewhere (the lock is
 * held) recovers nothing and is left alone: its holder is alive. */
void manager_extensions_recover(Manager *m) {
        static const ImageClass classes[] = { IMAGE_CLASS_SYSEXT, IMAGE_CLASS_CONFEXT };
        for (size_t i = 0; i < ELEMENTSOF(classes); i++) {
                SysextOptions o = { .class = classes[i], .root = m->root, .verify_cache = m->cache };
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                _cleanup_free_ char *note = NULL;
                int r = sysext_recover(&o, &note, &e);
                if (r < 0)
                        daemon_log(LOG_ERR, "cannot recover the %s hierarchies: %s", sysext_class_to_string(classes[i]),
                                   e.message ?: strerror(-r));
                else if (note)
                        daemon_log(LOG_WARNING, "%s: %s", sysext_class_to_string(classes[i]), note);
        }
}

/* Properties: search paths and hierarchies per class. */
static int property_search_paths(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ImageClass c = startswith(property, "Confext") ? IMAGE_CLASS_CONFEXT : IMAGE_CLASS_SYSEXT;
        return bus_append_strv(reply, (char **) image_class_search_dirs(c));
}

static int property_hierarchies(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ImageClass c = startswith(property, "Confext") ? IMAGE_CLASS_CONFEXT : IMAGE_CLASS_SYSEXT;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        int r = sysext_hierarchies_default(c, &l, &e);
        if (r < 0)
                return sd_bus_error_set(error, e.name ?: GRAFT_ERROR_IO, e.message ?: strerror(-r));
        return bus_append_strv(reply, l);
}

#define EXT_RESULT                                                                                                  \
        SD_BUS_RESULT("b", has_plan, "a(ssssubssusssas)", images, "as", skipped_entries, "a(sssast)", hierarchies, "s", \
                      reload, "s", reload_error, "b", beneath_unsupported, "as", passed_over, "b", dry_run)

const sd_bus_vtable manager_extensions_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("SysextSearchPaths", "as", property_search_paths, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConfextSearchPaths", "as", property_search_paths, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SysextHierarchies", "as", property_hierarchies, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConfextHierarchies", "as", property_hierarchies, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("List", SD_BUS_ARGS("s", class), SD_BUS_RESULT("a(ssssut)", images, "as", skipped_entries),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Status", SD_BUS_ARGS("s", class), SD_BUS_RESULT("a(ssbast)", hierarchies), method_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Merge", SD_BUS_ARGS("s", class, "t", flags, "s", image_policy), EXT_RESULT,
                                method_merge, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Refresh", SD_BUS_ARGS("s", class, "t", flags, "s", image_policy), EXT_RESULT,
                                method_refresh, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MergeNamed", SD_BUS_ARGS("s", class, "t", flags, "s", image_policy, "as", names),
                                EXT_RESULT, method_merge_named, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RefreshNamed", SD_BUS_ARGS("s", class, "t", flags, "s", image_policy, "as", names),
                                EXT_RESULT, method_refresh_named, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unmerge", SD_BUS_ARGS("s", class, "t", flags), EXT_RESULT, method_unmerge,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetEnabled", SD_BUS_ARGS("s", class, "as", names, "b", enable),
                                SD_BUS_RESULT("as", changed), method_set_enabled, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Merged", SD_BUS_ARGS("s", class, "as", hierarchies, "as", extensions), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Unmerged", SD_BUS_ARGS("s", class, "as", hierarchies), 0),
        SD_BUS_VTABLE_END,
};
