/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* System and configuration extensions: which images to merge (discovery, verification, release
 * validation: the plan), merging them as read-only overlays over the hierarchies (/usr and /opt,
 * or /etc), replacing a merge atomically (refresh), undoing it (unmerge), and reading what is
 * merged (status). The on-disk layout matches systemd-sysext's, so either tool recognises and
 * undoes the other's merge. Nothing here prints: results are structs, refusals GraftErrors. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "discover.h"
#include "image-verify.h"
#include "release-match.h"

/* --mutable= (systemd's modes and layout, v256): whether a merged hierarchy H takes writes, into
 * ROOT/var/lib/extensions.mutable/H ("yes": created if missing; "auto": if it exists; a symlink
 * there leads where it says, inside the root), or into an empty tmpfs that goes with the merge
 * ("ephemeral"); "import" adds that directory as a read-only layer instead, "ephemeral-import"
 * both. UNSET: the configuration's (sysext.conf), else NO. */
typedef enum SysextMutable {
        SYSEXT_MUTABLE_UNSET,
        SYSEXT_MUTABLE_NO,
        SYSEXT_MUTABLE_YES,
        SYSEXT_MUTABLE_AUTO,
        SYSEXT_MUTABLE_IMPORT,
        SYSEXT_MUTABLE_EPHEMERAL,
        SYSEXT_MUTABLE_EPHEMERAL_IMPORT,
        _SYSEXT_MUTABLE_MAX,
} SysextMutable;
const char *sysext_mutable_to_string(SysextMutable m);
/* Also the booleans systemd takes (yes/no/true/false/1/0/on/off). -EINVAL for anything else. */
int sysext_mutable_from_string(const char *s, SysextMutable *ret);

typedef struct SysextOptions {
        ImageClass class;          /* IMAGE_CLASS_SYSEXT or IMAGE_CLASS_CONFEXT */
        const char *root;          /* NULL or "/": the host (and only then is systemd asked to reload) */
        char **hierarchies;        /* NULL: sysext_hierarchies_default() */
        const ImagePolicy *policy; /* NULL: image_policy_default(root) */
        bool force;                /* merge images whose extension-release does not fit the host */
        bool noexec;               /* sysext: mount noexec (and nosuid) too */
        bool exec;                 /* confext: --noexec=no, mount without noexec (still nosuid, nodev) */
        bool no_reload;            /* never ask systemd to reload, whatever extensions ask for */
        unsigned n_threads;        /* 0: one per CPU */
        VerifyCache *verify_cache; /* hash trees verified before are not hashed again; NULL: always hash */
        sd_bus *bus;               /* borrowed, for the reload; NULL: connect to the system bus when needed */
        /* Every change takes the operation lock of its class and root (op-lock.h) and waits for
         * another holder up to 60 s ($GRAFT_LOCK_TIMEOUT_SEC); then -EBUSY, GRAFT_ERROR_CONFLICT
         * naming the holder. */
        const char *lock_who;      /* added to the holder's line ("for uid 1000"); NULL: nothing */
        void (*on_lock_wait)(const char *holder, void *userdata); /* once, before waiting */
        void *lock_userdata;
        /* status: never recover first (graftd answering a caller who may not change anything;
         * it recovers at start, and every change recovers first). */
        bool no_recovery;
        /* merge, refresh: only these extensions (by name; each must be found, masked ones are
         * refused), disabled or not; NULL: every one that is not disabled (sysext_set_enabled()). */
        char **only;
        /* merge, refresh: verify, mount and assemble everything as for real, put nothing in place;
         * the result says what would be done (SysextResult.dry_run). No recovery, no intent. */
        bool dry_run;
        SysextMutable mutable;
} SysextOptions;

/* The configuration file (sysext.conf, confext.conf, with drop-ins; see sysext-config.c): what
 * applies when neither the command line nor the caller says. */
typedef struct SysextConfig {
        SysextMutable mutable;  /* UNSET: not configured */
        char *image_policy;     /* NULL: not configured */
} SysextConfig;

void sysext_config_done(SysextConfig *c);
int sysext_config_load(ImageClass class, const char *root, SysextConfig *ret, GraftError *err);

/* The hierarchies of a class: $GRAFT_SYSEXT_HIERARCHIES, else $SYSTEMD_SYSEXT_HIERARCHIES (for
 * confext: …_CONFEXT_HIERARCHIES), colon-separated absolute paths taken inside the root, else
 * "/usr:/opt" (sysext) or "/etc" (confext). Paths that are not absolute or normalised ("..", "//")
 * are -EINVAL with GRAFT_ERROR_INVALID_ARGUMENT naming the variable. */
int sysext_hierarchies_default(ImageClass class, char ***ret, GraftError *err);

