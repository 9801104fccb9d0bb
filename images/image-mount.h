/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting the data file system of an image that image_verify() accepted, read-only: through
 * dm-verity where the kernel has it and the image has a hash tree (so every later read is
 * checked too), else through a read-only loop device over the data partition; a directory image
 * is bind-mounted read-only. */
#pragma once

#include "image-verify.h"

typedef struct ImageMount {
        char *target;
        char *verity_device;   /* dm name ("graft-" + root hash); NULL without dm-verity */
        bool kernel_verity;    /* reads are checked by the kernel */
        bool kernel_signature; /* the kernel checked the root hash signature too */
        bool shared;           /* the dm device was active already (another mount of the image) */
        /* For logs, saying which checks were relied on: "dm-verity device graft-… (/dev/dm-0);
         * signature checked in userspace only (…): the kernel refused the signature (…)",
         * "loop device /dev/loop3; hash tree checked in userspace before mounting, reads are not
         * checked (the kernel has no device-mapper …)", … */
        char *how;
} ImageMount;

void image_mount_done(ImageMount *m);

/* With dm-verity the device is activated (or shared, when the same root hash is active already)
 * through verity_device_open(), with the image's trusted signature for the kernel to check where
 * it can, and marked for deferred removal: it goes away with the last mount of it, whoever
 * unmounts it (an overlay holding it as a layer included), and its loop devices follow.
 * options: what to add to "ro,nodev" (e.g. "nosuid", "noexec"), or NULL. */
int image_mount(const DissectedImage *image, const ImageVerification *v, const char *target, const char *options,
                ImageMount *ret, GraftError *err);

/* Unmounts (lazily). A dm-verity device goes away by itself with its last user (deferred
 * removal, see above): right after this when nothing else uses it, else when another mount of the
 * same image (or a file still open on this lazily detached one) goes. */
int image_umount(ImageMount *m, GraftError *err);
