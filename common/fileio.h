/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading and writing whole files and byte ranges; opening a file so that the open can neither
 * block nor touch anything but a file of the type the caller expects. */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include "error.h"
#include "macro.h"

/* pread/pwrite the whole range, retrying on EINTR and short counts. pread_full returns -EIO
 * (a "short read") if the file ends before the range does. */
int pread_full(int fd, void *buf, size_t n, uint64_t offset);
int pwrite_full(int fd, const void *buf, size_t n, uint64_t offset);

/* What a caller takes besides a regular file (FileOpen.accept). */
enum {
        FILE_ACCEPT_DIRECTORY = 1 << 0,
        FILE_ACCEPT_BLOCK = 1 << 1,
};

/* A file to open with file_open()/file_read(). */
typedef struct FileOpen {
        int dir_fd;             /* AT_FDCWD, or the directory path is relative to */
        const char *path;
        bool in_root;           /* dir_fd is a root: symlinks and ".." resolve inside it (open_in_root) */
        bool nofollow;          /* a symlink as the last component is refused */
        unsigned accept;        /* FILE_ACCEPT_*: what else than a regular file will do */
        int flags;              /* access mode and flags of the descriptor returned (O_RDONLY is 0) */
        const char *display;    /* how a message names the file; NULL: path */
        const char *error_name; /* the record's GRAFT_ERROR_* for a wrong type; NULL: GRAFT_ERROR_IO */
} FileOpen;

/* Opens a file graft is about to read (or, with flags, write) so that whatever it is, the open
 * cannot block and cannot act on a device: the path is opened O_PATH (which opens nothing), its
 * type checked with fstat, and only a regular file, or what accept allows, is then opened for
 * real, through that descriptor (the same inode, whatever was renamed meanwhile), with
 * O_NONBLOCK | O_NOCTTY (so a lease held by someone else is -EAGAIN, not a wait), O_NONBLOCK
 * being cleared afterwards unless flags asked for it. A FIFO, socket, device, directory, or (with
 * nofollow) symlink where it does not belong is refused: -EISDIR for a directory, -ELOOP for a
 * symlink, -EBADFD for the rest, with a record "DISPLAY is a FIFO, not a regular file". Every
 * other failure (-ENOENT, -EACCES…) is returned without a record, for the caller to word. Needs
 * /proc. Returns the descriptor (O_CLOEXEC). */
int file_open(const FileOpen *f, GraftError *err);
/* file_open() and read_full_fd(). */
int file_read(const FileOpen *f, size_t max, char **ret, size_t *ret_size, GraftError *err);

/* Refuses a file of the wrong type as file_open() does (0 if st is one it accepts). */
int stat_check_type(const struct stat *st, unsigned accept, const char *display, const char *error_name,
                    GraftError *err);
/* "a FIFO", "a socket", "a character device", "a block device", "a directory", "a symbolic
 * link", "a regular file". */
const char *file_type_name(mode_t mode);
/* Opens the inode an O_PATH descriptor (or any descriptor) refers to anew, with flags, through
 * /proc/self/fd: nothing is looked up by name again. */
int fd_reopen(int fd, int flags);

/* Reads a whole file (at most max bytes; -EFBIG beyond), NUL-terminated for convenience.
 * dir_fd may be AT_FDCWD. Opened with file_open(): anything but a regular file is refused
 * (-EBADFD, -EISDIR) without being opened. */
int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size);
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* Writes data to a temporary file next to path, fsyncs it and renames it over path. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Size of a regular file or block device. */
int fd_get_size(int fd, uint64_t *ret);

/* Number of CPUs this process may run on (at least 1). */
unsigned cpus_available(void);
