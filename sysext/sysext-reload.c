/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the one conversation with the service manager: Reload, for extensions that ship units
 * (EXTENSION_RELOAD_MANAGER=1). Only ever called for the host, never with a root. */
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "sysext.h"

static inline void bus_unrefp(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}

/* systemd's own socket, as systemctl uses it as root: it answers from the first moment of boot,
 * while the system bus starts only after sysinit.target, i.e. after graft-sysext.service, which
 * must get the units of the extensions it merged at boot loaded. */
#define SYSTEMD_PRIVATE_SOCKET "/run/systemd/private"

static int open_private(sd_bus **ret) {
        __attribute__((cleanup(bus_unrefp))) sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, "unix:path=" SYSTEMD_PRIVATE_SOCKET);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = bus;
        bus = NULL;
        return 0;
}

static int open_manager(sd_bus **ret, GraftError *err) {
        if (geteuid() == 0 && access(SYSTEMD_PRIVATE_SOCKET, F_OK) >= 0 && open_private(ret) >= 0)
                return 0;
        int r = sd_bus_open_system(ret);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO,
                                       "cannot reach systemd to reload it (neither " SYSTEMD_PRIVATE_SOCKET
                                       " nor the system bus): %s", strerror(-r));
        return 0;
}

int sysext_reload_manager(sd_bus *bus, GraftError *err) {
        __attribute__((cleanup(bus_unrefp))) sd_bus *own = NULL;
        int r;
        if (!bus) {
                r = open_manager(&own, err);
                if (r < 0)
                        return r;
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
