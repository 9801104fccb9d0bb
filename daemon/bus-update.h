/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.graft.Update1 (bus-update.c): the vtable, the state of its signals, and what graftd does
 * about updates when it starts. */
#pragma once

#include "manager.h"

extern const sd_bus_vtable manager_update_vtable[];

/* The pipe workers hand signals through, created with the first update request. */
BusUpdate *bus_update_free(BusUpdate *u);

/* At start, before serving: finishes every update a crash or a reboot cut short (see
 * update_resolve()), logging what was done. */
void bus_update_resolve_pending(Manager *m);
