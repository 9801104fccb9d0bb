/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns putting the assembled overlays in place: attaching them (merge), replacing an existing
 * merge atomically (refresh: the new overlay goes beneath the old with MOVE_MOUNT_BENEATH, then
 * the old one is detached), removing them (unmerge), and asking systemd to reload afterwards when
 * an extension wants that. Each change holds the operation lock from before it looks at the
 * hierarchies until after its last step, recovers first what an earlier holder left, and records
 * its intent before the first mount move (see sysext-recover.c). Nothing is replaced before every
 * new overlay is ready. */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"
#include "time-util.h"

const char *sysext_action_to_string(SysextAction a) {
        static const char * const names[_SYSEXT_ACTION_MAX] = {
                [SYSEXT_ACTION_NONE] = "none",         [SYSEXT_ACTION_MERGED] = "merged",
                [SYSEXT_ACTION_REPLACED] = "replaced", [SYSEXT_ACTION_SWAPPED] = "swapped",
                [SYSEXT_ACTION_UNMERGED] = "unmerged", [SYSEXT_ACTION_KEPT] = "kept",
        };
        return a >= 0 && a < _SYSEXT_ACTION_MAX ? names[a] : NULL;
}

const char *sysext_reload_to_string(SysextReload r) {
        static const char * const names[_SYSEXT_RELOAD_MAX] = {
                [SYSEXT_RELOAD_NOT_ASKED] = "not-asked", [SYSEXT_RELOAD_SKIPPED] = "skipped",
                [SYSEXT_RELOAD_DONE] = "done",           [SYSEXT_RELOAD_FAILED] = "failed",
        };
        return r >= 0 && r < _SYSEXT_RELOAD_MAX ? names[r] : NULL;
}

void sysext_result_done(SysextResult *r) {
        if (!r)
                return;
        sysext_plan_free(r->plan);
        for (size_t i = 0; i < r->n_hierarchies; i++) {
                free(r->hierarchies[i].path);
                free(r->hierarchies[i].resolved);
                strv_free(r->hierarchies[i].extensions);
        }
        free(r->hierarchies);
        free(r->reload_error);
        free(r->recovery);
        free(r->measure_note);
        *r = (SysextResult) {};
}


static int result_init(SysextResult *res, const SysextStatus *st) {
        res->hierarchies = calloc(st->n_hierarchies + 1, sizeof(SysextHierarchyResult));
        if (!res->hierarchies)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_hierarchies; i++) {
                SysextHierarchyResult *h = &res->hierarchies[i];
                h->path = strdup(st->hierarchies[i].path);
                h->resolved = st->hierarchies[i].resolved ? strdup(st->hierarchies[i].resolved) : NULL;
                res->n_hierarchies++;
                if (!h->path || (st->hierarchies[i].resolved && !h->resolved))
                        return -ENOMEM;
        }
        return 0;
}

/* Hierarchies the root lacked were created for the overlays that go there: where they are now. */
static int result_created(const SysextOptions *o, SysextResult *res, const int *fds, GraftError *err) {
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextHierarchyResult *h = &res->hierarchies[i];
                if (fds[i] < 0 || h->resolved)
                        continue;
                _cleanup_(sysext_hierarchy_done) SysextHierarchy now = {};
                int r = sysext_hierarchy_read(o->class, sysext_root(o), h->path, &now, err);
                if (r < 0)
                        return r;
                if (!now.resolved)
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_IO, "%s vanished while merging",
                                               h->path);
                h->resolved = TAKE_PTR(now.resolved);
        }
        return 0;
}

