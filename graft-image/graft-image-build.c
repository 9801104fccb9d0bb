/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image build and sign. */
#include <string.h>

#include "graft-image.h"
#include "image-sign.h"
#include "log.h"
#include "progress.h"

/* SOURCE_DATE_EPOCH, when set, must be a plain number of seconds. */
static int read_epoch(bool *ret_have, uint64_t *ret) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        if (isempty(e)) {
                *ret_have = false;
                return 0;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(e, &end, 10);
        if (errno || *end || e[0] == '-')
                return log_error("SOURCE_DATE_EPOCH=%s is not a number of seconds", e), -EINVAL;
        *ret_have = true;
        *ret = v;
        return 0;
}

/* --compression-level against the range of the compression chosen (in any order on the line). */
static int check_level(void) {
        unsigned min, max, def;
        const char *c = squashfs_compression_to_string(arg_compression);
        if (!arg_have_compression_level)
                return 0;
        if (squashfs_compression_levels(arg_compression, &min, &max, &def) < 0)
                return log_error("--compression-level=%u: %s compression has no levels", arg_compression_level, c), -EINVAL;
        if (arg_compression_level < min || arg_compression_level > max)
                return log_error("--compression-level=%u: %s takes levels %u to %u (default %u)", arg_compression_level, c,
                                 min, max, def),
                       -EINVAL;
        return 0;
}

int verb_build(int argc, char **argv) {
        if (check_level() < 0)
                return EXIT_USAGE;
        if (!arg_output || !arg_name || !arg_version) {
                log_error("build needs -o OUT.raw, --name=NAME and --version=V");
                return EXIT_USAGE;
        }
        ImageBuildOptions o = {
                .source_dir = argv[1],
                .output = arg_output,
                .name = arg_name,
                .version = arg_version,
                .type = arg_type,
                .arch = arg_arch,
                .designator = arg_partition,
                .compression = arg_compression,
                .have_compression_level = arg_have_compression_level,
                .compression_level = arg_compression_level,
                .key_path = arg_key,
                .cert_path = arg_cert,
                .n_threads = arg_threads,
        };
        if (read_epoch(&o.have_epoch, &o.epoch) < 0)
                return EXIT_USAGE;

        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(progress_freep) Progress *p = arg_quiet || arg_json ? NULL : progress_new("Building");
        o.progress = progress_report;
        o.progress_userdata = p;

        ImageBuildResult res;
        int r = image_build(&o, &res, &e);
        p = progress_free(p);
        if (r < 0)
                return exit_code_for(&e, r, "cannot build the image");

        char a[16], b[16], c[16];
        if (arg_json) {
                _cleanup_json_ struct json_object *j = json_object_new_object();
                if (!j || json_add_string(j, "image", arg_output) < 0 || json_add_string(j, "name", arg_name) < 0 ||
                    json_add_string(j, "version", arg_version) < 0 ||
                    json_add_string(j, "type", image_type_to_string(arg_type)) < 0 ||
                    json_add_string(j, "rootHash", res.root_hash_hex) < 0 || json_add_bool(j, "signed", res.signed_) < 0 ||
                    json_add_uint64(j, "size", res.image_size) < 0 || json_add_uint64(j, "dataSize", res.data_size) < 0 ||
                    json_add_uint64(j, "hashSize", res.hash_size) < 0)
                        return log_oom(), EXIT_FAILED;
                json_print(j, arg_json, stdout);
        } else if (!arg_quiet)
                printf("Built %s (%s: data %s, hash tree %s%s)\nRoot hash: %s\n", arg_output,
                       format_bytes(a, res.image_size), format_bytes(b, res.data_size), format_bytes(c, res.hash_size),
                       res.signed_ ? ", signed" : ", unsigned", res.root_hash_hex);
        return EXIT_OK;
}

int verb_sign(int argc, char **argv) {
        if (!arg_key || !arg_cert) {
                log_error("sign needs --key=KEY.pem and --cert=CERT.pem");
                return EXIT_USAGE;
        }
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(image_sign_result_done) ImageSignResult res = {};
        _cleanup_(progress_freep) Progress *p = arg_quiet || arg_json ? NULL : progress_new("Verifying");
        ImageSignOptions o = {
                .key_path = arg_key,
                .cert_path = arg_cert,
                .n_threads = arg_threads,
                .progress = progress_report,
                .progress_userdata = p,
        };
        int r = image_sign(argv[1], &o, &res, &e);
        p = progress_free(p);
        if (r < 0)
                return exit_code_for(&e, r, "cannot sign the image");

        if (arg_json) {
                _cleanup_json_ struct json_object *j = json_object_new_object();
                if (!j || json_add_string(j, "image", argv[1]) < 0 || json_add_string(j, "rootHash", res.root_hash_hex) < 0 ||
                    json_add_string(j, "written", res.written) < 0 || json_add_bool(j, "replaced", res.replaced) < 0)
                        return log_oom(), EXIT_FAILED;
                json_print(j, arg_json, stdout);
        } else if (!arg_quiet)
                printf("%s signature of %s into %s\nRoot hash: %s\n", res.replaced ? "Replaced the" : "Wrote a",
                       argv[1], res.written, res.root_hash_hex);
        return EXIT_OK;
}
