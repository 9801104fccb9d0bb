/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signing an existing verity image: verify its hash tree, sign the root hash, then write (or
 * replace) the signature partition; for a bare file system with a .verity sidecar, write the
 * NAME.roothash.p7s sidecar instead. */
#pragma once

#include "error.h"
#include "progress.h"

typedef struct ImageSignOptions {
        const char *key_path;
        const char *cert_path;
        unsigned n_threads;
        ProgressFn progress;
        void *progress_userdata;
} ImageSignOptions;

typedef struct ImageSignResult {
        char *root_hash_hex;
        char *written;   /* "partition 3" or the sidecar path */
        bool replaced;   /* an existing signature was replaced */
} ImageSignResult;

void image_sign_result_done(ImageSignResult *r);
int image_sign(const char *path, const ImageSignOptions *o, ImageSignResult *ret, GraftError *err);
