/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns carrying out a plan all or nothing, through the intent journal (see plan.h, journal.h):
 * journal, make directories, stage, journal "staged", rename in order, sync, journal "committed",
 * finish, remove the journal; on a failure before the commit the journal's undo puts the tree back.
 * A crash at any point leaves a journal that the next replay finishes or undoes the same way.
 * Every path is resolved inside the root (openat2 RESOLVE_IN_ROOT) and every change is made with
 * *at() calls on the parent directory, so a symlink planted in the tree cannot redirect a write
 * outside it. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "journal.h"
#include "path-util.h"
#include "plan.h"
#include "portable-util.h"

typedef struct StepState {
        int dir_fd; /* the parent directory, or -EBADF */
        char *name; /* the last component */
        bool done;  /* MKDIR: made; a file step: in place; directory UNLINK: removed */
} StepState;

typedef struct Exec {
        const char *root;
        int root_fd;
        const PortablePlan *plan;
        Journal journal; /* one step per plan step, with the names of temporary files and backups */
        int journal_fd;  /* the journal's directory once a journal is written, else -EBADF */
        StepState *st;
        GraftError *err;
} Exec;

static int fail(Exec *x, const PlanStep *s, int r, const char *what) {
        _cleanup_free_ char *full = path_prefix_root(x->root, s->path);
        return graft_error_set(x->err, r, GRAFT_ERROR_IO, "cannot %s %s: %s", what, full ?: s->path, strerror(-r));
}

static bool is_file_step(const PlanStep *s) {
        return s->type != PORTABLE_CHANGE_MKDIR && !(s->type == PORTABLE_CHANGE_UNLINK && s->directory);
}

/* The journal's steps, and the names of every temporary file and backup, chosen before anything
 * is written so that a replay knows them all. */
static int journal_build(Exec *x, const char *what) {
        const PortablePlan *p = x->plan;
        x->journal.runtime = true;
        x->journal.what = what ? strdup(what) : NULL;
        if (what && !x->journal.what)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_steps; i++) {
                const PlanStep *s = &p->steps[i];
                bool unlink = s->type == PORTABLE_CHANGE_UNLINK;
                JournalKind kind = s->type == PORTABLE_CHANGE_MKDIR ? JOURNAL_MKDIR
                                   : unlink && s->directory      ? JOURNAL_RMDIR
                                   : unlink                      ? JOURNAL_UNLINK
                                                                 : JOURNAL_NEW;
                _cleanup_free_ char *temp = kind == JOURNAL_NEW ? journal_temp_name() : NULL;
                _cleanup_free_ char *backup = kind == JOURNAL_UNLINK || (kind == JOURNAL_NEW && s->replace)
                                                      ? journal_temp_name() : NULL;
                if ((kind == JOURNAL_NEW && !temp) || (kind == JOURNAL_UNLINK && !backup) ||
                    journal_add(&x->journal, kind, s->path, temp, backup) < 0)
                        return -ENOMEM;
                x->journal.runtime = x->journal.runtime && startswith(s->path, "/run/");
        }
        return 0;
}

/* The state in memory is always the one on disk, which the undo goes by. */
static int journal_set(Exec *x, JournalState state) {
        JournalState old = x->journal.state;
        x->journal.state = state;
        int r = journal_write(x->journal_fd, x->root, &x->journal, x->err);
        if (r < 0)
                x->journal.state = old;
        return r;
}

static int open_parent(Exec *x, const PlanStep *s, StepState *t) {
        if (s->path[0] != '/' || !path_is_safe_relative(s->path + 1))
                return graft_error_set(x->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "refusing unsafe path %s", s->path);
        t->name = path_basename(s->path);
        _cleanup_free_ char *parent = t->name ? strndup(s->path, strlen(s->path) - strlen(t->name)) : NULL;
        if (!parent)
                return -ENOMEM;
        t->dir_fd = open_in_root(x->root_fd, parent, O_RDONLY | O_DIRECTORY, 0);
        if (t->dir_fd < 0)
                return fail(x, s, t->dir_fd, "open the directory of");
        return 0;
}

