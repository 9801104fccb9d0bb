/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graftd's state: the event loop, its bus connection and name, the root it works on, the
 * verification cache, the operation queue, the connections to systemd that workers borrow, and
 * exit on idle. */
#pragma once

#include <pthread.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "verify-cache.h"

typedef struct OperationQueue OperationQueue;
typedef struct BusUpdate BusUpdate;

typedef struct ManagerConfig {
        const char *root;         /* NULL or "/": the host */
        uint64_t idle_usec;       /* exit after this long without requests; 0: never */
        unsigned max_workers;     /* operations running at once; 0: the default */
        uint64_t read_timeout_usec; /* 0: the default (60 s); UINT64_MAX: none */
        bool portable1;           /* serve org.freedesktop.portable1 too (bus-portable1.c) */
} ManagerConfig;

/* How long running changes may still take after SIGTERM before graftd exits without them. */
#define MANAGER_STOP_GRACE_USEC (10 * 1000000ULL)

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *root;               /* canonical; NULL: the host (systemd is reached over the system bus) */
        VerifyCache *cache;
        OperationQueue *queue;
        BusUpdate *update;        /* org.graft.Update1's signals (bus-update.c), NULL until used */
        uint64_t idle_usec;
        sd_event_source *idle_timer;
        unsigned n_authorizing;   /* requests waiting for polkit's answer */
        bool name_released;       /* exiting: no new requests come; exit when the last one is done */
        uint64_t stop_deadline_usec; /* after SIGTERM: when to exit even with changes running; 0: none yet */
        sd_event_source *stop_timer;
        int exit_code;
        bool portable1;           /* ManagerConfig.portable1 */

        pthread_mutex_t pool_lock; /* connections to systemd borrowed by the workers (live host) */
        sd_bus **pool;
        size_t n_pool;
} Manager;

int manager_new(const ManagerConfig *c, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects, publishes the objects, takes the name, tells systemd it is ready; then runs the loop
 * until idle or SIGTERM. On SIGTERM, reads are abandoned and changes get MANAGER_STOP_GRACE_USEC
 * to finish. */
int manager_run(Manager *m);
/* After the loop: lets the changes still running finish within the grace period. Returns the
 * number of worker threads still running then (abandoned reads, changes past the grace period):
 * the manager must not be freed under them, the process ends instead. */
size_t manager_stop(Manager *m);

/* A request arrived or finished: re-arms the idle timer, and exits once released and idle. */
void manager_activity(Manager *m);
/* Stops taking requests (releases the name) and exits when the operations are done. */
void manager_begin_exit(Manager *m);

/* For worker threads: a connection to the system bus to reach systemd (NULL if it cannot be had:
 * the library then connects itself and reports the failure), and giving it back. */
sd_bus *manager_borrow_systemd(Manager *m);
void manager_return_systemd(Manager *m, sd_bus *bus);

/* bus-extensions.c: recovery of interrupted extension changes, at start. */
void manager_extensions_recover(Manager *m);
/* bus-portable.c: the same for portable changes. */
void manager_portable_recover(Manager *m);

/* bus-portable1.c: serves org.freedesktop.portable1 as well, unless systemd-portabled is installed
 * for this bus or owns the name (then it logs why not). */
void manager_portable1_start(Manager *m);

/* The vtables (bus-portable.c, bus-extensions.c). */
extern const sd_bus_vtable manager_portable_vtable[];
extern const sd_bus_vtable manager_extensions_vtable[];
