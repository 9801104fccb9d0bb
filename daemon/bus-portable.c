/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns org.graft.Manager1, the portable services interface (see org.graft.Manager1(5)): each
 * method parses its arguments here, in the main loop, and becomes an operation whose worker calls
 * exactly the portable library function pctl calls in-process. The requests and the workers serve
 * org.freedesktop.portable1 too (bus-portable.h, bus-portable1.c). */
#include <string.h>

#include "bus-policy-arg.h"
#include "bus-portable.h"
#include "bus-util.h"
#include "daemon-event.h"
#include "daemon-log.h"
#include "discover.h"
#include "graft-config.h"
#include "operation.h"
#include "portable-wire.h"
#include "strv.h"

#define PORTABLE_ACTION "org.graft.manage-portables"
#define PORTABLE_KEY "portable"

static void request_free(void *p) {
        PortableRequest *q = p;
        if (!q)
                return;
        free(q->image);
        strv_free(q->prefixes);
        free(q->profile);
        strv_free(q->extensions);
        portable_result_done(&q->result);
        portable_inspection_done(&q->inspection);
        portable_image_infos_free(q->infos, q->n_infos);
        free(q->extra);
        free(q);
}

/* A change waits for the operation lock, held by another program (pctl --direct) that works on
 * the same root: said in the log, as pctl says it on stderr. */
static void on_lock_wait(const char *holder, void *userdata) {
        Operation *op = userdata;
        daemon_log(LOG_INFO, "%s waits for another operation to finish: %s", op->description, holder);
}

static void on_recovered(const char *what, bool completed, void *userdata) {
        Operation *op = userdata;
        daemon_log(LOG_NOTICE, "%s: first %s the portable operation a crash interrupted (%s).", op->description,
                   completed ? "completed" : "undid", what);
}

/* The library's options for a request, as pctl would fill them in-process. */
static void request_options(Operation *op, PortableOptions *o) {
        PortableRequest *q = op->data;
        if (op->uid != (uid_t) -1)
                snprintf(q->lock_who, sizeof q->lock_who, "for uid %u", (unsigned) op->uid);
        *o = (PortableOptions) {
                .root = op->manager->root,
                .profile = q->profile,
                .copy_mode = q->copy_mode,
                .extensions = q->extensions,
                .image_policy = q->has_policy ? &q->policy : NULL,
                .bus = op->systemd,
                .verify_cache = op->manager->cache,
                .on_lock_wait = on_lock_wait,
                .on_recovered = on_recovered,
                .userdata = op,
                .lock_who = q->lock_who[0] ? q->lock_who : NULL,
                /* Reads are anybody's: they must not make graftd change the host. */
                .no_recovery = !op->key,
        };
        (void) portable_options_from_bus_flags(q->flags, o);
}

static int read_image(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = bus_read_string(m, &q->image);
        if (r < 0)
                return r;
        return q->image ? 0 : sd_bus_error_set(error, GRAFT_ERROR_INVALID_ARGUMENT, "no image given");
}

/* prefixes, profile, copy mode, flags, extensions, image policy: AttachImage, ReattachImage and
 * GetImageMetadata. */
static int read_attach_args(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        _cleanup_free_ char *copy = NULL, *policy = NULL;
        int r = bus_read_strv(m, &q->prefixes);
        if (r >= 0)
                r = bus_read_string(m, &q->profile);
        if (r >= 0)
                r = bus_read_string(m, &copy);
        if (r >= 0)
                r = sd_bus_message_read(m, "t", &q->flags);
        if (r >= 0)
                r = bus_read_strv(m, &q->extensions);
        if (r >= 0)
                r = bus_read_string(m, &policy);
        if (r < 0)
                return r;
        q->copy_mode = copy ? portable_copy_mode_from_string(copy) : PORTABLE_COPY_AUTO;
        if (q->copy_mode < 0)
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT,
                                         "copy mode must be auto, copy, symlink or mixed, not \"%s\"", copy);
        PortableOptions dummy = {};
        if (portable_options_from_bus_flags(q->flags, &dummy) < 0)
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "unknown flags 0x%" PRIx64,
                                         q->flags & ~(uint64_t) _PORTABLE_BUS_FLAGS_ALL);
        return bus_parse_image_policy(policy, &q->policy, &q->has_policy, error);
}

