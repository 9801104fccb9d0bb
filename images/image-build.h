/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building a Discoverable-Partitions image from a directory tree: squashfs data partition,
 * verity hash partition, optional signature partition, GPT. Deterministic: salt and UUIDs are
 * derived from the content, so the same tree and SOURCE_DATE_EPOCH give the same bytes. */
#pragma once

#include "dps.h"
#include "progress.h"
#include "squashfs.h"

typedef enum ImageType {
        IMAGE_TYPE_SYSEXT,
        IMAGE_TYPE_PORTABLE,
        _IMAGE_TYPE_MAX,
        _IMAGE_TYPE_INVALID = -EINVAL,
} ImageType;
const char *image_type_to_string(ImageType t);
ImageType image_type_from_string(const char *s);

typedef struct ImageBuildOptions {
        const char *source_dir;
        const char *output;          /* written to a temporary file, renamed into place at the end */
        const char *name;
        const char *version;
        ImageType type;
        Architecture arch;           /* _ARCHITECTURE_INVALID: native */
        PartitionDesignator designator; /* PARTITION_ROOT (default) or PARTITION_USR */
        SquashfsCompression compression;
        bool have_compression_level; /* else the compression's default */
        unsigned compression_level;
        const char *key_path;        /* both or neither */
        const char *cert_path;
        bool have_epoch;             /* SOURCE_DATE_EPOCH */
        uint64_t epoch;
        unsigned n_threads;          /* 0: one per CPU */
        ProgressFn progress;
        void *progress_userdata;
} ImageBuildOptions;

typedef struct ImageBuildResult {
        char root_hash_hex[2 * 64 + 1];
        uint64_t image_size;
        uint64_t data_size;
        uint64_t hash_size;
        bool signed_;
} ImageBuildResult;

/* Checks name, version, label length and the tree's release file before anything is written. */
int image_build_check(const ImageBuildOptions *o, GraftError *err);
int image_build(const ImageBuildOptions *o, ImageBuildResult *ret, GraftError *err);

/* Salt and UUIDs are derived with SHA-256 over a purpose string and inputs, so that builds are
 * reproducible; exposed for sign, which adds a signature partition the same way. */
void derive_bytes(const char *purpose, const void *a, size_t a_size, const void *b, size_t b_size,
                  uint8_t out[static 32]);
