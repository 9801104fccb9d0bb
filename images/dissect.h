/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dissecting an image: which data partition to use (root or usr for an architecture), its verity
 * and signature partitions; or a bare squashfs/erofs file or a directory with sidecar files
 * (NAME.roothash, NAME.roothash.p7s, NAME.verity). Probe only: nothing is hashed or mounted. */
#pragma once

#include "dps.h"
#include "gpt.h"
#include "range.h"

typedef enum ImageKind {
        IMAGE_KIND_GPT,
        IMAGE_KIND_FILE_SYSTEM, /* a bare squashfs or erofs file */
        IMAGE_KIND_DIRECTORY,
} ImageKind;
/* "gpt", "file-system", "directory" */
const char *image_kind_to_string(ImageKind k);

typedef enum FsType {
        FS_TYPE_UNKNOWN,
        FS_TYPE_SQUASHFS,
        FS_TYPE_EROFS,
        FS_TYPE_EXT4,
        FS_TYPE_BTRFS,
        FS_TYPE_XFS,
        FS_TYPE_VFAT,
        FS_TYPE_VERITY, /* a verity hash area (superblock "verity") */
} FsType;
/* "squashfs", "erofs", …; "unknown" for FS_TYPE_UNKNOWN. */
const char *fs_type_to_string(FsType t);
/* Looks at the magic numbers at the start of a range (FS_TYPE_UNKNOWN if none matches; reading
 * past the end of the file is -EIO). */
int fs_type_probe(const ImageRange *range, FsType *ret);

typedef struct DissectedPartition {
        bool found;       /* when false, designator and arch are invalid and the rest empty */
        unsigned partno; /* 1-based GPT number; 0 for bare files and sidecars */
        PartitionDesignator designator; /* a bare file system counts as root */
        Architecture arch;              /* _ARCHITECTURE_INVALID for bare files and directories */
        ImageRange range; /* fd borrowed from the DissectedImage */
        char what[64];    /* "partition 1", "file foo.verity": range.what points here */
        Uuid type, uuid;
        char *label;
        char *version;    /* label's part after the first '_', if any */
        uint64_t attrs;
        FsType fstype;    /* probed, data partitions only */
} DissectedPartition;

typedef struct DissectedImage {
        char *path;
        char *name;     /* image name: label's part before '_', or file name without ".raw" */
        char *version;  /* from the data partition's label (GPT) or NULL */
        ImageKind kind;
        int fd;         /* the image file, or the directory */
        uint64_t size;
        GptTable *table; /* GPT images: every partition, for inspect */

        DissectedPartition data;      /* root or usr */
        DissectedPartition verity;    /* its hash partition, or the NAME.verity sidecar */
        DissectedPartition signature; /* its signature partition (JSON) */

        int sidecar_verity_fd;        /* NAME.verity, or -EBADF */
        char *sidecar_root_hash;      /* NAME.roothash content (hex), or NULL */
        uint8_t *sidecar_p7s;         /* NAME.roothash.p7s (DER PKCS#7), or NULL */
        size_t sidecar_p7s_size;
        bool untrusted_ok;            /* DissectOptions.untrusted_ok, for the sidecars */
} DissectedImage;

typedef struct DissectOptions {
        /* _ARCHITECTURE_INVALID: the native architecture, else any other one found.
         * Otherwise exactly this architecture. */
        Architecture arch;
        /* Only look at usr partitions (not root), e.g. for sysext images built that way. */
        bool usr_only;
        /* Accept image files (and NAME.verity sidecars) that somebody else could change (see
         * file-trust.h): for graft-image, which inspects and checks files without using them.
         * Otherwise such a file is refused (GRAFT_ERROR_POLICY) before anything in it is read. */
        bool untrusted_ok;
} DissectOptions;

/* Probes the image at path. Architectures are tried in order (the native one, its secondary, then
 * the rest; or only opts->arch), and for each root before usr. Among several data partitions of
 * one designator and architecture the newest label (version_compare() on the whole label) wins.
 * The verity and signature partitions must have the data partition's architecture; among several
 * the one with the data partition's label wins, else the first on disk. Partitions flagged
 * no-auto (63) and partitions labelled "_empty" are skipped. A verity partition in the image
 * takes precedence over a NAME.verity sidecar (whose fd is kept in sidecar_verity_fd anyway).
 * Errors name the image: "foo.raw: no root or usr partition for x86-64 (found: esp, usr-arm64)"
 * (-ENXIO, GRAFT_ERROR_BAD_IMAGE). Unknown image formats are -EMEDIUMTYPE with
 * GRAFT_ERROR_BAD_IMAGE; a missing path is -ENOENT with GRAFT_ERROR_NO_SUCH_IMAGE; bad sidecar
 * files are -EBADMSG/-EFBIG with GRAFT_ERROR_BAD_IMAGE naming the sidecar. opts may be NULL. */
int dissect_image(const char *path, const DissectOptions *opts, DissectedImage **ret, GraftError *err);
DissectedImage *dissected_image_free(DissectedImage *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(DissectedImage *, dissected_image_free);

/* Splits a partition label "NAME_VERSION" at the first '_'. The version is NULL without '_'.
 * Either out-parameter may be NULL. */
int label_split(const char *label, char **ret_name, char **ret_version);

/* Internal, in dissect-sidecar.c: loads NAME.roothash, NAME.roothash.p7s and NAME.verity next to
 * d->path (".raw" stripped) into d. */
int dissect_load_sidecars(DissectedImage *d, GraftError *err);
