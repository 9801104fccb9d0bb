/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting the data file system of an image that image_verify() accepted, read-only: through
 * dm-verity where the kernel has it and the image has a hash tree (so every later read is
 * checked too), else through a read-only loop device over the data partition; a directory image
 * is bind-mounted read-only. */
#pragma once

#include "image-verify.h"

typedef struct ImageMount {
        char *target;
        char *verity_device; /* dm name, removed by image_umount(); NULL without dm-verity */
        bool kernel_verity;  /* reads are checked by the kernel */
        char *how;           /* for logs: "dm-verity device graft-…", "loop device /dev/loop3", … */
} ImageMount;

void image_mount_done(ImageMount *m);

/* options: what to add to "ro,nodev" (e.g. "nosuid", "noexec"), or NULL. */
int image_mount(const DissectedImage *image, const ImageVerification *v, const char *target, const char *options,
                ImageMount *ret, GraftError *err);

/* Unmounts (lazily) and releases the dm-verity device if one was used; a device still held by
 * another mount of the same image stays. */
int image_umount(ImageMount *m, GraftError *err);
