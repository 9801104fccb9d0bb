/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image: build, inspect, verify and sign Discoverable-Partitions images. Owns option
 * parsing and verb dispatch; each verb lives in graft-image-VERB.c. */
#include <getopt.h>
#include <string.h>

#include "graft-config.h"
#include "graft-image.h"
#include "hex.h"
#include "log.h"
#include "version.h"

JsonFormat arg_json = JSON_OFF;
bool arg_legend = true;
bool arg_quiet = false;
const char *arg_output = NULL;
const char *arg_name = NULL;
const char *arg_version = NULL;
ImageType arg_type = IMAGE_TYPE_SYSEXT;
Architecture arg_arch = _ARCHITECTURE_INVALID;
PartitionDesignator arg_partition = PARTITION_ROOT;
SquashfsCompression arg_compression = SQUASHFS_ZSTD;
bool arg_have_compression_level = false;
unsigned arg_compression_level = 0;
const char *arg_key = NULL;
const char *arg_cert = NULL;
const char *arg_root = NULL;
uint8_t *arg_root_hash = NULL;
size_t arg_root_hash_size = 0;
ImagePolicy *arg_image_policy = NULL;
unsigned arg_threads = 0;

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NAME,
        ARG_IMAGE_VERSION,
        ARG_TYPE,
        ARG_ARCH,
        ARG_PARTITION,
        ARG_COMPRESSION,
        ARG_KEY,
        ARG_CERT,
        ARG_ROOT,
        ARG_ROOT_HASH,
        ARG_IMAGE_POLICY,
        ARG_THREADS,
        ARG_COMPRESSION_LEVEL,
};

/* Which options each verb takes; anything else is refused by name. */
#define OPT(x) (1u << ((x) - ARG_VERSION))
#define OPT_OUTPUT (1u << 31)
#define OPTS_COMMON (OPT(ARG_JSON) | OPT(ARG_NO_LEGEND) | OPT(ARG_THREADS))

static const struct {
        const char *name;
        int min_args, max_args;
        unsigned options;
        int (*func)(int argc, char **argv);
} verbs[] = {
        { "build", 1, 1,
          OPTS_COMMON | OPT_OUTPUT | OPT(ARG_NAME) | OPT(ARG_IMAGE_VERSION) | OPT(ARG_TYPE) | OPT(ARG_ARCH) |
                  OPT(ARG_PARTITION) | OPT(ARG_COMPRESSION) | OPT(ARG_COMPRESSION_LEVEL) | OPT(ARG_KEY) |
                  OPT(ARG_CERT),
          verb_build },
        { "inspect", 1, 1, OPTS_COMMON | OPT(ARG_ARCH), verb_inspect },
        { "verify", 1, 1, OPTS_COMMON | OPT(ARG_ARCH) | OPT(ARG_ROOT) | OPT(ARG_ROOT_HASH) | OPT(ARG_IMAGE_POLICY),
          verb_verify },
        { "sign", 1, 1, OPTS_COMMON | OPT(ARG_KEY) | OPT(ARG_CERT), verb_sign },
        { "compare-versions", 2, 3, 0, verb_compare_versions },
};

