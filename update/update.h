/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The update engine, one for system extensions, configuration extensions and portable services:
 * which versions exist (sources) and are installed (targets) for a component's transfers, which
 * one is in use, choosing the newest that fits the host and verifies (falling back, with a
 * reason for each version passed over), placing it so that nothing unverified is ever visible
 * under a name graft would pick up, retention (InstancesMax=, ProtectVersion=, never the version
 * in use), and the compatibility of extensions with another OS release. As in systemd-sysupdate,
 * the transfers of a component form one update set: a version is available when every source
 * has it and installed when every target has it. Nothing here prints. */
#pragma once

#include <systemd/sd-bus.h>

#include "fetch.h"
#include "resource.h"
#include "transfer.h"
#include "update-state.h"
#include "verify-cache.h"

typedef struct UpdateOptions {
        const char *root;         /* NULL or "/": the host */
        const char *component;    /* NULL: sysupdate.d */
        const char *definitions;  /* a directory of transfer files instead of the search */
        const char *keyring;      /* NULL: import-pubring.pgp/.gpg in the usual places */
        int verify;               /* -1: as each transfer says; 0/1: --verify= */
        FetchOptions fetch;
        unsigned n_threads;       /* image verification; 0: one per CPU */
        VerifyCache *verify_cache;
        sd_bus *bus;              /* borrowed, to reach systemd on the host; NULL: connect when needed */
        /* A version about to be downloaded, a check, a version passed over: for the CLI's
         * messages and graftd's signals. May be NULL. */
        void (*on_note)(void *userdata, const char *line);
        void *userdata;
} UpdateOptions;

typedef enum VersionFlags {
        VERSION_AVAILABLE = 1 << 0,  /* every source has it */
        VERSION_INSTALLED = 1 << 1,  /* every target has it */
        VERSION_INCOMPLETE = 1 << 2, /* some targets have it, not all */
        VERSION_CURRENT = 1 << 3,    /* in use */
        VERSION_PROTECTED = 1 << 4,  /* ProtectVersion= */
        VERSION_BAD = 1 << 5,        /* marked bad */
        VERSION_OBSOLETE = 1 << 6,   /* older than MinVersion= */
        VERSION_CANDIDATE = 1 << 7,  /* newer than the current one, available, not bad: update takes it */
} VersionFlags;

/* "current", "candidate", … for the flags set, in that order (NULL when none is, or out of memory). */
char **update_version_flags_to_strv(VersionFlags f);

typedef struct UpdateVersion {
        char *version;
        VersionFlags flags;
        const BadMark *bad;  /* points into UpdateContext.bad */
} UpdateVersion;

typedef struct UpdateContext {
        UpdateOptions o;
        TransferSet set;
        Resource *sources;   /* one per transfer */
        Resource *targets;
        UpdateVersion *versions; /* newest first */
        size_t n_versions;
        char *current;       /* the version in use, NULL if none */
        BadMarks bad;
        char **warnings;     /* unsupported keys of the transfer files */
        char **notes;        /* everything passed to on_note, for the result */
        bool offline;        /* sources were not listed */
} UpdateContext;

/* Reads the transfers, lists every source (SHA256SUMS fetched and verified) and target, finds the
 * version in use. With offline, sources are not listed (list --offline, vacuum). */
int update_context_new(const UpdateOptions *o, bool offline, UpdateContext **ret, GraftError *err);
UpdateContext *update_context_free(UpdateContext *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(UpdateContext *, update_context_free);
/* Lists the targets again and finds the version in use anew: what another run may have changed
 * before this one took the lock. */
int update_context_reload_targets(UpdateContext *c, GraftError *err);
const UpdateVersion *update_context_find(const UpdateContext *c, const char *version);
/* The newest candidate, or NULL. */
const UpdateVersion *update_context_newest_candidate(const UpdateContext *c);
void update_note(UpdateContext *c, const char *format, ...) _printf_(2, 3);

/* What an update did. */
typedef struct UpdateResult {
        char *version;        /* placed (and switched to), NULL if nothing newer was there */
        char *previous;       /* what was in use before */
        char **passed_over;   /* "VERSION: reason" for each newer version not taken */
        char **placed;        /* files placed (root-prefixed) */
        char **removed;       /* files removed by retention */
        uint64_t bytes_fetched;
        bool already_current;
        bool older;           /* an explicit version older than the one in use: placed, not used */
        bool switched;        /* taken into use, and its health check passed */
        char *resolved;       /* what finishing an update an earlier run left pending did, or NULL */
} UpdateResult;

void update_result_done(UpdateResult *r);

/* Downloads (or copies), verifies and places version (NULL: the newest candidate, falling back to
 * the next newer-than-current one when a version fails a check). Retention makes room first. A
 * version that fails is removed, its reason in passed_over; if none could be placed, the newest
 * one's error is returned. A version newer than the one in use is then switched to and its health
 * checked (update-switch.h); when that fails it is rolled back and marked bad, and the call fails
 * with GRAFT_ERROR_UNHEALTHY. Takes the root's "update" lock, and first finishes what an earlier
 * run left pending (update_resolve()). */
int update_place(UpdateContext *c, const char *version, UpdateResult *ret, GraftError *err);

/* Finishes an update that an earlier run left pending (it was killed, or the host went down): a
 * placement that never ran is undone; a version that was switched to but never confirmed
 * healthy is rolled back and marked bad. 0: nothing was pending; 1: resolved, *ret_what says how.
 * Takes the "update" lock. */
int update_resolve(UpdateContext *c, char **ret_what, GraftError *err);

/* Retention: removes installed versions beyond InstancesMax= (keep: how many to leave, 0: each
 * transfer's InstancesMax=), oldest first, never the current, a protected or a pending one, and
 * leftovers of interrupted placements. */
int update_vacuum(UpdateContext *c, unsigned keep, UpdateResult *ret, GraftError *err);

/* One row of check --os-release. */
typedef struct CompatEntry {
        char *transfer;
        char *version;
        bool installed;       /* else: available (downloaded to check, not placed) */
        bool fits;
        char *reason;         /* when it does not fit (or could not be checked) */
} CompatEntry;

void compat_entries_free(CompatEntry *e, size_t n);
/* For every extension transfer: whether each installed version and the newest available one
 * would still match the host once its os-release is os_release_path. */
int update_check_os_release(UpdateContext *c, const char *os_release_path, CompatEntry **ret, size_t *ret_n,
                            GraftError *err);
