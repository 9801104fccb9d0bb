/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Taking a placed version into use, and going back (internal to the engine). The switch: the
 * extensions are refreshed (sysext_refresh(): the new overlay is complete before it replaces the
 * old one), a portable service is reattached to the new image with the profile and extensions it
 * had and the units that ran are restarted. Then the health check (update-health.h). A failure
 * rolls back by itself: the version is marked bad, the targets are put back (CurrentSymlink= at
 * the previous version, the new files removed), and the previous version is switched to again.
 *
 * Crash safety rests on the pending file (update-state.h), written before the placement
 * ("placing") and again before the switch ("switched"): a run that finds it undoes a placement
 * that never ran, and rolls back (marking the version bad) a switch whose health was never
 * confirmed. */
#pragma once

#include "portable.h"
#include "update.h"

/* The attached portable image of t whose file lives in t's target directory: 1 with the listing
 * (portable_list()) and the entry's index, 0 when none is. */
int update_portable_attached(const UpdateContext *c, const Transfer *t, PortableImageInfo **ret_infos, size_t *ret_n,
                             size_t *ret_index);

/* version was placed (the pending file says "placing", previous is what ran before): records
 * the switch, switches, checks health. Healthy: the pending file goes, 0. Not: rolls back and
 * returns -EPROTO with GRAFT_ERROR_UNHEALTHY saying what failed and what was done about it. */
int update_activate(UpdateContext *c, const char *version, const char *previous, GraftError *err);

/* With the update lock held: finishes what a run that was cut short left (the pending file).
 * 0: nothing was pending; 1: resolved, *ret_what (if ret_what) says how. */
int update_resolve_locked(UpdateContext *c, char **ret_what, GraftError *err);
