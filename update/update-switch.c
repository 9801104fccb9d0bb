/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the switch to a placed version, the health check's verdict, the rollback and the
 * resolution of an update that was cut short (see update-switch.h). */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "fault.h"
#include "path-util.h"
#include "strv.h"
#include "sysext.h"
#include "update-health.h"
#include "update-stage.h"
#include "update-switch.h"

int update_portable_attached(const UpdateContext *c, const Transfer *t, PortableImageInfo **ret_infos, size_t *ret_n,
                             size_t *ret_index) {
        PortableOptions po = { .root = c->o.root, .bus = c->o.bus };
        PortableImageInfo *infos = NULL;
        size_t n = 0;
        if (portable_list(&po, &infos, &n, NULL) < 0)
                return 0; /* nothing attached that we can see */
        size_t dl = strlen(t->target_path);
        for (size_t i = 0; i < n; i++) {
                if (infos[i].state == PORTABLE_DETACHED || !infos[i].path)
                        continue;
                if (strncmp(infos[i].path, t->target_path, dl) != 0 || infos[i].path[dl] != '/')
                        continue;
                _cleanup_free_ char *base = path_basename(infos[i].path);
                PatternFields f = {};
                if (base && pattern_match_any(t->target_patterns, base, &f) > 0) {
                        pattern_fields_done(&f);
                        *ret_infos = infos;
                        *ret_n = n;
                        *ret_index = i;
                        return 1;
                }
        }
        portable_image_infos_free(infos, n);
        return 0;
}

static bool state_is_runtime(PortableState s) {
        return s == PORTABLE_ATTACHED_RUNTIME || s == PORTABLE_ENABLED_RUNTIME || s == PORTABLE_RUNNING_RUNTIME;
}

/* The units of an attachment to restart: those running (going back: also those that failed, on
 * the version being left). */