/* Puts overlay fd on path, where a merge exists already (replace) or not. */
static int attach(int fd, const char *path, bool replace, SysextResult *res, SysextHierarchyResult *h,
                  GraftError *err) {
        if (!replace) {
                if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot mount the overlay on %s: %m", path);
                fault_point("sysext-attached");
                h->action = SYSEXT_ACTION_MERGED;
                return 0;
        }
        if (!sysext_compat("no-beneath")) {
                if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) >= 0) {
                        /* The new overlay is in place below the old one: removing the old one now
                         * uncovers it, and at no point is the hierarchy without extensions. Dying
                         * in between leaves the two stacked; recovery removes the old one. */
                        fault_point("sysext-beneath");
                        h->action = SYSEXT_ACTION_REPLACED;
                        int r = sysext_detach(path, err);
                        if (r >= 0)
                                fault_point("sysext-old-detached");
                        return r;
                }
                if (errno != EINVAL)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "cannot mount the new overlay beneath the merge on %s: %m", path);
        }
        /* Before Linux 6.5 (EINVAL: flag unknown) a mount cannot be slid under another. Stacking the
         * new one on top and detaching the old one below is no way out either: a lazy unmount of
         * the lower mount takes everything mounted on it along. So the old overlay is detached
         * and the ready one attached right after; the gap is these two system calls. */
        res->beneath_unsupported = true;
        uint64_t t0 = now_usec();
        int r = sysext_detach(path, err);
        if (r < 0)
                return r;
        fault_point("sysext-old-detached");
        if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                       "cannot mount the new overlay on %s after removing the old one: %m", path);
        fault_point("sysext-attached");
        h->gap_usec = now_usec() - t0;
        h->action = SYSEXT_ACTION_SWAPPED;
        return 0;
}

static void maybe_reload(const SysextOptions *o, bool wanted, SysextResult *res) {
        if (!wanted || o->no_reload) {
                res->reload = SYSEXT_RELOAD_NOT_ASKED;
                return;
        }
        if (sysext_root(o)) { /* another root's extensions are no business of this host's manager */
                res->reload = SYSEXT_RELOAD_SKIPPED;
                return;
        }
        GraftError e = GRAFT_ERROR_INIT;
        int r = sysext_reload_manager(o->bus, &e);
        res->reload = r < 0 ? SYSEXT_RELOAD_FAILED : SYSEXT_RELOAD_DONE;
        if (r < 0)
                res->reload_error = e.message ? TAKE_PTR(e.message) : strdup(strerror(-r));
        graft_error_done(&e);
}

static bool status_wants_reload(const SysextOptions *o, const SysextStatus *st) {
        if (o->no_reload)
                return false;
        for (size_t i = 0; i < st->n_hierarchies; i++) {
                /* Our merge says it in its record; only another's needs every release file read. */
                int r = sysext_record_wants_reload(o->class, &st->hierarchies[i]);
                if (r > 0 || (r == -ENOENT && sysext_merged_wants_reload(o->class, NULL, &st->hierarchies[i])))
                        return true;
        }
        return false;
}

static void fill_extensions(const SysextOptions *o, SysextResult *res) {
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextHierarchy h = {};
                if (sysext_hierarchy_read(o->class, sysext_root(o), res->hierarchies[i].path, &h, NULL) >= 0 && h.merged)
                        res->hierarchies[i].extensions = TAKE_PTR(h.extensions);
                sysext_hierarchy_done(&h);
        }
}

/* The intent record of a change about to begin: per hierarchy the merge there now and the one
 * to come (the new overlay's device; none where fds has none). 0 when nothing will change (no
 * record needed), 1 when recorded. resumed: this change redoes an interrupted one, whose "old"
 * state was no consistent one. */
