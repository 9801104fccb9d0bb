/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting an image's file system read-only from a (loop) block device, and lazily unmounting
 * it, through libmount. No mount helpers are run and nothing is recorded in utab: these mounts
 * belong to graft, not to the administrator's mount table. */
#include <libmount.h>
#include <string.h>

#include "loop-mount.h"

static inline void mnt_free_contextp(struct libmnt_context **c) {
        mnt_free_context(*c);
}

static struct libmnt_context *context_new(void) {
        struct libmnt_context *c = mnt_new_context();
        if (!c)
                return NULL;
        if (mnt_context_disable_mtab(c, 1) < 0 || mnt_context_disable_helpers(c, 1) < 0 ||
            mnt_context_disable_canonicalize(c, 1) < 0) {
                mnt_free_context(c);
                return NULL;
        }
        return c;
}

/* libmount's own explanation of a failure ("wrong fs type, bad option, bad superblock on …")
 * and the errno to go with it. */
static int context_error(struct libmnt_context *c, int rc, char *buf, size_t size) {
        buf[0] = 0;
        (void) mnt_context_get_excode(c, rc, buf, size);
        int syscall_errno = mnt_context_syscall_called(c) ? mnt_context_get_syscall_errno(c) : 0;
        if (buf[0] == 0)
                snprintf(buf, size, "%s", strerror(syscall_errno > 0 ? syscall_errno : rc < 0 ? -rc : EIO));
        if (syscall_errno > 0)
                return -syscall_errno;
        return rc < 0 ? rc : -EIO;
}

int mount_image_device(const char *device, const char *target, const char *fstype, const char *options,
                       GraftError *err) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *c = context_new();
        if (!c)
                return -ENOMEM;

        _cleanup_free_ char *opts = NULL;
        if (asprintf(&opts, "ro%s%s", isempty(options) ? "" : ",", options ?: "") < 0)
                return -ENOMEM;

        int rc = mnt_context_set_source(c, device);
        if (rc == 0)
                rc = mnt_context_set_target(c, target);
        if (rc == 0)
                rc = mnt_context_set_fstype(c, fstype);
        if (rc == 0)
                rc = mnt_context_set_options(c, opts);
        if (rc < 0)
                return graft_error_set(err, rc, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "mounting %s (%s) on %s: bad mount parameters \"%s\"", device, fstype,
                                       target, opts);

        rc = mnt_context_mount(c);
        if (rc != 0 || mnt_context_get_status(c) != 1) {
                char buf[512];
                int r = context_error(c, rc, buf, sizeof(buf));
                return graft_error_set(err, r, GRAFT_ERROR_IO, "mounting %s (%s) on %s: %s", device, fstype,
                                       target, buf);
        }
        return 0;
}

int umount_image(const char *target, GraftError *err) {
        _cleanup_(mnt_free_contextp) struct libmnt_context *c = context_new();
        if (!c)
                return -ENOMEM;

        int rc = mnt_context_set_target(c, target);
        if (rc == 0)
                rc = mnt_context_enable_lazy(c, 1);
        if (rc < 0)
                return graft_error_set(err, rc, GRAFT_ERROR_INVALID_ARGUMENT, "unmounting %s: %s", target,
                                       strerror(-rc));

        rc = mnt_context_umount(c);
        if (rc != 0 || mnt_context_get_status(c) != 1) {
                char buf[512];
                int r = context_error(c, rc, buf, sizeof(buf));
                return graft_error_set(err, r, GRAFT_ERROR_IO, "unmounting %s: %s", target, buf);
        }
        return 0;
}
