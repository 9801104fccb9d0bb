/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the layout and order of an image build (see image-build.h):
 *   [GPT 1 MiB][squashfs, 4 KiB aligned][verity: superblock + tree][signature 16 KiB][backup GPT]
 * The squashfs is written straight into place, then hashed, then signed; the GPT goes on last and
 * the file is renamed over the output only when all of it is complete. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

#include "env-file.h"
#include "fileio.h"
#include "gpt.h"
#include "hex.h"
#include "image-build.h"
#include "path-util.h"
#include "signature.h"
#include "strv.h"
#include "verity.h"

#define BLOCK_SIZE 4096u

static const char * const image_type_table[_IMAGE_TYPE_MAX] = {
        [IMAGE_TYPE_SYSEXT] = "sysext",
        [IMAGE_TYPE_PORTABLE] = "portable",
};

const char *image_type_to_string(ImageType t) {
        return t >= 0 && t < _IMAGE_TYPE_MAX ? image_type_table[t] : NULL;
}

ImageType image_type_from_string(const char *s) {
        for (ImageType t = 0; t < _IMAGE_TYPE_MAX; t++)
                if (s && streq(s, image_type_table[t]))
                        return t;
        return _IMAGE_TYPE_INVALID;
}

void derive_bytes(const char *purpose, const void *a, size_t a_size, const void *b, size_t b_size,
                  uint8_t out[static 32]) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned n = 32;
        /* purpose includes its NUL so "ab"+"c" and "a"+"bc" cannot collide across purposes */
        if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(c, purpose, strlen(purpose) + 1) || !EVP_DigestUpdate(c, a, a_size) ||
            !EVP_DigestUpdate(c, b, b_size) || !EVP_DigestFinal_ex(c, out, &n))
                abort(); /* only on allocation failure inside OpenSSL */
        EVP_MD_CTX_free(c);
}

static bool version_is_valid(const char *v) {
        if (isempty(v))
                return false;
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == '/' || (unsigned char) *p >= 0x7f)
                        return false;
        return true;
}

/* The release file a tree of this type must carry, and that it names an ID. */
static int check_release_file(const ImageBuildOptions *o, GraftError *err) {
        _cleanup_close_ int root = open(o->source_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_NO_SUCH_IMAGE,
                                       "cannot open source directory %s: %m", o->source_dir);

        _cleanup_free_ char *ext = NULL;
        const char *paths[3] = {};
        if (o->type == IMAGE_TYPE_SYSEXT) {
                if (asprintf(&ext, "usr/lib/extension-release.d/extension-release.%s", o->name) < 0)
                        return -ENOMEM;
                paths[0] = ext;
        } else {
                paths[0] = "etc/os-release";
                paths[1] = "usr/lib/os-release";
        }

        for (size_t i = 0; paths[i]; i++) {
                _cleanup_free_ char *text = NULL, *full = path_join(o->source_dir, paths[i]);
                _cleanup_strv_free_ char **env = NULL;
                size_t size;
                if (!full)
                        return -ENOMEM;
                int r = file_read(&(FileOpen) { .dir_fd = root, .path = paths[i], .in_root = true, .display = full,
                                                .error_name = GRAFT_ERROR_INVALID_ARGUMENT },
                                  64 * 1024, &text, &size, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", full, strerror(-r));
                r = env_file_parse(text, size, full, &env, err);
                if (r < 0)
                        return r;
                if (isempty(strv_env_get(env, "ID")))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_MISSING_FILE,
                                               "%s lacks ID= (use ID=_any for an extension that fits every OS)",
                                               full);
                return 0;
        }

        _cleanup_free_ char *want = path_join(o->source_dir, paths[0]);
        return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                               o->type == IMAGE_TYPE_SYSEXT
                                       ? "%s is missing: a system extension must carry its extension-release file"
                                       : "%s (or usr/lib/os-release) is missing: a portable service image must carry os-release",
                               want);
}

