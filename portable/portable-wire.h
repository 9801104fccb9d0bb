/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The portable library's results on the bus (org.graft.Manager1, see org.graft.Manager1(5)):
 * graftd appends them to its replies, pctl reads them back into the same structs the library
 * returns in-process, so that what it prints does not depend on where the work was done. */
#pragma once

#include <systemd/sd-bus.h>

#include "portable.h"

/* Flags of AttachImage, DetachImage and ReattachImage. */
enum {
        PORTABLE_BUS_RUNTIME = 1 << 0,
        PORTABLE_BUS_ENABLE = 1 << 1,
        PORTABLE_BUS_NOW = 1 << 2,
        PORTABLE_BUS_NO_BLOCK = 1 << 3,
        PORTABLE_BUS_NO_RELOAD = 1 << 4,
        PORTABLE_BUS_FORCE = 1 << 5,
        _PORTABLE_BUS_FLAGS_ALL = (1 << 6) - 1,
};

uint64_t portable_options_to_bus_flags(const PortableOptions *o);
/* -EINVAL for unknown flags. */
int portable_options_from_bus_flags(uint64_t flags, PortableOptions *o);

/* _PORTABLE_STATE_MAX (an invalid state) for an unknown name. */
PortableState portable_state_from_string(const char *s);

/* Reply signatures. */
#define PORTABLE_BUS_RESULT_SIGNATURE "sasa(sss)asasasb"
#define PORTABLE_BUS_LIST_SIGNATURE "a(sssssass)"
#define PORTABLE_BUS_INSPECTION_SIGNATURE "sssssssa(ss)asasa(sss)a(sss)ssa(sss)"

int portable_result_append(sd_bus_message *m, const PortableResult *r);
int portable_result_read(sd_bus_message *m, PortableResult *ret);
int portable_image_infos_append(sd_bus_message *m, const PortableImageInfo *l, size_t n);
int portable_image_infos_read(sd_bus_message *m, PortableImageInfo **ret, size_t *ret_n);
int portable_inspection_append(sd_bus_message *m, const PortableInspection *i);
int portable_inspection_read(sd_bus_message *m, PortableInspection *ret);
/* The changes alone, as a(sss): type, path, source. */
int portable_changes_append(sd_bus_message *m, const PortableChanges *c);
int portable_changes_read(sd_bus_message *m, PortableChanges *ret);