/* A read is for everybody while it only names images of the search directories (which root put
 * there) and takes the host's image policy. Naming a path (image, extension or profile) or
 * passing a policy of one's own needs authorization, as portabled's inspect-images: graftd would
 * otherwise open, parse and (erofs) mount as root what the caller points it at, and its answers
 * and errors would tell what lies in directories the caller may not enter. Nothing is resolved
 * before the caller is authorized: the worker runs only after authorize() said yes. */
static const char *read_action(const PortableRequest *q) {
        bool by_path = (q->image && strchr(q->image, '/')) || (q->profile && strchr(q->profile, '/'));
        for (char **e = q->extensions; e && *e && !by_path; e++)
                by_path = strchr(*e, '/');
        return by_path || q->has_policy ? INSPECT_ACTION : NULL;
}

int portable_request_start(sd_bus_message *m, Manager *mgr, char *image, bool change, OperationRunFn run,
                           OperationReplyFn reply, OperationDoneFn done, PortableParseFn parse, sd_bus_error *error) {
        PortableRequest *q = calloc(1, sizeof(*q));
        if (!q)
                return free(image), -ENOMEM;
        q->image = image;
        int r = parse ? parse(m, q, error) : 0;
        if (r < 0) {
                request_free(q);
                return r;
        }
        const char *action = change ? PORTABLE_ACTION : read_action(q);
        Operation *op = operation_new(mgr, m, change ? PORTABLE_KEY : NULL, action, q, request_free);
        if (!op)
                return -ENOMEM;
        if (q->image) {
                operation_describe(op, q->image);
                operation_add_field(op, "IMAGE", q->image);
        }
        op->run = run;
        op->reply = reply;
        op->done = done;
        return operation_start(op);
}

/* ListImages */
int portable_run_list(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_list(&o, &q->infos, &q->n_infos, &op->error);
}

static int reply_list(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return portable_image_infos_append(reply, q->infos, q->n_infos);
}

static int method_list_images(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL, false, portable_run_list, reply_list, NULL, NULL, error);
}

/* GetImageState */
int portable_run_state(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_is_attached(&o, q->image, &q->state, &op->error);
}

static int reply_state(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return sd_bus_message_append(reply, "s", portable_state_to_string(q->state));
}

static int method_get_image_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      false, portable_run_state, reply_state, NULL, read_image, error);
}

/* GetImageStateMatching: the image, then the extensions its units must be attached with. */
static int parse_state_matching(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = read_image(m, q, error);
        return r < 0 ? r : bus_read_strv(m, &q->extensions);
}

static int method_get_image_state_matching(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      false, portable_run_state, reply_state, NULL, parse_state_matching, error);
}

/* GetImageMetadata */
static int parse_metadata(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = read_image(m, q, error);
        return r < 0 ? r : read_attach_args(m, q, error);
}

int portable_run_metadata(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_inspect(&o, q->image, q->prefixes, &q->inspection, &op->error);
}

static int reply_metadata(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return portable_inspection_append(reply, &q->inspection);
}

static int method_get_image_metadata(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      false, portable_run_metadata, reply_metadata, NULL, parse_metadata, error);
}

/* AttachImage, ReattachImage, DetachImage */
int portable_run_attach(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_attach(&o, q->image, q->prefixes, &q->result, &op->error);
}

int portable_run_reattach(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_reattach(&o, q->image, q->prefixes, &q->result, &op->error);
}

int portable_run_detach(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_detach(&o, q->image, q->prefixes, &q->result, &op->error);
}

