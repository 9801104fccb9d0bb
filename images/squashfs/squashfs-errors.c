/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one place where libsquashfs error codes (SQFS_ERROR_*) become an errno and a message. */
#include <stdarg.h>
#include <stdio.h>
#include <sqfs/error.h>

#include "squashfs-internal.h"

static const struct {
        int sqfs;
        int errnum;
        const char *text;
} sqfs_errors[] = {
        { SQFS_ERROR_ALLOC, ENOMEM, "out of memory" },
        { SQFS_ERROR_IO, EIO, "input/output error" },
        { SQFS_ERROR_COMPRESSOR, EBADMSG, "compressed data is corrupt or could not be compressed" },
        { SQFS_ERROR_INTERNAL, EPROTO, "internal error in libsquashfs" },
        { SQFS_ERROR_CORRUPTED, EBADMSG, "corrupted metadata" },
        { SQFS_ERROR_UNSUPPORTED, EOPNOTSUPP, "unsupported feature" },
        { SQFS_ERROR_OVERFLOW, EBADMSG, "a size or count overflows (corrupt or hostile file system)" },
        { SQFS_ERROR_OUT_OF_BOUNDS, EBADMSG, "a reference points outside the file system" },
        { SFQS_ERROR_SUPER_MAGIC, EBADMSG, "no squashfs magic in the superblock" },
        { SFQS_ERROR_SUPER_VERSION, EBADMSG, "unsupported squashfs version" },
        { SQFS_ERROR_SUPER_BLOCK_SIZE, EBADMSG, "invalid block size in the superblock" },
        { SQFS_ERROR_NOT_DIR, ENOTDIR, "not a directory" },
        { SQFS_ERROR_NO_ENTRY, ENOENT, "no such file or directory" },
        { SQFS_ERROR_LINK_LOOP, ELOOP, "hard link loop" },
        { SQFS_ERROR_NOT_FILE, EINVAL, "not a regular file" },
        { SQFS_ERROR_ARG_INVALID, EINVAL, "invalid argument" },
        { SQFS_ERROR_SEQUENCE, EINVAL, "operations called in the wrong order" },
};

int squashfs_error_to_errno(int sqfs_err) {
        for (size_t i = 0; i < ELEMENTSOF(sqfs_errors); i++)
                if (sqfs_errors[i].sqfs == sqfs_err)
                        return -sqfs_errors[i].errnum;
        return -EIO;
}

const char *squashfs_error_to_string(int sqfs_err) {
        for (size_t i = 0; i < ELEMENTSOF(sqfs_errors); i++)
                if (sqfs_errors[i].sqfs == sqfs_err)
                        return sqfs_errors[i].text;
        return "unknown libsquashfs error";
}

int squashfs_error_set(GraftError *err, int sqfs_err, const char *name, const char *format, ...) {
        int r = squashfs_error_to_errno(sqfs_err);
        if (!err || err->name)
                return r;

        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&prefix, format, ap);
        va_end(ap);
        if (k < 0)
                prefix = NULL;

        return graft_error_set(err, r, name, "%s: %s", strna(prefix), squashfs_error_to_string(sqfs_err));
}