static int intent_begin(const SysextOptions *o, const OpLock *lock, SysextOp op, const SysextStatus *st,
                        const int *fds, bool reload, bool resumed, GraftError *err) {
        _cleanup_(sysext_intent_done) SysextIntent in = {
                .op = op, .force = o->force, .noexec = sysext_noexec(o), .no_reload = o->no_reload, .reload = reload,
                .resumed = resumed,
        };
        bool changes = false;
        for (size_t i = 0; i < st->n_hierarchies; i++) {
                const SysextHierarchy *h = &st->hierarchies[i];
                struct stat sb;
                dev_t target = fds && fds[i] >= 0 && fstat(fds[i], &sb) >= 0 ? sb.st_dev : 0;
                dev_t old = h->merged ? h->dev : 0;
                changes = changes || target != 0 || old != 0;
                if (sysext_intent_add(&in, h->path, old, target) < 0)
                        return -ENOMEM;
        }
        if (!changes)
                return 0;
        int r = sysext_boot_id(&in.boot_id);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read the boot id: %s", strerror(-r));
        if (o->policy && !(in.policy = image_policy_to_string(o->policy)))
                return -ENOMEM;
        if (o->only && !(in.only = strv_copy(o->only)))
                return -ENOMEM;
        in.mutable = o->mutable;
        _cleanup_free_ char *text = NULL;
        if (sysext_intent_format(&in, &text) < 0)
                return -ENOMEM;
        r = op_lock_intent_write(lock, text, err);
        if (r < 0)
                return r;
        fault_point("sysext-intent-written");
        return 1;
}

static int intent_end(const OpLock *lock, GraftError *err) {
        int r = op_lock_intent_remove(lock, err);
        if (r >= 0)
                fault_point("sysext-intent-removed");
        return r;
}

