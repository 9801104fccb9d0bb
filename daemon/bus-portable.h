/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bus-portable.c shares with the other face of the same operations (bus-portable1.c,
 * org.freedesktop.portable1): the request, how one becomes an operation (authorization as
 * org.graft.Manager1's), and the workers' library calls. Each face parses and replies in its own
 * wire format; the work is the same code. */
#pragma once

#include "operation.h"
#include "policy.h"
#include "portable.h"

typedef struct PortableRequest {
        char *image;
        char **prefixes;
        char *profile;
        PortableCopyMode copy_mode;
        uint64_t flags;
        char **extensions;
        ImagePolicy policy;
        bool has_policy;
        bool read_only;

        PortableResult result;
        PortableInspection inspection;
        PortableImageInfo *infos;
        size_t n_infos;
        PortableState state;
        char lock_who[64];   /* for the operation lock's holder line */
        void *extra;         /* a face's own results (freed with free()) */
} PortableRequest;

typedef int (*PortableParseFn)(sd_bus_message *m, PortableRequest *q, sd_bus_error *error);

/* A new request for image (taken; NULL: parse reads it, or the method names none), parsed with
 * parse (may be NULL), started as an operation: a change (key "portable", the manage action) or a
 * read (the inspect action when it names a path or passes a policy). */
int portable_request_start(sd_bus_message *m, Manager *mgr, char *image, bool change, OperationRunFn run,
                           OperationReplyFn reply, OperationDoneFn done, PortableParseFn parse, sd_bus_error *error);

/* Workers: the library call of each method, on q's fields, filling q's results. */
int portable_run_list(Operation *op);     /* infos */
int portable_run_state(Operation *op);    /* state */
int portable_run_metadata(Operation *op); /* inspection (prefixes) */
int portable_run_attach(Operation *op);   /* result (prefixes) */
int portable_run_reattach(Operation *op); /* result (prefixes) */
int portable_run_detach(Operation *op);   /* result */
int portable_run_remove(Operation *op);
int portable_run_read_only(Operation *op); /* read_only */
/* After a change succeeded: graft's signal and the journal entry (whichever interface it came by). */
void portable_done_attach(Operation *op);
void portable_done_reattach(Operation *op);
void portable_done_detach(Operation *op);
void portable_done_remove(Operation *op);

/* The Profiles property (userdata: the Manager). */
int portable_property_profiles(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error);