static int units_to_restart(sd_bus *bus, char * const *units, bool back, char ***ret, GraftError *err) {
        _cleanup_strv_free_ char **l = NULL;
        STRV_FOREACH(u, units) {
                UnitStatus st = {};
                int r = portable_bus_unit_status(bus, *u, &st, err);
                if (r < 0)
                        return r;
                bool pick = unit_status_is_running(&st) || (back && st.active_state && streq(st.active_state, "failed"));
                unit_status_done(&st);
                if (pick && strv_extend(&l, *u) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Reattaches t's portable service to version's file, with the profile and extensions the attached
 * one has, and restarts what ran. The units restarted go to units (the default health check).
 * 1: switched; 0: no version of it is attached (it is only placed: nothing of it runs). */
static int switch_portable(UpdateContext *c, size_t i, const char *version, bool back, char ***units,
                           GraftError *err) {
        const Transfer *t = c->set.transfers[i];
        PortableImageInfo *infos = NULL;
        size_t n = 0, k = 0;
        if (update_portable_attached(c, t, &infos, &n, &k) == 0) {
                update_note(c, "%s: no version of the portable service is attached here; nothing to switch or check",
                            t->id);
                return 0;
        }
        const PortableImageInfo *info = &infos[k];
        const Instance *in = version ? resource_find(&c->targets[i], version) : NULL;
        /* A path: on the host, inside the root when there is one (as pctl takes it). */
        const char *image = in ? in->location : NULL;
        _cleanup_strv_free_ char **restart = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *own = NULL;
        sd_bus *bus = c->o.root ? NULL : c->o.bus;
        bool reload_privately = false;
        int r = 0;
        if (!in)
                r = graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE, "%s: version %s is not in %s, cannot switch to it",
                                    t->id, strna(version), t->target_path);
        if (r >= 0 && !c->o.root && !bus) {
                /* Early at boot (graft-update-resolve.service) there is no bus yet, and nothing runs. */
                GraftError e = GRAFT_ERROR_INIT;
                int q = portable_bus_open(&own, &e);
                if (q >= 0)
                        bus = own;
                else if (q == -ENOENT || q == -ECONNREFUSED || q == -ENOTCONN || q == -ENOMEDIUM) {
                        update_note(c, "%s: no system bus to reach systemd: no units restarted", t->id);
                        reload_privately = true;
                }
                else
                        r = graft_error_set(err, q, e.name ?: GRAFT_ERROR_IO, "%s", e.message ?: strerror(-q));
                graft_error_done(&e);
        }
        if (r >= 0 && bus)
                r = units_to_restart(bus, info->units, back, &restart, err);
        if (r >= 0) {
                PortableOptions po = { .root = c->o.root, .profile = info->profile,
                                       .runtime = state_is_runtime(info->state), .extensions = info->extensions,
                                       .verify_cache = c->o.verify_cache, .bus = bus };
                _cleanup_(portable_result_done) PortableResult pr = {};
                r = portable_reattach(&po, image, NULL, &pr, err);
                if (r >= 0)
                        update_note(c, "reattached %s", pr.image);
        }
        portable_image_infos_free(infos, n);
        if (r < 0)
                return r;
        fault_point("update-reattach");
        if (reload_privately) {
                /* systemd loaded the units at boot, from the files just replaced: it must read them
                 * again before it starts them, and its private socket works before the bus does. */
                GraftError e = GRAFT_ERROR_INIT;
                if (sysext_reload_manager(NULL, &e) >= 0)
                        update_note(c, "asked systemd to reload (over its private socket)");
                else
                        update_note(c, "cannot ask systemd to reload: %s", strna(e.message));
                graft_error_done(&e);
        }
        if (restart) {
                r = portable_bus_jobs(bus, "RestartUnit", restart, true, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *names = strv_join(restart, " ");
                update_note(c, "restarted %s", strna(names));
                fault_point("update-restart");
        }
        STRV_FOREACH(u, restart)
                if (!strv_contains(*units, *u) && strv_extend(units, *u) < 0)
                        return -ENOMEM;
        return 1;
}

static bool kind_is_class(UpdateKind k, ImageClass class) {
        return k == (class == IMAGE_CLASS_SYSEXT ? UPDATE_KIND_SYSEXT : UPDATE_KIND_CONFEXT);
}

/* Whether an extension of one of these names is merged now: only then is there anything to go
 * back from (early at boot, nothing is merged yet, and the boot's own merge takes the targets as
 * they are). */
static bool extensions_merged(const SysextOptions *o, char * const *names) {
        SysextStatus st = {};
        if (sysext_status(o, &st, NULL) < 0)
                return false;
        bool found = false;
        for (size_t i = 0; i < st.n_hierarchies && !found; i++)
                STRV_FOREACH(n, names)
                        found = found || (st.hierarchies[i].merged && strv_contains(st.hierarchies[i].extensions, *n));
        sysext_status_done(&st);
        return found;
}

/* After the refresh: each transfer's image of this class is merged, from the file just placed. */
static int check_merged(UpdateContext *c, ImageClass class, const SysextResult *res, const char *version,
                        GraftError *err) {
        for (size_t i = 0; i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                if (!kind_is_class(t->kind, class))
                        continue;
                const Instance *in = resource_find(&c->targets[i], version);
                _cleanup_free_ char *want = in ? realpath(in->location, NULL) : NULL;
                const SysextImage *img = NULL;
                for (size_t k = 0; res->plan && k < res->plan->n_images && !img; k++)
                        if (streq(res->plan->images[k].name, t->image_name))
                                img = &res->plan->images[k];
                if (!img)
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_UNHEALTHY,
                                               "extension %s is not among the images the refresh found", t->image_name);
                if (img->skipped)
                        return graft_error_set(err, -EPROTO, GRAFT_ERROR_UNHEALTHY, "extension %s %s was not merged: %s",
                                               t->image_name, version, strna(img->error.message));
                if (!want || !streq(want, img->path))
                        return graft_error_set(err, -EPROTO, GRAFT_ERROR_UNHEALTHY,
                                               "extension %s: %s was merged, not %s (an image of that name with higher precedence?)",
                                               t->image_name, img->path, want ?: in ? in->location : version);
        }
        return 0;
}

static int switch_extensions(UpdateContext *c, ImageClass class, const char *version, bool back, GraftError *err) {
        SysextOptions o = { .class = class, .root = c->o.root, .n_threads = c->o.n_threads,
                            .verify_cache = c->o.verify_cache, .bus = c->o.bus };
        _cleanup_strv_free_ char **names = NULL;
        for (size_t i = 0; i < c->set.n; i++)
                if (kind_is_class(c->set.transfers[i]->kind, class) &&
                    strv_extend(&names, c->set.transfers[i]->image_name) < 0)
                        return -ENOMEM;
        const char *what = class == IMAGE_CLASS_SYSEXT ? "system extensions" : "configuration extensions";
        if (back && !extensions_merged(&o, names)) {
                update_note(c, "%s not merged now: nothing to refresh", what);
                return 0;
        }
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = sysext_refresh(&o, &res, err);
        if (r < 0)
                return graft_error_prefix(err, r, "refreshing the %s", what);
        for (size_t i = 0; i < res.n_hierarchies; i++)
                update_note(c, "refreshed the %s on %s: %s", what, res.hierarchies[i].path,
                            sysext_action_to_string(res.hierarchies[i].action));
        fault_point(back ? "update-refresh-back" : "update-refresh");
        return back ? 0 : check_merged(c, class, &res, version, err);
}

/* Switches every transfer to version (back: to the version being returned to, NULL if none).
 * Forward, h collects the health plan: the units restarted (where HealthUnits= is not set),
 * HealthUnits=, HealthCheck=, the longest HealthGraceSec=. */
static int update_switch(UpdateContext *c, const char *version, bool back, HealthPlan *h, GraftError *err) {
        bool sysext = false, confext = false;
        for (size_t i = 0; i < c->set.n; i++) {
                sysext = sysext || c->set.transfers[i]->kind == UPDATE_KIND_SYSEXT;
                confext = confext || c->set.transfers[i]->kind == UPDATE_KIND_CONFEXT;
        }
        int r = 0;
        if (sysext)
                r = switch_extensions(c, IMAGE_CLASS_SYSEXT, version, back, err);
        if (r >= 0 && confext)
                r = switch_extensions(c, IMAGE_CLASS_CONFEXT, version, back, err);
        for (size_t i = 0; r >= 0 && i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                _cleanup_strv_free_ char **units = NULL;
                if (t->kind == UPDATE_KIND_PORTABLE && (version || !back))
                        r = switch_portable(c, i, version, back, &units, err);
                /* A portable service that is not attached runs nothing to check. */
                bool unswitched = t->kind == UPDATE_KIND_PORTABLE && r == 0;
                if (r < 0 || !h || unswitched)
                        continue;
                char * const *watch = t->health_units_set ? t->health_units : units;
                STRV_FOREACH(u, watch)
                        if (!strv_contains(h->units, *u) && strv_extend(&h->units, *u) < 0)
                                return -ENOMEM;
                STRV_FOREACH(cmd, t->health_commands)
                        if (strv_extend(&h->commands, *cmd) < 0)
                                return -ENOMEM;
                if (t->health_grace_usec > h->grace_usec)
                        h->grace_usec = t->health_grace_usec;
                if (t->health_timeout_usec > h->timeout_usec)
                        h->timeout_usec = t->health_timeout_usec;
        }
        return r;
}

/* Marks version bad unless it is already (a rollback that was cut short keeps its first reason),
 * and makes the context see the mark. */
static int mark_bad(UpdateContext *c, const char *version, const char *reason, GraftError *err) {
        BadMarks m = {};
        int r = bad_marks_load(c->o.root, c->o.component, &m, err);
        if (r >= 0 && !bad_marks_find(&m, version)) {
                r = bad_mark_add(c->o.root, c->o.component, version, reason, err);
                bad_marks_done(&m);
                if (r >= 0)
                        r = bad_marks_load(c->o.root, c->o.component, &m, err);
        }
        if (r < 0) {
                bad_marks_done(&m);
                return r;
        }
        bad_marks_done(&c->bad);
        c->bad = m;
        fault_point("update-mark-bad");
        return 0;
}

/* The targets as they were before version was placed: each CurrentSymlink= at previous's file
 * (removed when there is none), then version's files removed (unless protected). */
static int targets_back(UpdateContext *c, const char *version, const char *previous, GraftError *err) {
        int r = update_context_reload_targets(c, err);
        for (size_t i = 0; r >= 0 && i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                if (t->current_symlink) {
                        const Instance *prev = previous ? resource_find(&c->targets[i], previous) : NULL;
                        if (previous && !prev)
                                update_note(c, "%s: version %s is gone from %s; removing %s", t->id, previous,
                                            t->target_path, t->current_symlink);
                        r = update_symlink_set(c, t, prev ? prev->name : NULL, err);
                        if (r < 0)
                                return r;
                }
                const Instance *in = resource_find(&c->targets[i], version);
                if (!in || strv_contains(t->protect_versions, version))
                        continue;
                if (unlink(in->location) < 0 && errno != ENOENT)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot remove %s: %m", in->location);
                _cleanup_free_ char *dir = strndup(in->location, (size_t) (strrchr(in->location, '/') - in->location));
                _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
                if (fd >= 0)
                        (void) fsync(fd);
                update_note(c, "removed %s", in->location);
                fault_point("update-remove");
        }
        if (r >= 0)
                r = update_context_reload_targets(c, err);
        return r;
}

/* Rollback, each step idempotent (a rollback cut short is done again from the start): the mark,
 * the targets, the switch back, the pending file. */
static int rollback(UpdateContext *c, const char *version, const char *previous, const char *reason, GraftError *err) {
        update_note(c, "rolling back from %s to %s: %s", version, previous ?: "nothing", reason);
        int r = mark_bad(c, version, reason, err);
        if (r >= 0)
                r = targets_back(c, version, previous, err);
        if (r >= 0)
                r = update_switch(c, previous, true, NULL, err);
        if (r >= 0)
                r = pending_update_clear(c->o.root, c->o.component, err);
        if (r < 0)
                return r;
        fault_point("update-rolled-back");
        return update_context_reload_targets(c, err);
}

/* "rolled back to 3, and 4 is marked bad (…)": what a rollback did, for messages. */
static char *went_back(const UpdateContext *c, const char *version, const char *previous) {
        char *s = NULL;
        if (asprintf(&s, "%s%s, and %s is marked bad (\"graft-update%s%s unmark %s\" clears the mark)",
                     previous ? "rolled back to " : "removed it again (no version ran before it)", strempty(previous),
                     version, c->o.component ? " -C " : "", strempty(c->o.component), version) < 0)
                return NULL;
        return s;
}

int update_activate(UpdateContext *c, const char *version, const char *previous, GraftError *err) {
        PendingUpdate p = { .version = (char *) version, .previous = (char *) previous, .phase = PENDING_SWITCHED };
        int r = pending_update_save(c->o.root, c->o.component, &p, err);
        if (r < 0) {
                /* Without the record no switch: undo the placement (nothing of it ran). */
                (void) update_resolve_locked(c, NULL, NULL);
                return r;
        }
        fault_point("update-switching");
        _cleanup_(health_plan_done) HealthPlan h = {};
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        r = update_context_reload_targets(c, &e);
        if (r >= 0)
                r = update_switch(c, version, false, &h, &e);
        if (r >= 0)
                r = update_health_check(c, &h, version, previous, &e);
        if (r >= 0) {
                r = pending_update_clear(c->o.root, c->o.component, err);
                if (r < 0)
                        return r;
                fault_point("update-confirmed");
                return 0;
        }
        _cleanup_free_ char *reason = strdup(e.message ?: strerror(-r));
        if (!reason)
                return -ENOMEM;
        GraftError back = GRAFT_ERROR_INIT;
        int q = rollback(c, version, previous, reason, &back);
        if (q < 0) {
                graft_error_set(err, -EPROTO, GRAFT_ERROR_UNHEALTHY,
                                "%s failed: %s; going back to %s failed too: %s (the next graft-update run tries again)",
                                version, reason, previous ?: "no version", back.message ?: strerror(-q));
                graft_error_done(&back);
                return -EPROTO;
        }
        _cleanup_free_ char *went = went_back(c, version, previous);
        return graft_error_set(err, -EPROTO, GRAFT_ERROR_UNHEALTHY, "%s failed: %s; %s", version, reason, strna(went));
}

int update_resolve_locked(UpdateContext *c, char **ret_what, GraftError *err) {
        PendingUpdate p = {};
        int r = pending_update_load(c->o.root, c->o.component, &p, err);
        if (r <= 0)
                return r;
        _cleanup_free_ char *what = NULL;
        if (p.phase == PENDING_PLACING) {
                r = targets_back(c, p.version, p.previous, err);
                if (r >= 0)
                        r = pending_update_clear(c->o.root, c->o.component, err);
                if (r >= 0) {
                        fault_point("update-undone");
                        r = update_context_reload_targets(c, err);
                }
                if (r >= 0 && asprintf(&what, "the placement of %s was cut short before it ran; undone", p.version) < 0)
                        r = -ENOMEM;
        } else {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "the update to %s was cut short (a crash or a reboot) before its health check passed",
                             p.version) < 0)
                        r = -ENOMEM;
                else
                        r = rollback(c, p.version, p.previous, reason, err);
                _cleanup_free_ char *went = r >= 0 ? went_back(c, p.version, p.previous) : NULL;
                if (r >= 0 && (!went || asprintf(&what, "%s; %s", reason, went) < 0))
                        r = -ENOMEM;
        }
        pending_update_done(&p);
        if (r < 0)
                return r;
        update_note(c, "%s", what);
        if (ret_what)
                *ret_what = TAKE_PTR(what);
        return 1;
}