int image_build_check(const ImageBuildOptions *o, GraftError *err) {
        if (!filename_is_valid(o->name) || strchr(o->name, '_') || strpbrk(o->name, " \t"))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "image name \"%s\" is not valid: it must be a file name without '_' "
                                       "(the partition label NAME_VERSION is split at the first '_')", o->name);
        if (!version_is_valid(o->version))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "version \"%s\" is not valid: it must be non-empty, without spaces or '/'",
                                       strna(o->version));
        size_t label_len = strlen(o->name) + 1 + strlen(o->version);
        if (label_len > GPT_LABEL_MAX)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "partition label \"%s_%s\" is %zu characters, GPT labels hold at most %d",
                                       o->name, o->version, label_len, GPT_LABEL_MAX);
        if (!o->key_path != !o->cert_path)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "--key and --cert go together");
        return check_release_file(o, err);
}

typedef struct Layout {
        uint64_t data_offset, data_size;
        uint64_t hash_offset, hash_size;
        uint64_t sig_offset, sig_size;
        uint64_t device_size;
} Layout;

static void layout_after_data(Layout *l, uint64_t hash_size, bool with_signature) {
        l->hash_offset = l->data_offset + l->data_size;
        l->hash_size = ALIGN_TO(hash_size, (uint64_t) BLOCK_SIZE);
        l->sig_offset = l->hash_offset + l->hash_size;
        l->sig_size = with_signature ? VERITY_SIGNATURE_PARTITION_SIZE : 0;
        l->device_size = ALIGN_TO(l->sig_offset + l->sig_size + GPT_BACKUP_SIZE, (uint64_t) BLOCK_SIZE);
}

/* Salt: derived from the label and the squashfs superblock (which covers size, inode count and
 * mkfs time), so a rebuild of the same tree yields the same salt while different images differ. */
static int derive_verity_params(int fd, const Layout *l, const char *label, VerityParams *ret) {
        uint8_t sb[96], d[32];
        int r = pread_full(fd, sb, sizeof(sb), l->data_offset);
        if (r < 0)
                return r;
        derive_bytes("graft verity salt", label, strlen(label), sb, sizeof(sb), ret->salt);
        derive_bytes("graft verity uuid", label, strlen(label), ret->salt, 32, d);
        strcpy(ret->algorithm, "sha256");
        ret->data_block_size = ret->hash_block_size = BLOCK_SIZE;
        ret->data_blocks = l->data_size / BLOCK_SIZE;
        ret->salt_size = 32;
        ret->hash_type = 1;
        memcpy(ret->uuid, d, 16);
        return 0;
}

static int write_signature(int fd, const Layout *l, const ImageBuildOptions *o, const char *root_hash_hex,
                           GraftError *err) {
        _cleanup_(verity_signature_freep) VeritySignature *sig = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = verity_signature_sign(root_hash_hex, o->key_path, o->cert_path, &sig, err);
        if (r >= 0)
                r = verity_signature_format(sig, l->sig_size, &buf, err);
        if (r >= 0)
                r = pwrite_full(fd, buf, l->sig_size, l->sig_offset);
        return r;
}

static void fill_partition(GptPartition *p, PartitionDesignator d, Architecture arch, const char *label,
                           uint64_t offset, uint64_t size, const uint8_t uuid[16]) {
        const DpsType *t = dps_type_find(d, arch);
        *p = (GptPartition) { .type = t->uuid, .offset = offset, .size = size, .attrs = GPT_FLAG_READ_ONLY };
        memcpy(p->uuid.bytes, uuid, 16);
        snprintf(p->label, sizeof(p->label), "%s", label);
}

