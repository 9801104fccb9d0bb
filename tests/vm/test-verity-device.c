/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel dm-verity through verity-activate.c and image-mount.c, for the VM tier: it needs a kernel
 * with device-mapper, so on an ordinary host it skips; tests/vm boots one under qemu and runs each
 * case by name (test-verity-device CASE). GRAFT_VM_IMAGE names a signed GPT image whose
 * certificate is in the VM's /etc/verity.d. */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dissect.h"
#include "fileio.h"
#include "hex.h"
#include "image-mount.h"
#include "image-verify.h"
#include "loop-mount.h"
#include "signature.h"
#include "tests.h"
#include "verity.h"

typedef struct Fixture {
        DissectedImage *image;
        ImageVerification v;
        LoopDevice *data, *hash;
        uint8_t *root;
        size_t root_size;
        uint8_t *signature;
        size_t signature_size;
} Fixture;

static void fixture_init(Fixture *f) {
        const char *path = getenv("GRAFT_VM_IMAGE");
        const char *reason = NULL;
        if (!path || !verity_kernel_available(&reason)) {
                fprintf(stderr, "skipped: %s\n", path ? reason : "GRAFT_VM_IMAGE is not set");
                exit(EXIT_TEST_SKIP);
        }
        GraftError e = GRAFT_ERROR_INIT;
        *f = (Fixture) {};
        ASSERT_OK(dissect_image(path, NULL, &f->image, &e));
        ASSERT_OK(image_verify(f->image, &(ImageVerifyOptions) {}, &f->v, &e));
        ASSERT_TRUE(f->v.signer);
        ASSERT_OK(unhexmem(f->v.root_hash_hex, strlen(f->v.root_hash_hex), &f->root, &f->root_size));
        ASSERT_OK(loop_device_attach(&f->image->data.range, &f->data, &e));
        ASSERT_OK(loop_device_attach(&f->image->verity.range, &f->hash, &e));

        /* The PKCS#7 out of the signature partition's JSON. */
        const ImageRange *r = &f->image->signature.range;
        ASSERT_TRUE(f->image->signature.found);
        _cleanup_free_ uint8_t *buf = malloc(r->size);
        ASSERT_TRUE(buf);
        ASSERT_OK(pread_full(r->fd, buf, r->size, r->offset));
        _cleanup_(verity_signature_freep) VeritySignature *sig = NULL;
        ASSERT_OK(verity_signature_parse(buf, r->size, r->what, &sig, &e));
        f->signature = TAKE_PTR(sig->pkcs7_der);
        f->signature_size = sig->pkcs7_der_size;
        graft_error_done(&e);
}

static void fixture_done(Fixture *f) {
        loop_device_free(f->data);
        loop_device_free(f->hash);
        free(f->root);
        free(f->signature);
        image_verification_done(&f->v);
        dissected_image_free(f->image);
}

static VerityActivation activation(const Fixture *f, bool with_signature) {
        return (VerityActivation) {
                .data_device = f->data->node,
                .hash_device = f->hash->node,
                .root_hash = f->root,
                .root_hash_size = f->root_size,
                .signature = with_signature ? f->signature : NULL,
                .signature_size = with_signature ? f->signature_size : 0,
        };
}

/* Whether a dm device of that name exists (the kernel's view). */
static bool dm_exists(const char *name) {
        for (unsigned i = 0; i < 64; i++) {
                char path[64];
                _cleanup_free_ char *n = NULL;
                snprintf(path, sizeof(path), "/sys/block/dm-%u/dm/name", i);
                if (read_full_file_at(AT_FDCWD, path, 4096, &n, NULL) < 0)
                        continue;
                n[strcspn(n, "\n")] = 0;
                if (streq(n, name))
                        return true;
        }
        return false;
}

/* Deferred removal runs in a kernel work queue after the last close: give it a moment. */
static bool dm_gone_soon(const char *name) {
        for (unsigned i = 0; i < 100; i++) {
                if (!dm_exists(name))
                        return true;
                usleep(50 * 1000);
        }
        return false;
}