static int make_dir(Exec *x, const PlanStep *s, StepState *t) {
        int r = open_parent(x, s, t);
        if (r < 0)
                return r;
        if (mkdirat(t->dir_fd, t->name, s->mode) >= 0) {
                t->done = true;
                fault_point("directory made");
                return 0;
        }
        struct stat st;
        if (errno == EEXIST && fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                return 0; /* appeared meanwhile */
        return fail(x, s, negative_errno(), "create directory");
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static int stage_file(Exec *x, const PlanStep *s, StepState *t, const char *temp) {
        if (s->type == PORTABLE_CHANGE_SYMLINK)
                return symlinkat(s->source, t->dir_fd, temp) < 0 ? fail(x, s, negative_errno(), "create symlink") : 0;
        _cleanup_close_ int fd = openat(t->dir_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, s->mode);
        if (fd < 0)
                return fail(x, s, negative_errno(), "write");
        int r = write_all(fd, s->content, s->size);
        if (r >= 0 && fchmod(fd, s->mode) < 0) /* not what the umask left */
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        return r < 0 ? fail(x, s, r, "write") : 0;
}

static int stage(Exec *x, size_t i) {
        const PlanStep *s = &x->plan->steps[i];
        StepState *t = &x->st[i];
        int r = open_parent(x, s, t);
        if (r < 0)
                return r;
        struct stat st;
        bool exists = fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        if (s->type == PORTABLE_CHANGE_UNLINK)
                return exists ? 0 : fail(x, s, -ENOENT, "remove");
        if (exists && (!s->replace || S_ISDIR(st.st_mode)))
                return fail(x, s, -EEXIST, "create");
        /* A replacement keeps a backup of what it replaces, which must be there. */
        if (!exists && s->replace)
                return fail(x, s, -ENOENT, "replace");
        r = stage_file(x, s, t, x->journal.steps[i].temp);
        if (r >= 0)
                fault_point("file staged");
        return r;
}

static int commit(Exec *x, size_t i) {
        const PlanStep *s = &x->plan->steps[i];
        const JournalStep *j = &x->journal.steps[i];
        StepState *t = &x->st[i];
        if (s->type == PORTABLE_CHANGE_UNLINK) {
                if (renameat(t->dir_fd, t->name, t->dir_fd, j->backup) < 0)
                        return fail(x, s, negative_errno(), "remove");
                t->done = true;
                fault_point("moved aside");
                return 0;
        }
        if (j->backup) {
                if (linkat(t->dir_fd, t->name, t->dir_fd, j->backup, 0) < 0)
                        return fail(x, s, negative_errno(), "keep a backup of");
                fault_point("backup linked");
                if (renameat(t->dir_fd, j->temp, t->dir_fd, t->name) < 0)
                        return fail(x, s, negative_errno(), "replace");
        } else if (renameat2(t->dir_fd, j->temp, t->dir_fd, t->name, RENAME_NOREPLACE) < 0) {
                int r = negative_errno();
                if (r != -EINVAL || renameat(t->dir_fd, j->temp, t->dir_fd, t->name) < 0)
                        return fail(x, s, r == -EINVAL ? negative_errno() : r, "create");
        }
        t->done = true;
        fault_point("renamed into place");
        return 0;
}

/* Every directory a step changed, synced before the journal says "committed": after a power loss,
 * a committed journal never comes back with a rename lost. */
static bool same_parent(const char *a, const char *b) {
        const char *x = strrchr(a, '/'), *y = strrchr(b, '/');
        return x - a == y - b && strneq(a, b, (size_t) (x - a));
}

static int sync_dirs(Exec *x) {
        for (size_t i = 0; i < x->plan->n_steps; i++) {
                if (x->st[i].dir_fd < 0)
                        continue;
                bool synced = false;
                for (size_t k = 0; k < i && !synced; k++)
                        synced = x->st[k].dir_fd >= 0 && same_parent(x->plan->steps[k].path, x->plan->steps[i].path);
                if (!synced && fsync(x->st[i].dir_fd) < 0)
                        return fail(x, &x->plan->steps[i], negative_errno(), "sync the directory of");
        }
        return 0;
}

static int run(Exec *x) {
        const PortablePlan *p = x->plan;
        int r = 0;
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (p->steps[i].type == PORTABLE_CHANGE_MKDIR)
                        r = make_dir(x, &p->steps[i], &x->st[i]);
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (is_file_step(&p->steps[i]))
                        r = stage(x, i);
        if (r >= 0)
                r = journal_set(x, JOURNAL_STAGED);
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (is_file_step(&p->steps[i]))
                        r = commit(x, i);
        if (r >= 0)
                r = sync_dirs(x);
        return r;
}

static int report(const Exec *x, const bool *removed, PortableChanges *ret) {
        _cleanup_(portable_changes_done) PortableChanges c = {};
        const PortablePlan *p = x->plan;
        for (size_t i = 0; i < p->n_steps; i++) {
                const PlanStep *s = &p->steps[i];
                bool happened = s->type == PORTABLE_CHANGE_UNLINK && s->directory ? removed[i] : x->st[i].done;
                if (happened && portable_changes_add(&c, s->type, s->path, s->source) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (PortableChanges) {};
        return 0;
}

/* After the journal is written: run, then commit or undo. */
static int execute(Exec *x, PortableChanges *ret) {
        int r = run(x);
        if (r >= 0)
                r = journal_set(x, JOURNAL_COMMITTED);
        if (r < 0) {
                /* The undo's own failure stays in the journal for the next replay; the first
                 * error is what the caller hears about. */
                GraftError ignored = GRAFT_ERROR_INIT;
                if (journal_undo(x->root_fd, x->root, &x->journal, &ignored) >= 0)
                        (void) journal_remove(x->journal_fd, x->root, &x->journal, &ignored);
                graft_error_done(&ignored);
                return r;
        }
        _cleanup_free_ bool *removed = calloc(x->plan->n_steps + 1, sizeof(bool));
        if (!removed)
                return -ENOMEM;
        r = journal_finish(x->root_fd, x->root, &x->journal, removed, x->err);
        if (r >= 0)
                r = journal_remove(x->journal_fd, x->root, &x->journal, x->err);
        if (r >= 0 && ret)
                r = report(x, removed, ret);
        return r;
}

int portable_plan_execute(const char *root, const PortablePlan *p, const char *what, PortableChanges *ret,
                          GraftError *err) {
        Exec x = { .root = root, .plan = p, .err = err, .journal_fd = -EBADF };
        if (p->n_steps == 0) {
                if (ret)
                        *ret = (PortableChanges) {};
                return 0;
        }
        x.root_fd = portable_root_open(root, err);
        if (x.root_fd < 0)
                return x.root_fd;
        x.st = calloc(p->n_steps, sizeof(StepState));
        int r = x.st ? journal_build(&x, what) : -ENOMEM;
        for (size_t i = 0; x.st && i < p->n_steps; i++)
                x.st[i].dir_fd = -EBADF;
        if (r >= 0)
                r = x.journal_fd = journal_dir_open(x.root_fd, root, x.journal.runtime, true, err);
        if (r >= 0)
                r = journal_set(&x, JOURNAL_PENDING);
        if (r >= 0)
                r = execute(&x, ret);
        for (size_t i = 0; x.st && i < p->n_steps; i++) {
                safe_close(x.st[i].dir_fd);
                free(x.st[i].name);
        }
        free(x.st);
        journal_done(&x.journal);
        safe_close(x.journal_fd);
        safe_close(x.root_fd);
        return r;
}
