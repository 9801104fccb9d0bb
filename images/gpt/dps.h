/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Discoverable Partitions Specification: partition type UUIDs for every architecture and
 * designator, and the running architecture. */
#pragma once

#include "uuid.h"

typedef enum Architecture {
        ARCHITECTURE_ALPHA,
        ARCHITECTURE_ARC,
        ARCHITECTURE_ARM,
        ARCHITECTURE_ARM64,
        ARCHITECTURE_IA64,
        ARCHITECTURE_LOONGARCH64,
        ARCHITECTURE_MIPS,
        ARCHITECTURE_MIPS_LE,
        ARCHITECTURE_MIPS64,
        ARCHITECTURE_MIPS64_LE,
        ARCHITECTURE_PARISC,
        ARCHITECTURE_PPC,
        ARCHITECTURE_PPC64,
        ARCHITECTURE_PPC64_LE,
        ARCHITECTURE_RISCV32,
        ARCHITECTURE_RISCV64,
        ARCHITECTURE_S390,
        ARCHITECTURE_S390X,
        ARCHITECTURE_TILEGX,
        ARCHITECTURE_X86,
        ARCHITECTURE_X86_64,
        _ARCHITECTURE_MAX,
        _ARCHITECTURE_INVALID = -EINVAL,
} Architecture;

typedef enum PartitionDesignator {
        PARTITION_ROOT,
        PARTITION_USR,
        PARTITION_ROOT_VERITY,
        PARTITION_USR_VERITY,
        PARTITION_ROOT_VERITY_SIG,
        PARTITION_USR_VERITY_SIG,
        PARTITION_ESP,
        PARTITION_XBOOTLDR,
        PARTITION_SWAP,
        PARTITION_HOME,
        PARTITION_SRV,
        PARTITION_VAR,
        PARTITION_TMP,
        PARTITION_USER_HOME,
        PARTITION_LINUX_GENERIC,
        _PARTITION_DESIGNATOR_MAX,
        _PARTITION_DESIGNATOR_INVALID = -EINVAL,
} PartitionDesignator;

/* "x86-64", "arm64", … as systemd spells them (and uname-independent). */
const char *architecture_to_string(Architecture a);
Architecture architecture_from_string(const char *s);
/* The architecture this program runs on. */
Architecture architecture_native(void);
/* The 32-bit architecture a 64-bit one also runs (x86-64 → x86, arm64 → arm; what systemd calls
 * "secondary"), or _ARCHITECTURE_INVALID. */
Architecture architecture_secondary(Architecture a);

/* "root", "usr-verity", "root-verity-sig", "esp", … */
const char *partition_designator_to_string(PartitionDesignator d);
PartitionDesignator partition_designator_from_string(const char *s);

/* root → root-verity, usr → usr-verity; anything else → _PARTITION_DESIGNATOR_INVALID. */
PartitionDesignator partition_verity_of(PartitionDesignator d);
/* root → root-verity-sig, usr → usr-verity-sig. */
PartitionDesignator partition_verity_sig_of(PartitionDesignator d);
/* root-verity, root-verity-sig → root; usr-verity, usr-verity-sig → usr; else invalid. */
PartitionDesignator partition_data_of(PartitionDesignator d);
/* Whether a designator is per-architecture (root, usr and their verity partitions). */
bool partition_designator_has_arch(PartitionDesignator d);

typedef struct DpsType {
        PartitionDesignator designator;
        Architecture arch; /* _ARCHITECTURE_INVALID for designators without one */
        Uuid uuid;
} DpsType;

/* The table entry for a type UUID, or NULL for a type the spec does not know. */
const DpsType *dps_type_from_uuid(const Uuid *type);
/* The type UUID of a designator (for an architecture where it has one). NULL if none. */
const DpsType *dps_type_find(PartitionDesignator d, Architecture a);
/* The name systemd-id128 prints for an entry: "root-x86-64", "usr-arm64-verity-sig", "esp". */
void dps_type_name(const DpsType *t, char *buf, size_t size);
/* The whole table (for tests and listings); returns the number of entries. */
size_t dps_table_get(const DpsType **ret);