static void help(void) {
        printf("%s [OPTIONS...] COMMAND ...\n\n"
               "Build, inspect, verify and sign Discoverable-Partitions disk images.\n\n"
               "Commands:\n"
               "  build SRC_DIR -o OUT.raw --name=NAME --version=V\n"
               "                         Build a signed or unsigned verity image from a tree\n"
               "  inspect IMAGE          Show partitions, release files and units (no root)\n"
               "  verify IMAGE           Check every block, the signature and the policy\n"
               "  sign IMAGE --key=K --cert=C\n"
               "                         Add or replace the root hash signature\n"
               "  compare-versions A [OP] B\n"
               "                         Compare two versions like systemd-analyze\n\n"
               "Options:\n"
               "  -h --help              Show this help\n"
               "     --version           Show the package version\n"
               "  -o --output=PATH       Where build writes the image\n"
               "     --name=NAME         Image name (build)\n"
               "     --version=V         With build: the image version (label NAME_V)\n"
               "     --type=TYPE         sysext or portable (build; default sysext)\n"
               "     --arch=ARCH         Architecture to build for or to pick (x86-64, …)\n"
               "     --partition=P       root or usr: the data partition type (build)\n"
               "     --compression=C     zstd, xz, gzip or lz4 (build; default zstd)\n"
               "     --compression-level=N\n"
               "                         zstd 1-22 (default 15), xz 0-9 (6), gzip 1-9 (9)\n"
               "     --key=PATH          PEM private key to sign with (build, sign)\n"
               "     --cert=PATH         PEM certificate that goes with the key\n"
               "     --root=DIR          Take the trust store (etc/verity.d, …) from DIR\n"
               "     --root-hash=HEX     The root hash the image must have (verify)\n"
               "     --image-policy=P    Image policy to enforce (verify)\n"
               "     --threads=N         Worker threads (default: one per CPU)\n"
               "     --json=FORMAT       Output JSON: short or pretty\n"
               "     --no-legend         Leave out column headers\n"
               "  -q --quiet             Print only errors\n\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 bad image, 4 integrity mismatch,\n"
               "5 signature bad or untrusted, 6 refused by policy, 7 missing image or file.\n"
               "See graft-image(1).\n",
               program_invocation_short_name);
}

static int parse_threads(const char *s) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(s, &end, 10);
        if (errno || *end || end == s || n < 1 || n > 1024)
                return -EINVAL;
        arg_threads = (unsigned) n;
        return 0;
}

static int parse_value_option(int c, const char *v) {
        GraftError e = GRAFT_ERROR_INIT;
        int r = 0;
        switch (c) {
        case ARG_JSON:
                if (json_format_from_string(v, &arg_json) < 0)
                        return log_error("--json= takes short, pretty or off, not \"%s\"", v), -EINVAL;
                break;
        case ARG_TYPE:
                if ((arg_type = image_type_from_string(v)) < 0)
                        return log_error("--type= takes sysext or portable, not \"%s\"", v), -EINVAL;
                break;
        case ARG_ARCH:
                if ((arg_arch = architecture_from_string(v)) < 0)
                        return log_error("unknown architecture \"%s\" (try x86-64, arm64, …)", v), -EINVAL;
                break;
        case ARG_PARTITION:
                if (!streq(v, "root") && !streq(v, "usr"))
                        return log_error("--partition= takes root or usr, not \"%s\"", v), -EINVAL;
                arg_partition = streq(v, "usr") ? PARTITION_USR : PARTITION_ROOT;
                break;
        case ARG_COMPRESSION:
                if ((arg_compression = squashfs_compression_from_string(v)) < 0)
                        return log_error("--compression= takes zstd, xz, gzip or lz4, not \"%s\"", v), -EINVAL;
                break;
        case ARG_COMPRESSION_LEVEL: {
                char *end;
                errno = 0;
                unsigned long n = strtoul(v, &end, 10);
                if (errno || *end || end == v || n > 99)
                        return log_error("--compression-level= takes a number, not \"%s\"", v), -EINVAL;
                arg_compression_level = (unsigned) n;
                arg_have_compression_level = true;
                break;
        }
        case ARG_ROOT_HASH:
                free(arg_root_hash);
                if (unhexmem(v, strlen(v), &arg_root_hash, &arg_root_hash_size) < 0 || arg_root_hash_size < 16 ||
                    arg_root_hash_size > 64)
                        return log_error("--root-hash= takes a hex root hash, not \"%s\"", v), -EINVAL;
                break;
        case ARG_IMAGE_POLICY:
                free(arg_image_policy);
                arg_image_policy = calloc(1, sizeof(ImagePolicy));
                if (!arg_image_policy)
                        return log_oom();
                r = image_policy_parse(v, arg_image_policy, &e);
                if (r < 0) {
                        log_graft_error(&e, r, "invalid --image-policy=%s", v);
                        graft_error_done(&e);
                        return -EINVAL;
                }
                break;
        case ARG_THREADS:
                if (parse_threads(v) < 0)
                        return log_error("--threads= takes a number from 1 to 1024, not \"%s\"", v), -EINVAL;
                break;
        }
        return 0;
}

