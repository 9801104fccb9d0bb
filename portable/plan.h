/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A plan: the exact list of file system changes an operation makes, computed before anything is
 * touched (so inspect can show it and the daemon can return it), then carried out all or nothing. */
#pragma once

#include <sys/types.h>
#include "portable.h"

typedef struct PlanStep {
        PortableChangeType type; /* COPY, WRITE, SYMLINK, MKDIR or UNLINK */
        char *path;              /* absolute, inside the root */
        char *source;            /* COPY: where from; SYMLINK: the target */
        char *content;           /* COPY, WRITE */
        size_t size;
        mode_t mode;             /* COPY, WRITE, MKDIR */
        bool replace;            /* COPY/WRITE/SYMLINK over an existing file (reattach) */
        bool directory;          /* UNLINK of a directory: removed last, and only if empty */
} PlanStep;

typedef struct PortablePlan {
        PlanStep *steps;
        size_t n_steps;
} PortablePlan;

void portable_plan_done(PortablePlan *p);

int plan_add_mkdir(PortablePlan *p, const char *path);
/* Takes ownership of content. */
int plan_add_file(PortablePlan *p, PortableChangeType type, const char *path, const char *source, char *content,
                  size_t size, mode_t mode, bool replace);
int plan_add_symlink(PortablePlan *p, const char *path, const char *target, bool replace);
int plan_add_unlink(PortablePlan *p, const char *path, bool directory);
/* Whether the plan already creates or removes path. */
bool plan_has(const PortablePlan *p, const char *path);

/* The changes the plan would make, as reported after execution (for inspect / dry runs). */
int portable_plan_changes(const PortablePlan *p, PortableChanges *ret);

/* Carries the plan out below root (NULL: the host), all or nothing, even across a crash: the
 * intent journal (journal.h) naming every path is written first; new directories are made, every
 * new file is written to a temporary name next to its place and synced, then all are renamed into
 * place in plan order (files replaced keep a hard-linked backup, removed files and trees are
 * renamed aside), the directories are synced, and only once the journal says so are backups
 * deleted and emptied directories removed. On a failure before that, everything done is undone and
 * the tree is as before. what ("attach foo.raw") is recorded in the journal. Reports what was done.
 * The caller holds the portable lock. */
int portable_plan_execute(const char *root, const PortablePlan *p, const char *what, PortableChanges *ret,
                          GraftError *err);