static int write_gpt(int fd, const Layout *l, const ImageBuildOptions *o, const char *label,
                     const uint8_t *root_hash, size_t root_hash_size, GraftError *err) {
        Architecture arch = o->arch >= 0 ? o->arch : architecture_native();
        PartitionDesignator d = o->designator == PARTITION_USR ? PARTITION_USR : PARTITION_ROOT;
        GptPartition parts[3];
        uint8_t sig_uuid[32], disk_uuid[32];

        /* The data partition's UUID is the first 128 bits of the root hash, the verity
         * partition's the last 128 bits: that is how systemd pairs them without a signature. */
        fill_partition(&parts[0], d, arch, label, l->data_offset, l->data_size, root_hash);
        fill_partition(&parts[1], partition_verity_of(d), arch, label, l->hash_offset, l->hash_size,
                       root_hash + root_hash_size - 16);
        derive_bytes("graft signature partition uuid", root_hash, root_hash_size, NULL, 0, sig_uuid);
        fill_partition(&parts[2], partition_verity_sig_of(d), arch, label, l->sig_offset, l->sig_size, sig_uuid);
        derive_bytes("graft disk uuid", root_hash, root_hash_size, NULL, 0, disk_uuid);

        GptLayout g = { .device_size = l->device_size, .partitions = parts, .n_partitions = l->sig_size ? 3 : 2 };
        memcpy(g.disk_uuid.bytes, disk_uuid, 16);
        uuid_make_v4(&parts[2].uuid);
        uuid_make_v4(&g.disk_uuid);
        return gpt_write(fd, &g, err);
}

static int build_into(int fd, const ImageBuildOptions *o, ImageBuildResult *res, GraftError *err) {
        _cleanup_free_ char *label = NULL;
        if (asprintf(&label, "%s_%s", o->name, o->version) < 0)
                return -ENOMEM;

        Layout l = { .data_offset = GPT_FIRST_USABLE_OFFSET };
        SquashfsWriteOptions so = {
                .compression = o->compression,
                .have_level = o->have_compression_level,
                .level = o->compression_level,
                .n_threads = o->n_threads,
                .have_epoch = o->have_epoch,
                .epoch = o->epoch,
                .progress = o->progress,
                .progress_userdata = o->progress_userdata,
        };
        int r = squashfs_write_tree(o->source_dir, fd, l.data_offset, &so, &l.data_size, err);
        if (r < 0)
                return r;
        l.data_size = ALIGN_TO(l.data_size, (uint64_t) BLOCK_SIZE);

        VerityParams vp = {};
        r = derive_verity_params(fd, &l, label, &vp);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read back the squashfs: %s", strerror(-r));
        layout_after_data(&l, verity_hash_area_size(&vp, true), o->key_path);
        if (ftruncate(fd, (off_t) l.device_size) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot size the image: %m");

        ImageRange data = { fd, l.data_offset, l.data_size, "partition 1" };
        ImageRange hash = { fd, l.hash_offset, l.hash_size, "partition 2" };
        VerityBuild vb = { .data = &data, .hash = &hash, .params = &vp, .with_superblock = true,
                           .n_threads = o->n_threads };
        uint8_t root[VERITY_MAX_DIGEST_SIZE];
        size_t root_size;
        r = verity_build(&vb, root, &root_size, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *root_hex = hexmem(root, root_size);
        if (!root_hex)
                return -ENOMEM;

        if (o->key_path) {
                r = write_signature(fd, &l, o, root_hex, err);
                if (r < 0)
                        return r;
        }
        r = write_gpt(fd, &l, o, label, root, root_size, err);
        if (r < 0)
                return r;

        *res = (ImageBuildResult) { .image_size = l.device_size, .data_size = l.data_size,
                                    .hash_size = l.hash_size, .signed_ = o->key_path != NULL };
        snprintf(res->root_hash_hex, sizeof(res->root_hash_hex), "%s", root_hex);
        return 0;
}

int image_build(const ImageBuildOptions *o, ImageBuildResult *ret, GraftError *err) {
        int r = image_build_check(o, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.#graft-build-%d", o->output, (int) getpid()) < 0)
                return -ENOMEM;
        /* Whatever a crashed build left there goes; a FIFO or a symlink planted there is never
         * opened. */
        (void) unlink(tmp);
        _cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", tmp);

        ImageBuildResult res;
        r = build_into(fd, o, &res, err);
        if (r >= 0 && fsync(fd) < 0)
                r = graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot write %s: %m", tmp);
        if (r >= 0 && rename(tmp, o->output) < 0)
                r = graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot rename %s to %s: %m", tmp, o->output);
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        *ret = res;
        return 0;
}
