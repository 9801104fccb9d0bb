/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns putting the assembled overlays in place: attaching them (merge), replacing an existing
 * merge atomically (refresh: the new overlay goes beneath the old with MOVE_MOUNT_BENEATH, then
 * the old one is detached), removing them (unmerge), and asking systemd to reload afterwards when
 * an extension wants that. Nothing is replaced before every new overlay is ready. */
#include <string.h>
#include <sys/mount.h>
#include <time.h>

#include "strv.h"
#include "sysext-internal.h"

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
        *r = (SysextResult) {};
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
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

static int detach(const char *path, GraftError *err) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot unmount %s: %m", path);
        return 0;
}

/* Puts overlay fd on path, where a merge exists already (replace) or not. */
static int attach(int fd, const char *path, bool replace, SysextResult *res, SysextHierarchyResult *h,
                  GraftError *err) {
        if (!replace) {
                if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot mount the overlay on %s: %m", path);
                h->action = SYSEXT_ACTION_MERGED;
                return 0;
        }
        if (!sysext_compat("no-beneath")) {
                if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) >= 0) {
                        /* The new overlay is in place below the old one: removing the old one now
                         * uncovers it, and at no point is the hierarchy without extensions. */
                        h->action = SYSEXT_ACTION_REPLACED;
                        return detach(path, err);
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
        int r = detach(path, err);
        if (r < 0)
                return r;
        if (sys_move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                       "cannot mount the new overlay on %s after removing the old one: %m", path);
        h->gap_usec = now_usec() - t0;
        h->action = SYSEXT_ACTION_SWAPPED;
        return 0;
}

static bool plan_wants_reload(const SysextPlan *p) {
        for (size_t i = 0; i < p->n_images; i++)
                if (!p->images[i].skipped && p->images[i].reload_manager)
                        return true;
        return false;
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
        for (size_t i = 0; i < st->n_hierarchies; i++)
                if (sysext_merged_wants_reload(o->class, NULL, &st->hierarchies[i]))
                        return true;
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

/* merge (replace = false) and refresh (replace = true). */
static int merge_or_refresh(const SysextOptions *o, bool replace, SysextResult *ret, GraftError *err) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = sysext_status(o, &st, err);
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

        _cleanup_free_ int *fds = NULL;
        if (sysext_plan_n_ready(res.plan) > 0) {
                r = sysext_overlays_build(o, res.plan, &fds, err);
                if (r < 0)
                        return r;
        }

        /* Everything is ready: from here on only mount moves. */
        for (size_t i = 0; i < res.n_hierarchies; i++) {
                SysextHierarchyResult *h = &res.hierarchies[i];
                int fd = fds ? fds[i] : -EBADF;
                if (fd >= 0) {
                        r = attach(fd, h->resolved, st.hierarchies[i].merged, &res, h, err);
                        if (r < 0)
                                break;
                } else if (st.hierarchies[i].merged) {
                        r = detach(h->resolved, err);
                        if (r < 0)
                                break;
                        h->action = SYSEXT_ACTION_UNMERGED;
                }
        }
        for (size_t i = 0; fds && i < res.n_hierarchies; i++)
                safe_close(fds[i]);
        if (r < 0)
                return r;

        fill_extensions(o, &res);
        maybe_reload(o, plan_wants_reload(res.plan) || old_wants_reload, &res);
        *ret = res;
        res = (SysextResult) {};
        return 0;
}

int sysext_merge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return merge_or_refresh(o, false, ret, err);
}

int sysext_refresh(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return merge_or_refresh(o, true, ret, err);
}

int sysext_unmerge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = sysext_status(o, &st, err);
        if (r < 0)
                return r;
        r = result_init(&res, &st);
        if (r < 0)
                return r;
        bool wants_reload = status_wants_reload(o, &st);
        for (size_t i = 0; i < st.n_hierarchies; i++) {
                if (!st.hierarchies[i].merged)
                        continue;
                /* A merge stacked on another (a crashed tool's leftovers) is removed whole. */
                for (unsigned k = 0; k < 16 && sysext_path_is_merged(o->class, st.hierarchies[i].resolved, NULL) > 0; k++) {
                        r = detach(st.hierarchies[i].resolved, err);
                        if (r < 0)
                                return r;
                }
                res.hierarchies[i].action = SYSEXT_ACTION_UNMERGED;
        }
        maybe_reload(o, wants_reload, &res);
        *ret = res;
        res = (SysextResult) {};
        return 0;
}
