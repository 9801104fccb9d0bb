/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fingerprint of a directory tree for the portable tests: every entry's relative path, type,
 * permission bits, link target and (for files) content, sorted. Two equal fingerprints mean a
 * byte-identical tree. The lock files below run/graft/locks are left out: taking the operation
 * lock is not a change of the host. */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "strv.h"

static char **tree_state_lines_;
static size_t tree_state_prefix_;

static int tree_state_visit_(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        char *line = NULL, target[4096] = "";
        _cleanup_free_ char *content = NULL;
        size_t n = 0;
        if (strncmp(path + tree_state_prefix_, "/run/graft/locks/", 17) == 0)
                return 0;
        if (S_ISLNK(st->st_mode)) {
                ssize_t k = readlink(path, target, sizeof target - 1);
                target[k > 0 ? k : 0] = 0;
        } else if (S_ISREG(st->st_mode))
                (void) read_full_file_at(AT_FDCWD, path, 1 << 20, &content, &n);
        if (asprintf(&line, "%s %o %o %s [%s]", path + tree_state_prefix_, (unsigned) (st->st_mode & S_IFMT),
                     (unsigned) (st->st_mode & 07777), target, content ? content : "") < 0)
                return -1;
        return strv_consume(&tree_state_lines_, line) < 0 ? -1 : 0;
}

/* malloc'd; "" for an empty or missing tree. */
static inline char *tree_state(const char *dir) {
        tree_state_lines_ = NULL;
        tree_state_prefix_ = strlen(dir);
        if (nftw(dir, tree_state_visit_, 16, FTW_PHYS) < 0 && !tree_state_lines_)
                return strdup("");
        if (tree_state_lines_)
                strv_sort(tree_state_lines_);
        char *s = strv_join(tree_state_lines_, "\n");
        strv_free(tree_state_lines_);
        tree_state_lines_ = NULL;
        return s ? s : strdup("");
}
