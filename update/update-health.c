/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the health check after a switch (see update-health.h): watching units through systemd's
 * D-Bus API, and running the check commands with a time limit. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "hex.h"
#include "path-util.h"
#include "strv.h"
#include "update-health.h"
#include "time-util.h"

extern char **environ;

void health_plan_done(HealthPlan *h) {
        strv_free(h->units);
        strv_free(h->commands);
        *h = (HealthPlan) {};
}


static double seconds(uint64_t usec) {
        return (double) usec / 1e6;
}

static int unhealthy(GraftError *err, const char *format, ...) _printf_(2, 3);
static int unhealthy(GraftError *err, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = graft_error_setv(err, -EPROTO, GRAFT_ERROR_UNHEALTHY, format, ap);
        va_end(ap);
        return r;
}

typedef struct UnitWatch {
        const char *name;
        char *object;          /* systemd's object path of the unit */
        char *invocation;      /* of the first time it was seen active */
        char *active, *sub;    /* last read */
} UnitWatch;

static void unit_watches_free(UnitWatch *w, size_t n) {
        for (size_t i = 0; w && i < n; i++) {
                free(w[i].object);
                free(w[i].invocation);
                free(w[i].active);
                free(w[i].sub);
        }
        free(w);
}

static int bus_failed(GraftError *err, int r, const sd_bus_error *e, const char *what, const char *unit) {
        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot %s %s through systemd: %s", what, unit,
                               e && e->message ? e->message : strerror(-r));
}

static int unit_load(sd_bus *bus, UnitWatch *w, GraftError *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", "LoadUnit", &e, &reply, "s", w->name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0 && !(w->object = strdup(path)))
                r = -ENOMEM;
        if (r < 0)
                r = bus_failed(err, r, &e, "find unit", w->name);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r;
}

static int unit_property(sd_bus *bus, const UnitWatch *w, const char *property, char **ret, GraftError *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", w->object, "org.freedesktop.systemd1.Unit",
                                           property, &e, ret);
        if (r < 0)
                r = bus_failed(err, r, &e, "read the state of unit", w->name);
        sd_bus_error_free(&e);
        return r;
}

static int unit_invocation(sd_bus *bus, const UnitWatch *w, char **ret, GraftError *err) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const void *id = NULL;
        size_t size = 0;
        int r = sd_bus_get_property(bus, "org.freedesktop.systemd1", w->object, "org.freedesktop.systemd1.Unit",
                                    "InvocationID", &e, &reply, "ay");
        if (r >= 0)
                r = sd_bus_message_read_array(reply, 'y', &id, &size);
        if (r >= 0 && !(*ret = hexmem(id, size)))
                r = -ENOMEM;
        if (r < 0)
                r = bus_failed(err, r, &e, "read the invocation of unit", w->name);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r;
}

/* One look at a unit: 1 active, 0 not yet, negative: failed (err says how). */
static int unit_look(sd_bus *bus, UnitWatch *w, uint64_t since, GraftError *err) {
        _cleanup_free_ char *load = NULL, *invocation = NULL;
        w->active = (free(w->active), NULL);
        w->sub = (free(w->sub), NULL);
        int r = unit_property(bus, w, "LoadState", &load, err);
        if (r >= 0)
                r = unit_property(bus, w, "ActiveState", &w->active, err);
        if (r >= 0)
                r = unit_property(bus, w, "SubState", &w->sub, err);
        if (r >= 0)
                r = unit_invocation(bus, w, &invocation, err);
        if (r < 0)
                return r;
        double t = seconds(now_usec() - since);
        if (!streq(load, "loaded"))
                return unhealthy(err, "unit %s is %s", w->name, load);
        if (streq(w->active, "failed"))
                return unhealthy(err, "unit %s failed (%s) %.1f s after the switch", w->name, w->sub, t);
        if (streq(w->sub, "auto-restart"))
                return unhealthy(err, "unit %s exited and systemd is restarting it, %.1f s after the switch", w->name, t);
        if (!streq(w->active, "active")) {
                if (w->invocation)
                        return unhealthy(err, "unit %s stopped being active (now %s/%s) %.1f s after the switch", w->name,
                                         w->active, w->sub, t);
                return 0;
        }
        if (!w->invocation) {
                w->invocation = TAKE_PTR(invocation);
                return 1;
        }
        if (!streq(w->invocation, invocation))
                return unhealthy(err, "unit %s was restarted %.1f s after the switch (a new invocation)", w->name, t);
        return 1;
}

