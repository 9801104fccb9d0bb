/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns dissecting an image: what kind it is (GPT, bare squashfs/erofs, directory), which GPT
 * partitions are its data, verity and signature partitions, and what file system the data
 * holds. Sidecar files are dissect-sidecar.c's. Nothing here hashes or mounts. */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "dissect.h"
#include "file-trust.h"
#include "fileio.h"
#include "path-util.h"
#include "version.h"

const char *image_kind_to_string(ImageKind k) {
        switch (k) {
        case IMAGE_KIND_GPT:
                return "gpt";
        case IMAGE_KIND_FILE_SYSTEM:
                return "file-system";
        case IMAGE_KIND_DIRECTORY:
                return "directory";
        }
        return NULL;
}

const char *fs_type_to_string(FsType t) {
        static const char *const names[] = {
                [FS_TYPE_UNKNOWN] = "unknown", [FS_TYPE_SQUASHFS] = "squashfs", [FS_TYPE_EROFS] = "erofs",
                [FS_TYPE_EXT4] = "ext4",       [FS_TYPE_BTRFS] = "btrfs",       [FS_TYPE_XFS] = "xfs",
                [FS_TYPE_VFAT] = "vfat",       [FS_TYPE_VERITY] = "verity",
        };
        if ((unsigned) t >= ELEMENTSOF(names))
                return NULL;
        return names[t];
}

/* The farthest magic number looked at: btrfs's, 8 bytes at 64 KiB + 64. */
#define PROBE_SIZE (65600 + 8)

static bool magic_at(const uint8_t *buf, size_t n, size_t offset, const void *magic, size_t len) {
        return offset + len <= n && memcmp(buf + offset, magic, len) == 0;
}

static bool is_vfat(const uint8_t *b, size_t n) {
        if (n < 512 || b[510] != 0x55 || b[511] != 0xAA || (b[0] != 0xEB && b[0] != 0xE9))
                return false;
        return memcmp(b + 82, "FAT32   ", 8) == 0 || memcmp(b + 54, "FAT12   ", 8) == 0 ||
               memcmp(b + 54, "FAT16   ", 8) == 0 || memcmp(b + 54, "FAT     ", 8) == 0;
}

int fs_type_probe(const ImageRange *range, FsType *ret) {
        size_t n = (size_t) MIN(range->size, (uint64_t) PROBE_SIZE);
        _cleanup_free_ uint8_t *b = malloc(MAX(n, (size_t) 1));
        if (!b)
                return -ENOMEM;
        int r = pread_full(range->fd, b, n, range->offset);
        if (r < 0)
                return r;

        FsType t = FS_TYPE_UNKNOWN;
        if (magic_at(b, n, 0, "verity\0\0", 8))
                t = FS_TYPE_VERITY;
        else if (magic_at(b, n, 0, "hsqs", 4))
                t = FS_TYPE_SQUASHFS;
        else if (magic_at(b, n, 1024, "\xe2\xe1\xf5\xe0", 4))
                t = FS_TYPE_EROFS;
        else if (magic_at(b, n, 0, "XFSB", 4))
                t = FS_TYPE_XFS;
        else if (magic_at(b, n, 1080, "\x53\xef", 2))
                t = FS_TYPE_EXT4;
        else if (magic_at(b, n, 65600, "_BHRfS_M", 8))
                t = FS_TYPE_BTRFS;
        else if (is_vfat(b, n))
                t = FS_TYPE_VFAT;
        *ret = t;
        return 0;
}

int label_split(const char *label, char **ret_name, char **ret_version) {
        _cleanup_free_ char *name = NULL, *version = NULL;
        const char *u = strchr(label, '_');
        name = u ? strndup(label, (size_t) (u - label)) : strdup(label);
        if (!name || (u && !(version = strdup(u + 1))))
                return -ENOMEM;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        if (ret_version)
                *ret_version = TAKE_PTR(version);
        return 0;
}

