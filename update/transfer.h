/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transfer definitions: systemd-sysupdate's *.transfer files (sysupdate.d(5)) read from the same
 * directories as systemd (sysupdate.d/, or sysupdate.COMPONENT.d/ for a component), with their
 * drop-ins in NAME.transfer.d/ (*.conf), plus graft's own [X-Graft] section (what the image is, how to
 * check its health). Keys graft does not act on are named in warnings, never silently dropped. */
#pragma once

#include <sys/types.h>

#include "error.h"
#include "specifier.h"

typedef enum ResourceType {
        RESOURCE_URL_FILE,
        RESOURCE_URL_TAR,
        RESOURCE_TAR,
        RESOURCE_REGULAR_FILE,
        RESOURCE_DIRECTORY,
        RESOURCE_SUBVOLUME,
        RESOURCE_PARTITION,
        _RESOURCE_TYPE_MAX,
        _RESOURCE_TYPE_INVALID = -EINVAL,
} ResourceType;
const char *resource_type_to_string(ResourceType t);
ResourceType resource_type_from_string(const char *s);

/* What a placed image is to graft, and so what makes it take effect. */
typedef enum UpdateKind {
        UPDATE_KIND_AUTO,     /* not set: derived from where the image lands */
        UPDATE_KIND_SYSEXT,   /* refresh the system extensions */
        UPDATE_KIND_CONFEXT,  /* refresh the configuration extensions */
        UPDATE_KIND_PORTABLE, /* reattach the portable service */
        UPDATE_KIND_FILE,     /* only placed (as systemd-sysupdate does) */
        _UPDATE_KIND_MAX,
        _UPDATE_KIND_INVALID = -EINVAL,
} UpdateKind;
const char *update_kind_to_string(UpdateKind k);
UpdateKind update_kind_from_string(const char *s);

typedef struct Transfer {
        char *id;              /* file name without .transfer / .conf */
        char *path;            /* the file read */
        char **dropins;        /* drop-ins applied, in order */
        char **warnings;       /* "FILE:LINE: Key= …": keys graft does not act on */

        /* [Transfer] */
        char *min_version;
        char **protect_versions;
        bool verify;           /* SHA256SUMS.gpg must verify against the keyring (default yes) */

        /* [Source] */
        ResourceType source_type;
        char *source_path;     /* URL (url-file) or directory */
        char **source_patterns;

        /* [Target] */
        ResourceType target_type;
        char *target_path;     /* absolute, inside the root */
        char **target_patterns; /* the first names new versions */
        char *current_symlink; /* absolute (inside the root) or NULL */
        unsigned instances_max;
        mode_t mode;           /* of placed files (default 0644) */
        int read_only;         /* -1: not set */
        bool remove_temporary;
        char *tries_left, *tries_done; /* for @l / @d in the target pattern */

        /* [X-Graft] */
        UpdateKind kind;       /* resolved: never AUTO after transfer_load() */
        char *image_name;      /* the name graft knows the image by (foo for foo.v/, foo.raw) */
        char **health_commands; /* HealthCheck=: shell command lines, in order */
        char **health_units;
        bool health_units_set;  /* HealthUnits= given (even empty: no units), else the kind's default */
        uint64_t health_grace_usec;
        uint64_t health_timeout_usec; /* HealthTimeoutSec=: how long one HealthCheck= command may run */
        char *image_policy;    /* string; NULL: the host's default policy */
} Transfer;

Transfer *transfer_free(Transfer *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Transfer *, transfer_free);

/* Default grace period of the health check, and the default time a check command may take. */
#define HEALTH_GRACE_USEC_DEFAULT (10u * 1000000u)
#define HEALTH_TIMEOUT_USEC_DEFAULT (60u * 1000000u)

/* Reads one transfer file and the given drop-ins (in order), expands specifiers, checks the
 * result. Errors name the file and line. */
int transfer_load(const char *root, const SpecifierContext *spec, const char *path, char * const *dropins,
                  Transfer **ret, GraftError *err);

typedef struct TransferSet {
        char *component;       /* NULL: the default (sysupdate.d) */
        Transfer **transfers;  /* sorted by file name: the order placements happen in */
        size_t n;
} TransferSet;

void transfer_set_done(TransferSet *s);

/* The directories transfer files are read from (under root), highest precedence first. */
int transfer_dirs(const char *root, const char *component, char ***ret);

/* Loads every transfer of a component (NULL: sysupdate.d) from /etc, /run, /usr/local/lib and
 * /usr/lib: a name in an earlier directory overrides later ones, a symlink to /dev/null masks.
 * None found is -ENOENT with GRAFT_ERROR_MISSING_FILE naming the directories. An explicit
 * definitions directory (--definitions) replaces the search. */
int transfer_set_load(const char *root, const char *component, const char *definitions, TransferSet *ret,
                      GraftError *err);

/* Components: the NAME of every sysupdate.NAME.d directory found, sorted. */
int transfer_components(const char *root, char ***ret, GraftError *err);