/* The mount moves, once every overlay is ready. */
static int commit(const SysextStatus *st, int *fds, SysextResult *res, GraftError *err) {
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextHierarchyResult *h = &res->hierarchies[i];
                int fd = fds ? fds[i] : -EBADF, r = 0;
                if (fd >= 0)
                        r = attach(fd, h->resolved, st->hierarchies[i].merged, res, h, err);
                else if (st->hierarchies[i].merged) {
                        r = sysext_detach(h->resolved, err);
                        if (r >= 0)
                                fault_point("sysext-detached");
                        h->action = SYSEXT_ACTION_UNMERGED;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What commit() would do, for a dry run; the overlays are dropped. */
static void dry_run_actions(const SysextStatus *st, int *fds, SysextResult *res) {
        res->dry_run = true;
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextHierarchyResult *h = &res->hierarchies[i];
                int fd = fds ? fds[i] : -EBADF;
                if (fd >= 0 || fd == -ENOENT) /* -ENOENT: the hierarchy would be created */
                        h->action = st->hierarchies[i].merged ? SYSEXT_ACTION_REPLACED : SYSEXT_ACTION_MERGED;
                else if (st->hierarchies[i].merged)
                        h->action = SYSEXT_ACTION_UNMERGED;
                if (!h->resolved && fd == -ENOENT)
                        h->resolved = path_prefix_root(res->plan->root, h->path);
                if (fds)
                        fds[i] = safe_close(fds[i]);
        }
}

/* A change that failed half way through its mount moves (not a crash: a system call refused) is
 * recovered at once, while the lock is still held, so that its error is the only trace; what
 * cannot be done now (a refresh is not redone: it would fail the same way) is left recorded. */
static int commit_failed(const SysextOptions *o, const OpLock *lock, int r, GraftError *err) {
        GraftError e = GRAFT_ERROR_INIT;
        if (sysext_recover_locked(o, lock, false, NULL, &e) < 0 && err && err->message) {
                char *m = NULL;
                if (asprintf(&m, "%s; left half done (%s): the next sextctl command finishes it", err->message,
                             e.message ?: strerror(-e.error)) >= 0) {
                        free(err->message);
                        err->message = m;
                }
        }
        graft_error_done(&e);
        return r;
}

/* merge (replace = false) and refresh (replace = true), with the lock held and recovery done. */
static int merge_or_refresh_locked(const SysextOptions *o, const OpLock *lock, bool replace, bool resumed,
                                   SysextResult *ret, GraftError *err) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = sysext_status_current(o, &st, err);
        if (r < 0)
                return r;
        r = result_init(&res, &st);
        if (r < 0)
                return r;
        if (!replace)
                for (size_t i = 0; i < st.n_hierarchies; i++)
                        if (st.hierarchies[i].merged)
                                return graft_error_set(err, -EBUSY, GRAFT_ERROR_CONFLICT,
                                                       "%s is already merged; use refresh to replace the merge",
                                                       st.hierarchies[i].resolved);
        bool old_wants_reload = replace && status_wants_reload(o, &st);

        r = sysext_plan_build(o, &res.plan, err);
        if (r < 0)
                return r;

        if (replace && !resumed && sysext_merge_unchanged(o, res.plan, &st)) {
                /* The same images, by root hash, on the same hierarchies: nothing to remount. */
                for (size_t i = 0; i < res.n_hierarchies; i++)
                        res.hierarchies[i].action = st.hierarchies[i].merged ? SYSEXT_ACTION_KEPT : SYSEXT_ACTION_NONE;
                res.dry_run = o->dry_run;
                fill_extensions(o, &res);
                *ret = res;
                res = (SysextResult) {};
                return 0;
        }

        _cleanup_free_ int *fds = NULL;
        if (sysext_plan_n_ready(res.plan) > 0) {
                r = sysext_overlays_build(o, res.plan, &fds, err);
                if (r < 0)
                        return r;
                r = o->dry_run ? 0 : result_created(o, &res, fds, err);
                if (r < 0) {
                        for (size_t i = 0; i < res.n_hierarchies; i++)
                                safe_close(fds[i]);
                        return r;
                }
        }

        if (o->dry_run) {
                dry_run_actions(&st, fds, &res);
                *ret = res;
                res = (SysextResult) {};
                return 0;
        }

        /* Measured before anything is visible (a refused measurement changes nothing). */
        r = sysext_measure_plan(o, res.plan, &res.measure_note, err);

        /* Everything is ready: from here on only mount moves, recorded first. */
        bool wants_reload = sysext_plan_wants_reload(res.plan) || old_wants_reload;
        if (r >= 0)
                r = intent_begin(o, lock, replace ? SYSEXT_OP_REFRESH : SYSEXT_OP_MERGE, &st, fds, wants_reload,
                                 resumed, err);
        bool recorded = r > 0;
        if (recorded) {
                r = commit(&st, fds, &res, err);
                if (r < 0)
                        r = commit_failed(o, lock, r, err);
        }
        for (size_t i = 0; fds && i < res.n_hierarchies; i++)
                safe_close(fds[i]);
        if (r < 0)
                return r;

        fill_extensions(o, &res);
        r = sysext_record_admissions(o, res.plan, err);
        if (r < 0)
                return r;
        maybe_reload(o, wants_reload, &res);
        /* Removed only now: dying before the reload leaves it to recovery. */
        r = recorded ? intent_end(lock, err) : 0;
        if (r < 0)
                return r;
        *ret = res;
        res = (SysextResult) {};
        return 0;
}

int sysext_refresh_locked(const SysextOptions *o, const OpLock *lock, SysextResult *ret, GraftError *err) {
        return merge_or_refresh_locked(o, lock, true, true, ret, err);
}

static int unmerge_locked(const SysextOptions *o, const OpLock *lock, SysextResult *ret, GraftError *err);

/* Takes the lock and recovers (what recovery did: *ret_note). */
static int begin(const SysextOptions *o, const char *verb, OpLock *lock, char **ret_note, GraftError *err) {
        int r = sysext_lock(o, verb, false, lock, err);
        if (r < 0)
                return r;
        fault_point("sysext-locked");
        return sysext_recover_locked(o, lock, true, ret_note, err);
}

