/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns how a verified image becomes a mounted tree (see image-mount.h), and saying which checks
 * protect it. The loop devices are autoclear and dm-verity devices marked for deferred removal:
 * both go away with the last mount (or dm device) using them, so nothing leaks if we are killed
 * half way, and unmounting the last user (an overlay included) frees them. */
#include <string.h>
#include <sys/mount.h>

#include "fileio.h"
#include "hex.h"
#include "image-mount.h"
#include "loop-mount.h"
#include "signature.h"

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

/* The signature image_verify() relied on, for the kernel to check too: the signature
 * partition's PKCS#7 or the .roothash.p7s sidecar. Only a trusted one (v->signer): the kernel
 * would refuse an untrusted signer anyway. *ret stays NULL when there is none. */
static int load_trusted_signature(const DissectedImage *image, const ImageVerification *v, uint8_t **ret,
                                  size_t *ret_size, GraftError *err) {
        *ret = NULL;
        *ret_size = 0;
        if (!v->signer)
                return 0;
        if (!image->signature.found) {
                if (!image->sidecar_p7s)
                        return 0;
                *ret = malloc(image->sidecar_p7s_size ?: 1);
                if (!*ret)
                        return -ENOMEM;
                memcpy(*ret, image->sidecar_p7s, image->sidecar_p7s_size);
                *ret_size = image->sidecar_p7s_size;
                return 0;
        }
        const ImageRange *r = &image->signature.range;
        if (r->size > VERITY_SIGNATURE_MAX_SIZE)
                return graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_SIGNATURE, "signature %s is too large",
                                       r->what);
        _cleanup_free_ uint8_t *buf = malloc(r->size ?: 1);
        if (!buf)
                return -ENOMEM;
        int k = pread_full(r->fd, buf, r->size, r->offset);
        if (k < 0)
                return graft_error_set(err, k, GRAFT_ERROR_IO, "cannot read signature %s: %s", r->what, strerror(-k));
        _cleanup_(verity_signature_freep) VeritySignature *sig = NULL;
        k = verity_signature_parse(buf, r->size, r->what, &sig, err);
        if (k < 0)
                return k;
        /* Changed since it was verified: refuse rather than hand the kernel something else. */
        if (!v->root_hash_hex || !streq(sig->root_hash_hex, v->root_hash_hex))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s changed since the image was verified", r->what);
        *ret = TAKE_PTR(sig->pkcs7_der);
        *ret_size = sig->pkcs7_der_size;
        return 0;
}

/* Which checks protect the mount, in words: the kernel's, graft's userspace ones, or none. */
static int describe_signature(const ImageVerification *v, const VerityDevice *dev, char **ret) {
        int r;
        if (dev && dev->kernel_signature)
                r = asprintf(ret, "signature checked by the kernel's keyring and in userspace (%s, trusted by %s)",
                             v->signer, strna(v->signer_certificate));
        else if (v->signer)
                r = asprintf(ret, "signature checked in userspace only (%s, trusted by %s)%s%s", v->signer,
                             strna(v->signer_certificate), dev && dev->signature_note ? ": " : "",
                             dev ? strempty(dev->signature_note) : "");
        else if (v->signature_ignored)
                r = asprintf(ret, "signature not relied on (%s)", v->signature_ignored);
        else
                r = asprintf(ret, "root hash not signed");
        return r < 0 ? -ENOMEM : 0;
}

static int mount_through_verity(const DissectedImage *image, const ImageVerification *v, const char *fstype,
                                const char *target, const char *options, ImageMount *m, GraftError *err) {
        _cleanup_(loop_device_freep) LoopDevice *data = NULL, *hash = NULL;
        _cleanup_free_ uint8_t *root = NULL, *signature = NULL;
        size_t root_size, signature_size;
        if (unhexmem(v->root_hash_hex, strlen(v->root_hash_hex), &root, &root_size) < 0)
                return -EINVAL;
        int r = load_trusted_signature(image, v, &signature, &signature_size, err);
        if (r < 0)
                return r;
        r = loop_device_attach(&image->data.range, &data, err);
        if (r >= 0)
                r = loop_device_attach(&image->verity.range, &hash, err);
        if (r < 0)
                return r;

        VerityActivation a = {
                .data_device = data->node,
                .hash_device = hash->node,
                .hash_offset = 0,
                .root_hash = root,
                .root_hash_size = root_size,
                .signature = signature,
                .signature_size = signature_size,
        };
        /* Holds the device until it is mounted; removal is deferred to its last user, so a failed
         * mount (or our death) leaves nothing behind. */
        _cleanup_(verity_device_done) VerityDevice dev = { .fd = -EBADF };
        r = verity_device_open(&a, &dev, err);
        if (r < 0)
                return r;
        m->verity_device = strdup(dev.name);
        if (!m->verity_device)
                return -ENOMEM;
        r = mount_image_device(dev.node, target, fstype, options, err);
        if (r < 0)
                return r;
        m->kernel_verity = true;
        m->kernel_signature = dev.kernel_signature;
        m->shared = dev.shared;
        _cleanup_free_ char *sig = NULL;
        if (describe_signature(v, &dev, &sig) < 0)
                return -ENOMEM;
        return asprintf(&m->how, "dm-verity device %s (%s%s); every read checked by the kernel; %s", dev.name,
                        dev.node, dev.shared ? ", shared with another mount of this image" : "", sig) < 0 ? -ENOMEM : 0;
}

static int mount_through_loop(const DissectedImage *image, const ImageVerification *v, const char *fstype,
                              const char *target, const char *options, ImageMount *m, GraftError *err) {
        _cleanup_(loop_device_freep) LoopDevice *loop = NULL;
        int r = loop_device_attach(&image->data.range, &loop, err);
        if (r < 0)
                return r;
        r = mount_image_device(loop->node, target, fstype, options, err);
        if (r < 0)
                return r;
        if (!v->root_hash_hex)
                return asprintf(&m->how, "loop device %s; no hash tree: nothing checks the content", loop->node) < 0
                               ? -ENOMEM : 0;
        const char *why = NULL;
        _cleanup_free_ char *sig = NULL;
        (void) verity_kernel_available(&why);
        if (describe_signature(v, NULL, &sig) < 0)
                return -ENOMEM;
        return asprintf(&m->how, "loop device %s; hash tree checked in userspace before mounting, later reads are "
                        "not checked (dm-verity: %s); %s", loop->node, why ?: "not used", sig) < 0 ? -ENOMEM : 0;
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
                        r = mount_through_loop(image, v, fstype, target, opts, &m, err);
        }
        if (r < 0)
                return graft_error_prefix(err, r, "%s", image->path);
        *ret = m;
        m = (ImageMount) {};
        return 0;
}

int image_umount(ImageMount *m, GraftError *err) {
        /* A dm-verity device was marked for deferred removal when it was opened: it goes with its
         * last user, this mount or a later one of the same image (and nothing here could remove
         * it sooner: the lazily detached file system may still hold it). */
        return umount_image(m->target, err);
}
