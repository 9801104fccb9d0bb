/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns how a verified image becomes a mounted tree (see image-mount.h). The loop devices are
 * autoclear: they go away with the last mount (or dm device) using them, so nothing leaks if we
 * are killed half way. */
#include <string.h>
#include <sys/mount.h>

#include "hex.h"
#include "image-mount.h"
#include "loop-mount.h"

void image_mount_done(ImageMount *m) {
        if (!m)
                return;
        free(m->target);
        free(m->verity_device);
        free(m->how);
        *m = (ImageMount) {};
}

static int bind_directory(const DissectedImage *image, const char *target, const char *options, ImageMount *m,
                          GraftError *err) {
        unsigned long extra = 0;
        if (options && strstr(options, "noexec"))
                extra |= MS_NOEXEC;
        if (options && strstr(options, "nosuid"))
                extra |= MS_NOSUID;
        if (mount(image->path, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot bind %s to %s: %m", image->path,
                                       target);
        if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | extra, NULL) < 0) {
                int r = negative_errno();
                (void) umount2(target, MNT_DETACH);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot make %s read-only: %s", target, strerror(-r));
        }
        m->how = strdup("read-only bind mount");
        return m->how ? 0 : -ENOMEM;
}

static int mount_through_verity(const DissectedImage *image, const ImageVerification *v, const char *fstype,
                                const char *target, const char *options, ImageMount *m, GraftError *err) {
        _cleanup_(loop_device_freep) LoopDevice *data = NULL, *hash = NULL;
        _cleanup_free_ uint8_t *root = NULL;
        size_t root_size;
        if (unhexmem(v->root_hash_hex, strlen(v->root_hash_hex), &root, &root_size) < 0)
                return -EINVAL;
        int r = loop_device_attach(&image->data.range, &data, err);
        if (r >= 0)
                r = loop_device_attach(&image->verity.range, &hash, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *device = NULL;
        VerityActivation a = {
                .data_device = data->node,
                .hash_device = hash->node,
                .hash_offset = 0,
                .root_hash = root,
                .root_hash_size = root_size,
        };
        r = verity_activate(&a, &device, err);
        if (r < 0)
                return r;
        m->verity_device = strdup(strrchr(device, '/') ? strrchr(device, '/') + 1 : device);
        if (!m->verity_device)
                return -ENOMEM;
        r = mount_image_device(device, target, fstype, options, err);
        if (r < 0) {
                (void) verity_deactivate(m->verity_device, NULL);
                return r;
        }
        m->kernel_verity = true;
        return asprintf(&m->how, "dm-verity device %s", device) < 0 ? -ENOMEM : 0;
}

static int mount_through_loop(const DissectedImage *image, const char *fstype, const char *target,
                              const char *options, ImageMount *m, GraftError *err) {
        _cleanup_(loop_device_freep) LoopDevice *loop = NULL;
        int r = loop_device_attach(&image->data.range, &loop, err);
        if (r < 0)
                return r;
        r = mount_image_device(loop->node, target, fstype, options, err);
        if (r < 0)
                return r;
        return asprintf(&m->how, "loop device %s", loop->node) < 0 ? -ENOMEM : 0;
}

int image_mount(const DissectedImage *image, const ImageVerification *v, const char *target, const char *options,
                ImageMount *ret, GraftError *err) {
        _cleanup_(image_mount_done) ImageMount m = { .target = strdup(target) };
        if (!m.target)
                return -ENOMEM;

        int r;
        if (image->kind == IMAGE_KIND_DIRECTORY)
                r = bind_directory(image, target, options, &m, err);
        else {
                const char *fstype = fs_type_to_string(image->data.fstype);
                if (image->data.fstype != FS_TYPE_SQUASHFS && image->data.fstype != FS_TYPE_EROFS &&
                    image->data.fstype != FS_TYPE_EXT4 && image->data.fstype != FS_TYPE_BTRFS &&
                    image->data.fstype != FS_TYPE_XFS)
                        return graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: %s holds no file system graft can mount (%s)", image->path,
                                               image->data.range.what, strna(fstype));
                _cleanup_free_ char *opts = NULL;
                if (asprintf(&opts, "nodev%s%s", options ? "," : "", strempty(options)) < 0)
                        return -ENOMEM;
                if (v->root_hash_hex && verity_kernel_available(NULL))
                        r = mount_through_verity(image, v, fstype, target, opts, &m, err);
                else
                        r = mount_through_loop(image, fstype, target, opts, &m, err);
        }
        if (r < 0)
                return graft_error_prefix(err, r, "%s", image->path);
        *ret = m;
        m = (ImageMount) {};
        return 0;
}

int image_umount(ImageMount *m, GraftError *err) {
        int r = umount_image(m->target, err);
        if (r < 0)
                return r;
        if (m->verity_device) {
                r = verity_deactivate(m->verity_device, err);
                if (r == -EBUSY) /* another mount of the same image still uses it */
                        r = 0;
        }
        return r;
}
