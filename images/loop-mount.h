/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loop devices over a byte range of an image (offset + size limit, read-only, autoclear) and
 * mounting their file systems through libmount. */
#pragma once

#include "error.h"
#include "range.h"

typedef struct LoopDevice {
        int fd;       /* holds the device; with autoclear the kernel detaches it when the last
                       * user (this fd or a mount) goes away */
        int nr;
        char *node;   /* "/dev/loop7" */
} LoopDevice;

/* Attaches a read-only loop device to range (LOOP_CONFIGURE with LO_FLAGS_AUTOCLEAR |
 * LO_FLAGS_READ_ONLY, falling back to LOOP_SET_FD + LOOP_SET_STATUS64 on older kernels). Creates
 * the /dev/loopN node if the kernel gave a number whose node is missing. */
int loop_device_attach(const ImageRange *range, LoopDevice **ret, GraftError *err);
LoopDevice *loop_device_free(LoopDevice *d); /* closes the fd; the device detaches itself */
DEFINE_TRIVIAL_CLEANUP_FUNC(LoopDevice *, loop_device_free);

/* Mounts a device read-only on target with libmount; fstype "squashfs" or "erofs"; options are
 * added to "ro" (e.g. "nodev,nosuid"). */
int mount_image_device(const char *device, const char *target, const char *fstype,
                       const char *options, GraftError *err);
/* Lazily unmounts target (MNT_DETACH) through libmount. */
int umount_image(const char *target, GraftError *err);
