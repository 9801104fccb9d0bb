/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loop devices over a byte range of an image: a free number from /dev/loop-control, the node
 * created if the kernel handed out a number beyond the boot-time nodes, and a read-only,
 * autoclearing configuration, so that the device goes away with its last user. We only ever
 * detach a device we configured ourselves, and only when configuring it failed half way. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "loop-mount.h"

#define LOOP_MAJOR_DEFAULT 7
#define MAX_ATTEMPTS 64

LoopDevice *loop_device_free(LoopDevice *d) {
        if (!d)
                return NULL;
        safe_close(d->fd);
        free(d->node);
        free(d);
        return NULL;
}

/* The device number of loopN as the kernel has it ("7:8" in sysfs), or the classic one. */
static dev_t loop_devnum(int nr) {
        char path[64];
        _cleanup_free_ char *s = NULL;
        unsigned maj, min;

        snprintf(path, sizeof(path), "/sys/devices/virtual/block/loop%i/dev", nr);
        if (read_full_file_at(AT_FDCWD, path, 64, &s, NULL) >= 0 && sscanf(s, "%u:%u", &maj, &min) == 2)
                return makedev(maj, min);
        return makedev(LOOP_MAJOR_DEFAULT, (unsigned) nr);
}

/* Opens /dev/loopN read-only, creating the node if it is missing (no udev here to do it). */
static int open_loop_node(int nr, char **ret_node, GraftError *err) {
        _cleanup_free_ char *node = NULL;
        if (asprintf(&node, "/dev/loop%i", nr) < 0)
                return -ENOMEM;

        int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT) {
                if (mknod(node, S_IFBLK | 0660, loop_devnum(nr)) < 0 && errno != EEXIST)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "creating %s: %m", node);
                fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        }
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "opening %s: %m", node);

        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode)) {
                safe_close(fd);
                return graft_error_set(err, -ENOTBLK, GRAFT_ERROR_IO, "%s is not a block device", node);
        }
        *ret_node = TAKE_PTR(node);
        return fd;
}

static void fill_info(struct loop_info64 *info, const ImageRange *range) {
        *info = (struct loop_info64) {
                .lo_offset = range->offset,
                .lo_sizelimit = range->size,
                .lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR,
        };
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%i", range->fd);
        ssize_t n = readlink(link, (char *) info->lo_file_name, sizeof(info->lo_file_name) - 1);
        if (n < 0)
                info->lo_file_name[0] = 0;
}

/* Kernels before 5.8 lack LOOP_CONFIGURE: attach, then set offset, size limit and autoclear.
 * Read-only follows from the read-only open of the loop node. */
static int configure_legacy(int loop_fd, const ImageRange *range) {
        struct loop_info64 info;

        if (ioctl(loop_fd, LOOP_SET_FD, range->fd) < 0)
                return negative_errno();
        fill_info(&info, range);
        info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(loop_fd, LOOP_SET_STATUS64, &info) < 0) {
                int r = negative_errno();
                (void) ioctl(loop_fd, LOOP_CLR_FD); /* ours: we just attached it */
                return r;
        }
        return 0;
}

static LoopDevice *new0_loop(int fd, int nr, char *node) {
        LoopDevice *d = malloc(sizeof(*d));
        if (d)
                *d = (LoopDevice) { .fd = fd, .nr = nr, .node = node };
        return d;
}

int loop_device_attach(const ImageRange *range, LoopDevice **ret, GraftError *err) {
        const char *what = range->what ?: "image";
        uint64_t file_size;

        if (fd_get_size(range->fd, &file_size) >= 0 &&
            (range->offset > file_size || range->size > file_size - range->offset))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: range %" PRIu64 "+%" PRIu64 " lies outside its file (%" PRIu64 " bytes)",
                                       what, range->offset, range->size, file_size);

        _cleanup_close_ int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (control < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "opening /dev/loop-control: %m");

        bool legacy = false;
        for (unsigned attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
                int nr = ioctl(control, LOOP_CTL_GET_FREE);
                if (nr < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "%s: no free loop device: %m", what);

                _cleanup_free_ char *node = NULL;
                _cleanup_close_ int fd = open_loop_node(nr, &node, err);
                if (fd < 0)
                        return fd;

                int r = 0;
                if (!legacy) {
                        struct loop_config config = { .fd = (uint32_t) range->fd };
                        fill_info(&config.info, range);
                        if (ioctl(fd, LOOP_CONFIGURE, &config) < 0)
                                r = negative_errno();
                        if (r == -EINVAL || r == -ENOTTY)
                                legacy = true;
                }
                if (legacy)
                        r = configure_legacy(fd, range);
                if (r == -EBUSY)
                        continue; /* someone else took this number between GET_FREE and now */
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: configuring %s: %s", what, node,
                                               strerror(-r));

                LoopDevice *d = new0_loop(fd, nr, node);
                if (!d)
                        return -ENOMEM; /* the fd closes, autoclear detaches it */
                TAKE_FD(fd);
                TAKE_PTR(node);
                *ret = d;
                return 0;
        }
        return graft_error_set(err, -EBUSY, GRAFT_ERROR_IO, "%s: every free loop device was taken by someone else "
                               "(%u attempts)", what, MAX_ATTEMPTS);
}
