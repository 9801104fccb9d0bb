/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns reading a GPT through libfdisk and refusing tables an image must not have: partitions
 * that overlap, leave the usable area, or reach past the end of a (truncated) file. libfdisk
 * recovers from one damaged header by using the other copy; that is accepted and recorded in the
 * GptTable. Why libfdisk refuses a table that has a GPT signature is worked out in
 * gpt-diagnose.c. */
#include <inttypes.h>
#include <libfdisk/libfdisk.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "gpt.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_unref_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_table *, fdisk_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_iter *, fdisk_free_iter);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_labelitem *, fdisk_unref_labelitem);

GptTable *gpt_table_free(GptTable *t) {
        if (!t)
                return NULL;
        free(t->partitions);
        free(t);
        return NULL;
}

/* libfdisk reports warnings ("The backup GPT table is corrupt…") through this callback; library
 * code does not print, and what the warnings say is recorded in the GptTable instead. */
static int fdisk_ask_silent(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data) {
        switch (fdisk_ask_get_type(ask)) {
        case FDISK_ASKTYPE_INFO:
        case FDISK_ASKTYPE_WARN:
        case FDISK_ASKTYPE_WARNX:
                return 0;
        default:
                return -EINVAL; /* no dialogs */
        }
}

static int has_signature_at(int fd, uint64_t offset, uint64_t file_size) {
        char buf[8];
        if (offset + sizeof(buf) > file_size)
                return 0;
        int r = pread_full(fd, buf, sizeof(buf), offset);
        if (r < 0)
                return r;
        return memcmp(buf, "EFI PART", 8) == 0;
}

int gpt_fdisk_context_new(uint64_t sector_size, struct fdisk_context **ret) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        if (!cxt)
                return -ENOMEM;
        int r = fdisk_set_ask(cxt, fdisk_ask_silent, NULL);
        if (r >= 0)
                r = fdisk_disable_dialogs(cxt, 1);
        if (r >= 0 && sector_size > 0)
                r = fdisk_save_user_sector_size(cxt, (unsigned) sector_size, (unsigned) sector_size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cxt);
        return 0;
}

/* 1 if libfdisk found a GPT with this sector size (0 = its default), 0 if not. */
static int fdisk_open(int fd, const char *path, uint64_t sector_size, struct fdisk_context **ret) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        int r = gpt_fdisk_context_new(sector_size, &cxt);
        if (r >= 0)
                r = fdisk_assign_device_by_fd(cxt, fd, path, /* readonly= */ 1);
        if (r < 0)
                return r;
        if (!fdisk_has_label(cxt) || !fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT))
                return 0;
        *ret = TAKE_PTR(cxt);
        return 1;
}

static int label_item_u64(struct fdisk_context *cxt, int id, uint64_t *ret) {
        _cleanup_(fdisk_unref_labelitemp) struct fdisk_labelitem *item = fdisk_new_labelitem();
        if (!item)
                return -ENOMEM;
        int r = fdisk_get_disklabel_item(cxt, id, item);
        if (r != 0)
                return r < 0 ? r : -ENODATA;
        return fdisk_labelitem_get_data_u64(item, ret);
}

static int read_header_info(struct fdisk_context *cxt, int fd, const char *path, GptTable *t, GraftError *err) {
        _cleanup_free_ char *id = NULL;
        uint64_t first, last, alt;
        int r;

        t->sector_size = fdisk_get_sector_size(cxt);
        if (fdisk_get_disklabel_id(cxt, &id) < 0 || !id || uuid_from_string(id, &t->disk_uuid) < 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, "%s: the GPT has no valid disk GUID", path);
        r = label_item_u64(cxt, GPT_LABELITEM_FIRSTLBA, &first);
        if (r >= 0)
                r = label_item_u64(cxt, GPT_LABELITEM_LASTLBA, &last);
        if (r >= 0)
                r = label_item_u64(cxt, GPT_LABELITEM_ALTLBA, &alt);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot get the GPT's usable area from libfdisk: %s",
                                       path, strerror(-r));
        if (last < first || last >= UINT64_MAX / t->sector_size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT's usable area (sectors %" PRIu64 "-%" PRIu64 ") is invalid",
                                       path, first, last);
        t->first_usable_offset = first * t->sector_size;
        t->usable_end = (last + 1) * t->sector_size;

        /* Which copy libfdisk had to do without: the primary is always at LBA 1; the backup is
         * where the header libfdisk kept says it is. */
        t->primary_header_damaged = !gpt_header_is_valid(fd, t->sector_size, t->device_size, 1);
        t->backup_header_damaged = !gpt_header_is_valid(fd, t->sector_size, t->device_size, alt);
        return 0;
}