static int check_units(UpdateContext *c, const HealthPlan *h, GraftError *err) {
        size_t n = strv_length(h->units);
        if (n == 0)
                return 0;
        if (c->o.root) {
                _cleanup_free_ char *names = strv_join(h->units, " ");
                update_note(c, "health: not checking %s: no systemd runs the units below --root", strna(names));
                return 0;
        }
        sd_bus *bus = c->o.bus, *own = NULL;
        int r = bus ? 0 : sd_bus_open_system(&own);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot reach systemd to check unit %s: %s", h->units[0],
                                       strerror(-r));
        bus = bus ?: own;
        UnitWatch *w = calloc(n, sizeof(UnitWatch));
        if (!w) {
                sd_bus_flush_close_unref(own);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                w[i].name = h->units[i];
                r = unit_load(bus, &w[i], err);
        }
        uint64_t start = now_usec(), deadline = start + h->grace_usec;
        while (r >= 0) {
                size_t active = 0;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        r = unit_look(bus, &w[i], start, err);
                        active += r > 0;
                }
                if (r < 0)
                        break;
                uint64_t now = now_usec();
                if (now >= deadline) {
                        for (size_t i = 0; i < n && active < n; i++)
                                if (!w[i].invocation)
                                        r = unhealthy(err, "unit %s did not become active within %.1f s (it is %s/%s)",
                                                      w[i].name, seconds(h->grace_usec), w[i].active, w[i].sub);
                        break;
                }
                uint64_t nap = deadline - now < HEALTH_POLL_USEC ? deadline - now : HEALTH_POLL_USEC;
                (void) nanosleep(&(struct timespec) { .tv_sec = (time_t) (nap / 1000000u),
                                                      .tv_nsec = (long) (nap % 1000000u) * 1000 },
                                 NULL);
        }
        if (r >= 0)
                update_note(c, "health: %zu unit(s) active for %.1f s: %s%s", n, seconds(h->grace_usec), h->units[0],
                            n > 1 ? ", …" : "");
        unit_watches_free(w, n);
        sd_bus_flush_close_unref(own);
        return r < 0 ? r : 0;
}

/* The environment of a check command: ours, with the update's variables set anew. */
static char **command_env(const UpdateContext *c, const char *version, const char *previous) {
        static const char * const ours[] = { "GRAFT_UPDATE_VERSION=", "GRAFT_UPDATE_PREVIOUS=", "GRAFT_UPDATE_COMPONENT=",
                                             "GRAFT_ROOT=" };
        _cleanup_strv_free_ char **l = NULL;
        for (char **e = environ; e && *e; e++) {
                bool skip = false;
                for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                        skip = skip || startswith(*e, ours[i]);
                if (!skip && strv_extend(&l, *e) < 0)
                        return NULL;
        }
        if (strv_extendf(&l, "GRAFT_UPDATE_VERSION=%s", version) < 0 ||
            strv_extendf(&l, "GRAFT_UPDATE_PREVIOUS=%s", strempty(previous)) < 0 ||
            strv_extendf(&l, "GRAFT_UPDATE_COMPONENT=%s", c->set.component ?: "") < 0 ||
            (c->o.root && strv_extendf(&l, "GRAFT_ROOT=%s", c->o.root) < 0))
                return NULL;
        return TAKE_PTR(l);
}