static void partition_done(DissectedPartition *p) {
        free(p->label);
        free(p->version);
        *p = (DissectedPartition) { .designator = _PARTITION_DESIGNATOR_INVALID, .arch = _ARCHITECTURE_INVALID };
}

DissectedImage *dissected_image_free(DissectedImage *d) {
        if (!d)
                return NULL;
        partition_done(&d->data);
        partition_done(&d->verity);
        partition_done(&d->signature);
        safe_close(d->fd);
        safe_close(d->sidecar_verity_fd);
        gpt_table_free(d->table);
        free(d->sidecar_root_hash);
        free(d->sidecar_p7s);
        free(d->path);
        free(d->name);
        free(d->version);
        free(d);
        return NULL;
}

static DissectedImage *dissected_image_new(const char *path) {
        DissectedImage *d = calloc(1, sizeof(DissectedImage));
        if (!d)
                return NULL;
        d->fd = d->sidecar_verity_fd = -EBADF;
        partition_done(&d->data);
        partition_done(&d->verity);
        partition_done(&d->signature);
        d->path = strdup(path);
        if (!d->path)
                return mfree(d);
        return d;
}

static bool partition_usable(const GptPartition *p) {
        return !(p->attrs & GPT_FLAG_NO_AUTO) && !streq(p->label, "_empty");
}

/* The newest usable partition of a designator and architecture. */
static const GptPartition *pick_data(const GptTable *t, PartitionDesignator d, Architecture a) {
        const GptPartition *best = NULL;
        for (size_t i = 0; i < t->n_partitions; i++) {
                const GptPartition *p = &t->partitions[i];
                const DpsType *type = dps_type_from_uuid(&p->type);
                if (!type || type->designator != d || type->arch != a || !partition_usable(p))
                        continue;
                if (!best || version_compare(p->label, best->label) > 0)
                        best = p;
        }
        return best;
}

/* The verity or signature partition for a data partition: the one carrying the same label, else
 * the first on disk. (The root hash, which would name the verity partition by its UUID, is not
 * known before the signature is read.) */
static const GptPartition *pick_companion(const GptTable *t, PartitionDesignator d, Architecture a, const char *label) {
        const GptPartition *first = NULL;
        for (size_t i = 0; i < t->n_partitions; i++) {
                const GptPartition *p = &t->partitions[i];
                const DpsType *type = dps_type_from_uuid(&p->type);
                if (!type || type->designator != d || type->arch != a || !partition_usable(p))
                        continue;
                if (streq(p->label, label))
                        return p;
                if (!first)
                        first = p;
        }
        return first;
}

static int no_data_partition(const DissectedImage *d, const DissectOptions *o, GraftError *err) {
        char *found = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&found, &n);
        if (!f)
                return -ENOMEM;
        bool any = false;
        for (size_t i = 0; i < d->table->n_partitions; i++) {
                const GptPartition *p = &d->table->partitions[i];
                const DpsType *t = dps_type_from_uuid(&p->type);
                if (!t)
                        continue;
                char name[64];
                dps_type_name(t, name, sizeof(name));
                fprintf(f, "%s%s%s", any ? ", " : "", name,
                        p->attrs & GPT_FLAG_NO_AUTO ? " (no-auto)" : !partition_usable(p) ? " (_empty)" : "");
                any = true;
        }
        if (fclose(f) != 0) {
                free(found);
                return -ENOMEM;
        }
        _cleanup_free_ char *list = found;
        const char *what = o->usr_only ? "usr" : "root or usr";
        if (o->arch >= 0)
                return graft_error_set(err, -ENXIO, GRAFT_ERROR_BAD_IMAGE, "%s: no %s partition for %s (found: %s)",
                                       d->path, what, architecture_to_string(o->arch), any ? list : "nothing DPS knows");
        return graft_error_set(err, -ENXIO, GRAFT_ERROR_BAD_IMAGE, "%s: no %s partition for any architecture (found: %s)",
                               d->path, what, any ? list : "nothing DPS knows");
}