static int read_partition(struct fdisk_context *cxt, struct fdisk_partition *pa, const char *path,
                          uint64_t sector_size, GptPartition *ret, GraftError *err) {
        size_t n = fdisk_partition_get_partno(pa);
        GptPartition p = { .partno = (unsigned) n + 1 };

        if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, "%s: partition %u has no start or size",
                                       path, p.partno);
        /* libfdisk reports an entry whose last sector lies before its first as size 0. */
        uint64_t start = fdisk_partition_get_start(pa), sectors = fdisk_partition_get_size(pa);
        if (sectors == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: partition %u ends before it starts (at sector %" PRIu64 ")",
                                       path, p.partno, start);
        if (start > UINT64_MAX / sector_size || sectors > UINT64_MAX / sector_size - start)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: partition %u (sector %" PRIu64 ", %" PRIu64 " sectors) lies beyond any possible disk",
                                       path, p.partno, start, sectors);
        p.offset = start * sector_size;
        p.size = sectors * sector_size;

        struct fdisk_parttype *type = fdisk_partition_get_type(pa);
        const char *s = type ? fdisk_parttype_get_string(type) : NULL;
        if (!s || uuid_from_string(s, &p.type) < 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, "%s: partition %u has no valid type GUID",
                                       path, p.partno);
        s = fdisk_partition_get_uuid(pa);
        if (!s || uuid_from_string(s, &p.uuid) < 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, "%s: partition %u has no valid GUID",
                                       path, p.partno);

        /* libfdisk decodes the 36 UTF-16 units (surrogate pairs included) to UTF-8, which needs at
         * most 108 bytes; refuse rather than cut if that ever does not hold. */
        s = fdisk_partition_get_name(pa);
        if (s) {
                size_t l = strlen(s);
                if (l > GPT_LABEL_UTF8_MAX)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: partition %u has a label of %zu bytes, more than a GPT label can hold",
                                               path, p.partno, l);
                memcpy(p.label, s, l + 1);
        }

        int r = fdisk_gpt_get_partition_attrs(cxt, n, &p.attrs);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read the attributes of partition %u: %s",
                                       path, p.partno, strerror(-r));
        *ret = p;
        return 0;
}

static int cmp_offset(const void *a, const void *b) {
        const GptPartition *x = a, *y = b;
        int c = CMP(x->offset, y->offset);
        return c != 0 ? c : CMP(x->partno, y->partno);
}

static int read_partitions(struct fdisk_context *cxt, const char *path, GptTable *t, GraftError *err) {
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        int r = fdisk_get_partitions(cxt, &tb);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot list the GPT partitions: %s", path,
                                       strerror(-r));
        size_t n = fdisk_table_get_nents(tb);
        t->partitions = calloc(MAX(n, (size_t) 1), sizeof(GptPartition));
        if (!t->partitions)
                return -ENOMEM;

        _cleanup_(fdisk_free_iterp) struct fdisk_iter *it = fdisk_new_iter(FDISK_ITER_FORWARD);
        if (!it)
                return -ENOMEM;
        struct fdisk_partition *pa;
        while (t->n_partitions < n && fdisk_table_next_partition(tb, it, &pa) == 0) {
                if (!fdisk_partition_is_used(pa))
                        continue;
                r = read_partition(cxt, pa, path, t->sector_size, &t->partitions[t->n_partitions], err);
                if (r < 0)
                        return r;
                t->n_partitions++;
        }
        qsort(t->partitions, t->n_partitions, sizeof(GptPartition), cmp_offset);
        return 0;
}

/* What libfdisk does not check when it reads a table: partitions must stay inside the file and
 * the usable area, and must not share bytes. */
static int check_partitions(const GptTable *t, const char *path, GraftError *err) {
        for (size_t i = 0; i < t->n_partitions; i++) {
                const GptPartition *p = &t->partitions[i];
                uint64_t end = p->offset + p->size;
                if (end > t->device_size)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: partition %u ends at byte %" PRIu64 " but %s has only %" PRIu64 " bytes: truncated image?",
                                               path, p->partno, end, path, t->device_size);
                if (p->offset < t->first_usable_offset || end > t->usable_end)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: partition %u (bytes %" PRIu64 "-%" PRIu64 ") lies outside the usable area of the partition table (bytes %" PRIu64 "-%" PRIu64 ")",
                                               path, p->partno, p->offset, end - 1, t->first_usable_offset,
                                               t->usable_end - 1);
        }
        /* Sorted by offset: if any two overlap, some neighbours do. */
        for (size_t i = 1; i < t->n_partitions; i++) {
                const GptPartition *a = &t->partitions[i - 1], *b = &t->partitions[i];
                if (a->offset + a->size <= b->offset)
                        continue;
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: partitions %u and %u overlap (bytes %" PRIu64 "-%" PRIu64 ")", path,
                                       MIN(a->partno, b->partno), MAX(a->partno, b->partno), b->offset,
                                       MIN(a->offset + a->size, b->offset + b->size) - 1);
        }
        return 0;
}

int gpt_read(int fd, const char *path, GptTable **ret, GraftError *err) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        uint64_t size;
        int r;

        path = path ?: "image";
        r = fd_get_size(fd, &size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot get the size: %s", path, strerror(-r));
        if (size < 3 * 512) /* not even room for a protective MBR, a header and one sector of entries */
                return -ENOMSG;

        r = fdisk_open(fd, path, 0, &cxt);
        if (r == 0) {
                /* Regular files get 512-byte sectors; an image made for a 4K-sector disk has its
                 * header at 4096. */
                r = has_signature_at(fd, 4096, size);
                if (r > 0)
                        r = fdisk_open(fd, path, 4096, &cxt);
        }
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: libfdisk cannot read the partition table: %s",
                                       path, strerror(-r));
        if (r == 0) {
                r = has_signature_at(fd, 512, size);
                if (r > 0)
                        return gpt_diagnose(fd, path, 512, size, err);
                r = r < 0 ? r : has_signature_at(fd, 4096, size);
                if (r > 0)
                        return gpt_diagnose(fd, path, 4096, size, err);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read: %s", path, strerror(-r));
                return -ENOMSG;
        }

        _cleanup_(gpt_table_freep) GptTable *t = calloc(1, sizeof(GptTable));
        if (!t)
                return -ENOMEM;
        t->device_size = size;
        r = read_header_info(cxt, fd, path, t, err);
        if (r >= 0)
                r = read_partitions(cxt, path, t, err);
        if (r >= 0)
                r = check_partitions(t, path, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}