static int reply_result(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        if (q->result.measure_note) /* the wire has no room for it: the log has */
                daemon_log(LOG_WARNING, "%s: %s", op->description, q->result.measure_note);
        return portable_result_append(reply, &q->result);
}

static void emit(Operation *op, const char *signal) {
        PortableRequest *q = op->data;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_signal(op->manager->bus, &m, GRAFT_BUS_PATH, GRAFT_BUS_PORTABLE_INTERFACE, signal);
        if (r >= 0)
                r = bus_append_string(m, q->result.image ?: q->image);
        if (r >= 0)
                r = bus_append_strv(m, q->result.units);
        if (r >= 0)
                r = sd_bus_send(op->manager->bus, m, NULL);
        if (r < 0)
                daemon_log(LOG_WARNING, "cannot emit %s: %s", signal, strerror(-r));
}

static void journal(Operation *op, DaemonEvent e) {
        PortableRequest *q = op->data;
        daemon_event_portable(e, q->result.image ?: q->image, q->result.root_hash, q->result.units, op->uid);
}

void portable_done_attach(Operation *op) {
        emit(op, "ImageAttached");
        journal(op, DAEMON_EVENT_ATTACH);
}

void portable_done_reattach(Operation *op) {
        emit(op, "ImageAttached");
        journal(op, DAEMON_EVENT_REATTACH);
}

void portable_done_detach(Operation *op) {
        emit(op, "ImageDetached");
        journal(op, DAEMON_EVENT_DETACH);
}

static int method_attach_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_attach, reply_result, portable_done_attach, parse_metadata, error);
}

static int method_reattach_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_reattach, reply_result, portable_done_reattach, parse_metadata, error);
}

static int parse_detach_flags(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = sd_bus_message_read(m, "t", &q->flags);
        if (r < 0)
                return r;
        PortableOptions dummy = {};
        if (portable_options_from_bus_flags(q->flags, &dummy) < 0)
                return sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "unknown flags 0x%" PRIx64,
                                         q->flags & ~(uint64_t) _PORTABLE_BUS_FLAGS_ALL);
        return 0;
}

static int parse_detach(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = read_image(m, q, error);
        return r < 0 ? r : parse_detach_flags(m, q, error);
}

static int method_detach_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_detach, reply_result, portable_done_detach, parse_detach, error);
}

/* DetachImageMatching: the image, then the unit prefixes and extensions that pick one attachment. */
static int parse_detach_matching(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int r = read_image(m, q, error);
        if (r >= 0)
                r = bus_read_strv(m, &q->prefixes);
        if (r >= 0)
                r = bus_read_strv(m, &q->extensions);
        if (r < 0)
                return r;
        return parse_detach_flags(m, q, error);
}

static int method_detach_image_matching(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_detach, reply_result, portable_done_detach, parse_detach_matching, error);
}

/* RemoveImage, MarkImageReadOnly */
int portable_run_remove(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_remove(&o, q->image, &op->error);
}

void portable_done_remove(Operation *op) {
        PortableRequest *q = op->data;
        int r = sd_bus_emit_signal(op->manager->bus, GRAFT_BUS_PATH, GRAFT_BUS_PORTABLE_INTERFACE, "ImageRemoved", "s",
                                   q->image);
        if (r < 0)
                daemon_log(LOG_WARNING, "cannot emit ImageRemoved: %s", strerror(-r));
}

static int method_remove_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_remove, NULL, portable_done_remove, read_image, error);
}

int portable_run_read_only(Operation *op) {
        PortableRequest *q = op->data;
        PortableOptions o;
        request_options(op, &o);
        return portable_set_read_only(&o, q->image, q->read_only, &op->error);
}

static int parse_read_only(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int b = 0;
        int r = read_image(m, q, error);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &b);
        q->read_only = b;
        return r;
}

static int method_mark_image_read_only(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL,
                                      true, portable_run_read_only, NULL, NULL, parse_read_only, error);
}

