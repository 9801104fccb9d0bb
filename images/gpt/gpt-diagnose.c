/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the explanation of a GPT that libfdisk refuses. libfdisk reads the table (gpt-read.c);
 * when it finds no valid header although the signature is there, it does not say why, and its
 * sanity checks make a truncated image look like no GPT at all. This file looks at the raw
 * header and entries only to name the cause: nothing read here is ever returned as a table. */
#include <inttypes.h>
#include <string.h>

#include "fileio.h"
#include "gpt.h"

#define GPT_SIGNATURE "EFI PART"
#define GPT_HEADER_MIN_SIZE 92
#define GPT_ENTRIES_MAX_BYTES (UINT64_C(4) << 20)

uint32_t gpt_crc32(const void *p, size_t n) {
        const uint8_t *b = p;
        uint32_t crc = UINT32_MAX;
        for (size_t i = 0; i < n; i++) {
                crc ^= b[i];
                for (unsigned k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (UINT32_C(0xEDB88320) & (0u - (crc & 1)));
        }
        return ~crc;
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
        return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

/* The fields of a header we need, read from an untrusted sector. */
typedef struct RawHeader {
        uint32_t header_size;
        bool header_crc_ok;
        uint64_t my_lba, alternate_lba, first_usable, last_usable, entries_lba;
        uint32_t n_entries, entry_size, entries_crc;
} RawHeader;

/* 1: signature present (fields filled), 0: no signature, <0: read error. */
static int read_header(int fd, uint64_t sector_size, uint64_t file_size, uint64_t lba, RawHeader *ret) {
        uint8_t buf[4096];
        if (sector_size > sizeof(buf) || lba > (file_size / sector_size) || (lba + 1) * sector_size > file_size)
                return 0;
        int r = pread_full(fd, buf, sector_size, lba * sector_size);
        if (r < 0)
                return r;
        if (memcmp(buf, GPT_SIGNATURE, 8) != 0)
                return 0;

        RawHeader h = {
                .header_size = le32(buf + 12),
                .my_lba = le64(buf + 24),
                .alternate_lba = le64(buf + 32),
                .first_usable = le64(buf + 40),
                .last_usable = le64(buf + 48),
                .entries_lba = le64(buf + 72),
                .n_entries = le32(buf + 80),
                .entry_size = le32(buf + 84),
                .entries_crc = le32(buf + 88),
        };
        if (h.header_size >= GPT_HEADER_MIN_SIZE && h.header_size <= sector_size) {
                uint32_t stored = le32(buf + 16);
                memset(buf + 16, 0, 4);
                h.header_crc_ok = gpt_crc32(buf, h.header_size) == stored;
        }
        *ret = h;
        return 1;
}

/* Where the entry array ends (bytes), or UINT64_MAX if the header's numbers are implausible. */
static uint64_t entries_end(const RawHeader *h, uint64_t sector_size) {
        uint64_t start, bytes = (uint64_t) h->n_entries * h->entry_size, end;
        if (h->entry_size < 128 || h->entry_size % 8 != 0 || h->n_entries == 0 || bytes > GPT_ENTRIES_MAX_BYTES)
                return UINT64_MAX;
        if (__builtin_mul_overflow(h->entries_lba, sector_size, &start) ||
            __builtin_add_overflow(start, bytes, &end))
                return UINT64_MAX;
        return end;
}

/* The entry array if it is within the file and its CRC matches; NULL otherwise (or on ENOMEM). */
static uint8_t *read_entries(int fd, const RawHeader *h, uint64_t sector_size, uint64_t file_size, bool *ret_crc_ok) {
        uint64_t end = entries_end(h, sector_size);
        *ret_crc_ok = false;
        if (end == UINT64_MAX || end > file_size)
                return NULL;
        size_t n = (size_t) h->n_entries * h->entry_size;
        uint8_t *e = malloc(n);
        if (!e)
                return NULL;
        if (pread_full(fd, e, n, h->entries_lba * sector_size) < 0)
                return mfree(e);
        *ret_crc_ok = gpt_crc32(e, n) == h->entries_crc;
        return e;
}

bool gpt_header_is_valid(int fd, uint64_t sector_size, uint64_t file_size, uint64_t lba) {
        RawHeader h;
        if (read_header(fd, sector_size, file_size, lba, &h) <= 0 || !h.header_crc_ok || h.my_lba != lba)
                return false;
        bool crc_ok;
        _cleanup_free_ uint8_t *e = read_entries(fd, &h, sector_size, file_size, &crc_ok);
        return e && crc_ok;
}

static bool has_protective_mbr(int fd) {
        uint8_t mbr[512];
        if (pread_full(fd, mbr, sizeof(mbr), 0) < 0 || mbr[510] != 0x55 || mbr[511] != 0xAA)
                return false;
        for (unsigned i = 0; i < 4; i++)
                if (mbr[446 + 16 * i + 4] == 0xEE)
                        return true;
        return false;
}

/* The first used entry (by number) that is inconsistent or reaches past the end of the file. */
static int check_entries(const uint8_t *e, const RawHeader *h, uint64_t sector_size, const char *path,
                         uint64_t file_size, GraftError *err) {
        static const uint8_t null_type[16];
        for (uint32_t i = 0; i < h->n_entries; i++) {
                const uint8_t *p = e + (size_t) i * h->entry_size;
                if (memcmp(p, null_type, 16) == 0)
                        continue;
                uint64_t start = le64(p + 32), last = le64(p + 40), end;
                if (last < start)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: partition %" PRIu32 " ends (sector %" PRIu64 ") before it starts (sector %" PRIu64 ")",
                                               path, i + 1, last, start);
                bool overflow = __builtin_add_overflow(last, 1, &end) ||
                                __builtin_mul_overflow(end, sector_size, &end);
                if (overflow || end > file_size)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: partition %" PRIu32 " ends at byte %" PRIu64 " but %s has only %" PRIu64 " bytes: truncated image?",
                                               path, i + 1, overflow ? UINT64_MAX : end, path, file_size);
        }
        return 0;
}