static int spawn_shell(const char *command, char **env, int out_fd, pid_t *ret) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        /* Its own process group (a timeout kills all of it), default signals, nothing blocked: the
         * caller may be a daemon thread with signals blocked for its signalfd. */
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) command, NULL };
        int r = posix_spawn(ret, "/bin/sh", &fa, &attr, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return -r;
}

/* The last line the command printed, at most 200 characters, without control characters. */
static void last_line(const char *buf, size_t n, char out[static 201]) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
                n--;
        size_t s = n;
        while (s > 0 && buf[s - 1] != '\n')
                s--;
        size_t k = 0;
        for (size_t i = s; i < n && k < 200; i++)
                out[k++] = (unsigned char) buf[i] < 0x20 ? ' ' : buf[i];
        out[k] = '\0';
}

/* Reads the command's output until it closes it or the deadline; keeps the last size bytes (size
 * is larger than a chunk). */
static void collect_output(int fd, uint64_t deadline, char *buf, size_t size, size_t *len) {
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int k = poll(&p, 1, (int) ((deadline - now + 999) / 1000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                char chunk[1024];
                ssize_t m = read(fd, chunk, sizeof chunk);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m <= 0)
                        return;
                if (*len + (size_t) m > size) {
                        size_t drop = *len + (size_t) m - size;
                        memmove(buf, buf + drop, *len - drop);
                        *len -= drop;
                }
                memcpy(buf + *len, chunk, (size_t) m);
                *len += (size_t) m;
        }
}

/* Waits for pid until the deadline; kills its process group then. 1: exited (status in *ret), 0:
 * killed at the deadline. */
static int reap(pid_t pid, uint64_t deadline, int *ret) {
        for (;;) {
                pid_t w = waitpid(pid, ret, WNOHANG);
                if (w == pid)
                        return 1;
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (now_usec() >= deadline)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
        (void) kill(-pid, SIGKILL);
        while (waitpid(pid, ret, 0) < 0 && errno == EINTR)
                ;
        return 0;
}

static int run_command(UpdateContext *c, const char *command, char **env, uint64_t timeout, GraftError *err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot run health check \"%s\": %m", command);
        pid_t pid;
        uint64_t start = now_usec(), deadline = start + timeout;
        int r = spawn_shell(command, env, p[1], &pid);
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot run health check \"%s\": %s", command, strerror(-r));
        }
        char buf[4096], line[201];
        size_t len = 0;
        collect_output(p[0], deadline, buf, sizeof buf, &len);
        close(p[0]);
        int status = 0;
        r = reap(pid, deadline, &status);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot wait for health check \"%s\": %s", command,
                                       strerror(-r));
        last_line(buf, len, line);
        const char *sep = line[0] ? ": " : "";
        if (r == 0)
                return unhealthy(err, "health check \"%s\" did not finish within %.1f s%s%s", command,
                                 seconds(timeout), sep, line);
        if (WIFSIGNALED(status))
                return unhealthy(err, "health check \"%s\" was killed by signal %s%s%s", command,
                                 sigabbrev_np(WTERMSIG(status)) ?: "?", sep, line);
        if (WEXITSTATUS(status) != 0)
                return unhealthy(err, "health check \"%s\" failed (exit status %d)%s%s", command, WEXITSTATUS(status), sep,
                                 line);
        update_note(c, "health: \"%s\" passed in %.1f s", command, seconds(now_usec() - start));
        return 0;
}

int update_health_check(UpdateContext *c, const HealthPlan *h, const char *version, const char *previous,
                        GraftError *err) {
        int r = check_units(c, h, err);
        if (r < 0 || !h->commands)
                return r;
        _cleanup_strv_free_ char **env = command_env(c, version, previous);
        if (!env)
                return -ENOMEM;
        STRV_FOREACH(cmd, h->commands) {
                r = run_command(c, *cmd, env, h->timeout_usec, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
