/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The intent journal of portable operations, so that one killed at any moment (or cut off by a
 * power loss) leaves the host as before or as after once it is replayed, never in between.
 *
 * Before the first change on disk an operation writes, durably (fsync, rename, fsync of the
 * directory), every path it will touch: each target, the name of the temporary file it stages
 * next to it, the name of the backup it keeps of what it replaces or removes. The journal lives in
 * ROOT/var/lib/graft/portable.journal, or in ROOT/run/graft/portable.journal when every path lies
 * below /run (a --runtime attach: journal and files vanish together at reboot). It then passes
 * through three states, each written the same way before the next step:
 *
 *   pending    directories made, files staged under temporary names: nothing visible yet;
 *   staged     every file staged; now renamed into place one by one;
 *   committed  every rename done and synced: only backups are left to delete, emptied
 *              directories to remove.
 *
 * Replaying a journal undoes a pending or staged operation (temporary files deleted, backups
 * renamed back, new files removed, directories made removed when empty) and finishes a committed
 * one. Every action of a replay looks at the disk first (does the temporary file still exist? the
 * backup?), so a replay that is itself interrupted is simply replayed again to the same end. The
 * callers hold the portable operation lock (op-lock.h) while they write or replay a journal. */
#pragma once

#include "error.h"

#define JOURNAL_FILE "portable.journal"
#define JOURNAL_NEW_FILE JOURNAL_FILE ".new" /* being written; never authoritative */

typedef enum JournalState {
        JOURNAL_PENDING,
        JOURNAL_STAGED,
        JOURNAL_COMMITTED,
        _JOURNAL_STATE_MAX,
} JournalState;

typedef enum JournalKind {
        JOURNAL_MKDIR,  /* a directory made; removed by an undo when empty */
        JOURNAL_NEW,    /* a file or symlink staged as temp, renamed to path; with backup: the one
                         * it replaces, hard-linked as backup first */
        JOURNAL_UNLINK, /* path renamed to backup (a file, a symlink or a whole directory tree) */
        JOURNAL_RMDIR,  /* a directory removed once committed, when empty */
        _JOURNAL_KIND_MAX,
} JournalKind;

typedef struct JournalStep {
        JournalKind kind;
        char *path;   /* absolute, inside the root */
        char *temp;   /* NEW: a name in path's directory */
        char *backup; /* NEW replacing a file, UNLINK: a name in path's directory */
} JournalStep;

typedef struct Journal {
        JournalState state;
        bool runtime; /* every path lies below /run: the journal is kept in /run/graft */
        char *what;   /* "attach /var/lib/portables/foo.raw", for messages */
        JournalStep *steps;
        size_t n_steps;
} Journal;

void journal_done(Journal *j);
/* temp and backup may be NULL. */
int journal_add(Journal *j, JournalKind kind, const char *path, const char *temp, const char *backup);
/* A fresh name for a temporary or backup file: ".#pctl" and 16 random hex digits. */
char *journal_temp_name(void);

/* The journal's directory inside the root (ROOT/var/lib/graft, or ROOT/run/graft for runtime),
 * made if missing when create is set; refused unless it is ours and writable by nobody else.
 * -ENOENT (no error record) when it is missing and create is not set. */
int journal_dir_open(int root_fd, const char *root, bool runtime, bool create, GraftError *err);
/* Writes the journal in its current state: a temporary file, fsync, rename over the journal,
 * fsync of the directory. */
int journal_write(int dir_fd, const char *root, const Journal *j, GraftError *err);
/* Removes the journal (and a half-written one) and syncs the directory. */
int journal_remove(int dir_fd, const char *root, const Journal *j, GraftError *err);
/* Removes a journal torn while it was written first (JOURNAL_FILE.new without JOURNAL_FILE):
 * nothing was changed before it was complete. */
int journal_remove_torn(int dir_fd, const char *root, bool runtime, GraftError *err);
/* Reads the journal of dir_fd: 1 and *ret, 0 when there is none; -EBADMSG with a message naming
 * the file and line when it is damaged. */
int journal_read(int dir_fd, const char *root, bool runtime, Journal *ret, GraftError *err);

/* Undoes what a pending or staged journal's operation did, looking at the disk for each step,
 * last step first. Continues past a step that fails and returns the first error. */
int journal_undo(int root_fd, const char *root, const Journal *j, GraftError *err);
/* Finishes a committed journal's operation: deletes the backups, then removes the RMDIR
 * directories that are empty. removed (may be NULL) gets, per step, whether its directory went. */
int journal_finish(int root_fd, const char *root, const Journal *j, bool *removed, GraftError *err);