int gpt_diagnose(int fd, const char *path, uint64_t sector_size, uint64_t file_size, GraftError *err) {
        RawHeader h;
        int r = read_header(fd, sector_size, file_size, 1, &h);
        if (r <= 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT is damaged: neither its primary nor its backup header is valid",
                                       path);

        if (!h.header_crc_ok)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the primary GPT header is damaged (%s) and there is no valid backup header",
                                       path, h.header_size < GPT_HEADER_MIN_SIZE || h.header_size > sector_size ?
                                       "impossible header size" : "CRC mismatch");

        uint64_t end = entries_end(&h, sector_size);
        if (end == UINT64_MAX)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT header describes an impossible partition entry array (%" PRIu32 " entries of %" PRIu32 " bytes at sector %" PRIu64 ")",
                                       path, h.n_entries, h.entry_size, h.entries_lba);
        if (end > file_size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT partition entries end at byte %" PRIu64 " but %s has only %" PRIu64 " bytes: truncated image?",
                                       path, end, path, file_size);

        bool crc_ok;
        _cleanup_free_ uint8_t *e = read_entries(fd, &h, sector_size, file_size, &crc_ok);
        if (!e)
                return -ENOMEM;
        if (!crc_ok)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT partition entries are damaged (CRC mismatch) and there is no valid backup copy",
                                       path);

        r = check_entries(e, &h, sector_size, path, file_size, err);
        if (r < 0)
                return r;

        /* The header is intact but libfdisk's sanity checks refused it: the usable area or the
         * backup header lies beyond the end of the file, i.e. the file lost its tail. */
        uint64_t needed;
        bool overflow = __builtin_add_overflow(MAX(h.alternate_lba, h.last_usable), 1, &needed) ||
                        __builtin_mul_overflow(needed, sector_size, &needed);
        if (overflow || needed > file_size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT header describes a disk of at least %" PRIu64 " bytes but %s has only %" PRIu64 " bytes: truncated image?",
                                       path, overflow ? UINT64_MAX : needed, path, file_size);
        if (h.last_usable < h.first_usable || h.my_lba != 1)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: the GPT header is inconsistent (usable sectors %" PRIu64 "-%" PRIu64 ", own location %" PRIu64 ")",
                                       path, h.first_usable, h.last_usable, h.my_lba);
        if (!has_protective_mbr(fd))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: has a GPT header but no protective MBR in front of it", path);
        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                               "%s: libfdisk does not accept the GPT (damaged or inconsistent header)", path);
}
