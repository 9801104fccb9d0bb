/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pctl: attach, detach and inspect portable service images. Owns option parsing and verb
 * dispatch; the verbs (pctl-verbs.c) call the portable library and print its results. */
#include <getopt.h>
#include <string.h>

#include "bus-util.h"
#include "graft-config.h"
#include "log.h"
#include "pctl.h"
#include "strv.h"
#include "verbs.h"

PortableOptions arg_options = {};
JsonFormat arg_json = JSON_OFF;
bool arg_quiet = false;
bool arg_legend = true;
bool arg_cat = false;
static ImagePolicy arg_image_policy;
static char **arg_extensions = NULL;
static BusTransport arg_transport = BUS_TRANSPORT_AUTO;
static const char *arg_host = NULL;

enum {
        ARG_VERSION = 0x100,
        ARG_PROFILE,
        ARG_COPY,
        ARG_RUNTIME,
        ARG_ENABLE,
        ARG_NOW,
        ARG_NO_BLOCK,
        ARG_NO_RELOAD,
        ARG_EXTENSION,
        ARG_FORCE,
        ARG_ROOT,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_IMAGE_POLICY,
        ARG_DIRECT,
        ARG_CAT,
};

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Attach, detach and inspect portable service images.\n\n"
               "Commands:\n"
               "  list                   List images and whether they are attached\n"
               "  attach IMAGE [PREFIX...]\n"
               "                         Verify IMAGE and attach its units to the host\n"
               "  detach IMAGE [PREFIX...]\n"
               "                         Remove the units attached from IMAGE\n"
               "  reattach IMAGE [PREFIX...]\n"
               "                         Replace an attached version of IMAGE by this one\n"
               "  inspect IMAGE [PREFIX...]\n"
               "                         Show the image, its units and what attach writes\n"
               "  is-attached IMAGE      Show whether IMAGE is attached\n"
               "  remove IMAGE...        Remove images (not attached ones)\n"
               "  read-only IMAGE [BOOL] Mark an image read-only (or writable)\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the package version\n"
               "  -p --profile=NAME|PATH Security profile (default: \"default\")\n"
               "     --copy=MODE         auto, copy, symlink or mixed\n"
               "     --runtime           Attach below /run (until reboot)\n"
               "     --enable            Enable the units (attach), disable (detach)\n"
               "     --now               Start (attach), stop (detach), restart (reattach)\n"
               "     --no-block          Do not wait for the jobs to finish\n"
               "     --no-reload         Never ask systemd to reload\n"
               "     --extension=IMAGE   Add an extension image (repeatable)\n"
               "     --force             Take an extension's only release file whatever its\n"
               "                         name (attach, reattach, inspect); attach over or\n"
               "                         detach units that are active\n"
               "     --cat               inspect: print the release and unit files as they are\n"
               "     --root=DIR          Work on a directory tree, offline (no systemd)\n"
               "     --direct            Do the work here, not through graftd\n"
               "  -H --host=[USER@]HOST  Through graftd on a remote host (over SSH)\n"
               "  -M --machine=NAME      Through graftd in a local container\n"
               "     --image-policy=P    Image policy to enforce (default: signed when a\n"
               "                         trusted certificate is installed)\n"
               "     --json=FORMAT       Output JSON: short or pretty\n"
               "     --no-legend         Leave out column headers\n"
               "  -q --quiet             Print only errors\n\n"
               "Exit status: 0 ok, 1 failure (also: is-attached of a detached image),\n"
               "2 usage, 3 bad image, 4 integrity, 5 signature, 6 policy, 7 missing image\n"
               "or file, 8 incompatible extension, 10 attached/active already.\n"
               "See pctl(1).\n",
               program_invocation_short_name);
}

static int parse_value(int c, const char *v) {
        GraftError e = GRAFT_ERROR_INIT;
        switch (c) {
        case ARG_COPY:
                if ((arg_options.copy_mode = portable_copy_mode_from_string(v)) < 0)
                        return log_error("--copy= takes auto, copy, symlink or mixed, not \"%s\"", v), -EINVAL;
                return 0;
        case ARG_JSON:
                if (json_format_from_string(v, &arg_json) < 0)
                        return log_error("--json= takes short, pretty or off, not \"%s\"", v), -EINVAL;
                return 0;
        case ARG_EXTENSION:
                if (isempty(v))
                        return log_error("--extension= takes an image name or path"), -EINVAL;
                return strv_extend(&arg_extensions, v) < 0 ? log_oom() : 0;
        case ARG_IMAGE_POLICY:
                if (image_policy_parse(v, &arg_image_policy, &e) < 0) {
                        log_graft_error(&e, -EINVAL, "invalid --image-policy=%s", v);
                        graft_error_done(&e);
                        return -EINVAL;
                }
                arg_options.image_policy = &arg_image_policy;
                return 0;
        }
        return 0;
}