/* Options that take their value as the next argument when not written with '='. */
static const char * const value_options[] = {
        "-o", "--output", "--name", "--type", "--arch", "--partition", "--compression", "--compression-level", "--key",
        "--cert", "--root", "--root-hash", "--image-policy", "--threads",
};

/* build's --version takes a value ("--version 1.0"), everywhere else --version prints ours; so
 * the verb has to be known before getopt runs. */
static bool verb_is_build(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "--"))
                        return i + 1 < argc && streq(argv[i + 1], "build");
                if (a[0] != '-')
                        return streq(a, "build");
                for (size_t j = 0; j < ELEMENTSOF(value_options); j++)
                        if (streq(a, value_options[j])) {
                                i++;
                                break;
                        }
        }
        return false;
}

static int parse_argv(int argc, char **argv, unsigned *ret_given) {
        struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", optional_argument, NULL, ARG_VERSION },
                { "output", required_argument, NULL, 'o' },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "quiet", no_argument, NULL, 'q' },
                { "name", required_argument, NULL, ARG_NAME },
                { "type", required_argument, NULL, ARG_TYPE },
                { "arch", required_argument, NULL, ARG_ARCH },
                { "partition", required_argument, NULL, ARG_PARTITION },
                { "compression", required_argument, NULL, ARG_COMPRESSION },
                { "key", required_argument, NULL, ARG_KEY },
                { "cert", required_argument, NULL, ARG_CERT },
                { "root", required_argument, NULL, ARG_ROOT },
                { "root-hash", required_argument, NULL, ARG_ROOT_HASH },
                { "image-policy", required_argument, NULL, ARG_IMAGE_POLICY },
                { "threads", required_argument, NULL, ARG_THREADS },
                { "compression-level", required_argument, NULL, ARG_COMPRESSION_LEVEL },
                {}
        };
        unsigned given = 0;
        int c, r;

        if (verb_is_build(argc, argv))
                options[1].has_arg = required_argument;

        while ((c = getopt_long(argc, argv, "ho:q", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        if (!optarg) {
                                printf("graft %s\n", GRAFT_VERSION);
                                return 0;
                        }
                        arg_version = optarg;
                        given |= OPT(ARG_IMAGE_VERSION);
                        continue;
                case 'o':
                        arg_output = optarg;
                        given |= OPT_OUTPUT;
                        continue;
                case 'q':
                        arg_quiet = true;
                        continue;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NAME:
                        arg_name = optarg;
                        break;
                case ARG_KEY:
                        arg_key = optarg;
                        break;
                case ARG_CERT:
                        arg_cert = optarg;
                        break;
                case ARG_ROOT:
                        arg_root = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        r = parse_value_option(c, optarg);
                        if (r < 0)
                                return r;
                }
                given |= OPT(c);
        }
        *ret_given = given;
        return 1;
}

static const char *option_name(unsigned bit) {
        static const char *const names[] = {
                [ARG_JSON - ARG_VERSION] = "--json", [ARG_NO_LEGEND - ARG_VERSION] = "--no-legend",
                [ARG_NAME - ARG_VERSION] = "--name", [ARG_IMAGE_VERSION - ARG_VERSION] = "--version=V",
                [ARG_TYPE - ARG_VERSION] = "--type", [ARG_ARCH - ARG_VERSION] = "--arch",
                [ARG_PARTITION - ARG_VERSION] = "--partition", [ARG_COMPRESSION - ARG_VERSION] = "--compression",
                [ARG_KEY - ARG_VERSION] = "--key", [ARG_CERT - ARG_VERSION] = "--cert",
                [ARG_ROOT - ARG_VERSION] = "--root", [ARG_ROOT_HASH - ARG_VERSION] = "--root-hash",
                [ARG_IMAGE_POLICY - ARG_VERSION] = "--image-policy", [ARG_THREADS - ARG_VERSION] = "--threads",
                [ARG_COMPRESSION_LEVEL - ARG_VERSION] = "--compression-level",
        };
        if (bit == 31)
                return "--output";
        return bit < ELEMENTSOF(names) && names[bit] ? names[bit] : "an option";
}

