/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between the squashfs reader and writer files only: the one translation of libsquashfs
 * error codes, the in-memory tree the writer builds from the source directory, and the probing
 * compressor the writer hands to the block processor. */
#pragma once

#include <stdatomic.h>
#include <sys/stat.h>
#include <sqfs/predef.h>

#include "error.h"

/* SQFS_ERROR_* → negative errno. */
int squashfs_error_to_errno(int sqfs_err);
/* SQFS_ERROR_* → a short lower-case description ("corrupted metadata"). */
const char *squashfs_error_to_string(int sqfs_err);
/* Fills err with "<format>: <description of sqfs_err>" under name and returns the errno. */
int squashfs_error_set(GraftError *err, int sqfs_err, const char *name, const char *format, ...)
        _printf_(4, 5);

/* The largest symlink target we accept or write (PATH_MAX - 1). */
#define SQUASHFS_MAX_LINK_TARGET 4095u
#define SQUASHFS_NO_XATTRS UINT32_C(0xFFFFFFFF)

/* One inode of the source tree; hard links share it. */
typedef struct SourceInode {
        mode_t mode;
        uid_t uid;
        gid_t gid;
        uint32_t mtime;
        uint64_t size;          /* regular files */
        dev_t rdev;             /* device nodes */
        dev_t dev;              /* where it lives in the source, to recognise hard links and */
        ino_t ino;              /* to notice a file replaced between scan and read */
        char *link_target;      /* symlinks */
        uint32_t xattr_idx;     /* token from the xattr writer, or SQUASHFS_NO_XATTRS */
        uint32_t nlink;         /* entries pointing at it inside the image */
        uint32_t number;        /* squashfs inode number, 1-based, assigned before writing */
        uint64_t ref;           /* position in the inode table, once written */
        bool written;
        bool fed;               /* data handed to the block processor */
        sqfs_inode_generic_t *file_inode; /* regular files: kept up to date by the block processor */
} SourceInode;

typedef struct SourceNode {
        char *name;             /* NULL for the root */
        SourceInode *inode;
        struct SourceNode *children; /* directories: sorted by name (strcmp) */
        size_t n_children;
        size_t n_subdirs;
} SourceNode;

typedef struct SourceTree {
        SourceNode root;
        uint32_t n_inodes;      /* distinct inodes */
        uint64_t total_bytes;   /* data of distinct regular files */
} SourceTree;

typedef struct SourceScanOptions {
        bool have_epoch;        /* clamp every mtime to epoch */
        uint64_t epoch;
        sqfs_xattr_writer_t *xattrs; /* receives the extended attributes of each inode */
} SourceScanOptions;

/* Walks the tree below src_fd (named src_path in messages) without following symlinks and
 * fills *ret. Errors name the source path ("/src/usr/bin/x: Permission denied"). */
int source_tree_scan(int src_fd, const char *src_path, const SourceScanOptions *o, SourceTree *ret,
                     GraftError *err);
void source_tree_done(SourceTree *t);

/* What the incompressibility probe did, summed over all copies of one probing compressor. */
typedef struct SquashfsProbeStats {
        _Atomic uint64_t blocks;        /* blocks handed to the compressor */
        _Atomic uint64_t probed;        /* of those, looked random and were tried with zstd -1 */
        _Atomic uint64_t stored;        /* of those, stored uncompressed without the real compressor */
        _Atomic uint64_t stored_bytes;
} SquashfsProbeStats;

/* A compressor for the block processor's data blocks that behaves like real (of which it takes
 * its own copy; real stays the caller's) but stores blocks that even zstd -1 cannot shrink by
 * 1/32 uncompressed, without running real on them (see squashfs-compressor.c for why that is
 * safe). Copies made with sqfs_copy() share stats, which may be NULL. Returns 0 or SQFS_ERROR_*. */
int squashfs_probe_compressor_new(const sqfs_compressor_t *real, uint32_t block_size, SquashfsProbeStats *stats,
                                  sqfs_compressor_t **ret);
/* The probe's first, cheap stage: whether a sample of the bytes looks random (≥ 7 bits/byte). */
bool squashfs_block_looks_random(const uint8_t *data, size_t size);
