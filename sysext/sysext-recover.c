/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the operation lock of the extension side and recovery from a change that was interrupted.
 *
 * What a change leaves when it dies: before its first mount move, nothing (the staging lives in
 * a private mount namespace that dies with it, loop devices are autoclear; a dm-verity device
 * caught between activation and deferred removal is swept); during the moves, hierarchies of
 * which some have the new state and some the old, or, in refresh, the new merge beneath the old
 * one; the intent record (sysext-intent.c) says which change it was and which merges each
 * hierarchy had before and is to have after. Recovery, with the lock held, compares that with the
 * merges each hierarchy carries now (all of them: sysext-stack.c looks below the top one):
 *
 *   every hierarchy as the change wanted it   → it had finished: the record goes
 *   merge                                     → undone: every merge on its hierarchies removed
 *   unmerge                                   → finished: every merge on its hierarchies removed
 *   refresh, every hierarchy as it was        → it had changed nothing: the record goes
 *   refresh, otherwise                        → stacks collapsed (the new merge under the old one
 *                                               is what the refresh wanted there); if some
 *                                               hierarchy still lacks its new merge, refreshed
 *                                               again (writing its own record first)
 *
 * A record of an earlier boot describes mounts that are gone with it and is dropped. Each step
 * is one the next recovery can take again, so recovery interrupted in turn is recovered the same
 * way. Then, whatever the record, a hierarchy that carries merges on top of each other (another
 * tool merged over ours) keeps only the lowest. */
#include <string.h>

#include "strv.h"
#include "sysext-internal.h"
#include "verity.h"

static bool lock_held(const OpLock *l) {
        return l->fd >= 0;
}

static const char *lock_key(ImageClass c) {
        return c == IMAGE_CLASS_CONFEXT ? "confext" : "sysext";
}

int sysext_lock(const SysextOptions *o, const char *what, bool no_wait, OpLock *ret, GraftError *err) {
        _cleanup_free_ char *line = NULL;
        if (asprintf(&line, "%s %s%s%s", lock_key(o->class), what, o->lock_who ? " " : "", strempty(o->lock_who)) < 0)
                return -ENOMEM;
        OpLockRequest q = {
                .root = sysext_root(o),
                .key = lock_key(o->class),
                .what = line,
                .on_wait = o->on_lock_wait,
                .userdata = o->lock_userdata,
                .no_wait = no_wait,
        };
        return op_lock_take(&q, ret, err);
}

