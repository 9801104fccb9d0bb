/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns attach, detach and reattach end to end (see portable.h): under the portable lock, plan,
 * carry out through the journal (the files, [Install] links included, are the state, and they
 * change all or nothing even across a crash), then tell systemd. A reload costs ≈0.3 s on systemd
 * 252 and is nearly all of what portablectl spends, so it is asked for only when systemd holds one
 * of the units already (a unit it never loaded is read from disk, drop-ins included, when it is
 * started). */
#include <string.h>

#include "context.h"
#include "path-util.h"
#include "portable-measure.h"
#include "portable-util.h"
#include "strv.h"

static const char * const copy_mode_names[_PORTABLE_COPY_MAX] = {
        [PORTABLE_COPY_AUTO] = "auto",
        [PORTABLE_COPY_COPY] = "copy",
        [PORTABLE_COPY_SYMLINK] = "symlink",
        [PORTABLE_COPY_MIXED] = "mixed",
};

const char *portable_copy_mode_to_string(PortableCopyMode m) {
        return m >= 0 && m < _PORTABLE_COPY_MAX ? copy_mode_names[m] : NULL;
}

PortableCopyMode portable_copy_mode_from_string(const char *s) {
        for (int i = 0; s && i < _PORTABLE_COPY_MAX; i++)
                if (streq(s, copy_mode_names[i]))
                        return (PortableCopyMode) i;
        return _PORTABLE_COPY_INVALID;
}

void portable_result_done(PortableResult *r) {
        if (!r)
                return;
        free(r->image);
        free(r->root_hash);
        strv_free(r->units);
        portable_changes_done(&r->changes);
        strv_free(r->started);
        strv_free(r->stopped);
        strv_free(r->restarted);
        free(r->measure_note);
        *r = (PortableResult) {};
}

static bool any_needs_reload(const UnitStatus *st, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (unit_status_needs_reload(&st[i]))
                        return true;
        return false;
}

static int reload_if(Context *c, bool needed, PortableResult *res) {
        if (!needed || c->o->no_reload)
                return 0;
        sd_bus *bus;
        int r = context_bus(c, &bus);
        if (r >= 0)
                r = portable_bus_reload(bus, c->err);
        if (r >= 0)
                res->reloaded = true;
        return r;
}

static int run_jobs(Context *c, const char *method, char * const *units, char ***record) {
        if (strv_length(units) == 0)
                return 0;
        sd_bus *bus;
        int r = context_bus(c, &bus);
        if (r >= 0)
                r = portable_bus_jobs(bus, method, units, !c->o->no_block, c->err);
        if (r >= 0) {
                strv_free(*record);
                *record = strv_copy(units);
                if (!*record)
                        r = -ENOMEM;
        }
        return r;
}

typedef struct Attaching {
        Profile profile;
        PortableImageSet set;
        char **units;
        UnitStatus *st;
        PortablePlan plan;
        PortableMarker marker;
} Attaching;

static void attaching_done(Attaching *a) {
        profile_done(&a->profile);
        portable_image_set_done(&a->set);
        unit_statuses_free(a->st, strv_length(a->units));
        strv_free(a->units);
        portable_plan_done(&a->plan);
        portable_marker_done(&a->marker);
}

/* Profile, image set, unit states: everything attach and reattach learn before planning. */
static int attaching_load(Context *c, const char *image, char * const *prefixes, Attaching *a) {
        int r = profile_find(c->root, c->o->profile ?: "default", &a->profile, c->err);
        if (r >= 0)
                r = portable_image_set_load(c->root, c->o, image, prefixes, &a->set, c->err);
        if (r >= 0)
                r = image_set_unit_names(&a->set, &a->units);
        if (r >= 0)
                r = context_statuses(c, a->units, &a->st);
        return r;
}