TEST(device_open_shares_and_goes_with_last_user) {
        Fixture f;
        fixture_init(&f);
        GraftError e = GRAFT_ERROR_INIT;
        VerityActivation a = activation(&f, true);
        _cleanup_free_ char *want = NULL;
        ASSERT_TRUE(asprintf(&want, "graft-%s", f.v.root_hash_hex) > 0);
        ASSERT_FALSE(dm_exists(want));

        VerityDevice d1 = { .fd = -EBADF }, d2 = { .fd = -EBADF };
        ASSERT_OK(verity_device_open(&a, &d1, &e));
        ASSERT_STREQ(d1.name, want);
        ASSERT_FALSE(d1.shared);
        ASSERT_TRUE(d1.fd >= 0);
        fprintf(stderr, "node %s, kernel signature %s, note: %s\n", d1.node, d1.kernel_signature ? "yes" : "no",
                d1.signature_note ?: "(none)");
        /* A stock kernel does not hold our certificate: it must say so rather than stay silent. */
        ASSERT_TRUE(d1.kernel_signature || d1.signature_note);

        ASSERT_OK(verity_device_open(&a, &d2, &e));
        ASSERT_STREQ(d2.name, want);
        ASSERT_TRUE(d2.shared);
        struct stat s1, s2;
        ASSERT_OK(fstat(d1.fd, &s1));
        ASSERT_OK(fstat(d2.fd, &s2));
        ASSERT_EQ(s1.st_rdev, s2.st_rdev); /* one device, not two */

        ASSERT_ERRNO(verity_deactivate(want, &e), -EBUSY);
        ASSERT_MESSAGE_CONTAINS(&e, "is still in use");
        graft_error_done(&e);

        verity_device_done(&d1);
        ASSERT_TRUE(dm_exists(want)); /* d2 still holds it */
        verity_device_done(&d2);
        ASSERT_TRUE(dm_gone_soon(want));

        ASSERT_ERRNO(verity_release(want, &e), -ENODEV);
        ASSERT_STREQ(e.name, GRAFT_ERROR_NO_SUCH_IMAGE);
        ASSERT_MESSAGE_CONTAINS(&e, "no device-mapper device graft-");
        graft_error_done(&e);
        fixture_done(&f);
}

TEST(wrong_root_hash_fails_reads) {
        Fixture f;
        fixture_init(&f);
        GraftError e = GRAFT_ERROR_INIT;
        f.root[0] ^= 0x01;
        VerityActivation a = activation(&f, false);
        /* The kernel takes any root hash and checks it on every read: nothing reads. */
        VerityDevice d = { .fd = -EBADF };
        ASSERT_OK(verity_device_open(&a, &d, &e));
        char buf[4096];
        ASSERT_ERRNO(pread(d.fd, buf, sizeof(buf), 0) < 0 ? -errno : 0, -EIO);
        _cleanup_free_ char *name = strdup(d.name);
        verity_device_done(&d);
        ASSERT_TRUE(dm_gone_soon(name));
        fixture_done(&f);
}

TEST(image_mount_through_dm_verity) {
        Fixture f;
        fixture_init(&f);
        GraftError e = GRAFT_ERROR_INIT;
        char dir[] = "/tmp/graft-vm-mount.XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        ImageMount m = {}, m2 = {};
        ASSERT_OK(image_mount(f.image, &f.v, dir, NULL, &m, &e));
        fprintf(stderr, "how: %s\n", m.how);
        ASSERT_TRUE(m.kernel_verity);
        ASSERT_TRUE(strstr(m.how, "dm-verity device "));
        ASSERT_TRUE(strstr(m.how, m.kernel_signature ? "signature checked by the kernel" :
                                                       "signature checked in userspace only"));
        ASSERT_TRUE(dm_exists(m.verity_device));

        /* A second mount of the same image shares the device. */
        char dir2[] = "/tmp/graft-vm-mount.XXXXXX";
        ASSERT_TRUE(mkdtemp(dir2));
        ASSERT_OK(image_mount(f.image, &f.v, dir2, NULL, &m2, &e));
        ASSERT_TRUE(m2.shared);
        ASSERT_STREQ(m2.verity_device, m.verity_device);

        struct stat st;
        _cleanup_free_ char *etc = NULL;
        ASSERT_TRUE(asprintf(&etc, "%s/usr", dir) > 0);
        ASSERT_OK(stat(etc, &st));

        ASSERT_OK(image_umount(&m, &e));
        ASSERT_TRUE(dm_exists(m2.verity_device)); /* still mounted on dir2 */
        ASSERT_OK(image_umount(&m2, &e));
        ASSERT_TRUE(dm_gone_soon(m2.verity_device));
        image_mount_done(&m);
        image_mount_done(&m2);
        rmdir(dir);
        rmdir(dir2);
        fixture_done(&f);
}

/* Run with dm_verity loaded with require_signatures=1: an unsigned activation is refused before
 * the kernel is asked, and a signature the kernel cannot check is refused by it. */
TEST(required_signatures) {
        _cleanup_free_ char *value = NULL;
        if (read_full_file_at(AT_FDCWD, "/sys/module/dm_verity/parameters/require_signatures", 64, &value,
                              NULL) < 0 || value[0] != 'Y') {
                fprintf(stderr, "dm_verity.require_signatures is not set: nothing to check\n");
                return;
        }
        Fixture f;
        fixture_init(&f);
        GraftError e = GRAFT_ERROR_INIT;
        VerityActivation a = activation(&f, false);
        char *path = NULL;
        ASSERT_ERRNO(verity_activate(&a, &path, &e), -EKEYREJECTED);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_SIGNATURE);
        ASSERT_MESSAGE_CONTAINS(&e, "requires signed dm-verity root hashes");
        ASSERT_MESSAGE_CONTAINS(&e, "has no signature");
        graft_error_done(&e);

        a = activation(&f, true);
        ASSERT_TRUE(verity_activate(&a, &path, &e) < 0);
        fprintf(stderr, "signed: %s\n", e.message);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_SIGNATURE);
        ASSERT_MESSAGE_CONTAINS(&e, "refused the signature");
        graft_error_done(&e);
        ASSERT_TRUE(!path);
        fixture_done(&f);
}

TESTS_MAIN
