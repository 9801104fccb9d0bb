/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graftd: the daemon serving org.graft.Manager1 on the system bus. Owns the command line; the
 * work is in manager.c (life), operation.c (queue), authorize.c, bus-portable.c and
 * bus-extensions.c (the interfaces). */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "bus-update.h"
#include "daemon-log.h"
#include "graft-config.h"
#include "manager.h"

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Serve org.graft.Manager1 (portable services and extensions) on the system bus.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the package version\n"
               "     --root=DIR          Work on the tree below DIR, not on this host\n"
               "     --idle-timeout=SEC  Exit after SEC seconds without requests\n"
               "                         (default 30; 0: never)\n"
               "     --workers=N         Workers in the pool (default 8): operations at once,\n"
               "                         besides those kept for cheap reads and for root\n"
               "     --read-timeout=SEC  Answer a read that has no result after SEC\n"
               "                         seconds with a timeout (default 60; 0: never)\n"
               "     --log-level=LEVEL   err, warning, notice, info (default) or debug\n"
               "     --portable1         Serve org.freedesktop.portable1 too, for systemd's\n"
               "                         portablectl (unless systemd-portabled is installed)\n\n"
               "See graftd(8) and org.graft.Manager1(5).\n",
               program_invocation_short_name);
}

static int parse_level(const char *s) {
        static const char * const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        return -EINVAL;
}

static int parse_uint(const char *s, const char *what, unsigned long long max, unsigned long long *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || v > max || s[0] == '-') {
                fprintf(stderr, "%s: %s takes a number up to %llu, not \"%s\"\n", program_invocation_short_name, what,
                        max, s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int parse_argv(int argc, char **argv, ManagerConfig *c) {
        enum { ARG_VERSION = 0x100, ARG_ROOT, ARG_IDLE, ARG_WORKERS, ARG_READ_TIMEOUT, ARG_LOG_LEVEL, ARG_PORTABLE1 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "root", required_argument, NULL, ARG_ROOT },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "workers", required_argument, NULL, ARG_WORKERS },
                { "read-timeout", required_argument, NULL, ARG_READ_TIMEOUT },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "portable1", no_argument, NULL, ARG_PORTABLE1 },
                {}
        };
        unsigned long long v;
        int opt, level;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("graft %s\n", GRAFT_VERSION);
                        return 0;
                case ARG_ROOT:
                        if (optarg[0] != '/')
                                return fprintf(stderr, "%s: --root= takes an absolute path, not \"%s\"\n",
                                               program_invocation_short_name, optarg), -EINVAL;
                        c->root = optarg;
                        break;
                case ARG_IDLE:
                        if (parse_uint(optarg, "--idle-timeout=", 86400 * 365, &v) < 0)
                                return -EINVAL;
                        c->idle_usec = v * 1000000u;
                        break;
                case ARG_WORKERS:
                        if (parse_uint(optarg, "--workers=", 1024, &v) < 0 || v == 0)
                                return v == 0 ? fprintf(stderr, "%s: --workers= must be at least 1\n",
                                                        program_invocation_short_name), -EINVAL : -EINVAL;
                        c->max_workers = (unsigned) v;
                        break;
                case ARG_READ_TIMEOUT:
                        if (parse_uint(optarg, "--read-timeout=", 86400, &v) < 0)
                                return -EINVAL;
                        c->read_timeout_usec = v == 0 ? UINT64_MAX : v * 1000000u;
                        break;
                case ARG_LOG_LEVEL:
                        level = parse_level(optarg);
                        if (level < 0)
                                return fprintf(stderr, "%s: --log-level= takes err, warning, notice, info or debug, not \"%s\"\n",
                                               program_invocation_short_name, optarg), -EINVAL;
                        daemon_log_set_max_level(level);
                        break;
                case ARG_PORTABLE1:
                        c->portable1 = true;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return fprintf(stderr, "%s: takes no arguments\n", program_invocation_short_name), -EINVAL;
        return 1;
}

int main(int argc, char **argv) {
        ManagerConfig c = { .idle_usec = 30 * 1000000u };
        int r = parse_argv(argc, argv, &c);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        /* sd-event takes the signals through a signalfd: block them before any thread exists, so
         * that the workers inherit the mask. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        /* A caller that vanishes must not kill us through a write to its socket. */
        signal(SIGPIPE, SIG_IGN);

        _cleanup_(manager_freep) Manager *m = NULL;
        r = manager_new(&c, &m);
        if (r < 0) {
                daemon_log(LOG_ERR, "cannot start: %s", strerror(-r));
                return 1;
        }
        /* Before serving: a host must not go on running an update whose health was never confirmed. */
        bus_update_resolve_pending(m);
        r = manager_run(m);
        size_t left = manager_stop(m);
        int code = r < 0 || m->exit_code != 0 ? 1 : 0;
        if (left > 0) {
                /* Abandoned reads, or a change past the grace period: their threads use the manager,
                 * so it is not freed under them; ending the process ends them. */
                daemon_log(LOG_NOTICE, "Exiting with %zu worker(s) still running.", left);
                if (m->bus)
                        (void) sd_bus_flush(m->bus);
                _exit(code);
        }
        return code;
}
