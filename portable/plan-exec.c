/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns carrying out a plan all or nothing (see plan.h): stage, commit in order, then either
 * finish (delete backups, remove emptied directories) or undo in reverse. Every path is resolved
 * inside the root (openat2 RESOLVE_IN_ROOT) and every change is made with *at() calls on the
 * parent directory, so a symlink planted in the tree cannot redirect a write outside it. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "path-util.h"
#include "plan.h"
#include "portable-util.h"

typedef struct StepState {
        int dir_fd;        /* the parent directory, or -EBADF */
        char *name;        /* the last component */
        char *temp;        /* staged new file, not yet in place */
        char *backup;      /* what was at name before (replaced or removed) */
        bool committed;
        bool done;         /* MKDIR: created; UNLINK of a directory: removed */
} StepState;

typedef struct Exec {
        const char *root;
        int root_fd;
        const PortablePlan *plan;
        StepState *st;
        GraftError *err;
} Exec;

static int fail(Exec *x, const PlanStep *s, int r, const char *what) {
        _cleanup_free_ char *full = path_prefix_root(x->root, s->path);
        return graft_error_set(x->err, r, GRAFT_ERROR_IO, "cannot %s %s: %s", what, full ?: s->path, strerror(-r));
}

static char *random_name(void) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof v, 0) != (ssize_t) sizeof v)
                v ^= (uint64_t) getpid() << 32 ^ (uint64_t) (uintptr_t) &v;
        char *s;
        return asprintf(&s, ".#pctl%016" PRIx64, v) < 0 ? NULL : s;
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
                return 0;
        }
        struct stat st;
        if (errno == EEXIST && fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                return 0; /* appeared meanwhile: not ours to remove */
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

static int stage(Exec *x, const PlanStep *s, StepState *t) {
        int r = open_parent(x, s, t);
        if (r < 0)
                return r;
        struct stat st;
        bool exists = fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        if (s->type == PORTABLE_CHANGE_UNLINK)
                return exists ? 0 : fail(x, s, -ENOENT, "remove");
        if (exists && (!s->replace || S_ISDIR(st.st_mode)))
                return fail(x, s, -EEXIST, "create");

        t->temp = random_name();
        if (!t->temp)
                return -ENOMEM;
        if (s->type == PORTABLE_CHANGE_SYMLINK) {
                if (symlinkat(s->source, t->dir_fd, t->temp) < 0) {
                        r = negative_errno();
                        t->temp = mfree(t->temp);
                        return fail(x, s, r, "create symlink");
                }
                return 0;
        }
        _cleanup_close_ int fd = openat(t->dir_fd, t->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                                        s->mode);
        if (fd < 0) {
                r = negative_errno();
                t->temp = mfree(t->temp);
                return fail(x, s, r, "write");
        }
        r = write_all(fd, s->content, s->size);
        if (r >= 0 && fchmod(fd, s->mode) < 0) /* not what the umask left */
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        return r < 0 ? fail(x, s, r, "write") : 0;
}

static int commit(Exec *x, const PlanStep *s, StepState *t) {
        if (s->type == PORTABLE_CHANGE_UNLINK) {
                t->backup = random_name();
                if (!t->backup)
                        return -ENOMEM;
                if (renameat(t->dir_fd, t->name, t->dir_fd, t->backup) < 0) {
                        int r = negative_errno();
                        t->backup = mfree(t->backup);
                        return fail(x, s, r, "remove");
                }
                t->committed = true;
                return 0;
        }
        struct stat st;
        if (s->replace && fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                t->backup = random_name();
                if (!t->backup)
                        return -ENOMEM;
                if (linkat(t->dir_fd, t->name, t->dir_fd, t->backup, 0) < 0) {
                        int r = negative_errno();
                        t->backup = mfree(t->backup);
                        return fail(x, s, r, "keep a backup of");
                }
                if (renameat(t->dir_fd, t->temp, t->dir_fd, t->name) < 0) {
                        int r = negative_errno();
                        (void) unlinkat(t->dir_fd, t->backup, 0);
                        t->backup = mfree(t->backup);
                        return fail(x, s, r, "replace");
                }
        } else if (renameat2(t->dir_fd, t->temp, t->dir_fd, t->name, RENAME_NOREPLACE) < 0) {
                int r = negative_errno();
                if (r != -EINVAL || renameat(t->dir_fd, t->temp, t->dir_fd, t->name) < 0)
                        return fail(x, s, r == -EINVAL ? negative_errno() : r, "create");
        }
        t->temp = mfree(t->temp);
        t->committed = true;
        return 0;
}

static void undo(Exec *x) {
        for (size_t i = x->plan->n_steps; i-- > 0;) {
                const PlanStep *s = &x->plan->steps[i];
                StepState *t = &x->st[i];
                if (t->committed) {
                        if (t->backup)
                                (void) renameat(t->dir_fd, t->backup, t->dir_fd, t->name);
                        else
                                (void) unlinkat(t->dir_fd, t->name, 0);
                        t->backup = mfree(t->backup);
                }
                if (t->temp)
                        (void) unlinkat(t->dir_fd, t->temp, 0);
                if (s->type == PORTABLE_CHANGE_MKDIR && t->done)
                        (void) unlinkat(t->dir_fd, t->name, AT_REMOVEDIR);
        }
}

static bool is_file_step(const PlanStep *s) {
        return s->type != PORTABLE_CHANGE_MKDIR && !(s->type == PORTABLE_CHANGE_UNLINK && s->directory);
}

static int run(Exec *x) {
        const PortablePlan *p = x->plan;
        int r = 0;
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (p->steps[i].type == PORTABLE_CHANGE_MKDIR)
                        r = make_dir(x, &p->steps[i], &x->st[i]);
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (is_file_step(&p->steps[i]))
                        r = stage(x, &p->steps[i], &x->st[i]);
        for (size_t i = 0; i < p->n_steps && r >= 0; i++)
                if (is_file_step(&p->steps[i]))
                        r = commit(x, &p->steps[i], &x->st[i]);
        return r;
}

/* After success: backups go, emptied directories go (a directory someone else still uses stays,
 * and is not reported as removed). */
static void finish(Exec *x) {
        const PortablePlan *p = x->plan;
        for (size_t i = 0; i < p->n_steps; i++)
                if (x->st[i].backup)
                        (void) unlinkat(x->st[i].dir_fd, x->st[i].backup, 0);
        for (size_t i = 0; i < p->n_steps; i++) {
                const PlanStep *s = &p->steps[i];
                if (s->type != PORTABLE_CHANGE_UNLINK || !s->directory)
                        continue;
                StepState *t = &x->st[i];
                if (open_parent(x, s, t) < 0) {
                        graft_error_done(x->err);
                        continue;
                }
                t->done = unlinkat(t->dir_fd, t->name, AT_REMOVEDIR) >= 0;
        }
}

static int report(const Exec *x, PortableChanges *ret) {
        _cleanup_(portable_changes_done) PortableChanges c = {};
        const PortablePlan *p = x->plan;
        for (size_t i = 0; i < p->n_steps; i++) {
                const PlanStep *s = &p->steps[i];
                bool happened = is_file_step(s) ? x->st[i].committed : x->st[i].done;
                if (happened && portable_changes_add(&c, s->type, s->path, s->source) < 0)
                        return -ENOMEM;
        }
        *ret = c;
        c = (PortableChanges) {};
        return 0;
}

int portable_plan_execute(const char *root, const PortablePlan *p, PortableChanges *ret, GraftError *err) {
        Exec x = { .root = root, .plan = p, .err = err };
        x.root_fd = portable_root_open(root, err);
        if (x.root_fd < 0)
                return x.root_fd;
        x.st = calloc(p->n_steps ?: 1, sizeof(StepState));
        if (!x.st) {
                safe_close(x.root_fd);
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_steps; i++)
                x.st[i].dir_fd = -EBADF;

        int r = run(&x);
        if (r < 0)
                undo(&x);
        else {
                finish(&x);
                r = ret ? report(&x, ret) : 0;
        }
        for (size_t i = 0; i < p->n_steps; i++) {
                safe_close(x.st[i].dir_fd);
                free(x.st[i].name);
                free(x.st[i].temp);
                free(x.st[i].backup);
        }
        free(x.st);
        safe_close(x.root_fd);
        return r;
}
