/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading and writing whole files and byte ranges. */
#pragma once

#include <sys/types.h>
#include "macro.h"

/* pread/pwrite the whole range, retrying on EINTR and short counts. pread_full returns -EIO
 * (a "short read") if the file ends before the range does. */
int pread_full(int fd, void *buf, size_t n, uint64_t offset);
int pwrite_full(int fd, const void *buf, size_t n, uint64_t offset);

/* Reads a whole file (at most max bytes; -EFBIG beyond), NUL-terminated for convenience.
 * dir_fd may be AT_FDCWD. */
int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size);
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* Writes data to a temporary file next to path, fsyncs it and renames it over path. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Size of a regular file or block device. */
int fd_get_size(int fd, uint64_t *ret);

/* Number of CPUs this process may run on (at least 1). */
unsigned cpus_available(void);
