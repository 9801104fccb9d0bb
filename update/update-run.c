/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the operations on a component's versions (see update.h): placing the newest that passes
 * every check (with the fallback), retention, and the os-release compatibility check. */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "env-file.h"
#include "fault.h"
#include "fileio.h"
#include "op-lock.h"
#include "path-util.h"
#include "strv.h"
#include "update-image.h"
#include "update-stage.h"
#include "update-switch.h"
#include "version.h"

void update_result_done(UpdateResult *r) {
        free(r->version);
        free(r->previous);
        strv_free(r->passed_over);
        strv_free(r->placed);
        strv_free(r->removed);
        free(r->resolved);
        *r = (UpdateResult) {};
}

void compat_entries_free(CompatEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].transfer);
                free(e[i].version);
                free(e[i].reason);
        }
        free(e);
}

static int take_update_lock(const UpdateContext *c, const char *what, OpLock *ret, GraftError *err) {
        return op_lock_take(&(OpLockRequest) { .root = c->o.root, .key = "update", .what = what }, ret, err);
}

/* Failures that concern the version, not the network or this host: the next older one may do. */
static bool version_was_at_fault(const GraftError *e) {
        static const char * const names[] = {
                GRAFT_ERROR_INTEGRITY, GRAFT_ERROR_BAD_IMAGE, GRAFT_ERROR_BAD_SIGNATURE, GRAFT_ERROR_UNTRUSTED,
                GRAFT_ERROR_POLICY,    GRAFT_ERROR_INCOMPATIBLE, GRAFT_ERROR_NO_SUCH_IMAGE, GRAFT_ERROR_MISSING_FILE,
        };
        for (size_t i = 0; e->name && i < ELEMENTSOF(names); i++)
                if (streq(e->name, names[i]))
                        return true;
        return false;
}

static bool keep_version(const UpdateContext *c, const Transfer *t, const char *v) {
        if (c->current && streq(c->current, v))
                return true;
        if (strv_contains(t->protect_versions, v))
                return true;
        PendingUpdate p = {};
        bool pending = false;
        if (pending_update_load(c->o.root, c->o.component, &p, NULL) > 0) {
                pending = streq(p.version, v) || (p.previous && streq(p.previous, v));
                pending_update_done(&p);
        }
        return pending;
}

static int remove_file(UpdateContext *c, const char *path, UpdateResult *res, GraftError *err) {
        if (unlink(path) < 0 && errno != ENOENT)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot remove %s: %m", path);
        _cleanup_free_ char *dir = strndup(path, (size_t) (strrchr(path, '/') - path));
        _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
        if (fd >= 0)
                (void) fsync(fd);
        fault_point("update-remove");
        update_note(c, "removed %s", path);
        return res && strv_extend(&res->removed, path) < 0 ? -ENOMEM : 0;
}

