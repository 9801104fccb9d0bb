/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns adding or replacing a signature on an image that exists (see image-sign.h). The hash tree
 * is verified before anything is signed: signing a damaged image would bless the damage. Writes
 * go in an order that keeps the image usable if we stop half way: signature content first (into
 * space nothing references yet), the partition table last. */
#include <fcntl.h>
#include <string.h>

#include "dissect.h"
#include "fileio.h"
#include "hex.h"
#include "image-build.h"
#include "image-sign.h"
#include "image-verify.h"
#include "path-util.h"
#include "signature.h"
#include "verity.h"

void image_sign_result_done(ImageSignResult *r) {
        if (!r)
                return;
        free(r->root_hash_hex);
        free(r->written);
        *r = (ImageSignResult) {};
}

static int compute_root_hash(const DissectedImage *image, const ImageSignOptions *o, char **ret_hex,
                             GraftError *err) {
        ImageVerifyOptions vo = {
                .n_threads = o->n_threads,
                .progress = o->progress,
                .progress_userdata = o->progress_userdata,
        };
        VerityResult vr;
        int r = image_verify_hash_tree(image, image->sidecar_root_hash, &vo, &vr, err);
        if (r < 0)
                return graft_error_prefix(err, r, "refusing to sign");
        *ret_hex = hexmem(vr.root_hash, vr.root_hash_size);
        return *ret_hex ? 0 : -ENOMEM;
}

static int write_sidecar(const DissectedImage *image, const VeritySignature *sig, ImageSignResult *res,
                         GraftError *err) {
        _cleanup_free_ char *base = strdup_strip_suffix(image->path, ".raw"), *p7s = NULL, *hash = NULL,
                            *line = NULL;
        if (!base || asprintf(&p7s, "%s.roothash.p7s", base) < 0 || asprintf(&hash, "%s.roothash", base) < 0 ||
            asprintf(&line, "%s\n", sig->root_hash_hex) < 0)
                return -ENOMEM;
        /* The signature is useless without the root hash it signs next to it. */
        int r = image->sidecar_root_hash ? 0 : write_file_atomic(hash, line, strlen(line), 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", hash, strerror(-r));
        r = write_file_atomic(p7s, sig->pkcs7_der, sig->pkcs7_der_size, 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", p7s, strerror(-r));
        res->replaced = image->sidecar_p7s != NULL;
        res->written = TAKE_PTR(p7s);
        return 0;
}

static int replace_partition_content(int fd, const DissectedImage *image, const VeritySignature *sig,
                                     ImageSignResult *res, GraftError *err) {
        _cleanup_free_ uint8_t *buf = NULL;
        const ImageRange *r = &image->signature.range;
        int k = verity_signature_format(sig, r->size, &buf, err);
        if (k < 0)
                return graft_error_prefix(err, k, "%s: %s is too small for the new signature", image->path, r->what);
        k = pwrite_full(fd, buf, r->size, r->offset);
        if (k < 0)
                return graft_error_set(err, k, GRAFT_ERROR_IO, "%s: cannot write %s: %s", image->path, r->what,
                                       strerror(-k));
        res->replaced = true;
        res->written = strdup(r->what);
        return res->written ? 0 : -ENOMEM;
}

/* Appends a signature partition behind the last one and rewrites the GPT around it. */
static int append_partition(int fd, const DissectedImage *image, const VeritySignature *sig,
                            ImageSignResult *res, GraftError *err) {
        const GptTable *t = image->table;
        uint64_t end = 0;
        for (size_t i = 0; i < t->n_partitions; i++)
                end = MAX(end, t->partitions[i].offset + t->partitions[i].size);
        uint64_t offset = ALIGN_TO(end, (uint64_t) 4096), size = VERITY_SIGNATURE_PARTITION_SIZE;

        _cleanup_free_ GptPartition *parts = calloc(t->n_partitions + 1, sizeof(GptPartition));
        if (!parts)
                return -ENOMEM;
        memcpy(parts, t->partitions, t->n_partitions * sizeof(GptPartition));
        const DpsType *type = dps_type_find(partition_verity_sig_of(image->data.designator), image->data.arch);
        if (!type)
                return graft_error_set(err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                                       "%s: no signature partition type for %s", image->path,
                                       partition_designator_to_string(image->data.designator));
        GptPartition *p = &parts[t->n_partitions];
        *p = (GptPartition) { .type = type->uuid, .offset = offset, .size = size, .attrs = GPT_FLAG_READ_ONLY };
        uint8_t uuid[32];
        derive_bytes("graft signature partition uuid", sig->root_hash_hex, strlen(sig->root_hash_hex), NULL, 0, uuid);
        memcpy(p->uuid.bytes, uuid, 16);
        uuid_make_v4(&p->uuid);
        snprintf(p->label, sizeof(p->label), "%s", image->data.label ?: "");

        _cleanup_free_ uint8_t *buf = NULL;
        int r = verity_signature_format(sig, size, &buf, err);
        if (r < 0)
                return r;
        GptLayout g = {
                .device_size = ALIGN_TO(offset + size + GPT_BACKUP_SIZE, (uint64_t) 4096),
                .disk_uuid = t->disk_uuid,
                .partitions = parts,
                .n_partitions = t->n_partitions + 1,
        };
        if (ftruncate(fd, (off_t) g.device_size) < 0 || pwrite_full(fd, buf, size, offset) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot grow the image: %m",
                                       image->path);
        r = gpt_write(fd, &g, err);
        if (r < 0)
                return graft_error_prefix(err, r, "%s", image->path);
        if (asprintf(&res->written, "partition %zu", t->n_partitions + 1) < 0)
                return -ENOMEM;
        return 0;
}

int image_sign(const char *path, const ImageSignOptions *o, ImageSignResult *ret, GraftError *err) {
        _cleanup_(dissected_image_freep) DissectedImage *image = NULL;
        _cleanup_(image_sign_result_done) ImageSignResult res = {};
        _cleanup_(verity_signature_freep) VeritySignature *sig = NULL;

        int r = dissect_image(path, &(DissectOptions) { .arch = _ARCHITECTURE_INVALID, .untrusted_ok = true }, &image, err);
        if (r < 0)
                return r;
        if (image->kind == IMAGE_KIND_DIRECTORY || !image->verity.found)
                return graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: has no verity hash partition (or .verity file): there is no root hash to sign",
                                       path);

        r = compute_root_hash(image, o, &res.root_hash_hex, err);
        if (r < 0)
                return r;
        r = verity_signature_sign(res.root_hash_hex, o->key_path, o->cert_path, &sig, err);
        if (r < 0)
                return r;

        if (image->kind != IMAGE_KIND_GPT)
                r = write_sidecar(image, sig, &res, err);
        else {
                _cleanup_close_ int fd = file_open(&(FileOpen) { .dir_fd = AT_FDCWD, .path = path, .flags = O_RDWR,
                                                                 .accept = FILE_ACCEPT_BLOCK,
                                                                 .error_name = GRAFT_ERROR_BAD_IMAGE }, err);
                if (fd < 0)
                        return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s for writing: %s", path,
                                               strerror(-fd));
                r = image->signature.found ? replace_partition_content(fd, image, sig, &res, err)
                                           : append_partition(fd, image, sig, &res, err);
                if (r >= 0 && fsync(fd) < 0)
                        r = graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot write %s: %m", path);
        }
        if (r < 0)
                return r;

        *ret = res;
        res = (ImageSignResult) {};
        return 0;
}