/* The merges on each hierarchy of the record, now. */
static int read_stacks(const SysextOptions *o, const SysextIntent *in, char **resolved, SysextStack *stacks,
                       GraftError *err) {
        for (size_t i = 0; i < in->n; i++) {
                _cleanup_(sysext_hierarchy_done) SysextHierarchy h = {};
                int r = sysext_hierarchy_read(o->class, sysext_root(o), in->paths[i], &h, err);
                if (r < 0)
                        return r;
                stacks[i] = (SysextStack) {};
                free(resolved[i]);
                resolved[i] = TAKE_PTR(h.resolved);
                if (resolved[i]) {
                        r = sysext_stack_read(o->class, resolved[i], &stacks[i], err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Each hierarchy carries exactly the merge devs[i] (none for 0). */
static bool stacks_are(const SysextIntent *in, const SysextStack *stacks, const dev_t *devs) {
        for (size_t i = 0; i < in->n; i++)
                if (devs[i] == 0 ? stacks[i].n != 0 : stacks[i].n != 1 || stacks[i].dev[0] != devs[i])
                        return false;
        return true;
}

/* Detaches the merges on top of the lowest one. */
static int collapse(const char *path, SysextStack *s, GraftError *err) {
        for (; s->n > 1; s->n--) {
                int r = sysext_detach(path, err);
                if (r < 0)
                        return r;
                fault_point("sysext-recover-collapsed");
                memmove(s->dev, s->dev + 1, (s->n - 1) * sizeof(dev_t));
        }
        return 0;
}

/* Refreshes again, with the options and hierarchies of the interrupted refresh. */
static int redo_refresh(const SysextOptions *o, const OpLock *lock, const SysextIntent *in, char **ret_note,
                        GraftError *err) {
        ImagePolicy policy;
        SysextOptions again = *o;
        again.hierarchies = in->paths;
        again.force = in->force;
        again.noexec = in->noexec; /* as the interrupted change mounted: effective, so exec follows */
        again.exec = !in->noexec;
        again.no_reload = in->no_reload;
        again.only = in->only;
        again.mutable = in->mutable != SYSEXT_MUTABLE_UNSET ? in->mutable : SYSEXT_MUTABLE_NO;
        again.dry_run = false;
        again.policy = NULL;
        if (in->policy) {
                int r = image_policy_parse(in->policy, &policy, err);
                if (r < 0)
                        return graft_error_prefix(err, r, "the interrupted refresh's image policy");
                again.policy = &policy;
        }
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = sysext_refresh_locked(&again, lock, &res, err);
        if (r < 0)
                return graft_error_prefix(err, r, "cannot finish the interrupted refresh");
        _cleanup_strv_free_ char **used = NULL;
        for (size_t i = 0; res.plan && i < res.plan->n_images; i++)
                if (!res.plan->images[i].skipped && strv_extend(&used, res.plan->images[i].name) < 0)
                        return -ENOMEM;
        _cleanup_free_ char *list = used ? strv_join(used, ", ") : NULL;
        return asprintf(ret_note, "finished the interrupted refresh by refreshing again (%s)",
                        list ?: "no extensions") < 0 ? -ENOMEM : 0;
}

/* Decides and does; *ret_note says what. 1: the record is to be removed (and the reload asked
 * for done), 0: redo_refresh() did all of that itself. */
static int resolve(const SysextOptions *o, const OpLock *lock, const SysextIntent *in, bool allow_redo,
                   char **ret_note, GraftError *err) {
        const char *op = sysext_op_to_string(in->op);
        _cleanup_strv_free_ char **resolved = calloc(in->n + 1, sizeof(char *));
        _cleanup_free_ SysextStack *stacks = calloc(in->n + 1, sizeof(SysextStack));
        if (!resolved || !stacks)
                return -ENOMEM;
        int r = read_stacks(o, in, resolved, stacks, err);
        if (r < 0)
                return r;
        if (stacks_are(in, stacks, in->target))
                return asprintf(ret_note, "the interrupted %s had finished", op) < 0 ? -ENOMEM : 1;
        if (in->op != SYSEXT_OP_REFRESH) {
                for (size_t i = 0; i < in->n; i++) {
                        r = resolved[i] ? sysext_detach_all(o->class, resolved[i], "sysext-recover-detached", err) : 0;
                        if (r < 0)
                                return r;
                }
                return asprintf(ret_note, in->op == SYSEXT_OP_MERGE ? "undid the interrupted merge"
                                                                   : "finished the interrupted unmerge") < 0 ? -ENOMEM : 1;
        }
        if (!in->resumed && stacks_are(in, stacks, in->old))
                return asprintf(ret_note, "the interrupted refresh had changed nothing") < 0 ? -ENOMEM : 1;
        for (size_t i = 0; i < in->n; i++) {
                r = resolved[i] ? collapse(resolved[i], &stacks[i], err) : 0;
                if (r < 0)
                        return r;
        }
        if (stacks_are(in, stacks, in->target))
                return asprintf(ret_note, "finished the interrupted refresh") < 0 ? -ENOMEM : 1;
        if (!allow_redo)
                return graft_error_set(err, -EBUSY, GRAFT_ERROR_IO, "some hierarchies have the new merge, others not");
        r = redo_refresh(o, lock, in, ret_note, err);
        return r < 0 ? r : 0;
}

/* The record of an interrupted change, if any, resolved and removed. */
static int recover_intent(const SysextOptions *o, const OpLock *lock, bool allow_redo, char **ret_note,
                          GraftError *err) {
        _cleanup_free_ char *text = NULL, *boot = NULL;
        int r = op_lock_intent_read(lock, &text, err);
        if (r <= 0)
                return r;
        _cleanup_(sysext_intent_done) SysextIntent in = {};
        GraftError e = GRAFT_ERROR_INIT;
        r = sysext_intent_parse(text, &in, &e);
        if (r < 0) { /* written whole or not at all: only somebody else's hand makes it unreadable */
                r = asprintf(ret_note, "dropped an intent record that is none (%s)", strna(e.message));
                graft_error_done(&e);
                if (r < 0)
                        return -ENOMEM;
        } else if (sysext_boot_id(&boot) < 0 || !streq(boot, in.boot_id)) {
                /* The mounts it describes went with the boot that made them. */
                if (asprintf(ret_note, "dropped the record of a %s of an earlier boot", sysext_op_to_string(in.op)) < 0)
                        return -ENOMEM;
        } else {
                r = resolve(o, lock, &in, allow_redo, ret_note, err);
                if (r <= 0)
                        return r;
                if (in.reload && !in.no_reload && !sysext_root(o)) {
                        GraftError re = GRAFT_ERROR_INIT;
                        if (sysext_reload_manager(o->bus, &re) < 0) {
                                char *n = NULL;
                                if (asprintf(&n, "%s; systemd did not reload: %s", *ret_note, strna(re.message)) >= 0) {
                                        free(*ret_note);
                                        *ret_note = n;
                                }
                        }
                        graft_error_done(&re);
                }
        }
        r = op_lock_intent_remove(lock, err);
        if (r < 0)
                return r;
        fault_point("sysext-recover-done");
        return 0;
}

/* Stacks on the configured hierarchies that no record explains. */
static int collapse_configured(const SysextOptions *o, char ***notes, GraftError *err) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        int r = sysext_status_current(o, &st, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < st.n_hierarchies; i++) {
                const SysextHierarchy *h = &st.hierarchies[i];
                /* Looking below the top mount takes a thread with a mount namespace of its own, a
                 * copy of every mount there is: only where the mount table shows a stack at all. */
                if (!h->merged || sysext_mounts_at(h->resolved) <= 1)
                        continue;
                SysextStack s;
                r = sysext_stack_read(o->class, h->resolved, &s, err);
                if (r < 0)
                        return r;
                size_t n = s.n;
                if (n <= 1)
                        continue;
                r = collapse(h->resolved, &s, err);
                if (r < 0)
                        return r;
                if (strv_extendf(notes, "removed %zu merge(s) stacked on the one on %s", n - 1, h->resolved) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int sysext_recover_locked(const SysextOptions *o, const OpLock *lock, bool allow_redo, char **ret_note,
                          GraftError *err) {
        _cleanup_strv_free_ char **notes = NULL;
        _cleanup_free_ char *note = NULL;
        int r = recover_intent(o, lock, allow_redo, &note, err);
        if (r < 0)
                return r;
        if (note && strv_consume(&notes, TAKE_PTR(note)) < 0)
                return -ENOMEM;
        r = collapse_configured(o, &notes, err);
        if (r < 0)
                return r;
        int k = verity_remove_unused(NULL);
        if (k > 0 && strv_extendf(&notes, "removed %d unused dm-verity device(s)", k) < 0)
                return -ENOMEM;
        if (ret_note)
                *ret_note = notes ? strv_join(notes, "; ") : NULL;
        return notes ? 1 : 0;
}

int sysext_recover(const SysextOptions *o, char **ret_note, GraftError *err) {
        /* Cheap without a record, and without the lock (as any user): status calls this. */
        if (!op_lock_intent_exists(sysext_root(o), lock_key(o->class)))
                return 0;
        _cleanup_(op_lock_release) OpLock lock = OP_LOCK_INIT;
        GraftError e = GRAFT_ERROR_INIT;
        int r = sysext_lock(o, "recovery", true, &lock, &e);
        if (r == -EBUSY && e.name && streq(e.name, GRAFT_ERROR_CONFLICT))
                r = 0; /* its holder is alive and finishes its own work */
        else if (r < 0 && e.name)
                graft_error_set(err, r, e.name, "%s", e.message);
        graft_error_done(&e);
        if (r < 0 || !lock_held(&lock))
                return r;
        return sysext_recover_locked(o, &lock, true, ret_note, err);
}

int sysext_status(const SysextOptions *o, SysextStatus *ret, GraftError *err) {
        if (!o->no_recovery)
                (void) sysext_recover(o, NULL, NULL); /* what it cannot do, the next change does */
        return sysext_status_current(o, ret, err);
}
