/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sextctl: merge system extensions into /usr and /opt (or, as --confext or under a name with
 * "confext" in it, configuration extensions into /etc). Owns option parsing and verb dispatch;
 * the verbs live in sextctl-verbs.c, the work in the sysext library. */
#include <getopt.h>
#include <string.h>

#include "bus-util.h"
#include "graft-config.h"
#include "log.h"
#include "sextctl.h"
#include "verbs.h"

SysextOptions arg_options = { .class = IMAGE_CLASS_SYSEXT };
JsonFormat arg_json = JSON_OFF;
bool arg_legend = true;
bool arg_quiet = false;
bool arg_verbose = false;
static ImagePolicy arg_policy;
static BusTransport arg_transport = BUS_TRANSPORT_AUTO;
static const char *arg_host = NULL;
static char *arg_display_root = NULL;

enum {
        ARG_VERSION = 0x100,
        ARG_ROOT,
        ARG_FORCE,
        ARG_IMAGE_POLICY,
        ARG_NOEXEC,
        ARG_NO_RELOAD,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_CONFEXT,
        ARG_DIRECT,
        ARG_DRY_RUN,
        ARG_MUTABLE,
};

static void help(void) {
        bool confext = arg_options.class == IMAGE_CLASS_CONFEXT;
        printf("%s [OPTIONS...] [COMMAND]\n\n"
               "Merge %s extension images into %s.\n\n"
               "Commands:\n"
               "  status                 Show what is merged where (default)\n"
               "  list                   List the extension images found\n"
               "  merge [NAME...]        Merge the extension images (or only these)\n"
               "  unmerge                Remove the merge\n"
               "  refresh [NAME...]      Replace the merge atomically (or merge)\n"
               "  disable NAME...        Leave extensions out of merge and refresh\n"
               "  enable NAME...         Take disabled extensions in again\n"
               "  developer-mode [on|off|status]\n"
               "                         Trust local developer keys too (off unmerges\n"
               "                         what only they admitted)\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the package version\n"
               "     --root=DIR          Work on the tree below DIR, not on this host\n"
               "     --direct            Do the work here, not through graftd\n"
               "  -H --host=[USER@]HOST  Through graftd on a remote host (over SSH)\n"
               "  -M --machine=NAME      Through graftd in a local container\n"
               "     --force             Merge even images that do not fit the host\n"
               "     --image-policy=P    Image policy the images must satisfy\n"
               "     --noexec            Mount the merge noexec (confext: --noexec=no drops it)\n"
               "     --no-reload         Never ask systemd to reload\n"
               "     --dry-run           Say what merge or refresh would do, do nothing\n"
               "     --mutable=MODE      no, yes, auto, import, ephemeral, ephemeral-import\n"
               "     --confext           Configuration extensions into /etc\n"
               "     --json=FORMAT       Output JSON: short or pretty\n"
               "     --no-legend         Leave out column headers\n"
               "  -q --quiet             Print only errors\n"
               "  -v --verbose           Also say how each image is mounted and checked\n\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 9 merged but some images skipped,\n"
               "10 merged already (use refresh), or another operation held the lock too long.\n"
               "See sextctl(1).\n",
               program_invocation_short_name, confext ? "configuration" : "system",
               confext ? "/etc" : "/usr and /opt");
}

