/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the conversation with systemd over the bus (see bus.h). Jobs are awaited through the
 * JobRemoved signal: systemd sends it to the client that queued the job, so no Subscribe() round
 * trip is needed, and the match is added (asynchronously, but ordered before the method calls on
 * the same connection) before any job is queued. */
#include <string.h>

#include "bus.h"
#include "strv.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"

void unit_status_done(UnitStatus *s) {
        if (!s)
                return;
        free(s->load_state);
        free(s->active_state);
        free(s->fragment_path);
        *s = (UnitStatus) {};
}

bool unit_status_is_running(const UnitStatus *s) {
        if (!s->known || !s->active_state)
                return false;
        return streq(s->active_state, "active") || streq(s->active_state, "activating") ||
               streq(s->active_state, "reloading") || streq(s->active_state, "deactivating");
}

bool unit_status_needs_reload(const UnitStatus *s) {
        if (!s->known)
                return false;
        return s->need_reload || !s->load_state || !streq(s->load_state, "not-found");
}

static const char *bus_message(const sd_bus_error *e, int r) {
        return e && e->message ? e->message : strerror(-r);
}

/* systemd's own words after ours. */
#define bus_fail(err, r, e, format, ...) \
        graft_error_set(err, r, GRAFT_ERROR_IO, format ": %s", __VA_ARGS__, bus_message(e, r))

int portable_bus_open(sd_bus **ret, GraftError *err) {
        int r = sd_bus_open_system(ret);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO,
                                       "cannot connect to the system bus: %s (use --root=DIR to work on a directory "
                                       "without systemd)", strerror(-r));
        return 0;
}

int portable_bus_unit_status(sd_bus *bus, const char *unit, UnitStatus *ret, GraftError *err) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        UnitStatus s = {};
        int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", unit);
        if (r < 0) {
                if (sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit")) {
                        *ret = s;
                        return 0;
                }
                return bus_fail(err, r, &e, "cannot ask systemd about %s", unit);
        }
        const char *path;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_fail(err, r, NULL, "bad GetUnit reply for %s", unit);
        s.known = true;
        int need = 0;
        if ((r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "LoadState", &e, &s.load_state)) < 0 ||
            (r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "ActiveState", &e, &s.active_state)) < 0 ||
            (r = sd_bus_get_property_string(bus, SD_DEST, path, SD_UNIT, "FragmentPath", &e, &s.fragment_path)) < 0 ||
            (r = sd_bus_get_property_trivial(bus, SD_DEST, path, SD_UNIT, "NeedDaemonReload", &e, 'b', &need)) < 0) {
                unit_status_done(&s);
                if (sd_bus_error_has_name(&e, "org.freedesktop.DBus.Error.UnknownObject")) {
                        *ret = (UnitStatus) {}; /* collected meanwhile */
                        return 0;
                }
                return bus_fail(err, r, &e, "cannot read the state of %s", unit);
        }
        s.need_reload = need;
        *ret = s;
        return 0;
}

int portable_bus_reload(sd_bus *bus, GraftError *err) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        /* A reload can take a while on a big system; the default 25 s call timeout is too short. */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "Reload");
        if (r >= 0)
                r = sd_bus_call(bus, m, 300 * UINT64_C(1000000), &e, &reply);
        if (r < 0)
                return bus_fail(err, r, &e, "systemd could not reload%s", "");
        return 0;
}

typedef struct JobWait {
        char **finished; /* pairs: job path, result */
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobWait *w = userdata;
        uint32_t id;
        const char *path, *unit, *result;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        (void) strv_extend(&w->finished, path);
        (void) strv_extend(&w->finished, result);
        return 0;
}

static const char *job_result(const JobWait *w, const char *job) {
        STRV_FOREACH_PAIR(p, res, w->finished)
                if (streq(*p, job))
                        return *res;
        return NULL;
}

static int wait_jobs(sd_bus *bus, JobWait *w, char * const *jobs, char * const *units, const char *method,
                     GraftError *err) {
        for (size_t i = 0; jobs && jobs[i]; i++) {
                const char *res;
                while (!(res = job_result(w, jobs[i]))) {
                        int r = sd_bus_process(bus, NULL);
                        if (r < 0)
                                return graft_error_set(err, r, GRAFT_ERROR_IO, "lost the bus while waiting for %s: %s",
                                                       units[i], strerror(-r));
                        if (r > 0)
                                continue;
                        r = sd_bus_wait(bus, UINT64_MAX);
                        if (r < 0 && r != -EINTR)
                                return graft_error_set(err, r, GRAFT_ERROR_IO, "lost the bus while waiting for %s: %s",
                                                       units[i], strerror(-r));
                }
                if (!streq(res, "done"))
                        return graft_error_set(err, -EIO, GRAFT_ERROR_IO,
                                               "%s job for %s finished with result '%s'; see 'systemctl status %s' "
                                               "and 'journalctl -xeu %s'",
                                               method, units[i], res, units[i], units[i]);
        }
        return 0;
}

int portable_bus_jobs(sd_bus *bus, const char *method, char * const *units, bool wait, GraftError *err) {
        if (strv_length(units) == 0)
                return 0;
        JobWait w = {};
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_strv_free_ char **jobs = NULL;
        int r = 0;
        if (wait) {
                r = sd_bus_match_signal_async(bus, &slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed,
                                              NULL, &w);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot watch systemd's jobs: %s", strerror(-r));
        }
        STRV_FOREACH(u, units) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *job;
                r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, method, &e, &reply, "ss", *u, "replace");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &job);
                if (r < 0) {
                        r = bus_fail(err, r, &e, "%s %s failed", method, *u);
                        break;
                }
                if ((r = strv_extend(&jobs, job)) < 0)
                        break;
        }
        if (r >= 0 && wait)
                r = wait_jobs(bus, &w, jobs, units, method, err);
        strv_free(w.finished);
        return r;
}