/* ".systemd-sysext" or ".systemd-confext": the metadata directory a merged hierarchy carries. */
const char *sysext_metadata_dir(ImageClass class);

/* What list shows: the images of o->class as discovery finds them under o->root (nothing is
 * verified), with the modification time of each (0 when it cannot be read). */
typedef struct SysextListing {
        Discovery discovery;
        uint64_t *mtime_usec; /* one per discovery.images[] */
} SysextListing;

void sysext_listing_done(SysextListing *l);
int sysext_list(const SysextOptions *o, SysextListing *ret, GraftError *err);

typedef struct SysextImage {
        char *name;
        char *path;              /* what was opened (root-prefixed, symlinks resolved) */
        char *found_as;          /* the search directory entry */
        char *version;           /* of a .v/ entry, else the GPT label's, else NULL */
        mode_t type;             /* S_IFREG, S_IFDIR or S_IFBLK */
        ImageKind kind;          /* valid once dissected */
        char *root_hash;         /* verified root hash (hex), NULL without verity */
        char *signer;            /* trusted signer, when signed */
        TrustRoot trust_root;    /* which trust store admitted it (vendor, developer), NONE: unsigned */
        PolicyOffer offer;
        char **extension_release; /* key/value strv */
        bool reload_manager;     /* EXTENSION_RELOAD_MANAGER=1 */
        char **content;          /* hierarchies (as configured, "/usr") the image ships content for */
        char *mounted_via;       /* merged: the device and which checks protect it (ImageMount.how) */
        bool skipped;            /* not merged: error says why */
        GraftError error;
        /* internal to the library */
        DissectedImage *dissected;
        ImageVerification verification;
} SysextImage;

typedef struct SysextPlan {
        ImageClass class;
        SysextImage *images;      /* every discovered image, in merge order (lowest layer first) */
        size_t n_images;
        char **discovery_skipped; /* "PATH: reason" for search directory entries that are no image */
        /* "WHAT: why" for what was found and deliberately not merged (no error, no exit status 9):
         * masks, masked and overridden images, older versions, disabled or not named ones. */
        char **passed_over;
        char **hierarchies;       /* as configured */
        char *root;               /* NULL for the host */
} SysextPlan;

/* Discovers the images of o->class under o->root and validates each one, in parallel: dissect,
 * image_verify() under the policy (signature and hash tree before anything is mounted),
 * extension-release present and matching the host (unless o->force). A refused image is kept with
 * skipped set and its error filled in; only a failure that concerns all images (no host
 * os-release, unreadable root, bad trust store) fails the call. */
