/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of sysext/ share among themselves and nobody else uses: the new mount API
 * system calls (glibc 2.36 has no wrappers for them), hierarchy helpers and the overlay builder. */
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/syscall.h>

#include "fault.h"
#include "op-lock.h"
#include "sysext.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* Linux 6.5 */
#endif

static inline int sys_fsopen(const char *fs, unsigned flags) {
        return (int) syscall(SYS_fsopen, fs, flags);
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
        return (int) syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attrs) {
        return (int) syscall(SYS_fsmount, fd, flags, attrs);
}
static inline int sys_move_mount(int from_fd, const char *from, int to_fd, const char *to, unsigned flags) {
        return (int) syscall(SYS_move_mount, from_fd, from, to_fd, to, flags);
}

/* Test knobs, from $GRAFT_SYSEXT_COMPAT (comma-separated): "no-beneath" takes the path for kernels
 * without MOVE_MOUNT_BENEATH, "no-lowerdir-plus" the one for kernels before 6.8 (no per-layer
 * "lowerdir+" option). Only the integration tests set it. */
bool sysext_compat(const char *what);

/* The release file kind of a class. */
static inline ExtensionKind sysext_extension_kind(ImageClass c) {
        return c == IMAGE_CLASS_CONFEXT ? EXTENSION_CONFEXT : EXTENSION_SYSEXT;
}

/* Whether the merge is mounted noexec: sysext with --noexec, confext unless --noexec=no (as
 * systemd-confext). Confext merges are nosuid whatever this says. */
static inline bool sysext_noexec(const SysextOptions *o) {
        return o->noexec || (o->class == IMAGE_CLASS_CONFEXT && !o->exec);
}

/* The root as the library uses it: NULL for the host ("" and "/" too). */
static inline const char *sysext_root(const SysextOptions *o) {
        return isempty(o->root) || streq(o->root, "/") ? NULL : o->root;
}

/* The path an fd refers to, as this process sees it (symlinks resolved), malloc'd. */
char *sysext_fd_path(int fd);

/* The hierarchies of o (o->hierarchies or the default), copied. */
int sysext_hierarchies(const SysextOptions *o, char ***ret, GraftError *err);

/* Fills h for one hierarchy: resolved inside root (NULL when it does not exist), and whether it
 * carries a merge whose metadata names its own st_dev. */
int sysext_hierarchy_read(ImageClass class, const char *root, const char *path, SysextHierarchy *ret,
                          GraftError *err);

/* Whether the tree at path (as this process sees it) is a merge made by us or systemd. *ret_dev:
 * the device it names. */
int sysext_path_is_merged(ImageClass class, const char *path, dev_t *ret_dev);

/* Creates hierarchy path under root (the missing components, 0755), resolved inside the root;
 * *ret: its path as this process sees it. */
int sysext_hierarchy_create(const char *root, const char *path, char **ret, GraftError *err);

/* The staging directory root/run/graft/{sysext,confext}, created if missing, as a path. */
int sysext_staging_dir(ImageClass class, const char *root, char **ret, GraftError *err);

/* Runs fn in a thread that has a private mount namespace of its own (propagation private too):
 * what it mounts or unmounts is seen by nobody else and vanishes with it. */
int sysext_in_private_namespace(int (*fn)(void *userdata, GraftError *err), void *userdata, GraftError *err);

/* The merges on a hierarchy, top first (at most SYSEXT_STACK_MAX: more is -ELOOP). */
#define SYSEXT_STACK_MAX 16
typedef struct SysextStack {
        dev_t dev[SYSEXT_STACK_MAX];
        size_t n;
} SysextStack;

/* In a private namespace: unmounts every merge on path, recording each (ret may be NULL), so that
 * path shows the host's hierarchy as it is below them. */
int sysext_unstack_here(ImageClass class, const char *path, SysextStack *ret, GraftError *err);
/* From anywhere: what sysext_unstack_here() would find, the hierarchy left as it is. */
int sysext_stack_read(ImageClass class, const char *path, SysextStack *ret, GraftError *err);

/* The mounts right below the top mount of a hierarchy, each cloned (detached, with what is mounted
 * below it) with its place relative to the hierarchy (sysext-submounts.c). */
