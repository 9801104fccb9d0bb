/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft's own checks of an image file before it is placed: dissect, the hash tree and signature
 * under the image policy (the transfer's ImagePolicy=, else the host's default: signed whenever a
 * trusted certificate is installed), and whether it fits the host: an extension's
 * extension-release against os-release, a portable service's os-release present. */
#pragma once

#include "transfer.h"
#include "verify-cache.h"

typedef struct ImageCheck {
        const char *root;            /* trust store and host os-release; NULL: the host */
        char * const *host_release;  /* os-release to match against; NULL: the root's */
        unsigned n_threads;
        VerifyCache *cache;
} ImageCheck;

/* path is the file to check (possibly under a staging name); name is what graft will call it
 * (the extension name its release file must carry). Errors name "shown" and say which check
 * failed, e.g. "foo_2.raw: data block 12 … does not match the hash tree". */
int update_image_check(const Transfer *t, const ImageCheck *c, const char *path, const char *name,
                       const char *shown, GraftError *err);

/* The name graft knows a placed file by: the transfer's image name, else the file name without
 * ".raw". */
char *update_image_name(const Transfer *t, const char *file_name);
