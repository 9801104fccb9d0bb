/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns writing a fresh GPT onto an image file with libfdisk: the layout is checked here first
 * (libfdisk would silently cut long labels, drop ones it cannot encode, or pick random UUIDs),
 * so that what lands on disk is exactly the layout, byte for byte the same every time. */
#include <inttypes.h>
#include <libfdisk/libfdisk.h>
#include <string.h>

#include "fileio.h"
#include "gpt.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_unref_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_partition *, fdisk_unref_partition);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_parttype *, fdisk_unref_parttype);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_script *, fdisk_unref_script);

#define SECTOR UINT64_C(512)
#define GPT_ENTRIES 128
/* Protective MBR, primary header and 32 sectors of entries. */
#define GPT_PRIMARY_SIZE (UINT64_C(34) * SECTOR)

/* Decodes one UTF-8 sequence; returns its length, or 0 if it is not valid (overlong, surrogate,
 * beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret) {
        size_t n;
        uint32_t c, min;
        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        } else if ((s[0] & 0xE0) == 0xC0) {
                n = 2, c = s[0] & 0x1F, min = 0x80;
        } else if ((s[0] & 0xF0) == 0xE0) {
                n = 3, c = s[0] & 0x0F, min = 0x800;
        } else if ((s[0] & 0xF8) == 0xF0) {
                n = 4, c = s[0] & 0x07, min = 0x10000;
        } else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        *ret = c;
        return n;
}

int gpt_label_check(const char *label, const char *what, GraftError *err) {
        size_t units = 0;
        what = what ?: "partition";
        if (!label)
                return 0;
        for (const unsigned char *p = (const unsigned char *) label; *p;) {
                uint32_t c;
                size_t n = utf8_decode(p, &c);
                if (n == 0) /* not quoted: messages travel over D-Bus, which wants valid UTF-8 */
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s: label is not valid UTF-8 (at byte %zu)", what,
                                               (size_t) (p - (const unsigned char *) label));
                if (c > 0xFFFF)
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s: label \"%s\" has a character beyond U+FFFF, which libfdisk cannot store in a GPT label",
                                               what, label);
                units++;
                p += n;
        }
        if (units > GPT_LABEL_MAX)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: label \"%s\" is %zu characters long, a GPT label holds at most %d",
                                       what, label, units, GPT_LABEL_MAX);
        return 0;
}

static int check_partition(const GptLayout *l, size_t i, GraftError *err) {
        const GptPartition *p = &l->partitions[i];
        char what[32];
        snprintf(what, sizeof(what), "partition %zu", i + 1);

        if (uuid_is_null(&p->type))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: the null type GUID marks an unused entry", what);
        if (uuid_is_null(&p->uuid))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: needs a partition GUID (libfdisk would pick a random one)", what);
        if (p->offset % 4096 != 0 || p->size % 4096 != 0 || p->size == 0)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: offset %" PRIu64 " and size %" PRIu64 " must be non-zero multiples of 4096",
                                       what, p->offset, p->size);
        if (p->offset < GPT_FIRST_USABLE_OFFSET || p->size > l->device_size ||
            p->offset > l->device_size - GPT_BACKUP_SIZE - p->size)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: bytes %" PRIu64 "+%" PRIu64 " lie outside the usable area (bytes %" PRIu64 "-%" PRIu64 ")",
                                       what, p->offset, p->size, GPT_FIRST_USABLE_OFFSET,
                                       l->device_size - GPT_BACKUP_SIZE - 1);
        if (memchr(p->label, 0, sizeof(p->label)) == NULL)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s: label is not terminated", what);
        int r = gpt_label_check(p->label, what, err);
        if (r < 0)
                return r;
        for (size_t j = 0; j < i; j++) {
                const GptPartition *q = &l->partitions[j];
                if (p->offset < q->offset + q->size && q->offset < p->offset + p->size)
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "partitions %zu and %zu overlap", j + 1, i + 1);
        }
        return 0;
}

