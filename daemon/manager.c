/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graftd's life (see manager.h): setup, the name on the bus, readiness and stopping for
 * systemd, exit on idle or SIGTERM (within seconds: reads abandoned, changes given a grace
 * period), and the pool of connections to systemd that workers borrow. */
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-update.h"
#include "bus-util.h"
#include "daemon-log.h"
#include "manager.h"
#include "operation.h"

#define POOL_MAX 8

int manager_new(const ManagerConfig *c, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->pool_lock, NULL);
        m->idle_usec = c->idle_usec;
        m->portable1 = c->portable1;
        if (!isempty(c->root) && !streq(c->root, "/")) {
                m->root = realpath(c->root, NULL);
                if (!m->root)
                        return daemon_log(LOG_ERR, "cannot use %s as the root: %m", c->root), negative_errno();
        }
        m->cache = verify_cache_new(0);
        if (!m->cache)
                return -ENOMEM;
        int r = sd_event_default(&m->event);
        if (r >= 0)
                r = operation_queue_new(m, c->max_workers, c->read_timeout_usec, &m->queue);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        operation_queue_free(m->queue);
        bus_update_free(m->update);
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->stop_timer);
        sd_bus_flush_close_unref(m->bus);
        for (size_t i = 0; i < m->n_pool; i++)
                sd_bus_flush_close_unref(m->pool[i]);
        free(m->pool);
        pthread_mutex_destroy(&m->pool_lock);
        sd_event_unref(m->event);
        verify_cache_free(m->cache);
        free(m->root);
        free(m);
        return NULL;
}

sd_bus *manager_borrow_systemd(Manager *m) {
        sd_bus *b = NULL;
        pthread_mutex_lock(&m->pool_lock);
        if (m->n_pool > 0)
                b = m->pool[--m->n_pool];
        pthread_mutex_unlock(&m->pool_lock);
        if (!b && sd_bus_open_system(&b) < 0)
                b = NULL;
        return b;
}

void manager_return_systemd(Manager *m, sd_bus *b) {
        if (!b)
                return;
        pthread_mutex_lock(&m->pool_lock);
        bool keep = sd_bus_is_open(b) > 0 && m->n_pool < POOL_MAX;
        if (keep) {
                if (!m->pool)
                        m->pool = calloc(POOL_MAX, sizeof(sd_bus *));
                if (m->pool)
                        m->pool[m->n_pool++] = b;
                keep = m->pool;
        }
        pthread_mutex_unlock(&m->pool_lock);
        if (!keep)
                sd_bus_flush_close_unref(b);
}

static bool manager_busy(Manager *m) {
        return operation_queue_pending(m->queue) > 0 || m->n_authorizing > 0;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (manager_busy(m)) {
                manager_activity(m);
                return 0;
        }
        daemon_log(LOG_INFO, "No requests for %" PRIu64 " s, exiting.", m->idle_usec / 1000000u);
        manager_begin_exit(m);
        return 0;
}

void manager_activity(Manager *m) {
        if (m->name_released) {
                if (!manager_busy(m))
                        sd_event_exit(m->event, m->exit_code);
                return;
        }
        if (m->idle_usec == 0)
                return;
        if (!m->idle_timer) {
                if (sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC, m->idle_usec, 0, on_idle, m) < 0)
                        daemon_log(LOG_WARNING, "cannot set the idle timer; graftd will not exit on idle");
                return;
        }
        (void) sd_event_source_set_time_relative(m->idle_timer, m->idle_usec);
        (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ONESHOT);
}

static int on_released(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        /* Every request sent to the name before it was released came before this reply. */
        manager_activity(m);
        return 0;
}

void manager_begin_exit(Manager *m) {
        if (m->name_released)
                return;
        m->name_released = true;
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Finishing the operations in progress");
        if (m->bus && sd_bus_release_name_async(m->bus, NULL, GRAFT_BUS_NAME, on_released, m) >= 0)
                return;
        manager_activity(m);
}

static int on_stop_grace(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        /* Changes still running are cut short: manager_stop() names them. */
        return sd_event_exit(m->event, m->exit_code);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        if (m->stop_deadline_usec > 0)
                return 0;
        size_t changes = operation_queue_running_changes(m->queue);
        daemon_log(LOG_INFO, "Received SIG%s: finishing %zu operation(s), then exiting.", sigabbrev_np((int) si->ssi_signo),
                   changes);
        /* What has not begun is refused (nothing of it is done), reads are abandoned (they change
         * nothing), changes are finished if they can be within the grace period. */
        m->stop_deadline_usec = now_usec() + MANAGER_STOP_GRACE_USEC;
        operation_queue_refuse_waiting(m->queue, "graftd is shutting down; the request was not started");
        /* Also bounds the wait for polkit's answers to requests made before the signal. */
        if (sd_event_add_time(m->event, &m->stop_timer, CLOCK_MONOTONIC, m->stop_deadline_usec, 0, on_stop_grace,
                              m) < 0)
                daemon_log(LOG_WARNING, "cannot set the stop timer; waiting for the running changes to finish");
        manager_begin_exit(m);
        manager_activity(m);
        return 0;
}

size_t manager_stop(Manager *m) {
        uint64_t deadline = m->stop_deadline_usec ?: now_usec() + MANAGER_STOP_GRACE_USEC;
        size_t left = operation_queue_stop(m->queue, deadline);
        if (operation_queue_running_changes(m->queue) > 0)
                m->exit_code = 1;
        return left;
}

static int manager_connect(Manager *m) {
        int r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return daemon_log(LOG_ERR, "cannot connect to the system bus: %s", strerror(-r)), r;
        r = sd_bus_add_object_vtable(m->bus, NULL, GRAFT_BUS_PATH, GRAFT_BUS_PORTABLE_INTERFACE, manager_portable_vtable,
                                     m);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, NULL, GRAFT_BUS_PATH, GRAFT_BUS_EXTENSIONS_INTERFACE,
                                             manager_extensions_vtable, m);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, NULL, GRAFT_BUS_PATH, GRAFT_BUS_UPDATE_INTERFACE, manager_update_vtable,
                                             m);
        if (r >= 0)
                r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return daemon_log(LOG_ERR, "cannot publish the bus objects: %s", strerror(-r)), r;
        r = sd_bus_request_name(m->bus, GRAFT_BUS_NAME, 0);
        if (r < 0)
                return daemon_log(LOG_ERR, "cannot take the name %s on the system bus: %s", GRAFT_BUS_NAME, strerror(-r)),
                       r;
        if (m->portable1)
                manager_portable1_start(m);
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return daemon_log(LOG_ERR, "cannot watch for signals: %s", strerror(-r)), r;
        manager_extensions_recover(m);
        manager_portable_recover(m);
        r = manager_connect(m);
        if (r < 0)
                return r;
        (void) sd_event_set_watchdog(m->event, true);
        manager_activity(m); /* arms the idle timer */
        daemon_log(LOG_INFO, "Serving %s for %s.", GRAFT_BUS_NAME, m->root ?: "this host");
        (void) sd_notifyf(false, "READY=1\nSTATUS=Serving %s", GRAFT_BUS_NAME);
        r = sd_event_loop(m->event);
        if (r < 0)
                return daemon_log(LOG_ERR, "event loop failed: %s", strerror(-r)), r;
        return r;
}