static int attaching_plan(Context *c, Attaching *a, char **replaceable) {
        _cleanup_strv_free_ char **inherited = NULL;
        int r = context_created_records(c, c->o->runtime, &inherited);
        if (r < 0)
                return r;
        AttachPlanInput in = {
                .root = c->root,
                .root_fd = c->root_fd,
                .set = &a->set,
                .profile = &a->profile,
                .copy_mode = c->o->copy_mode,
                .runtime = c->o->runtime,
                .enable = c->o->enable,
                .inherited_created = inherited,
                .replaceable = replaceable,
        };
        return attach_plan_build(&in, &a->plan, &a->marker, c->err);
}

/* After the files are in place on a live host: reload if systemd held a unit, then start. */
static int attach_live(Context *c, Attaching *a, PortableResult *res) {
        int r = reload_if(c, any_needs_reload(a->st, strv_length(a->units)), res);
        if (r < 0 || !c->o->now)
                return r;
        _cleanup_strv_free_ char **start = startable_units(a->units);
        return start ? run_jobs(c, "StartUnit", start, &res->started) : -ENOMEM;
}

int portable_attach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err) {
        _cleanup_(context_done) Context c = {};
        _cleanup_(attaching_done) Attaching a = {};
        _cleanup_(portable_result_done) PortableResult res = {};
        int r = context_init(&c, o, "attach", image, err);
        if (r >= 0)
                r = attaching_load(&c, image, prefixes, &a);
        if (r >= 0)
                r = context_check_conflicts(&c, &a.set, NULL, a.st);
        if (r >= 0)
                r = attaching_plan(&c, &a, NULL);
        if (r >= 0)
                r = portable_measure_set(c.root, &a.set, &res.measure_note, err);
        if (r >= 0)
                r = portable_plan_execute(c.root, &a.plan, c.what, &res.changes, err);
        if (r < 0)
                return r;
        res.image = strdup(a.set.image->path);
        res.units = strv_copy(a.units);
        if (a.set.image->root_hash && !(res.root_hash = strdup(a.set.image->root_hash)))
                return -ENOMEM;
        if (!res.image || !res.units)
                return -ENOMEM;
        if ((r = portable_record_admissions(c.root, &a.set, NULL, err)) < 0)
                return r;
        if (c.live && (r = attach_live(&c, &a, &res)) < 0)
                return r;
        *ret = res;
        res = (PortableResult) {};
        return 0;
}

/* Stops running units (--now), or refuses them unless --force. */
static int detach_stop(Context *c, char * const *units, const UnitStatus *st, PortableResult *res) {
        _cleanup_strv_free_ char **running = NULL;
        for (size_t i = 0; units[i]; i++)
                if (unit_status_is_running(&st[i]) && strv_extend(&running, units[i]) < 0)
                        return -ENOMEM;
        if (!running)
                return 0;
        if (c->o->now)
                return run_jobs(c, "StopUnit", running, &res->stopped);
        if (c->o->force)
                return 0;
        return graft_error_set(c->err, -EBUSY, GRAFT_ERROR_CONFLICT,
                               "unit %s is active; use --now to stop it first, or --force to detach it anyway",
                               running[0]);
}

