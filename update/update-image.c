/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the image checks of graft-update (see update-image.h). */
#include <string.h>

#include "dissect.h"
#include "image-fs.h"
#include "image-verify.h"
#include "metadata.h"
#include "path-util.h"
#include "release-match.h"
#include "strv.h"
#include "update-image.h"

char *update_image_name(const Transfer *t, const char *file_name) {
        if (t->image_name)
                return strdup(t->image_name);
        return strdup_strip_suffix(file_name, ".raw");
}

static int check_fits(const Transfer *t, const ImageCheck *c, const DissectedImage *d, const char *name,
                      GraftError *err) {
        _cleanup_(image_fs_freep) ImageFs *fs = NULL;
        int r = image_fs_open(d, &fs, err);
        if (r < 0)
                return r;
        if (t->kind == UPDATE_KIND_PORTABLE) {
                _cleanup_(image_metadata_done) ImageMetadata m = {};
                r = image_metadata_read(fs, name, &m, err);
                if (r < 0)
                        return r;
                if (!m.os_release || !strv_env_get(m.os_release, "ID"))
                        return graft_error_set(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE,
                                               "%s: has no os-release with ID=, which a portable service image needs", name);
                return 0;
        }
        ExtensionKind kind = t->kind == UPDATE_KIND_CONFEXT ? EXTENSION_CONFEXT : EXTENSION_SYSEXT;
        _cleanup_free_ char *rel = extension_release_path(kind, name);
        _cleanup_strv_free_ char **ext = NULL, **own_host = NULL;
        if (!rel)
                return -ENOMEM;
        r = image_read_release(fs, rel, &ext, err);
        if (r < 0)
                return r;
        if (r == 0)
                return graft_error_set(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE, "%s: has no %s", name, rel);
        char * const *host = c->host_release;
        if (!host) {
                r = host_os_release_read(c->root, &own_host, err);
                if (r < 0)
                        return r;
                host = own_host;
        }
        return extension_release_check(kind, name, ext, host, "system", architecture_to_string(architecture_native()),
                                       err);
}

int update_image_check(const Transfer *t, const ImageCheck *c, const char *path, const char *name,
                       const char *shown, GraftError *err) {
        ImagePolicy policy;
        int r = t->image_policy ? image_policy_parse(t->image_policy, &policy, err)
                                : image_policy_default(c->root, &policy, err);
        if (r < 0)
                return r;
        DissectOptions dopts = { .arch = _ARCHITECTURE_INVALID };
        _cleanup_(dissected_image_freep) DissectedImage *d = NULL;
        r = dissect_image(path, &dopts, &d, err);
        if (r >= 0) {
                ImageVerifyOptions vo = {
                        .root = c->root, .policy = &policy, .n_threads = c->n_threads, .cache = c->cache,
                        /* an untrusted signer leaves verity; the policy decides whether that is enough */
                        .untrusted_signature_ok = true,
                };
                _cleanup_(image_verification_done) ImageVerification v = {};
                r = image_verify(d, &vo, &v, err);
        }
        if (r >= 0 && t->kind != UPDATE_KIND_FILE)
                r = check_fits(t, c, d, name, err);
        if (r < 0 && err && err->message && !strstr(err->message, shown))
                graft_error_prefix(err, r, "%s", shown);
        return r;
}