int sysext_plan_build(const SysextOptions *o, SysextPlan **ret, GraftError *err);
SysextPlan *sysext_plan_free(SysextPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(SysextPlan *, sysext_plan_free);
/* Images that will be (or were) merged, and entries refused (images and discovery entries). */
size_t sysext_plan_n_ready(const SysextPlan *p);
size_t sysext_plan_n_skipped(const SysextPlan *p);

typedef struct SysextHierarchy {
        char *path;          /* as configured: "/usr" */
        char *resolved;      /* root-prefixed, symlinks resolved inside the root; NULL if missing */
        bool merged;         /* a mount point carrying our (or systemd's) metadata with its st_dev */
        char **extensions;   /* names listed in the metadata, when merged */
        uint64_t since_usec; /* mtime of the merged tree's top (when the merge was made), when merged */
        dev_t dev;           /* st_dev of the merged overlay, when merged */
} SysextHierarchy;

void sysext_hierarchy_done(SysextHierarchy *h);

typedef struct SysextStatus {
        SysextHierarchy *hierarchies; /* in the order configured */
        size_t n_hierarchies;
} SysextStatus;

void sysext_status_done(SysextStatus *s);

/* Reads what is merged on each hierarchy (under o->root; never the host's when a root is given).
 * When a change was interrupted (its intent record is there) and the lock is free, it is
 * recovered first (sysext_recover(); not with o->no_recovery), so that status never shows half of
 * a change. */
int sysext_status(const SysextOptions *o, SysextStatus *ret, GraftError *err);

/* Recovery from a change that was interrupted (SIGKILL, a crash; a power cut takes the mounts and
 * /run along, so then there is nothing to do): every change records what it is about to do
 * (ROOT/run/graft/locks/CLASS.intent) before its first visible step and removes the record after
 * the last. With the record there and the lock free, its holder died half way: an interrupted
 * merge is undone, an interrupted unmerge finished, an interrupted refresh finished (by
 * refreshing again when some hierarchy lacks its new merge), or dropped when it had changed
 * nothing (see sextctl(1), CRASH SAFETY AND CONCURRENCY). Every change does this first, under
 * the lock, and also collapses stacked merges; graftd and status call this at start. Without a
 * record it does nothing (and takes no lock); with one the lock is only tried: held, its holder
 * is alive and finishes its own work (0). 1 when something was recovered, *ret_note (may be
 * NULL) saying what. Idempotent: recovery interrupted in turn is recovered the same way. */
int sysext_recover(const SysextOptions *o, char **ret_note, GraftError *err);

typedef enum SysextAction {
        SYSEXT_ACTION_NONE,       /* nothing to merge there, and nothing was merged */
        SYSEXT_ACTION_MERGED,     /* a new overlay where there was none */
        SYSEXT_ACTION_REPLACED,   /* new overlay mounted beneath the old, old one removed: no gap */
        SYSEXT_ACTION_SWAPPED,    /* fallback without MOVE_MOUNT_BENEATH: old detached, new attached */
        SYSEXT_ACTION_UNMERGED,   /* overlay removed */
        SYSEXT_ACTION_KEPT,       /* refresh: the same images (by root hash) merged already, left as it is */
        _SYSEXT_ACTION_MAX,
} SysextAction;
const char *sysext_action_to_string(SysextAction a);

typedef struct SysextHierarchyResult {
        char *path;        /* as configured */
        char *resolved;
        SysextAction action;
        char **extensions; /* merged there now (metadata list) */
        uint64_t gap_usec; /* SWAPPED: how long the hierarchy had no overlay */
} SysextHierarchyResult;

typedef enum SysextReload {
        SYSEXT_RELOAD_NOT_ASKED, /* no extension asked for it (or --no-reload) */
        SYSEXT_RELOAD_SKIPPED,   /* asked for, but a root was given: never a bus then */
        SYSEXT_RELOAD_DONE,
        SYSEXT_RELOAD_FAILED,    /* reload_error says why; the merge stands */
        _SYSEXT_RELOAD_MAX,
} SysextReload;
const char *sysext_reload_to_string(SysextReload r);

typedef struct SysextResult {
        SysextPlan *plan;                   /* merge, refresh: the images considered */
        SysextHierarchyResult *hierarchies;
        size_t n_hierarchies;
        SysextReload reload;
        char *reload_error;
        bool beneath_unsupported;           /* the kernel refused MOVE_MOUNT_BENEATH */
        char *recovery;                     /* what recovery did first (in-process only), NULL: nothing */
        char *measure_note;                 /* the images were not measured (no TPM), and why */
        bool dry_run;                       /* nothing was changed: the actions are what would be done */
} SysextResult;

void sysext_result_done(SysextResult *r);

/* Merges every usable image. Refuses (-EBUSY) when a hierarchy already carries a merge: that is
 * what refresh is for. Images that fail to mount are skipped like refused ones. */
int sysext_merge(const SysextOptions *o, SysextResult *ret, GraftError *err);

/* Builds the new overlays completely (every image verified and mounted) and only then puts each
 * one in place of the old merge: beneath it with MOVE_MOUNT_BENEATH, then the old one is
 * detached, so /usr is never without extensions. Where the kernel lacks MOVE_MOUNT_BENEATH the old
 * overlay is detached and the ready new one attached right after (a gap of two system calls,
 * reported in gap_usec). Any failure before that point leaves the old merge untouched. A
 * hierarchy for which no image ships content is unmerged. Without images, this is unmerge. When
 * every merged hierarchy carries the merge the images would make now (same images, same root
 * hashes or file identities, same options: see sysext-unchanged.c), nothing is touched and each
 * merged hierarchy's action is SYSEXT_ACTION_KEPT. */
int sysext_refresh(const SysextOptions *o, SysextResult *ret, GraftError *err);

/* Removes the merge (ours or systemd's) from every hierarchy that carries one. */
int sysext_unmerge(const SysextOptions *o, SysextResult *ret, GraftError *err);

/* Extensions left out of merge and refresh (ROOT/etc/graft/sysext.disabled, confext.disabled):
 * disables (enable = false) or enables again each name, under the operation lock, by an atomic
 * rename. *ret_changed (may be NULL): the names whose state changed. Takes effect at the next merge
 * or refresh. */
int sysext_set_enabled(const SysextOptions *o, char * const *names, bool enable, char ***ret_changed, GraftError *err);
/* The names disabled under root (NULL: none). */
int sysext_disabled_read(ImageClass class, const char *root, char ***ret, GraftError *err);

/* Asks the service manager to reload (org.freedesktop.systemd1.Manager.Reload) over bus, or, when
 * bus is NULL, over systemd's private socket (as root; it works before the system bus is up) or
 * a new connection to the system bus. Used by merge, refresh and unmerge on the host only. */
int sysext_reload_manager(sd_bus *bus, GraftError *err);
