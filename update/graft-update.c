/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-update: fetch, verify and place new versions of system extensions, configuration
 * extensions and portable services described by sysupdate.d(5) transfer files. Owns option
 * parsing and verb dispatch; the verbs live in graft-update-verbs.c, the work in update/. */
#include <getopt.h>
#include <string.h>

#include "conf-parse.h"
#include "graft-config.h"
#include "graft-update.h"
#include "log.h"
#include "verbs.h"

UpdateOptions arg_options = { .verify = -1, .fetch = { .retries = 3 } };
JsonFormat arg_json = JSON_OFF;
bool arg_legend = true;
bool arg_quiet = false;
const char *arg_os_release = NULL;
unsigned arg_instances_max = 0;
bool arg_all_components = false;

enum {
        ARG_VERSION = 0x100,
        ARG_ROOT,
        ARG_DEFINITIONS,
        ARG_KEYRING,
        ARG_VERIFY,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_OS_RELEASE,
        ARG_INSTANCES_MAX,
        ARG_TIMEOUT,
        ARG_RETRIES,
};

static void help(void) {
        printf("%s [OPTIONS...] [COMMAND]\n\n"
               "Update system extensions, configuration extensions and portable services\n"
               "from sysupdate.d transfer files.\n\n"
               "Commands:\n"
               "  list [VERSION]         List available and installed versions (default)\n"
               "  check-new              Print the version an update would take, if any\n"
               "  update [VERSION]       Fetch, verify, place and switch to the newest (or\n"
               "                         VERSION), check its health, roll back if it fails\n"
               "  resolve                Finish an update that was cut short\n"
               "  vacuum                 Remove old versions beyond InstancesMax=\n"
               "  check --os-release=F   Which extensions would not fit a host with F\n"
               "  components             List the components (sysupdate.NAME.d)\n"
               "  mark-bad VERSION [WHY] Never pick VERSION again\n"
               "  unmark VERSION         Clear the bad mark of VERSION\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the package version\n"
               "     --root=DIR          Work on the tree below DIR, not on this host\n"
               "  -C --component=NAME    Use sysupdate.NAME.d instead of sysupdate.d\n"
               "  -A --all-components    update, resolve: sysupdate.d and every component\n"
               "     --definitions=DIR   Read transfer files from DIR only\n"
               "     --keyring=FILE      OpenPGP keyring for SHA256SUMS.gpg\n"
               "     --verify=BOOL       Override Verify= of the transfer files\n"
               "     --os-release=FILE   For check: the os-release of the next host release\n"
               "     --instances-max=N   For vacuum: keep N versions\n"
               "     --timeout=SEC       Give up a download that stalls this long (60)\n"
               "     --retries=N         Retry a broken download N times, resuming (3)\n"
               "     --json=FORMAT       Output JSON: short or pretty\n"
               "     --no-legend         Leave out column headers\n"
               "  -q --quiet             Print only errors\n\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3-8 the check a download failed,\n"
               "10 conflict (locked, marked bad), 11 health check failed (rolled back).\n"
               "See graft-update(8).\n",
               program_invocation_short_name);
}

static int parse_uint(const char *opt, const char *s, unsigned min, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v < min || v > 1000000 || s[0] == '-')
                return log_error("%s takes a number of at least %u, not \"%s\"", opt, min, s), -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_option(int c) {
        unsigned n;
        switch (c) {
        case ARG_ROOT:
                if (optarg[0] != '/')
                        return log_error("--root= takes an absolute path, not \"%s\"", optarg), -EINVAL;
                arg_options.root = optarg;
                return 0;
        case 'C':
                arg_options.component = optarg;
                return 0;
        case 'A':
                arg_all_components = true;
                return 0;
        case ARG_DEFINITIONS:
                arg_options.definitions = optarg;
                return 0;
        case ARG_KEYRING:
                arg_options.keyring = optarg;
                return 0;
        case ARG_VERIFY:
                arg_options.verify = conf_parse_boolean(optarg);
                if (arg_options.verify < 0)
                        return log_error("--verify= takes a boolean, not \"%s\"", optarg), -EINVAL;
                return 0;
        case ARG_OS_RELEASE:
                arg_os_release = optarg;
                return 0;
        case ARG_INSTANCES_MAX:
                return parse_uint("--instances-max=", optarg, 1, &arg_instances_max);
        case ARG_TIMEOUT:
                if (parse_uint("--timeout=", optarg, 1, &n) < 0)
                        return -EINVAL;
                arg_options.fetch.stall_timeout_usec = (uint64_t) n * 1000000u;
                arg_options.fetch.connect_timeout_usec = (uint64_t) n * 1000000u;
                return 0;
        case ARG_RETRIES:
                return parse_uint("--retries=", optarg, 0, &arg_options.fetch.retries);
        case ARG_JSON:
                if (json_format_from_string(optarg, &arg_json) < 0)
                        return log_error("--json= takes short, pretty or off, not \"%s\"", optarg), -EINVAL;
                return 0;
        case ARG_NO_LEGEND:
                arg_legend = false;
                return 0;
        case 'q':
                arg_quiet = true;
                return 0;
        default:
                return -EINVAL;
        }
}

static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "root", required_argument, NULL, ARG_ROOT },
                { "component", required_argument, NULL, 'C' },
                { "all-components", no_argument, NULL, 'A' },
                { "definitions", required_argument, NULL, ARG_DEFINITIONS },
                { "keyring", required_argument, NULL, ARG_KEYRING },
                { "verify", required_argument, NULL, ARG_VERIFY },
                { "os-release", required_argument, NULL, ARG_OS_RELEASE },
                { "instances-max", required_argument, NULL, ARG_INSTANCES_MAX },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "retries", required_argument, NULL, ARG_RETRIES },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        int c;
        while ((c = getopt_long(argc, argv, "hqAC:", options, NULL)) >= 0) {
                if (c == 'h') {
                        help();
                        return 0;
                }
                if (c == ARG_VERSION) {
                        printf("graft %s\n", GRAFT_VERSION);
                        return 0;
                }
                if (parse_option(c) < 0)
                        return -EINVAL;
        }
        if (arg_all_components && (arg_options.component || arg_options.definitions))
                return log_error("--all-components does not go with --component= or --definitions="), -EINVAL;
        return 1;
}

int main(int argc, char **argv) {
        static const Verb verbs[] = {
                { "list", VERB_ANY, 2, VERB_DEFAULT, verb_list },
                { "check-new", VERB_ANY, 1, 0, verb_check_new },
                { "update", VERB_ANY, 2, 0, verb_update },
                { "resolve", VERB_ANY, 1, 0, verb_resolve },
                { "vacuum", VERB_ANY, 1, 0, verb_vacuum },
                { "check", VERB_ANY, 1, 0, verb_check },
                { "components", VERB_ANY, 1, 0, verb_components },
                { "mark-bad", 2, 3, 0, verb_mark },
                { "unmark", 2, 2, 0, verb_mark },
                {}
        };
        log_set_program(program_invocation_short_name);
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        if (arg_quiet)
                log_set_max_level(LOG_ERR);
        return dispatch_verb(argc - optind, argv + optind, verbs, NULL);
}
