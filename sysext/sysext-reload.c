/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the one conversation with the service manager: Reload, for extensions that ship units
 * (EXTENSION_RELOAD_MANAGER=1). Only ever called for the host, never with a root. */
#include <systemd/sd-bus.h>

#include "sysext.h"

static inline void bus_unrefp(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}

int sysext_reload_manager(sd_bus *bus, GraftError *err) {
        __attribute__((cleanup(bus_unrefp))) sd_bus *own = NULL;
        int r;
        if (!bus) {
                r = sd_bus_open_system(&own);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO,
                                               "cannot connect to the system bus to reload systemd: %s", strerror(-r));
                bus = own;
        }
        sd_bus_error e = SD_BUS_ERROR_NULL;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "Reload", &e, NULL, NULL);
        if (r < 0) {
                graft_error_set(err, r, GRAFT_ERROR_IO, "systemd did not reload: %s", e.message ?: strerror(-r));
                sd_bus_error_free(&e);
                return r;
        }
        return 0;
}
