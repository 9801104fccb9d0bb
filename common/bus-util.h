/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What graftd and its clients share about the bus: graft's bus names, strings and string vectors
 * on the wire (NULL travels as "" and as an empty array), the error record as a D-Bus error and
 * back, and how a command-line program finds graftd (system bus, -H over SSH, -M a container).
 * Built as its own library (graft-common-bus) so that the rest of common/ needs no libsystemd. */
#pragma once

#include <systemd/sd-bus.h>

#include "error.h"

#define GRAFT_BUS_NAME "org.graft.Manager1"
#define GRAFT_BUS_PATH "/org/graft/Manager1"
#define GRAFT_BUS_PORTABLE_INTERFACE "org.graft.Manager1"
#define GRAFT_BUS_EXTENSIONS_INTERFACE "org.graft.Extensions1"
#define GRAFT_BUS_UPDATE_INTERFACE "org.graft.Update1"

/* Changing calls may verify gigabytes and wait for systemd's jobs: no D-Bus default (25 s). */
#define GRAFT_BUS_CALL_TIMEOUT_USEC (30ULL * 60 * 1000000)

int bus_append_string(sd_bus_message *m, const char *s);
/* "" → NULL; else a copy. */
int bus_read_string(sd_bus_message *m, char **ret);
int bus_append_strv(sd_bus_message *m, char * const *l);
/* An empty array → NULL. */
int bus_read_strv(sd_bus_message *m, char ***ret);

/* Reads an array of structs (contents: "(ss…)"): for each element, *items grows by one zeroed
 * element of size bytes (and one zeroed spare at the end), *n counts it, and read() fills it from
 * inside the struct. */
int bus_read_struct_array(sd_bus_message *m, const char *contents, void **items, size_t *n, size_t size,
                          int (*read)(sd_bus_message *m, void *item));

/* The D-Bus error for a failure: the record's name and message when it is set; otherwise
 * "System.Error.ENAME" with strerror(), which the client turns back into the bare errno. Returns r. */
int bus_error_from_graft(sd_bus_error *ret, const GraftError *e, int r);
int bus_reply_graft_error(sd_bus_message *call, const GraftError *e, int r);

/* The record for a D-Bus error a call returned (r: what the call returned). graft's names come
 * back as they were sent; "System.Error.*" as the bare errno (no record, as the library would have
 * returned it); the bus's refusals (AccessDenied, InteractiveAuthorizationRequired) keep their name
 * and message; anything else (graftd gone, no reply) becomes GRAFT_ERROR_IO naming graftd.
 * Returns the negative errno to pass on. */
int graft_error_from_bus(const sd_bus_error *be, int r, GraftError *ret);

/* Where a command-line program sends its requests. */
typedef enum BusTransport {
        BUS_TRANSPORT_AUTO,    /* graftd on the system bus if it is there (or activatable), else in-process */
        BUS_TRANSPORT_DIRECT,  /* in-process (--direct, --root) */
        BUS_TRANSPORT_REMOTE,  /* -H [USER@]HOST: the remote system bus over SSH; graftd required */
        BUS_TRANSPORT_MACHINE, /* -M NAME: a local container's system bus; graftd required */
} BusTransport;

/* 1 and *ret (a connection to the bus graftd is reachable on) when requests go to graftd, 0 when
 * the work is to be done in-process. REMOTE and MACHINE never fall back: a failure to connect is
 * an error naming the host or machine. */
int bus_connect_graftd(BusTransport t, const char *host, sd_bus **ret, GraftError *err);

/* Calls a graftd method with the long timeout and allowing interactive authorization; a D-Bus
 * error comes back as the record (graft_error_from_bus()). */
int bus_call_graftd(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply, GraftError *err);

/* A new method call to graftd's object. */
int bus_new_graftd_call(sd_bus *bus, const char *interface, const char *member, sd_bus_message **ret);

/* sd-bus.h brings sd_bus_message_unrefp, sd_bus_flush_close_unrefp, sd_bus_slot_unrefp. */
static inline void bus_error_freep(sd_bus_error *e) {
        sd_bus_error_free(e);
}
#define _cleanup_bus_error_ _cleanup_(bus_error_freep)
