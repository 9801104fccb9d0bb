/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the portable lock and crash recovery (see context.h, portable.h): every state-changing
 * operation takes the lock "portable" of its root (op-lock.h) for its whole run, whichever way it
 * came in (pctl in-process, graftd on a caller's behalf), then replays any journal an interrupted
 * operation left (journal.h) before it looks at the attachments. Reads replay a journal only when
 * they can have the lock at once: a journal whose lock is held belongs to a running operation. */
#include <fcntl.h>
#include <string.h>

#include "context.h"
#include "fault.h"
#include "journal.h"
#include "path-util.h"
#include "portable-util.h"

#define LOCK_KEY "portable"

/* The journal of one directory, if any: finished or undone, then removed. */
static int recover_dir(const char *root, int root_fd, bool runtime, const PortableOptions *o, GraftError *err) {
        _cleanup_close_ int dir_fd = journal_dir_open(root_fd, root, runtime, false, err);
        if (dir_fd == -ENOENT)
                return 0;
        if (dir_fd < 0)
                return dir_fd;
        _cleanup_(journal_done) Journal j = {};
        int r = journal_read(dir_fd, root, runtime, &j, err);
        if (r == 0) /* at most a journal torn while it was first written: nothing was changed yet */
                return journal_remove_torn(dir_fd, root, runtime, err);
        if (r < 0)
                return r;
        bool completed = j.state == JOURNAL_COMMITTED;
        r = completed ? journal_finish(root_fd, root, &j, NULL, err) : journal_undo(root_fd, root, &j, err);
        if (r >= 0)
                r = journal_remove(dir_fd, root, &j, err);
        if (r < 0) {
                _cleanup_free_ char *shown = path_prefix_root(root, runtime ? "/run/graft" : "/var/lib/graft");
                return graft_error_prefix(err, r, "cannot recover the interrupted operation (%s) from the journal in %s",
                                          strna(j.what), strna(shown));
        }
        if (o && o->on_recovered)
                o->on_recovered(j.what ?: "an operation", completed, o->userdata);
        return 1;
}

/* Both journal directories; 1 when something was recovered. */
static int recover_all(const char *root, int root_fd, const PortableOptions *o, GraftError *err) {
        int any = 0;
        for (int runtime = 0; runtime <= 1; runtime++) {
                int r = recover_dir(root, root_fd, runtime, o, err);
                if (r < 0)
                        return r;
                any |= r;
        }
        return any;
}

static void lock_wait(const char *holder, void *userdata) {
        const PortableOptions *o = userdata;
        o->on_lock_wait(holder, o->userdata);
}

int portable_lock(const char *root, int root_fd, const PortableOptions *o, const char *what, OpLock *ret,
                  GraftError *err) {
        OpLock l = OP_LOCK_INIT;
        int r = op_lock_take(&(OpLockRequest) {
                                     .root = root,
                                     .key = LOCK_KEY,
                                     .what = what,
                                     .on_wait = o->on_lock_wait ? lock_wait : NULL,
                                     .userdata = (void *) o,
                             },
                             &l, err);
        if (r < 0)
                return r;
        r = recover_all(root, root_fd, o, err);
        if (r < 0) {
                op_lock_release(&l);
                return r;
        }
        *ret = l;
        return r;
}

static bool journal_present(const char *root, int root_fd) {
        for (int runtime = 0; runtime <= 1; runtime++) {
                _cleanup_close_ int fd = journal_dir_open(root_fd, root, runtime, false, NULL);
                /* A torn first write (JOURNAL_NEW_FILE alone) is there too, to be removed. */
                if (fd >= 0 && (faccessat(fd, JOURNAL_FILE, F_OK, AT_SYMLINK_NOFOLLOW) >= 0 ||
                                faccessat(fd, JOURNAL_NEW_FILE, F_OK, AT_SYMLINK_NOFOLLOW) >= 0))
                        return true;
        }
        return false;
}

/* One try at the lock, then the replay: a held lock means a running operation, which replays
 * whatever it found itself. 1 if something was recovered, 0 if not (or held). */
static int recover_if_free(const char *root, int root_fd, const PortableOptions *o, GraftError *err) {
        OpLock l = OP_LOCK_INIT;
        GraftError busy = GRAFT_ERROR_INIT;
        int r = op_lock_take(&(OpLockRequest) { .root = root, .key = LOCK_KEY, .what = "recover", .no_wait = true },
                             &l, &busy);
        if (r == -EBUSY) {
                graft_error_done(&busy);
                return 0;
        }
        if (r < 0) {
                if (err && !graft_error_is_set(err))
                        *err = busy;
                else
                        graft_error_done(&busy);
                return r;
        }
        r = recover_all(root, root_fd, o, err);
        op_lock_release(&l);
        return r;
}

void portable_recover_if_idle(const char *root, int root_fd, const PortableOptions *o) {
        if (!journal_present(root, root_fd))
                return;
        /* A failure is the next change's to report: it replays under the lock again. */
        GraftError ignored = GRAFT_ERROR_INIT;
        (void) recover_if_free(root, root_fd, o, &ignored);
        graft_error_done(&ignored);
}

int portable_recover(const PortableOptions *o, GraftError *err) {
        _cleanup_free_ char *root = NULL;
        int r = portable_root_canonicalize(o->root, &root, err);
        if (r < 0)
                return r;
        _cleanup_close_ int root_fd = portable_root_open(root, err);
        if (root_fd < 0)
                return root_fd;
        return journal_present(root, root_fd) ? recover_if_free(root, root_fd, o, err) : 0;
}
