/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* squashfs through libsquashfs: reading files and directories of a squashfs that lies in a byte
 * range of an image (no mount, no privileges), and writing a squashfs from a directory tree
 * with all cores. libsquashfs error codes are translated to errno + message here, only here. */
#pragma once

#include <sys/types.h>
#include "error.h"
#include "progress.h"
#include "range.h"

typedef struct SquashfsReader SquashfsReader;

/* Opens the squashfs in range (which must lie within its file; range->fd is borrowed and must
 * stay open while the reader lives). Nothing outside the range is ever read. A bad superblock,
 * unsupported compressor, truncated image or damaged tables are -EBADMSG with
 * GRAFT_ERROR_BAD_IMAGE naming range->what. A reader is used by one thread at a time. */
int squashfs_reader_open(const ImageRange *range, SquashfsReader **ret, GraftError *err);
SquashfsReader *squashfs_reader_free(SquashfsReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(SquashfsReader *, squashfs_reader_free);

typedef struct SquashfsEntry {
        char *name;
        mode_t mode; /* type and permission bits */
        uint64_t size;
        char *link_target; /* symlinks only */
} SquashfsEntry;
void squashfs_entries_free(SquashfsEntry *e, size_t n);

/* Reads a regular file (absolute path inside the file system). Symlinks are followed inside the
 * image: absolute targets are taken relative to the image root, ".." stops at the root, at most
 * 32 links. -ENOENT (no record) if it does not exist; -EFBIG beyond max bytes; -EISDIR etc. */
int squashfs_read_file(SquashfsReader *r, const char *path, size_t max, char **ret, size_t *ret_size,
                       GraftError *err);

/* Reads the extended attribute key ("user.NAME", "trusted.NAME", "security.NAME") of path
 * (symlinks followed as above) as a string: -ENODATA (no record) when it has none, -ENOENT (no
 * record) when path does not exist. */
int squashfs_get_xattr(SquashfsReader *r, const char *path, const char *key, char **ret, GraftError *err);

/* Lists a directory (symlinks in path followed as above), sorted by name. An entry whose name is
 * not a safe file name (".", "..", empty, containing '/' or NUL) is -EBADMSG with a message naming
 * the directory and the name, non-printable bytes escaped as \xNN. size is the file size for
 * regular files and the target length for symlinks, 0 otherwise. */
int squashfs_list_dir(SquashfsReader *r, const char *path, SquashfsEntry **ret, size_t *ret_n,
                      GraftError *err);

/* Walks the whole tree once and refuses unsafe entry names (see above), directory loops, trees
 * deeper than 512 levels, directories of more than 2^20 entries and files whose data would lie
 * past the end of the file system. *ret_inodes: the entries walked, the root included. */
int squashfs_check_tree(SquashfsReader *r, uint64_t *ret_inodes, GraftError *err);

typedef enum SquashfsCompression {
        SQUASHFS_ZSTD,
        SQUASHFS_XZ,
        SQUASHFS_GZIP,
        SQUASHFS_LZ4,
        _SQUASHFS_COMPRESSION_MAX,
        _SQUASHFS_COMPRESSION_INVALID = -EINVAL,
} SquashfsCompression;
const char *squashfs_compression_to_string(SquashfsCompression c);
SquashfsCompression squashfs_compression_from_string(const char *s);
/* The levels a compression takes (libsquashfs's range and default); -EOPNOTSUPP: it has none (lz4). */
int squashfs_compression_levels(SquashfsCompression c, unsigned *ret_min, unsigned *ret_max, unsigned *ret_default);

typedef struct SquashfsWriteOptions {
        SquashfsCompression compression;
        bool have_level;        /* else the compression's default (squashfs_compression_levels()) */
        unsigned level;
        uint32_t block_size;    /* 0: 128 KiB */
        unsigned n_threads;     /* 0: one per CPU */
        /* Reproducibility: if set, the file system's mkfs time is this and every inode's mtime is
         * clamped to it (SOURCE_DATE_EPOCH). Otherwise mkfs time is now and mtimes are kept. */
        bool have_epoch;
        uint64_t epoch;
        ProgressFn progress;    /* bytes of file data read so far, of the tree's total */
        void *progress_userdata;
} SquashfsWriteOptions;

/* Writes a squashfs of the tree at src_dir to out_fd starting at out_offset (the file grows as
 * needed). Entries are sorted by name; regular files, directories, symlinks, device nodes, fifos
 * and sockets with their modes, owners and extended attributes (user.*, trusted.*, security.*:
 * squashfs has no room for others, such as POSIX ACLs in system.*); hard links are kept as such.
 * Symlinks are stored, never followed. Stores the number of bytes written (the file system size,
 * padded to 4 KiB) in *ret_size and returns 0. Errors name the source path
 * ("/src/usr/bin/x: Permission denied"); an unsupported compression is -EOPNOTSUPP. */
int squashfs_write_tree(const char *src_dir, int out_fd, uint64_t out_offset,
                        const SquashfsWriteOptions *o, uint64_t *ret_size, GraftError *err);