/* In-process changes: whom a change waits for, and what an earlier crash left that was recovered. */
static void on_lock_wait(const char *holder, void *userdata) {
        log_notice("Waiting for another operation to finish: %s.", holder);
}

static void on_recovered(const char *what, bool completed, void *userdata) {
        log_notice("%s an operation that was interrupted earlier (%s).", completed ? "Completed" : "Undid", what);
}

static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "profile", required_argument, NULL, 'p' },
                { "copy", required_argument, NULL, ARG_COPY },
                { "runtime", no_argument, NULL, ARG_RUNTIME },
                { "enable", no_argument, NULL, ARG_ENABLE },
                { "now", no_argument, NULL, ARG_NOW },
                { "no-block", no_argument, NULL, ARG_NO_BLOCK },
                { "no-reload", no_argument, NULL, ARG_NO_RELOAD },
                { "extension", required_argument, NULL, ARG_EXTENSION },
                { "force", no_argument, NULL, ARG_FORCE },
                { "root", required_argument, NULL, ARG_ROOT },
                { "image-policy", required_argument, NULL, ARG_IMAGE_POLICY },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                { "direct", no_argument, NULL, ARG_DIRECT },
                { "cat", no_argument, NULL, ARG_CAT },
                { "host", required_argument, NULL, 'H' },
                { "machine", required_argument, NULL, 'M' },
                {}
        };
        int c;
        while ((c = getopt_long(argc, argv, "hp:qH:M:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("graft %s\n", GRAFT_VERSION);
                        return 0;
                case 'p':
                        arg_options.profile = optarg;
                        break;
                case ARG_RUNTIME:
                        arg_options.runtime = true;
                        break;
                case ARG_ENABLE:
                        arg_options.enable = true;
                        break;
                case ARG_NOW:
                        arg_options.now = true;
                        break;
                case ARG_NO_BLOCK:
                        arg_options.no_block = true;
                        break;
                case ARG_NO_RELOAD:
                        arg_options.no_reload = true;
                        break;
                case ARG_FORCE:
                        arg_options.force = true;
                        break;
                case ARG_ROOT:
                        arg_options.root = optarg;
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ARG_DIRECT:
                        arg_transport = BUS_TRANSPORT_DIRECT;
                        break;
                case ARG_CAT:
                        arg_cat = true;
                        break;
                case 'H':
                case 'M':
                        arg_transport = c == 'H' ? BUS_TRANSPORT_REMOTE : BUS_TRANSPORT_MACHINE;
                        arg_host = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        if (parse_value(c, optarg) < 0)
                                return -EINVAL;
                }
        }
        arg_options.extensions = arg_extensions;
        arg_options.on_lock_wait = on_lock_wait;
        arg_options.on_recovered = on_recovered;
        if (arg_host && (arg_options.root || arg_transport == BUS_TRANSPORT_DIRECT))
                return log_error("-H/-M go through graftd; they cannot be combined with --root or --direct"), -EINVAL;
        return 1;
}

/* graftd when it is reachable (and not --root or --direct), else in-process. */
static int connect_graftd(void) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        BusTransport t = arg_options.root ? BUS_TRANSPORT_DIRECT : arg_transport;
        int r = bus_connect_graftd(t, arg_host, &arg_bus, &e);
        if (r < 0)
                return log_graft_error(&e, r, "cannot reach graftd");
        arg_bus_local = t == BUS_TRANSPORT_AUTO;
        return 0;
}

int main(int argc, char **argv) {
        static const Verb verbs[] = {
                { "list", VERB_ANY, 1, VERB_DEFAULT, verb_list },
                { "attach", 2, VERB_ANY, 0, verb_attach },
                { "detach", 2, VERB_ANY, 0, verb_detach },
                { "reattach", 2, VERB_ANY, 0, verb_reattach },
                { "inspect", 2, VERB_ANY, 0, verb_inspect },
                { "is-attached", 2, 2, 0, verb_is_attached },
                { "remove", 2, VERB_ANY, 0, verb_remove },
                { "read-only", 2, 3, 0, verb_read_only },
                {}
        };
        log_set_program(program_invocation_short_name);
        int r = parse_argv(argc, argv);
        if (r <= 0) {
                strv_free(arg_extensions);
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        }
        if (arg_quiet)
                log_set_max_level(LOG_ERR);
        if (connect_graftd() < 0) {
                strv_free(arg_extensions);
                return EXIT_FAILED;
        }
        r = dispatch_verb(argc - optind, argv + optind, verbs, NULL);
        sd_bus_flush_close_unref(arg_bus);
        strv_free(arg_extensions);
        return r;
}
