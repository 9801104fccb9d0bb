/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What attach and detach ask systemd over the system bus (sd-bus): a unit's load and active state,
 * Reload, StartUnit / StopUnit / RestartUnit (waiting for the jobs). Errors from systemd are passed
 * on as systemd words them. The [Install] links are not systemd's to make here: the plan makes
 * them with the units (attach-plan.h). */
#pragma once

#include <systemd/sd-bus.h>
#include "portable.h"

typedef struct UnitStatus {
        bool known;          /* systemd holds the unit (GetUnit found it) */
        char *load_state;    /* "loaded", "not-found", "masked", … */
        char *active_state;  /* "active", "inactive", "failed", … */
        char *fragment_path;
        bool need_reload;    /* NeedDaemonReload */
} UnitStatus;

void unit_status_done(UnitStatus *s);
/* Whether the state is active, activating, reloading or deactivating. */
bool unit_status_is_running(const UnitStatus *s);
/* Whether a start would use a definition systemd loaded earlier (so a reload must come first):
 * held and not just a "not-found" stub, which systemd retries from disk by itself. */
bool unit_status_needs_reload(const UnitStatus *s);

int portable_bus_open(sd_bus **ret, GraftError *err);
int portable_bus_unit_status(sd_bus *bus, const char *unit, UnitStatus *ret, GraftError *err);
int portable_bus_reload(sd_bus *bus, GraftError *err);

/* method: "StartUnit", "StopUnit", "RestartUnit" (mode "replace") for each unit; with wait, until
 * every job finished, and a job that did not end "done" is an error naming the unit and result. */
int portable_bus_jobs(sd_bus *bus, const char *method, char * const *units, bool wait, GraftError *err);