typedef struct SysextSubmounts {
        char **rel;
        int *fds;
        size_t n;
} SysextSubmounts;

void sysext_submounts_done(SysextSubmounts *s);
/* Clones what is mounted right below the top mount of path (the metadata directory's own mount
 * left out), as the calling thread sees it. */
int sysext_submounts_take(ImageClass class, const char *path, SysextSubmounts *ret, GraftError *err);
/* Puts each clone at its place below dir_fd (resolved inside it); shown: dir_fd's path, for
 * messages. A place the tree lacks is -ENOENT with GRAFT_ERROR_CONFLICT naming it. */
int sysext_submounts_put(SysextSubmounts *s, int dir_fd, const char *shown, GraftError *err);
/* After unmerge: puts each clone that has no twin on path now (a mount made on the merged tree)
 * at its place there; drops the others. */
int sysext_submounts_keep_below(SysextSubmounts *s, const char *path, GraftError *err);

/* How many mounts the mount table lists on path (as the process sees it; 2 when it cannot be
 * read): more than one is a stack. */
int sysext_mounts_at(const char *path);

/* Detaches the top mount of path. */
int sysext_detach(const char *path, GraftError *err);
/* Detaches merges from path until none is left (a stack, too), passing fault point fault after
 * each. */
int sysext_detach_all(ImageClass class, const char *path, const char *fault, GraftError *err);

/* Status as it is, without the recovery sysext_status() may do first. */
int sysext_status_current(const SysextOptions *o, SysextStatus *ret, GraftError *err);

/* The operation lock of o's class and root ("sysext" or "confext"), waiting as o says; what: the
 * verb, for the holder's line. */
int sysext_lock(const SysextOptions *o, const char *what, bool no_wait, OpLock *ret, GraftError *err);

/* With the lock held: finishes or undoes what a holder that died left (see sysext-recover.c), and
 * collapses stacked merges on the hierarchies. allow_redo: an interrupted refresh may be finished
 * by refreshing again (not when recovering from a refresh that just failed: it would fail the
 * same way); without, such a record stays for the next command and this fails. *ret_note (may be
 * NULL): what was done, NULL if nothing. */
int sysext_recover_locked(const SysextOptions *o, const OpLock *lock, bool allow_redo, char **ret_note,
                          GraftError *err);

/* refresh, with the lock held and recovery done (recovery redoes an interrupted refresh with it). */
int sysext_refresh_locked(const SysextOptions *o, const OpLock *lock, SysextResult *ret, GraftError *err);

/* The record of a change in progress, kept next to the lock (op_lock_intent_write()): which
 * operation, with which options, and for each hierarchy the merge it had (old) and the one it is
 * to have (target); 0: none. Device numbers of overlays are unique while they are mounted, and
 * the record is of this boot only (/run, and boot_id), so they identify the merges. */
typedef enum SysextOp {
        SYSEXT_OP_MERGE,
        SYSEXT_OP_REFRESH,
        SYSEXT_OP_UNMERGE,
        _SYSEXT_OP_MAX,
} SysextOp;

typedef struct SysextIntent {
        SysextOp op;
        char *boot_id;
        bool force, noexec, no_reload;
        bool reload;       /* the change asks systemd to reload */
        bool resumed;      /* a refresh redoing an interrupted one: "old" is no consistent state */
        char *policy;      /* the image policy given, NULL: the default */
        char **only;       /* the extensions named (valid image names: no spaces), NULL: all enabled */
        SysextMutable mutable;
        char **paths;      /* hierarchies as configured ("/usr") */
        dev_t *old, *target;
        size_t n;
} SysextIntent;

void sysext_intent_done(SysextIntent *i);
const char *sysext_op_to_string(SysextOp op);
/* This boot's id (/proc/sys/kernel/random/boot_id), malloc'd. */
int sysext_boot_id(char **ret);
int sysext_intent_format(const SysextIntent *i, char **ret);
/* -EBADMSG with GRAFT_ERROR_IO naming the line for a record that is not one. */
int sysext_intent_parse(const char *text, SysextIntent *ret, GraftError *err);
/* Adds one hierarchy. */
int sysext_intent_add(SysextIntent *i, const char *path, dev_t old, dev_t target);

