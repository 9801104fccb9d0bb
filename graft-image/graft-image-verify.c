/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image verify. */
#include <string.h>

#include "graft-image.h"
#include "image-verify.h"
#include "log.h"
#include "progress.h"

static const char *offer_to_string(PolicyOffer o) {
        static const char * const t[] = {
                [OFFER_ABSENT] = "absent",
                [OFFER_UNPROTECTED] = "unprotected",
                [OFFER_VERITY] = "verity",
                [OFFER_SIGNED] = "signed",
        };
        return t[o];
}

static int print_failure_json(const char *image, const GraftError *e, int r) {
        _cleanup_json_ struct json_object *j = json_object_new_object();
        if (!j || json_add_string(j, "image", image) < 0 || json_add_bool(j, "verified", false) < 0 ||
            json_add_string(j, "error", e->name ?: GRAFT_ERROR_IO) < 0 ||
            json_add_string(j, "message", e->message ?: strerror(-r)) < 0)
                return log_oom();
        json_print(j, arg_json, stdout);
        return 0;
}

static int print_json(const DissectedImage *image, const ImageVerification *v) {
        const char *why = NULL;
        bool kernel_verity = verity_kernel_available(&why);
        _cleanup_json_ struct json_object *j = json_object_new_object();
        if (!j || json_add_string(j, "image", image->path) < 0 || json_add_bool(j, "verified", true) < 0 ||
            json_add_string(j, "protection", offer_to_string(v->offer)) < 0 ||
            json_add_string(j, "rootHash", v->root_hash_hex) < 0 || json_add_string(j, "signer", v->signer) < 0 ||
            json_add_string(j, "signerCertificate", v->signer_certificate) < 0 ||
            json_add_string(j, "dataPartition", image->data.range.what) < 0 ||
            json_add_uint64(j, "dataBlocks", v->params.data_blocks) < 0 ||
            json_add_uint64(j, "dataBlockSize", v->params.data_block_size) < 0 ||
            json_add_uint64(j, "hashBlockSize", v->params.hash_block_size) < 0 ||
            json_add_bool(j, "uuidsMatchRootHash", v->uuids_match_root_hash) < 0 ||
            json_add_uint64(j, "inodesChecked", v->inodes) < 0 ||
            json_add_string(j, "kernelVerityUnavailable", kernel_verity ? NULL : why) < 0)
                return log_oom();
        json_print(j, arg_json, stdout);
        return 0;
}

static void print_text(const DissectedImage *image, const ImageVerification *v) {
        const char *off = ansi_normal(STDOUT_FILENO);
        if (v->offer == OFFER_UNPROTECTED)
                /* Nothing failed, but nothing was proven either: say so rather than "Verified". */
                printf("%sUnprotected%s %s: no hash tree, nothing to verify\n", ansi_highlight_yellow(STDOUT_FILENO),
                       off, image->path);
        else
                printf("%sVerified%s %s\n", ansi_highlight_green(STDOUT_FILENO), off, image->path);
        printf("  Protection: %s\n", offer_to_string(v->offer));
        if (v->root_hash_hex) {
                printf("   Root hash: %s\n", v->root_hash_hex);
                printf("   Hash tree: %" PRIu64 " data blocks of %u bytes in %s, hash tree in %s, every block checked\n",
                       v->params.data_blocks, v->params.data_block_size, image->data.range.what,
                       image->verity.range.what);
        }
        if (v->signer)
                printf("   Signed by: %s (trusted: %s)\n", v->signer, v->signer_certificate);
        else if (v->root_hash_hex)
                printf("   Signed by: nobody (no signature; only the root hash vouches for the content)\n");
        else
                printf("   Hash tree: none: nothing vouches for the content of this image\n");
        if (v->inodes)
                printf(" File system: %" PRIu64 " entries checked for unsafe names\n", v->inodes);
        if (v->root_hash_hex) {
                const char *why = NULL;
                if (verity_kernel_available(&why))
                        printf("   dm-verity: available: mounts of this image are checked by the kernel on every read\n");
                else
                        printf("   dm-verity: not available (%s): mounts rely on this userspace check\n", why);
        }
}

int verb_verify(int argc, char **argv) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(dissected_image_freep) DissectedImage *image = NULL;
        _cleanup_(image_verification_done) ImageVerification v = {};

        int r = dissect_image(argv[1], &(DissectOptions) { .arch = arg_arch, .untrusted_ok = true }, &image, &e);
        if (r >= 0) {
                _cleanup_(progress_freep) Progress *p = arg_quiet || arg_json ? NULL : progress_new("Verifying");
                ImageVerifyOptions o = {
                        .root = arg_root,
                        .policy = arg_image_policy,
                        .root_hash = arg_root_hash,
                        .root_hash_size = arg_root_hash_size,
                        .n_threads = arg_threads,
                        .progress = progress_report,
                        .progress_userdata = p,
                };
                r = image_verify(image, &o, &v, &e);
        }
        if (r < 0) {
                if (arg_json)
                        print_failure_json(argv[1], &e, r);
                return exit_code_for(&e, r, "verification failed");
        }

        if (arg_json)
                return print_json(image, &v) < 0 ? EXIT_FAILED : EXIT_OK;
        if (!arg_quiet)
                print_text(image, &v);
        return EXIT_OK;
}