static int fill_partition(DissectedImage *d, const GptPartition *p, DissectedPartition *ret, GraftError *err) {
        const DpsType *t = dps_type_from_uuid(&p->type);
        if (p->offset > d->size || p->size > d->size - p->offset)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: partition %u ends at byte %" PRIu64 " but %s has only %" PRIu64 " bytes: truncated image?",
                                       d->path, p->partno, p->offset + p->size, d->path, d->size);
        DissectedPartition dp = {
                .found = true,
                .partno = p->partno,
                .designator = t->designator,
                .arch = t->arch,
                .type = p->type,
                .uuid = p->uuid,
                .attrs = p->attrs,
        };
        int r = label_split(p->label, NULL, &dp.version);
        if (r < 0)
                return r;
        dp.label = strdup(p->label);
        if (!dp.label) {
                free(dp.version);
                return -ENOMEM;
        }
        snprintf(dp.what, sizeof(dp.what), "partition %u", p->partno);
        *ret = dp;
        ret->range = (ImageRange) { .fd = d->fd, .offset = p->offset, .size = p->size, .what = ret->what };
        return 0;
}

static int architecture_order(const DissectOptions *o, Architecture order[static _ARCHITECTURE_MAX]) {
        size_t n = 0;
        if (o->arch >= 0) {
                order[n++] = o->arch;
                return (int) n;
        }
        Architecture native = architecture_native(), secondary = architecture_secondary(native);
        order[n++] = native;
        if (secondary >= 0)
                order[n++] = secondary;
        for (Architecture a = 0; a < _ARCHITECTURE_MAX; a++)
                if (a != native && a != secondary)
                        order[n++] = a;
        return (int) n;
}

static int dissect_gpt(DissectedImage *d, const DissectOptions *o, GraftError *err) {
        const GptPartition *data = NULL;
        Architecture order[_ARCHITECTURE_MAX];
        int n = architecture_order(o, order);
        for (int i = 0; i < n && !data; i++) {
                if (!o->usr_only)
                        data = pick_data(d->table, PARTITION_ROOT, order[i]);
                if (!data)
                        data = pick_data(d->table, PARTITION_USR, order[i]);
        }
        if (!data)
                return no_data_partition(d, o, err);

        int r = fill_partition(d, data, &d->data, err);
        if (r < 0)
                return r;
        PartitionDesignator dd = d->data.designator;
        Architecture a = d->data.arch;
        const GptPartition *verity = pick_companion(d->table, partition_verity_of(dd), a, data->label);
        const GptPartition *sig = pick_companion(d->table, partition_verity_sig_of(dd), a, data->label);
        if (verity && (r = fill_partition(d, verity, &d->verity, err)) < 0)
                return r;
        if (sig && (r = fill_partition(d, sig, &d->signature, err)) < 0)
                return r;

        r = fs_type_probe(&d->data.range, &d->data.fstype);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read partition %u: %s", d->path,
                                       d->data.partno, strerror(-r));

        r = label_split(data->label, &d->name, &d->version);
        if (r < 0)
                return r;
        return 0;
}

/* The image name from the file name: "foo.raw" → "foo". */
static int name_from_path(DissectedImage *d) {
        _cleanup_free_ char *base = path_basename(d->path);
        if (!base)
                return -ENOMEM;
        free(d->name);
        d->name = d->kind == IMAGE_KIND_DIRECTORY ? TAKE_PTR(base) : strdup_strip_suffix(base, ".raw");
        return d->name ? 0 : -ENOMEM;
}