/* Leaves at most keep (0: InstancesMax=) minus reserve installed versions per transfer. */
static int vacuum(UpdateContext *c, unsigned keep, unsigned reserve, UpdateResult *res, GraftError *err) {
        for (size_t i = 0; i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                Resource *tr = &c->targets[i];
                if (t->remove_temporary)
                        STRV_FOREACH(tmp, tr->temporary) {
                                int r = remove_file(c, *tmp, res, err);
                                if (r < 0)
                                        return r;
                        }
                tr->temporary = strv_free(tr->temporary);
                unsigned limit = (keep ?: t->instances_max);
                limit = limit > reserve ? limit - reserve : 0;
                size_t kept = 0;
                /* Newest first: count what stays, remove the oldest beyond the limit. */
                for (size_t k = 0; k < tr->n; k++) {
                        const Instance *in = &tr->instances[k];
                        if (kept < limit || keep_version(c, t, in->version)) {
                                kept++;
                                continue;
                        }
                        int r = remove_file(c, in->location, res, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int update_vacuum(UpdateContext *c, unsigned keep, UpdateResult *ret, GraftError *err) {
        OpLock lock = OP_LOCK_INIT;
        int r = take_update_lock(c, "graft-update vacuum", &lock, err);
        if (r < 0)
                return r;
        UpdateResult res = {};
        r = update_context_reload_targets(c, err);
        if (r >= 0)
                r = vacuum(c, keep, 0, &res, err);
        op_lock_release(&lock);
        if (r < 0) {
                update_result_done(&res);
                return r;
        }
        if (ret)
                *ret = res;
        else
                update_result_done(&res);
        return 0;
}

static int refuse_bad(const UpdateVersion *v, GraftError *err) {
        char when[64] = "";
        time_t sec = (time_t) (v->bad->when_usec / 1000000u);
        struct tm tm;
        if (localtime_r(&sec, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        return graft_error_set(err, -EPERM, GRAFT_ERROR_CONFLICT,
                               "version %s is marked bad (since %s: %s); \"graft-update unmark %s\" clears the mark",
                               v->version, when, v->bad->reason, v->version);
}

/* The versions to try, newest first. */
static int candidates(UpdateContext *c, const char *version, char ***ret, GraftError *err) {
        _cleanup_strv_free_ char **l = NULL;
        if (version) {
                const UpdateVersion *v = update_context_find(c, version);
                if (!v || !(v->flags & (VERSION_AVAILABLE | VERSION_INSTALLED)))
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE,
                                               "version %s is neither available nor installed", version);
                if (v->flags & VERSION_BAD)
                        return refuse_bad(v, err);
                if (strv_extend(&l, version) < 0)
                        return -ENOMEM;
        } else
                for (size_t i = 0; i < c->n_versions; i++) {
                        const UpdateVersion *v = &c->versions[i];
                        if (v->flags & VERSION_BAD && (!c->current || version_compare(v->version, c->current) > 0))
                                update_note(c, "passed over %s: marked bad: %s", v->version, v->bad->reason);
                        if ((v->flags & VERSION_CANDIDATE) && strv_extend(&l, v->version) < 0)
                                return -ENOMEM;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Stages v, and places it. A version that becomes the one in use is recorded as pending first
 * (nothing unconfirmed is ever visible without a record a later run can act on); an older one is
 * placed beside it and nothing else changes. */
static int try_version(UpdateContext *c, const char *v, UpdateResult *res, GraftError *err) {
        const UpdateVersion *uv = update_context_find(c, v);
        if (!(uv->flags & VERSION_INSTALLED)) {
                int r = vacuum(c, 0, 1, res, err); /* room for the new one */
                if (r < 0)
                        return r;
        }
        _cleanup_(staged_set_done) StagedSet s = {};
        int r = update_stage(c, v, NULL, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++)
                res->bytes_fetched += s.items[i].fetched;
        bool becomes_current = !c->current || version_compare(v, c->current) > 0;
        if (becomes_current) {
                PendingUpdate p = { .version = (char *) v, .previous = c->current, .phase = PENDING_PLACING };
                r = pending_update_save(c->o.root, c->o.component, &p, err);
                if (r < 0)
                        return r;
                fault_point("update-pending");
        }
        r = update_commit_staged(c, &s, becomes_current, &res->placed, err);
        if (r < 0 && becomes_current) {
                /* Nothing of it ran: put the targets back as they were (else the next run does). */
                char *what = NULL;
                if (update_resolve_locked(c, &what, NULL) > 0)
                        free(what);
        }
        return r;
}

/* Takes the update lock and finishes what an earlier run left pending. */
static int lock_and_resolve(UpdateContext *c, const char *what, OpLock *lock, char **ret_resolved, GraftError *err) {
        int r = take_update_lock(c, what, lock, err);
        if (r < 0)
                return r;
        r = update_context_reload_targets(c, err);
        if (r >= 0)
                r = update_resolve_locked(c, ret_resolved, err);
        if (r < 0)
                op_lock_release(lock);
        return r;
}

int update_resolve(UpdateContext *c, char **ret_what, GraftError *err) {
        OpLock lock = OP_LOCK_INIT;
        int r = lock_and_resolve(c, "graft-update resolve", &lock, ret_what, err);
        op_lock_release(&lock);
        return r;
}

int update_place(UpdateContext *c, const char *version, UpdateResult *ret, GraftError *err) {
        /* Everything below is decided under the lock, on the targets as they are now. */
        OpLock lock = OP_LOCK_INIT;
        _cleanup_free_ char *resolved = NULL;
        _cleanup_strv_free_ char **cand = NULL;
        int r = lock_and_resolve(c, "graft-update update", &lock, &resolved, err);
        if (r < 0)
                return r;
        r = candidates(c, version, &cand, err);
        if (r < 0) {
                op_lock_release(&lock);
                return r;
        }
        UpdateResult res = { .previous = c->current ? strdup(c->current) : NULL, .resolved = TAKE_PTR(resolved) };
        if (!cand || (version && c->current && streq(version, c->current))) {
                op_lock_release(&lock);
                res.already_current = true;
                *ret = res;
                return 0;
        }
        GraftError first = GRAFT_ERROR_INIT;
        int first_r = 0;
        STRV_FOREACH(v, cand) {
                GraftError e = GRAFT_ERROR_INIT;
                r = try_version(c, *v, &res, &e);
                if (r >= 0) {
                        res.version = strdup(*v);
                        res.older = c->current && version_compare(*v, c->current) < 0;
                        graft_error_done(&e);
                        break;
                }
                (void) strv_extendf(&res.passed_over, "%s: %s", *v, e.message ?: strerror(-r));
                bool fallback = !version && version_was_at_fault(&e);
                /* Said here only when an older one is tried next: else the error says it. */
                if (fallback && v[1])
                        update_note(c, "passed over %s: %s", *v, e.message ?: strerror(-r));
                if (!first.name) {
                        first = e;
                        first_r = r;
                } else
                        graft_error_done(&e);
                if (!fallback)
                        break;
        }
        if (res.version && !res.older) {
                r = update_activate(c, res.version, res.previous, err);
                if (r < 0) {
                        op_lock_release(&lock);
                        graft_error_done(&first);
                        update_result_done(&res);
                        return r;
                }
                res.switched = true;
        }
        op_lock_release(&lock);
        if (!res.version) {
                update_result_done(&res);
                if (err && !err->name)
                        *err = first;
                else
                        graft_error_done(&first);
                return first_r < 0 ? first_r : -ENOMEM;
        }
        graft_error_done(&first);
        *ret = res;
        return 0;
}

static int add_compat(CompatEntry **l, size_t *n, const Transfer *t, const char *v, bool installed, int r,
                      const GraftError *e) {
        CompatEntry *a = reallocarray(*l, *n + 1, sizeof(CompatEntry));
        if (!a)
                return -ENOMEM;
        *l = a;
        a[*n] = (CompatEntry) { .transfer = strdup(t->id), .version = strdup(v), .installed = installed, .fits = r >= 0,
                                .reason = r < 0 ? strdup(e->message ?: strerror(-r)) : NULL };
        (*n)++;
        return a[*n - 1].transfer && a[*n - 1].version && (r >= 0 || a[*n - 1].reason) ? 0 : -ENOMEM;
}

static int read_os_release(const char *path, char ***ret, GraftError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r = read_full_file_at(AT_FDCWD, path, 64 * 1024, &text, &size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_MISSING_FILE, "cannot read %s: %s", path, strerror(-r));
        return env_file_parse(text, size, path, ret, err);
}

int update_check_os_release(UpdateContext *c, const char *os_release_path, CompatEntry **ret, size_t *ret_n,
                            GraftError *err) {
        _cleanup_strv_free_ char **host = NULL;
        int r = read_os_release(os_release_path, &host, err);
        if (r < 0)
                return r;
        CompatEntry *l = NULL;
        size_t n = 0;
        const UpdateVersion *newest = update_context_newest_candidate(c);
        for (size_t i = 0; i < c->set.n && r >= 0; i++) {
                const Transfer *t = c->set.transfers[i];
                if (t->kind != UPDATE_KIND_SYSEXT && t->kind != UPDATE_KIND_CONFEXT)
                        continue;
                ImageCheck ic = { .root = c->o.root, .host_release = host, .n_threads = c->o.n_threads,
                                  .cache = c->o.verify_cache };
                for (size_t k = 0; k < c->targets[i].n && r >= 0; k++) {
                        const Instance *in = &c->targets[i].instances[k];
                        _cleanup_free_ char *name = update_image_name(t, in->name);
                        GraftError e = GRAFT_ERROR_INIT;
                        int q = name ? update_image_check(t, &ic, in->location, name, in->name, &e) : -ENOMEM;
                        r = add_compat(&l, &n, t, in->version, true, q, &e);
                        graft_error_done(&e);
                }
                if (r < 0 || !newest || !resource_find(&c->sources[i], newest->version) ||
                    resource_find(&c->targets[i], newest->version))
                        continue;
                /* The newest available one is fetched and checked, then removed: nothing is placed. */
                StagedSet s = { .items = calloc(1, sizeof(Staged)), .n = 1 };
                if (!s.items) {
                        r = -ENOMEM;
                        break;
                }
                GraftError e = GRAFT_ERROR_INIT;
                int q = update_stage_one(c, i, newest->version, host, &s.items[0], &e);
                staged_set_done(&s);
                r = add_compat(&l, &n, t, newest->version, false, q, &e);
                graft_error_done(&e);
        }
        if (r < 0) {
                compat_entries_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}
