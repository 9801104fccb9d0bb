/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every portable operation starts from: the root (or the live host and its bus), the
 * attachments found there, and the checks attach and reattach share. Internal to portable/. */
#pragma once

#include "attach-plan.h"
#include "bus.h"
#include "op-lock.h"
#include "portable.h"
#include "state.h"

typedef struct Context {
        const PortableOptions *o;
        char *root;      /* canonical; NULL: the live host */
        int root_fd;
        bool live;       /* no root given: systemd is asked over the bus */
        sd_bus *bus;
        bool own_bus;
        bool no_systemd; /* live, but no system bus to reach (and no --now asked) */
        PortableAttachments att;
        OpLock lock;     /* held by a change for its whole run */
        char *what;      /* a change: "attach foo.raw", in the lock and the journal */
        GraftError *err;
} Context;

/* The root, its attachments and (live) its bus. verb: a change ("attach", with the image as given),
 * which takes the portable lock first and replays an interrupted operation's journal, so that it
 * sees the host as before or after that operation; NULL: a read, which replays a journal only if
 * nobody holds the lock (and not with o->no_recovery), and never waits. */
int context_init(Context *c, const PortableOptions *o, const char *verb, const char *image, GraftError *err);
void context_done(Context *c);
/* The bus (opened on first use); only on the live host. */
int context_bus(Context *c, sd_bus **ret);

/* The image path to match attachments against: a path resolved inside the root, or the path the
 * name finds (NULL when nothing is found by that name: the markers still match by name). */
int context_match_path(Context *c, const char *image, char **ret);

/* detach-pick.c: the attached units a detach of image (a name or path) removes: of that image,
 * attached with every extension of o->extensions, matching one of prefixes (attach's meaning; none:
 * all). picked[i] tells which of c->att.units; *ret_units their names. Refused (nothing picked
 * for the caller to act on): no such unit (-ENOENT, saying what is attached), or, without
 * prefixes, units of more than one attachment (-ENOTUNIQ, naming each and how to name one). */
int context_pick_detach(Context *c, const char *image, char * const *prefixes, bool *picked, char ***ret_units);
/* The same match without prefixes and without refusals (is-attached): picked[i] for each unit of
 * image attached with every extension of o->extensions. */
int context_pick_attached(Context *c, const char *image, bool *picked);

/* Status of each unit (all unknown with a root, or on a live system where no systemd runs). */
int context_statuses(Context *c, char * const *units, UnitStatus **ret);
void unit_statuses_free(UnitStatus *s, size_t n);

/* Directories recorded as created by the attachments of one kind (runtime or not). */
int context_created_records(const Context *c, bool runtime, char ***ret);

/* Refusals before anything is written: unit attached already (unless replacing[i] for that
 * attachment), unit file on the host, unit active on the host. */
int context_check_conflicts(Context *c, const PortableImageSet *s, const bool *replacing, const UnitStatus *st);

/* Units of a set, and the startable ones (templates cannot be started without an instance). */
int image_set_unit_names(const PortableImageSet *s, char ***ret);
char **startable_units(char * const *units);

/* recovery.c: takes the portable lock of root (waiting for it, o->on_lock_wait told), then
 * finishes or undoes what a journal left there. 1 when it recovered something, 0 if not; on
 * failure the lock is not held. */
int portable_lock(const char *root, int root_fd, const PortableOptions *o, const char *what, OpLock *ret,
                  GraftError *err);
/* For reads: the same replay, if a journal is there and the lock can be had at once. Best effort. */
void portable_recover_if_idle(const char *root, int root_fd, const PortableOptions *o);