static int dissect_file_system(DissectedImage *d, GraftError *err) {
        d->data.range = (ImageRange) { .fd = d->fd, .offset = 0, .size = d->size, .what = d->data.what };
        FsType t = FS_TYPE_UNKNOWN;
        if (d->size > 0) {
                int r = fs_type_probe(&d->data.range, &t);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read: %s", d->path, strerror(-r));
        }
        if (t != FS_TYPE_SQUASHFS && t != FS_TYPE_EROFS) {
                const char *found = d->size == 0 ? " (the file is empty)" : "";
                char buf[64];
                if (t != FS_TYPE_UNKNOWN) {
                        if (t == FS_TYPE_VERITY)
                                snprintf(buf, sizeof(buf), " (found a verity hash area)");
                        else
                                snprintf(buf, sizeof(buf), " (found a%s %s file system)",
                                         t == FS_TYPE_EXT4 || t == FS_TYPE_XFS ? "n" : "", fs_type_to_string(t));
                        found = buf;
                }
                return graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: not a GPT image, squashfs or erofs file, or directory%s", d->path, found);
        }

        _cleanup_free_ char *base = path_basename(d->path);
        if (!base)
                return -ENOMEM;
        d->kind = IMAGE_KIND_FILE_SYSTEM;
        d->data.found = true;
        d->data.designator = PARTITION_ROOT;
        d->data.fstype = t;
        snprintf(d->data.what, sizeof(d->data.what), "file %s", base);
        return name_from_path(d);
}

static int open_image(DissectedImage *d, struct stat *st, GraftError *err) {
        /* Anything else than these is refused before it is opened: a FIFO would block, a device
         * could act on being opened. */
        d->fd = file_open(&(FileOpen) { .dir_fd = AT_FDCWD, .path = d->path,
                                        .accept = FILE_ACCEPT_DIRECTORY | FILE_ACCEPT_BLOCK,
                                        .error_name = GRAFT_ERROR_BAD_IMAGE }, err);
        if (d->fd < 0) {
                int r = d->fd;
                if (r == -ENOENT)
                        return graft_error_set(err, r, GRAFT_ERROR_NO_SUCH_IMAGE, "%s: no such file", d->path);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot open: %s", d->path, strerror(-r));
        }
        if (fstat(d->fd, st) < 0) {
                int r = negative_errno();
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot stat: %s", d->path, strerror(-r));
        }
        /* Before a byte of it is parsed: what is verified later must be what is used. */
        return d->untrusted_ok ? 0 : fd_check_trusted(d->fd, d->path, err);
}

int dissect_image(const char *path, const DissectOptions *opts, DissectedImage **ret, GraftError *err) {
        DissectOptions o = opts ? *opts : (DissectOptions) { .arch = _ARCHITECTURE_INVALID };
        struct stat st;
        int r;

        if (isempty(path))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "no image path given");
        _cleanup_(dissected_image_freep) DissectedImage *d = dissected_image_new(path);
        if (!d)
                return -ENOMEM;
        d->untrusted_ok = o.untrusted_ok;
        r = open_image(d, &st, err);
        if (r < 0)
                return r;

        if (S_ISDIR(st.st_mode)) {
                d->kind = IMAGE_KIND_DIRECTORY;
                d->data.designator = PARTITION_ROOT; /* a directory is a tree offered unprotected */
                /* It is used live (overlaid on /usr, a service's root): the whole tree must be
                 * one that nobody but root can change. */
                r = d->untrusted_ok ? 0 : tree_check_trusted(d->fd, d->path, err);
                if (r < 0)
                        return r;
                r = name_from_path(d);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(d);
                return 0;
        }

        r = fd_get_size(d->fd, &d->size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot get the size: %s", d->path, strerror(-r));

        r = gpt_read(d->fd, d->path, &d->table, err);
        if (r >= 0) {
                d->kind = IMAGE_KIND_GPT;
                r = dissect_gpt(d, &o, err);
                if (r >= 0 && isempty(d->name))
                        r = name_from_path(d);
        } else if (r == -ENOMSG)
                r = dissect_file_system(d, err);
        if (r < 0)
                return r;

        r = dissect_load_sidecars(d, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}
