/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The extension library's results on the bus (org.graft.Extensions1, see org.graft.Manager1(5)):
 * graftd appends them to its replies, sextctl reads them back into the same structs the library
 * returns in-process, so that what it prints does not depend on where the work was done. */
#pragma once

#include <systemd/sd-bus.h>

#include "sysext.h"

/* Flags of Merge, Refresh and Unmerge. */
enum {
        SYSEXT_BUS_FORCE = 1 << 0,
        SYSEXT_BUS_NOEXEC = 1 << 1,
        SYSEXT_BUS_NO_RELOAD = 1 << 2,
        SYSEXT_BUS_DRY_RUN = 1 << 3, /* Merge, Refresh and their …Named forms */
        /* Bits 4-6: the SysextMutable value (0: unset, the configuration's). */
        SYSEXT_BUS_MUTABLE_SHIFT = 4,
        SYSEXT_BUS_MUTABLE_MASK = 7 << 4,
        SYSEXT_BUS_EXEC = 1 << 7,    /* confext: --noexec=no */
        _SYSEXT_BUS_FLAGS_ALL = (1 << 8) - 1,
};

uint64_t sysext_options_to_bus_flags(const SysextOptions *o);
/* -EINVAL for unknown flags. */
int sysext_options_from_bus_flags(uint64_t flags, SysextOptions *o);

/* "sysext" or "confext". */
const char *sysext_class_to_string(ImageClass c);
int sysext_class_from_string(const char *s, ImageClass *ret);

/* Reply signatures. */
#define SYSEXT_BUS_LISTING_SIGNATURE "a(ssssut)as"
#define SYSEXT_BUS_STATUS_SIGNATURE "a(ssbast)"
#define SYSEXT_BUS_RESULT_SIGNATURE "ba(ssssubssusssas)asa(sssast)ssbasb"

int sysext_listing_append(sd_bus_message *m, const SysextListing *l);
int sysext_listing_read(sd_bus_message *m, SysextListing *ret);
int sysext_status_append(sd_bus_message *m, const SysextStatus *s);
int sysext_status_read(sd_bus_message *m, SysextStatus *ret);
int sysext_result_append(sd_bus_message *m, const SysextResult *r);
/* class: the class asked for (the plan records it). */
int sysext_result_read(sd_bus_message *m, ImageClass class, SysextResult *ret);