static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "root", required_argument, NULL, ARG_ROOT },
                { "force", no_argument, NULL, ARG_FORCE },
                { "image-policy", required_argument, NULL, ARG_IMAGE_POLICY },
                { "noexec", optional_argument, NULL, ARG_NOEXEC },
                { "no-reload", no_argument, NULL, ARG_NO_RELOAD },
                { "confext", no_argument, NULL, ARG_CONFEXT },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "direct", no_argument, NULL, ARG_DIRECT },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "mutable", required_argument, NULL, ARG_MUTABLE },
                { "host", required_argument, NULL, 'H' },
                { "machine", required_argument, NULL, 'M' },
                {}
        };
        int c;
        while ((c = getopt_long(argc, argv, "hqvH:M:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("graft %s\n", GRAFT_VERSION);
                        return 0;
                case ARG_ROOT:
                        if (optarg[0] != '/')
                                return log_error("--root= takes an absolute path, not \"%s\"", optarg), -EINVAL;
                        arg_options.root = optarg;
                        break;
                case ARG_FORCE:
                        arg_options.force = true;
                        break;
                case ARG_IMAGE_POLICY: {
                        GraftError e = GRAFT_ERROR_INIT;
                        int r = image_policy_parse(optarg, &arg_policy, &e);
                        if (r < 0) {
                                graft_error_prefix(&e, r, "invalid --image-policy=%s", optarg);
                                log_graft_error(&e, r, "invalid --image-policy=%s", optarg);
                                graft_error_done(&e);
                                return -EINVAL;
                        }
                        arg_options.policy = &arg_policy;
                        break;
                }
                case ARG_NOEXEC:
                        if (!optarg || streq(optarg, "yes") || streq(optarg, "true") || streq(optarg, "1"))
                                arg_options.noexec = true;
                        else if (streq(optarg, "no") || streq(optarg, "false") || streq(optarg, "0"))
                                arg_options.exec = true;
                        else
                                return log_error("--noexec= takes a boolean, not \"%s\"", optarg), -EINVAL;
                        break;
                case ARG_NO_RELOAD:
                        arg_options.no_reload = true;
                        break;
                case ARG_CONFEXT:
                        arg_options.class = IMAGE_CLASS_CONFEXT;
                        break;
                case ARG_JSON:
                        if (json_format_from_string(optarg, &arg_json) < 0)
                                return log_error("--json= takes short, pretty or off, not \"%s\"", optarg), -EINVAL;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case 'v':
                        arg_verbose = true;
                        break;
                case ARG_DIRECT:
                        arg_transport = BUS_TRANSPORT_DIRECT;
                        break;
                case ARG_DRY_RUN:
                        arg_options.dry_run = true;
                        break;
                case ARG_MUTABLE:
                        if (streq(optarg, "help")) {
                                for (SysextMutable m = SYSEXT_MUTABLE_NO; m < _SYSEXT_MUTABLE_MAX; m++)
                                        puts(sysext_mutable_to_string(m));
                                return 0;
                        }
                        if (sysext_mutable_from_string(optarg, &arg_options.mutable) < 0)
                                return log_error("--mutable= takes no, yes, auto, import, ephemeral or ephemeral-import "
                                                 "(or help), not \"%s\"", optarg), -EINVAL;
                        break;
                case 'H':
                case 'M':
                        arg_transport = c == 'H' ? BUS_TRANSPORT_REMOTE : BUS_TRANSPORT_MACHINE;
                        arg_host = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (arg_host && (arg_options.root || arg_transport == BUS_TRANSPORT_DIRECT))
                return log_error("-H/-M go through graftd; they cannot be combined with --root or --direct"), -EINVAL;
        return 1;
}

/* graftd when it is reachable (and not --root or --direct), else in-process. */
static int connect_graftd(void) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        BusTransport t = arg_options.root ? BUS_TRANSPORT_DIRECT : arg_transport;
        int r = bus_connect_graftd(t, arg_host, &arg_bus, &e);
        if (r <= 0)
                return r < 0 ? log_graft_error(&e, r, "cannot reach graftd") : 0;
        /* Paths are shown below graftd's root as they would be below --root. */
        if (sextctl_bus_root(&arg_display_root) >= 0 && !streq(arg_display_root, "/"))
                arg_options.root = arg_display_root;
        return 0;
}

static void on_lock_wait(const char *holder, void *userdata) {
        log_info("Waiting for another operation to finish: %s.", holder);
}

int main(int argc, char **argv) {
        static const Verb verbs[] = {
                { "status", VERB_ANY, 1, VERB_DEFAULT, verb_status },
                { "list", VERB_ANY, 1, 0, verb_list },
                { "merge", VERB_ANY, VERB_ANY, 0, verb_merge },
                { "unmerge", VERB_ANY, 1, 0, verb_unmerge },
                { "refresh", VERB_ANY, VERB_ANY, 0, verb_refresh },
                { "enable", 2, VERB_ANY, 0, verb_enable },
                { "disable", 2, VERB_ANY, 0, verb_disable },
                { "developer-mode", VERB_ANY, 2, 0, verb_developer_mode },
                {}
        };
        log_set_program(program_invocation_short_name);
        /* Installed (or linked) under a confext name, it is the confext tool. */
        if (strstr(program_invocation_short_name, "confext"))
                arg_options.class = IMAGE_CLASS_CONFEXT;

        arg_options.on_lock_wait = on_lock_wait;
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        if (arg_quiet)
                log_set_max_level(LOG_ERR);
        if (connect_graftd() < 0)
                return EXIT_FAILED;
        r = dispatch_verb(argc - optind, argv + optind, verbs, NULL);
        sd_bus_flush_close_unref(arg_bus);
        free(arg_display_root);
        return r;
}