static int check_layout(int fd, const GptLayout *l, GraftError *err) {
        uint64_t size;
        int r = fd_get_size(fd, &size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot get the size of the image file: %s", strerror(-r));
        if (l->device_size % 4096 != 0 || l->device_size < GPT_FIRST_USABLE_OFFSET + GPT_BACKUP_SIZE + 4096)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "an image of %" PRIu64 " bytes cannot hold a GPT: the size must be a multiple of 4096 and at least %" PRIu64,
                                       l->device_size, ALIGN_TO(GPT_FIRST_USABLE_OFFSET + GPT_BACKUP_SIZE + 4096, UINT64_C(4096)));
        if (size != l->device_size)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "the image file has %" PRIu64 " bytes but the layout is for %" PRIu64, size,
                                       l->device_size);
        if (uuid_is_null(&l->disk_uuid))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "the GPT needs a disk GUID (libfdisk would pick a random one)");
        if (l->n_partitions > GPT_ENTRIES)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%zu partitions, a GPT holds at most %d", l->n_partitions, GPT_ENTRIES);
        for (size_t i = 0; i < l->n_partitions; i++) {
                r = check_partition(l, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The areas libfdisk writes, zeroed so that nothing of an earlier content (boot code, an old
 * header) survives into the result. */
static int zero_gpt_areas(int fd, uint64_t device_size) {
        _cleanup_free_ uint8_t *zero = calloc(1, GPT_PRIMARY_SIZE);
        if (!zero)
                return -ENOMEM;
        int r = pwrite_full(fd, zero, GPT_PRIMARY_SIZE, 0);
        if (r < 0)
                return r;
        return pwrite_full(fd, zero, GPT_BACKUP_SIZE, device_size - GPT_BACKUP_SIZE);
}

/* The empty GPT. libfdisk takes the first usable LBA and the disk GUID from script headers when
 * it creates the header (as sfdisk does): without them it would move the first usable LBA down
 * to 34 on small images and pick a random GUID. */
static int create_label(struct fdisk_context *cxt, const Uuid *disk_uuid) {
        _cleanup_(fdisk_unref_scriptp) struct fdisk_script *script = fdisk_new_script(cxt);
        char first_lba[32];
        if (!script)
                return -ENOMEM;
        snprintf(first_lba, sizeof(first_lba), "%" PRIu64, GPT_FIRST_USABLE_OFFSET / SECTOR);
        int r = fdisk_script_set_header(script, "label", "gpt");
        if (r >= 0)
                r = fdisk_script_set_header(script, "first-lba", first_lba);
        if (r >= 0)
                r = fdisk_script_set_header(script, "label-id", UUID_TO_STRING(disk_uuid));
        if (r >= 0)
                r = fdisk_set_script(cxt, script);
        if (r >= 0)
                r = fdisk_create_disklabel(cxt, "gpt");
        (void) fdisk_set_script(cxt, NULL);
        if (r >= 0) /* should the header ever be ignored: the explicit way, too */
                r = fdisk_set_disklabel_id_from_string(cxt, UUID_TO_STRING(disk_uuid));
        return r;
}

static int add_partition(struct fdisk_context *cxt, size_t i, const GptPartition *p) {
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        if (!pa)
                return -ENOMEM;
        _cleanup_(fdisk_unref_parttypep) struct fdisk_parttype *type =
                fdisk_label_parse_parttype(fdisk_get_label(cxt, NULL), UUID_TO_STRING(&p->type));
        if (!type)
                return -ENOMEM;

        int r = fdisk_partition_set_partno(pa, i);
        if (r >= 0)
                r = fdisk_partition_set_start(pa, p->offset / SECTOR);
        if (r >= 0)
                r = fdisk_partition_set_size(pa, p->size / SECTOR);
        if (r >= 0)
                r = fdisk_partition_size_explicit(pa, 1);
        if (r >= 0)
                r = fdisk_partition_set_type(pa, type);
        if (r >= 0)
                r = fdisk_partition_set_uuid(pa, UUID_TO_STRING(&p->uuid));
        if (r >= 0 && p->label[0])
                r = fdisk_partition_set_name(pa, p->label);
        if (r >= 0)
                r = fdisk_add_partition(cxt, pa, NULL);
        if (r >= 0)
                r = fdisk_gpt_set_partition_attrs(cxt, i, p->attrs);
        return r;
}

/* libfdisk may align or shrink what it is given; the layout must land exactly. */
static int verify_partition(struct fdisk_context *cxt, size_t i, const GptPartition *p, GraftError *err) {
        struct fdisk_partition *pa = NULL;
        int r = fdisk_get_partition(cxt, i, &pa);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "partition %zu: libfdisk lost it: %s", i + 1, strerror(-r));
        uint64_t start = fdisk_partition_get_start(pa), size = fdisk_partition_get_size(pa);
        fdisk_unref_partition(pa);
        if (start * SECTOR != p->offset || size * SECTOR != p->size)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "partition %zu: libfdisk placed it at bytes %" PRIu64 "+%" PRIu64 " instead of %" PRIu64 "+%" PRIu64,
                                       i + 1, start * SECTOR, size * SECTOR, p->offset, p->size);
        return 0;
}

int gpt_write(int fd, const GptLayout *layout, GraftError *err) {
        int r = check_layout(fd, layout, err);
        if (r < 0)
                return r;
        r = zero_gpt_areas(fd, layout->device_size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write to the image file: %s", strerror(-r));

        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        r = gpt_fdisk_context_new(SECTOR, &cxt);
        if (r >= 0)
                r = fdisk_assign_device_by_fd(cxt, fd, "image", /* readonly= */ 0);
        if (r >= 0)
                r = create_label(cxt, &layout->disk_uuid);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "libfdisk cannot create a GPT: %s", strerror(-r));

        for (size_t i = 0; i < layout->n_partitions; i++) {
                r = add_partition(cxt, i, &layout->partitions[i]);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "partition %zu: libfdisk cannot add it: %s",
                                               i + 1, strerror(-r));
                r = verify_partition(cxt, i, &layout->partitions[i], err);
                if (r < 0)
                        return r;
        }

        r = fdisk_write_disklabel(cxt);
        if (r >= 0)
                r = fdisk_deassign_device(cxt, /* nosync= */ 1);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "libfdisk cannot write the GPT: %s", strerror(-r));
        return 0;
}
