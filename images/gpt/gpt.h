/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GUID partition tables, read and written through libfdisk. */
#pragma once

#include "error.h"
#include "uuid.h"

#define GPT_FLAG_GROWFS    (UINT64_C(1) << 59)
#define GPT_FLAG_READ_ONLY (UINT64_C(1) << 60)
#define GPT_FLAG_NO_AUTO   (UINT64_C(1) << 63)

/* GPT labels hold 36 UTF-16 code units; in UTF-8 that is at most 36 * 3 bytes. */
#define GPT_LABEL_MAX 36
#define GPT_LABEL_UTF8_MAX (GPT_LABEL_MAX * 3)

typedef struct GptPartition {
        unsigned partno; /* 1-based, as the kernel numbers partitions */
        Uuid type;
        Uuid uuid;
        char label[GPT_LABEL_UTF8_MAX + 1];
        uint64_t offset; /* bytes */
        uint64_t size;   /* bytes */
        uint64_t attrs;  /* the 64 GPT attribute bits */
} GptPartition;

typedef struct GptTable {
        uint64_t sector_size;
        uint64_t device_size; /* bytes */
        Uuid disk_uuid;
        uint64_t first_usable_offset; /* bytes: the usable area the header declares */
        uint64_t usable_end;          /* bytes: one past the last usable byte */
        /* libfdisk quietly recovers from one damaged header (CRC mismatch) by using the other;
         * these say that it did, for inspect. */
        bool primary_header_damaged;
        bool backup_header_damaged;
        size_t n_partitions;
        GptPartition *partitions; /* sorted by offset */
} GptTable;

GptTable *gpt_table_free(GptTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(GptTable *, gpt_table_free);

/* Reads the GPT of an image file or block device. Returns -ENOMSG (and no error record) when
 * there is no GPT at all (also for empty files and random bytes), so callers can try other image
 * kinds; a GPT that is damaged beyond what libfdisk recovers from, is truncated, or whose
 * partitions overlap each other or extend past the end of the device or the usable area, is
 * -EBADMSG with a GRAFT_ERROR_BAD_IMAGE message naming the file and the partition(s). path is for
 * messages. Uses the fd's file offset (libfdisk reads with lseek+read). */
int gpt_read(int fd, const char *path, GptTable **ret, GraftError *err);

/* Writes a fresh GPT (protective MBR, primary and backup header) describing parts onto fd,
 * whose size must already be device_size (a multiple of 4096). Partitions must be 4096-aligned
 * and lie within the usable area; partno is ignored (the order given is the order written).
 * 512-byte sectors, 128 entries. The result depends on the layout only (the GPT areas are zeroed
 * first; disk and partition UUIDs must not be null, so libfdisk never picks random ones). Data
 * outside the GPT areas is left alone. Not fsync'd. Bad layouts are -EINVAL with
 * GRAFT_ERROR_INVALID_ARGUMENT naming the partition. */
typedef struct GptLayout {
        uint64_t device_size;
        Uuid disk_uuid;
        const GptPartition *partitions;
        size_t n_partitions;
} GptLayout;
int gpt_write(int fd, const GptLayout *layout, GraftError *err);

/* The first byte offset usable for partitions (4096-aligned) and the number of bytes the backup
 * GPT takes at the end, for a 512-byte-sector image with a 128-entry table. */
#define GPT_FIRST_USABLE_OFFSET UINT64_C(1048576)
#define GPT_BACKUP_SIZE (UINT64_C(33) * 512)

/* Whether a label can be stored: valid UTF-8, at most GPT_LABEL_MAX UTF-16 code units, no
 * characters outside the Basic Multilingual Plane (libfdisk 2.38 cannot encode surrogate pairs
 * and silently writes an empty label instead). -EINVAL with a message naming what. */
int gpt_label_check(const char *label, const char *what, GraftError *err);

/* Shared by gpt-read.c and gpt-write.c: a libfdisk context that never prints or asks, with the
 * given sector size (0: libfdisk's choice). */
struct fdisk_context;
int gpt_fdisk_context_new(uint64_t sector_size, struct fdisk_context **ret);

/* Internal to gpt-read.c, in gpt-diagnose.c: when libfdisk finds no usable GPT although the
 * header signature is there, works out why (damaged header or entries, truncated file, missing
 * protective MBR) and returns -EBADMSG with that message. */
int gpt_diagnose(int fd, const char *path, uint64_t sector_size, uint64_t file_size, GraftError *err);
/* Whether the GPT header at lba is intact (signature, size, CRCs of header and entries). */
bool gpt_header_is_valid(int fd, uint64_t sector_size, uint64_t file_size, uint64_t lba);
/* The CRC-32 GPT uses (IEEE 802.3, reflected, as zlib's crc32()). */
uint32_t gpt_crc32(const void *p, size_t n);