static int change(const SysextOptions *o, SysextOp op, SysextResult *ret, GraftError *err) {
        _cleanup_(op_lock_release) OpLock lock = OP_LOCK_INIT;
        _cleanup_free_ char *note = NULL;
        if (o->dry_run && op == SYSEXT_OP_UNMERGE)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "a dry run is for merge and refresh");
        /* A dry run looks at the state as it is, a half-done change too: it changes nothing, not
         * even by recovering. It takes the lock so that what it says is not half of another's. */
        int r = o->dry_run ? sysext_lock(o, "dry run", false, &lock, err) : begin(o, sysext_op_to_string(op), &lock, &note, err);
        if (r < 0)
                return r;
        /* The configuration fills in what the caller left unset (merge and refresh only: a bad
         * configuration file must not keep anybody from unmerging). */
        SysextOptions eff = *o;
        ImagePolicy policy;
        if (op != SYSEXT_OP_UNMERGE) {
                r = sysext_options_configure(o, &eff, &policy, err);
                if (r < 0)
                        return r;
        }
        SysextResult res = {};
        r = op == SYSEXT_OP_UNMERGE ? unmerge_locked(o, &lock, &res, err)
                                    : merge_or_refresh_locked(&eff, &lock, op == SYSEXT_OP_REFRESH, false, &res, err);
        if (r < 0)
                return r;
        res.recovery = TAKE_PTR(note);
        *ret = res;
        return 0;
}

int sysext_merge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change(o, SYSEXT_OP_MERGE, ret, err);
}

int sysext_refresh(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change(o, SYSEXT_OP_REFRESH, ret, err);
}

typedef struct SubmountsPer {
        SysextSubmounts *s; /* one per hierarchy */
        size_t n;
} SubmountsPer;

static void submounts_per_done(SubmountsPer *p) {
        for (size_t i = 0; i < p->n; i++)
                sysext_submounts_done(&p->s[i]);
        free(p->s);
}

/* What was mounted on each merged tree, taken before anything changes: it stays where it is seen. */
static int take_submounts(const SysextOptions *o, const SysextStatus *st, SubmountsPer *ret, GraftError *err) {
        ret->s = calloc(st->n_hierarchies + 1, sizeof(SysextSubmounts));
        if (!ret->s)
                return -ENOMEM;
        ret->n = st->n_hierarchies;
        for (size_t i = 0; i < st->n_hierarchies; i++) {
                int r = st->hierarchies[i].merged
                                ? sysext_submounts_take(o->class, st->hierarchies[i].resolved, &ret->s[i], err)
                                : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int unmerge_locked(const SysextOptions *o, const OpLock *lock, SysextResult *ret, GraftError *err) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        _cleanup_(sysext_result_done) SysextResult res = {};
        _cleanup_(submounts_per_done) SubmountsPer subs = {};
        int r = sysext_status_current(o, &st, err);
        if (r < 0)
                return r;
        r = result_init(&res, &st);
        if (r >= 0)
                r = take_submounts(o, &st, &subs, err);
        if (r < 0)
                return r;
        bool wants_reload = status_wants_reload(o, &st);
        r = intent_begin(o, lock, SYSEXT_OP_UNMERGE, &st, NULL, wants_reload, false, err);
        if (r < 0)
                return r;
        bool recorded = r > 0;
        for (size_t i = 0; recorded && i < st.n_hierarchies; i++) {
                if (!st.hierarchies[i].merged)
                        continue;
                /* A merge stacked on another (another tool's doing) is removed whole. */
                int k = sysext_detach_all(o->class, st.hierarchies[i].resolved, "sysext-detached", err);
                if (k >= 0)
                        k = sysext_submounts_keep_below(&subs.s[i], st.hierarchies[i].resolved, err);
                if (k < 0)
                        return commit_failed(o, lock, k, err);
                res.hierarchies[i].action = SYSEXT_ACTION_UNMERGED;
        }
        r = recorded ? sysext_record_admissions(o, NULL, err) : 0;
        if (r < 0)
                return r;
        maybe_reload(o, wants_reload, &res);
        r = recorded ? intent_end(lock, err) : 0;
        if (r < 0)
                return r;
        *ret = res;
        res = (SysextResult) {};
        return 0;
}

int sysext_unmerge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change(o, SYSEXT_OP_UNMERGE, ret, err);
}