static int append_changes(PortableChanges *to, const PortableChanges *from) {
        for (size_t i = 0; i < from->n; i++) {
                int r = portable_changes_add(to, from->items[i].type, from->items[i].path, from->items[i].source);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int detach_files(Context *c, const bool *picked, PortableResult *res) {
        _cleanup_(portable_plan_done) PortablePlan plan = {};
        _cleanup_(portable_changes_done) PortableChanges done = {};
        int r = detach_plan_build(c->root, c->root_fd, &c->att, picked, NULL, NULL, &plan, c->err);
        if (r >= 0)
                r = portable_plan_execute(c->root, &plan, c->what, &done, c->err);
        return r < 0 ? r : append_changes(&res->changes, &done);
}

int portable_detach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err) {
        _cleanup_(context_done) Context c = {};
        _cleanup_(portable_result_done) PortableResult res = {};
        _cleanup_free_ bool *picked = NULL;
        UnitStatus *st = NULL;
        int r = context_init(&c, o, "detach", image, err);
        if (r < 0)
                return r;
        picked = calloc(c.att.n_units + 1, sizeof(bool));
        if (!picked)
                return -ENOMEM;
        r = context_pick_detach(&c, image, prefixes, picked, &res.units);
        if (r >= 0)
                r = context_statuses(&c, res.units, &st);
        if (r >= 0)
                r = detach_stop(&c, res.units, st, &res);
        if (r >= 0)
                r = detach_files(&c, picked, &res);
        unit_statuses_free(st, strv_length(res.units));
        st = NULL;
        if (r >= 0 && c.live) {
                /* Still held by systemd (referenced, or left running with --force): forget it. */
                r = context_statuses(&c, res.units, &st);
                if (r >= 0)
                        r = reload_if(&c, any_needs_reload(st, strv_length(res.units)), &res);
                unit_statuses_free(st, strv_length(res.units));
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < c.att.n_units && !res.image; i++)
                if (picked[i] && (!(res.image = strdup(c.att.units[i].marker.image)) ||
                                  (c.att.units[i].marker.root_hash &&
                                   !(res.root_hash = strdup(c.att.units[i].marker.root_hash)))))
                        return -ENOMEM;
        if (res.image && (r = portable_record_admissions(c.root, NULL, res.image, err)) < 0)
                return r;
        *ret = res;
        res = (PortableResult) {};
        return 0;
}

/* The attachments a reattach of this image set replaces: those of the same image family (foo_1
 * for foo_2), and any unit of the new set, which must then belong to that family too. */
static int pick_replaced(Context *c, const PortableImageSet *s, bool *replacing) {
        _cleanup_free_ char *family = portable_name_family(s->image->name);
        if (!family)
                return -ENOMEM;
        bool any = false;
        for (size_t i = 0; i < c->att.n_units; i++) {
                const AttachedUnit *u = &c->att.units[i];
                _cleanup_free_ char *base = u->marker.name ? NULL : path_basename(u->marker.image);
                _cleanup_free_ char *name = base ? strdup_strip_suffix(base, ".raw") : strdup(u->marker.name);
                _cleanup_free_ char *f = name ? portable_name_family(name) : NULL;
                if (!f)
                        return -ENOMEM;
                bool same = streq(f, family), overlaps = false;
                for (size_t k = 0; k < s->n_units; k++)
                        overlaps = overlaps || streq(s->units[k].name, u->name);
                if (overlaps && !same)
                        return graft_error_set(c->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                               "unit %s is attached from image %s, which is not a version of %s; "
                                               "refusing to replace it",
                                               u->name, u->marker.image, s->image->name);
                replacing[i] = same;
                any = any || same;
        }
        if (!any)
                return graft_error_set(c->err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE,
                                       "no version of image %s is attached; use attach", s->image->name);
        return 0;
}

static int plan_append(PortablePlan *to, PortablePlan *from) {
        PlanStep *g = reallocarray(to->steps, to->n_steps + from->n_steps + 1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        if (from->n_steps > 0) /* from->steps may be NULL then, which memcpy must not get */
                memcpy(g + to->n_steps, from->steps, from->n_steps * sizeof(*g));
        to->steps = g;
        to->n_steps += from->n_steps;
        free(from->steps);
        *from = (PortablePlan) {};
        return 0;
}

/* Files the old attachment owns, which the new plan may write over. */
static int old_files(Context *c, const bool *replacing, char ***ret) {
        _cleanup_(portable_plan_done) PortablePlan old = {};
        int r = detach_plan_build(c->root, c->root_fd, &c->att, replacing, NULL, NULL, &old, c->err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < old.n_steps; i++)
                if (!old.steps[i].directory && strv_extend(&l, old.steps[i].path) < 0)
                        return -ENOMEM;
        /* A link the old attachment made, possibly now pointing to the new version. */
        for (size_t i = 0; i < c->att.n_units; i++)
                if (replacing[i] && c->att.units[i].marker.link && strv_extend(&l, c->att.units[i].marker.link) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Old units: which ran (to restart) and which the new version no longer has (to stop). */
static int reattach_live(Context *c, Attaching *a, const bool *replacing, char * const *old_units,
                         const UnitStatus *old_st, PortableResult *res) {
        int r = reload_if(c, any_needs_reload(old_st, strv_length(old_units)) ||
                                     any_needs_reload(a->st, strv_length(a->units)), res);
        if (r < 0 || !c->o->now)
                return r;
        _cleanup_strv_free_ char **restart = NULL, **stop = NULL, **start = NULL;
        for (size_t i = 0; old_units[i]; i++) {
                bool kept = strv_contains(a->units, old_units[i]);
                if (unit_status_is_running(&old_st[i]) &&
                    strv_extend(kept ? &restart : &stop, old_units[i]) < 0)
                        return -ENOMEM;
        }
        _cleanup_strv_free_ char **startable = startable_units(a->units);
        STRV_FOREACH(u, startable)
                if (!strv_contains(restart, *u) && strv_extend(&start, *u) < 0)
                        return -ENOMEM;
        r = run_jobs(c, "StopUnit", stop, &res->stopped);
        if (r >= 0)
                r = run_jobs(c, "RestartUnit", restart, &res->restarted);
        if (r >= 0)
                r = run_jobs(c, "StartUnit", start, &res->started);
        return r;
}

int portable_reattach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                      GraftError *err) {
        _cleanup_(context_done) Context c = {};
        _cleanup_(attaching_done) Attaching a = {};
        _cleanup_(portable_result_done) PortableResult res = {};
        _cleanup_(portable_plan_done) PortablePlan removal = {};
        _cleanup_free_ bool *replacing = NULL;
        _cleanup_strv_free_ char **replaceable = NULL, **old_units = NULL;
        UnitStatus *old_st = NULL;
        int r = context_init(&c, o, "reattach", image, err);
        if (r < 0)
                return r;
        replacing = calloc(c.att.n_units + 1, sizeof(bool));
        if (!replacing)
                return -ENOMEM;
        r = attaching_load(&c, image, prefixes, &a);
        if (r >= 0)
                r = pick_replaced(&c, &a.set, replacing);
        for (size_t i = 0; r >= 0 && i < c.att.n_units; i++)
                if (replacing[i] && !strv_contains(old_units, c.att.units[i].name))
                        r = strv_extend(&old_units, c.att.units[i].name);
        if (r >= 0)
                r = context_statuses(&c, old_units, &old_st);
        if (r >= 0)
                r = context_check_conflicts(&c, &a.set, replacing, a.st);
        if (r >= 0)
                r = old_files(&c, replacing, &replaceable);
        if (r >= 0)
                r = attaching_plan(&c, &a, replaceable);
        if (r >= 0) /* then whatever of the old attachment the new one does not write over */
                r = detach_plan_build(c.root, c.root_fd, &c.att, replacing, &a.plan, a.units, &removal, err);
        if (r >= 0)
                r = plan_append(&a.plan, &removal);
        if (r >= 0)
                r = portable_measure_set(c.root, &a.set, &res.measure_note, err);
        if (r >= 0)
                r = portable_plan_execute(c.root, &a.plan, c.what, &res.changes, err);
        if (r >= 0)
                r = portable_record_admissions(c.root, &a.set, NULL, err);
        if (r >= 0 && c.live)
                r = reattach_live(&c, &a, replacing, old_units, old_st, &res);
        unit_statuses_free(old_st, strv_length(old_units));
        if (r < 0)
                return r;
        res.image = strdup(a.set.image->path);
        res.units = strv_copy(a.units);
        if (a.set.image->root_hash && !(res.root_hash = strdup(a.set.image->root_hash)))
                return -ENOMEM;
        if (!res.image || !res.units)
                return -ENOMEM;
        *ret = res;
        res = (PortableResult) {};
        return 0;
}