static void on_start_recovered(const char *what, bool completed, void *userdata) {
        daemon_log(LOG_NOTICE, "%s the portable operation a crash interrupted (%s).", completed ? "Completed" : "Undid",
                   what);
}

/* What a crash interrupted (of graftd, or of a CLI working in-process) is completed or undone
 * before the first request is taken; a failure is left to the next change, which replays too. */
void manager_portable_recover(Manager *m) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        int r = portable_recover(&(PortableOptions) { .root = m->root, .on_recovered = on_start_recovered }, &e);
        if (r < 0)
                daemon_log(LOG_ERR, "cannot recover an interrupted portable operation: %s", e.message ?: strerror(-r));
}

/* Properties */
static int property_root(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->root ?: "/");
}

static int property_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", GRAFT_VERSION);
}

static int property_search_paths(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_strv(reply, (char **) image_class_search_dirs(IMAGE_CLASS_PORTABLE));
}

int portable_property_profiles(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        int r = portable_profiles(m->root, &l, &e);
        if (r < 0)
                return sd_bus_error_set(error, e.name ?: GRAFT_ERROR_IO, e.message ?: strerror(-r));
        return bus_append_strv(reply, l);
}

static int property_cache(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        VerifyCacheStats s;
        verify_cache_stats(m->cache, &s);
        return sd_bus_message_append(reply, "(tttt)", s.entries, s.hits, s.misses, s.invalidated);
}

static int property_operations(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) operation_queue_pending(m->queue));
}

#define ATTACH_ARGS                                                                                               \
        SD_BUS_ARGS("s", image, "as", prefixes, "s", profile, "s", copy_mode, "t", flags, "as", extensions, "s", \
                    image_policy)
#define RESULT_ARGS                                                                                          \
        SD_BUS_RESULT("s", image, "as", units, "a(sss)", changes, "as", started, "as", stopped, "as", restarted, \
                      "b", reloaded)

const sd_bus_vtable manager_portable_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Root", "s", property_root, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PortableSearchPaths", "as", property_search_paths, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Profiles", "as", portable_property_profiles, 0, 0),
        SD_BUS_PROPERTY("VerificationCache", "(tttt)", property_cache, 0, 0),
        SD_BUS_PROPERTY("Operations", "u", property_operations, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssssass)", images), method_list_images,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageState", SD_BUS_ARGS("s", image), SD_BUS_RESULT("s", state),
                                method_get_image_state, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageStateMatching", SD_BUS_ARGS("s", image, "as", extensions),
                                SD_BUS_RESULT("s", state), method_get_image_state_matching, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageMetadata", ATTACH_ARGS,
                                SD_BUS_RESULT("s", image, "s", name, "s", version, "s", root_hash, "s", signer, "s", kind,
                                              "s", os_release_path, "a(ss)", os_release, "as", extensions, "as",
                                              prefixes, "a(sss)", units, "a(sss)", plan, "s", state, "s",
                                              os_release_text, "a(sss)", extension_releases),
                                method_get_image_metadata, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AttachImage", ATTACH_ARGS, RESULT_ARGS, method_attach_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReattachImage", ATTACH_ARGS, RESULT_ARGS, method_reattach_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DetachImage", SD_BUS_ARGS("s", image, "t", flags), RESULT_ARGS, method_detach_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DetachImageMatching",
                                SD_BUS_ARGS("s", image, "as", prefixes, "as", extensions, "t", flags), RESULT_ARGS, method_detach_image_matching,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", image), SD_BUS_NO_RESULT, method_remove_image,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkImageReadOnly", SD_BUS_ARGS("s", image, "b", read_only), SD_BUS_NO_RESULT,
                                method_mark_image_read_only, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ImageAttached", SD_BUS_ARGS("s", image, "as", units), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ImageDetached", SD_BUS_ARGS("s", image, "as", units), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ImageRemoved", SD_BUS_ARGS("s", image), 0),
        SD_BUS_VTABLE_END,
};
