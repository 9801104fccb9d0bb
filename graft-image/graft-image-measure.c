/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image measure: the event string and digests that merging or attaching an image extends
 * the PCR with, computed offline, so that a verifier can predict the PCR for a set of images. The
 * name and version are found the way sextctl and pctl find them (image_find(), then the partition
 * label), the root hash is the verified one. */
#include <string.h>

#include "discover.h"
#include "graft-image.h"
#include "image-verify.h"
#include "log.h"
#include "measure.h"

static const char * const banks[] = { "sha1", "sha256", "sha384", "sha512" };

static int print_json(const char *path, unsigned pcr, const char *event, char **digests) {
        _cleanup_json_ struct json_object *j = json_object_new_object();
        struct json_object *d = json_object_new_object();
        if (!j || !d || json_add_string(j, "image", path) < 0 || json_add_uint64(j, "pcr", pcr) < 0 ||
            json_add_string(j, "event", event) < 0 || json_add(j, "digests", d) < 0)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                if (json_add_string(d, banks[i], digests[i]) < 0)
                        return log_oom();
        json_print(j, arg_json, stdout);
        return 0;
}

/* Name, version and verified root hash of the image as a merge or attach would see it. */
static int identify(const char *image, DiscoveredImage *d, char **ret_version, char **ret_root_hash, GraftError *e) {
        int r = image_find(arg_root, arg_class, arg_arch, image, d, e);
        if (r < 0)
                return r;
        _cleanup_(dissected_image_freep) DissectedImage *di = NULL;
        _cleanup_(image_verification_done) ImageVerification v = {};
        r = dissect_image(d->path, &(DissectOptions) { .arch = arg_arch, .untrusted_ok = true }, &di, e);
        if (r >= 0)
                r = image_verify(di, &(ImageVerifyOptions) { .root = arg_root, .n_threads = arg_threads,
                                                             .untrusted_signature_ok = true },
                                 &v, e);
        if (r < 0)
                return r;
        const char *version = d->version ?: di->version;
        if (version && !(*ret_version = strdup(version)))
                return -ENOMEM;
        *ret_root_hash = TAKE_PTR(v.root_hash_hex);
        return 0;
}

int verb_measure(int argc, char **argv) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(discovered_image_done) DiscoveredImage d = {};
        _cleanup_(measure_config_done) MeasureConfig c = {};
        _cleanup_free_ char *version = NULL, *root_hash = NULL, *event = NULL;
        int r = measure_config_load(arg_root, &c, &e);
        if (r >= 0)
                r = identify(argv[1], &d, &version, &root_hash, &e);
        if (r < 0)
                return exit_code_for(&e, r, "cannot measure");
        if (measure_event_string(arg_class, d.name, version, root_hash, &event) < 0)
                return log_oom(), EXIT_FAILED;
        char *digests[ELEMENTSOF(banks)] = {};
        for (size_t i = 0; i < ELEMENTSOF(banks) && r >= 0; i++)
                r = measure_digest_hex(banks[i], event, &digests[i]);
        if (r >= 0 && arg_json)
                r = print_json(d.path, c.pcr, event, digests);
        else if (r >= 0) {
                printf("event  %s\npcr    %u\n", event, c.pcr);
                for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                        printf("%-6s %s\n", banks[i], digests[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(banks); i++)
                free(digests[i]);
        return r < 0 ? (log_error("cannot compute the digests: %s", strerror(-r)), EXIT_FAILED) : EXIT_OK;
}
