/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Staging and placing one version of an update set (internal to the engine): each transfer's file
 * is downloaded (or copied) under a hidden staging name in its target directory (the same file
 * system, so placing is a rename), checked against SHA256SUMS, made root's, 0644 (Mode=) and
 * fsynced, then checked by graft (update-image.h); only when every file of the version passed is
 * any of them renamed to its final name, in transfer order. A failure removes every staged file. */
#pragma once

#include "update.h"

typedef struct Staged {
        const Transfer *t;
        char *dir;         /* the target directory, root-prefixed */
        char *tmp_name;    /* staging name in dir while staged */
        char *final_name;
        bool already;      /* installed before: nothing to do */
        uint64_t fetched;
} Staged;

typedef struct StagedSet {
        Staged *items;
        size_t n;
} StagedSet;

void staged_set_done(StagedSet *s);
/* Removes the staging files that are still there. */
void staged_set_discard(StagedSet *s);

/* Stages and checks version for every transfer of c. host_release: match extensions against
 * this os-release instead of the root's (check --os-release). */
int update_stage(UpdateContext *c, const char *version, char * const *host_release, StagedSet *ret,
                 GraftError *err);

/* Stages one transfer's file of version (update_stage() does it for all). s must be zeroed; its
 * staging file is left for the caller to discard or commit. */
int update_stage_one(UpdateContext *c, size_t i, const char *version, char * const *host_release, Staged *s,
                     GraftError *err);

/* Renames every staged file to its final name (fsyncing the directory each time), then (with
 * switch_links: the version becomes the one in use) updates CurrentSymlink=s. Paths placed are
 * added to placed. */
int update_commit_staged(UpdateContext *c, StagedSet *s, bool switch_links, char ***placed, GraftError *err);

/* Points t's CurrentSymlink= at file_name in its target directory, atomically; NULL removes it. */
int update_symlink_set(UpdateContext *c, const Transfer *t, const char *file_name, GraftError *err);