/* Builds one detached overlay mount per hierarchy (fds[i] = -EBADF where no image ships content;
 * in a dry run -ENOENT where the hierarchy is missing and would be created, which a dry run never
 * does),
 * in a private mount namespace: nothing of the staging is ever visible outside. Images that fail
 * to mount are marked skipped in the plan; the content lists of the others are filled in. Where a
 * hierarchy carries a merge now, the new overlay stacks on what lies below that merge. */
int sysext_overlays_build(const SysextOptions *o, SysextPlan *plan, int **ret_fds, GraftError *err);

void sysext_image_done(SysextImage *i);
/* Leaves out of p what o does not choose (sysext-select.c), into p->passed_over; a name in
 * o->only that is not found (or masked: in masked) is -ENOENT with GRAFT_ERROR_NO_SUCH_IMAGE. */
int sysext_plan_select(const SysextOptions *o, SysextPlan *p, char * const *masked, GraftError *err);

/* What the overlay builder asks of sysext-mutable.c for one hierarchy. */
typedef struct SysextMutableRequest {
        SysextMutable mode_wanted;
        const char *root;       /* NULL: the host */
        const char *hierarchy;  /* as configured: "/usr" */
        const char *staging;    /* the builder's staging tmpfs (ephemeral layers go below it) */
        size_t index;           /* of the hierarchy, for a unique name there */
        bool dry_run;           /* create nothing */
        mode_t mode;            /* the host hierarchy's, for an ephemeral upper directory */
        uid_t uid;
        gid_t gid;
} SysextMutableRequest;

typedef struct SysextMutableLayout {
        char *import;           /* a read-only layer right below the metadata layer; NULL: none */
        char *upper, *work;     /* the overlay's upper and work directories; NULL: read-only */
        bool writable;          /* upper, or (dry run) would have one */
} SysextMutableLayout;

void sysext_mutable_layout_done(SysextMutableLayout *l);
/* What the merge of one hierarchy gets in mode q->mode_wanted (NO, UNSET: nothing). */
int sysext_mutable_layout(const SysextMutableRequest *q, SysextMutableLayout *ret, GraftError *err);
/* o as a merge or refresh runs with it: the mutable mode and image policy the caller left unset
 * taken from the configuration (policy: stored in *policy). */
int sysext_options_configure(const SysextOptions *o, SysextOptions *ret, ImagePolicy *policy, GraftError *err);

/* The record of what a merge of plan is made of (sysext-unchanged.c), listing
 * merged_hierarchies; one that has an image without a content identity never compares equal. */
int sysext_merge_record(const SysextOptions *o, const SysextPlan *plan, char * const *merged_hierarchies, char **ret);
/* Whether the hierarchies merged now carry exactly the merge plan would make (refresh: nothing to
 * do). */
bool sysext_merge_unchanged(const SysextOptions *o, const SysextPlan *plan, const SysextStatus *st);

/* Whether an image of plan that is merged asks systemd to reload (EXTENSION_RELOAD_MANAGER=1). */
bool sysext_plan_wants_reload(const SysextPlan *plan);
/* From the record a merged hierarchy carries: whether its extensions ask systemd to reload (1, 0),
 * -ENOENT without a record. */
int sysext_record_wants_reload(ImageClass class, const SysextHierarchy *h);

/* Reads the extension-release files of the extensions a merged hierarchy lists, through the merged
 * tree, and tells whether one of them asks for EXTENSION_RELOAD_MANAGER. */
bool sysext_merged_wants_reload(ImageClass class, const char *root, const SysextHierarchy *h);

/* "1", "yes", "true", "on" (any case). */
bool sysext_parse_boolean(const char *s);

/* Measures the images of p that are to be merged (sysext-measure.c); see measure_images(). */
int sysext_measure_plan(const SysextOptions *o, const SysextPlan *p, char **ret_note, GraftError *err);
/* Records which trust root admitted each image of p now merged (p NULL: nothing is merged). */
int sysext_record_admissions(const SysextOptions *o, const SysextPlan *p, GraftError *err);