static int dispatch(int argc, char **argv, unsigned given) {
        if (argc <= 0) {
                log_error("no command given; see --help");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(argv[0], verbs[i].name))
                        continue;
                unsigned bad = given & ~verbs[i].options;
                if (bad) {
                        log_error("%s does not take %s", verbs[i].name, option_name((unsigned) __builtin_ctz(bad)));
                        return EXIT_USAGE;
                }
                if (argc - 1 < verbs[i].min_args || argc - 1 > verbs[i].max_args) {
                        log_error("%s takes %d%s argument%s, %d given; see --help", verbs[i].name, verbs[i].min_args,
                                  verbs[i].max_args > verbs[i].min_args ? " or more" : "",
                                  verbs[i].max_args == 1 ? "" : "s", argc - 1);
                        return EXIT_USAGE;
                }
                return verbs[i].func(argc, argv);
        }
        log_error("unknown command \"%s\"; see --help", argv[0]);
        return EXIT_USAGE;
}

int main(int argc, char **argv) {
        unsigned given = 0;
        log_set_program(program_invocation_short_name);

        int r = parse_argv(argc, argv, &given);
        if (r <= 0) {
                free(arg_root_hash);
                free(arg_image_policy);
                return r < 0 ? EXIT_USAGE : EXIT_OK;
        }
        if (arg_quiet)
                log_set_max_level(LOG_ERR);

        r = dispatch(argc - optind, argv + optind, given);
        free(arg_root_hash);
        free(arg_image_policy);
        return r;
}

int exit_code_for(const GraftError *e, int r, const char *fallback) {
        log_graft_error(e, r, "%s", fallback);
        return graft_error_exit_code(e, r);
}

char *format_bytes(char buf[static 16], uint64_t n) {
        static const char suffixes[] = "BKMGTP";
        double v = (double) n;
        size_t i = 0;
        while (v >= 1024 && i < sizeof(suffixes) - 2) {
                v /= 1024;
                i++;
        }
        if (i == 0)
                snprintf(buf, 16, "%" PRIu64 "B", n);
        else
                snprintf(buf, 16, "%.1f%c", v, suffixes[i]);
        return buf;
}

/* Like systemd-analyze: "A < B" with exit status 12, 11 for >, 0 for ==; or, given an operator,
 * exit status 0 if the comparison holds and 1 if it does not. */
int verb_compare_versions(int argc, char **argv) {
        if (argc == 3) {
                int r = version_compare(argv[1], argv[2]);
                printf("%s %s %s\n", argv[1], r < 0 ? "<" : r > 0 ? ">" : "==", argv[2]);
                return r < 0 ? 12 : r > 0 ? 11 : 0;
        }

        static const struct {
                const char *op, *alt;
                int lt, eq, gt;
        } ops[] = {
                { "lt", "<", 1, 0, 0 }, { "le", "<=", 1, 1, 0 }, { "eq", "==", 0, 1, 0 },
                { "ne", "!=", 1, 0, 1 }, { "ge", ">=", 0, 1, 1 }, { "gt", ">", 0, 0, 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                if (!streq(argv[2], ops[i].op) && !streq(argv[2], ops[i].alt))
                        continue;
                int r = version_compare(argv[1], argv[3]);
                bool holds = r < 0 ? ops[i].lt : r > 0 ? ops[i].gt : ops[i].eq;
                return holds ? EXIT_OK : EXIT_FAILED;
        }
        log_error("unknown comparison operator \"%s\" (use lt, le, eq, ne, ge, gt or <, <=, ==, !=, >=, >)", argv[2]);
        return EXIT_USAGE;
}
