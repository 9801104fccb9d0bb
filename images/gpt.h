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
        size_t n_partitions;
        GptPartition *partitions; /* sorted by offset */
} GptTable;

GptTable *gpt_table_free(GptTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(GptTable *, gpt_table_free);

/* Reads the GPT of an image file or block device. Returns -ENOMSG (and no error record) when
 * there is no GPT at all, so callers can try other image kinds; a GPT that is damaged, or whose
 * partitions overlap each other or extend past the end of the device, is -EBADMSG with a
 * GRAFT_ERROR_BAD_IMAGE message naming the partition(s). path is for messages. */
int gpt_read(int fd, const char *path, GptTable **ret, GraftError *err);

/* Writes a fresh GPT (protective MBR, primary and backup header) describing parts onto fd,
 * whose size must already be device_size (a multiple of 4096). Partitions must be 4096-aligned
 * and lie within the usable area; partno is ignored (the order given is the order written). */
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
