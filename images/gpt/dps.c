/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the Discoverable Partitions table (type UUID per designator and architecture), the
 * architecture and designator names, and which architecture this program was built for. The
 * table was generated from `systemd-id128 show`; test-dps compares it with that output. */
#include <string.h>

#include "dps.h"

static const char *const architecture_names[_ARCHITECTURE_MAX] = {
        [ARCHITECTURE_ALPHA] = "alpha",
        [ARCHITECTURE_ARC] = "arc",
        [ARCHITECTURE_ARM] = "arm",
        [ARCHITECTURE_ARM64] = "arm64",
        [ARCHITECTURE_IA64] = "ia64",
        [ARCHITECTURE_LOONGARCH64] = "loongarch64",
        [ARCHITECTURE_MIPS] = "mips",
        [ARCHITECTURE_MIPS_LE] = "mips-le",
        [ARCHITECTURE_MIPS64] = "mips64",
        [ARCHITECTURE_MIPS64_LE] = "mips64-le",
        [ARCHITECTURE_PARISC] = "parisc",
        [ARCHITECTURE_PPC] = "ppc",
        [ARCHITECTURE_PPC64] = "ppc64",
        [ARCHITECTURE_PPC64_LE] = "ppc64-le",
        [ARCHITECTURE_RISCV32] = "riscv32",
        [ARCHITECTURE_RISCV64] = "riscv64",
        [ARCHITECTURE_S390] = "s390",
        [ARCHITECTURE_S390X] = "s390x",
        [ARCHITECTURE_TILEGX] = "tilegx",
        [ARCHITECTURE_X86] = "x86",
        [ARCHITECTURE_X86_64] = "x86-64",
};

static const char *const designator_names[_PARTITION_DESIGNATOR_MAX] = {
        [PARTITION_ROOT] = "root",
        [PARTITION_USR] = "usr",
        [PARTITION_ROOT_VERITY] = "root-verity",
        [PARTITION_USR_VERITY] = "usr-verity",
        [PARTITION_ROOT_VERITY_SIG] = "root-verity-sig",
        [PARTITION_USR_VERITY_SIG] = "usr-verity-sig",
        [PARTITION_ESP] = "esp",
        [PARTITION_XBOOTLDR] = "xbootldr",
        [PARTITION_SWAP] = "swap",
        [PARTITION_HOME] = "home",
        [PARTITION_SRV] = "srv",
        [PARTITION_VAR] = "var",
        [PARTITION_TMP] = "tmp",
        [PARTITION_USER_HOME] = "user-home",
        [PARTITION_LINUX_GENERIC] = "linux-generic",
};

const char *architecture_to_string(Architecture a) {
        if (a < 0 || a >= _ARCHITECTURE_MAX)
                return NULL;
        return architecture_names[a];
}

Architecture architecture_from_string(const char *s) {
        if (!s)
                return _ARCHITECTURE_INVALID;
        for (Architecture a = 0; a < _ARCHITECTURE_MAX; a++)
                if (streq(architecture_names[a], s))
                        return a;
        return _ARCHITECTURE_INVALID;
}

Architecture architecture_native(void) {
#if defined(__x86_64__)
        return ARCHITECTURE_X86_64;
#elif defined(__i386__)
        return ARCHITECTURE_X86;
#elif defined(__aarch64__)
        return ARCHITECTURE_ARM64;
#elif defined(__arm__)
        return ARCHITECTURE_ARM;
#elif defined(__alpha__)
        return ARCHITECTURE_ALPHA;
#elif defined(__arc__)
        return ARCHITECTURE_ARC;
#elif defined(__ia64__)
        return ARCHITECTURE_IA64;
#elif defined(__loongarch64)
        return ARCHITECTURE_LOONGARCH64;
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return ARCHITECTURE_MIPS64_LE;
#elif defined(__mips64)
        return ARCHITECTURE_MIPS64;
#elif defined(__mips__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return ARCHITECTURE_MIPS_LE;
#elif defined(__mips__)
        return ARCHITECTURE_MIPS;
#elif defined(__hppa__)
        return ARCHITECTURE_PARISC;
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return ARCHITECTURE_PPC64_LE;
#elif defined(__powerpc64__)
        return ARCHITECTURE_PPC64;
#elif defined(__powerpc__)
        return ARCHITECTURE_PPC;
#elif defined(__riscv) && __riscv_xlen == 64
        return ARCHITECTURE_RISCV64;
#elif defined(__riscv) && __riscv_xlen == 32
        return ARCHITECTURE_RISCV32;
#elif defined(__s390x__)
        return ARCHITECTURE_S390X;
#elif defined(__s390__)
        return ARCHITECTURE_S390;
#elif defined(__tilegx__)
        return ARCHITECTURE_TILEGX;
#else
#  error "Unknown architecture: add it to dps.h and dps.c"
#endif
}

Architecture architecture_secondary(Architecture a) {
        /* The 32-bit sibling a 64-bit kernel can run too; what systemd calls "secondary". */
        switch (a) {
        case ARCHITECTURE_X86_64:
                return ARCHITECTURE_X86;
        case ARCHITECTURE_ARM64:
                return ARCHITECTURE_ARM;
        default:
                return _ARCHITECTURE_INVALID;
        }
}

const char *partition_designator_to_string(PartitionDesignator d) {
        if (d < 0 || d >= _PARTITION_DESIGNATOR_MAX)
                return NULL;
        return designator_names[d];
}

PartitionDesignator partition_designator_from_string(const char *s) {
        if (!s)
                return _PARTITION_DESIGNATOR_INVALID;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++)
                if (streq(designator_names[d], s))
                        return d;
        return _PARTITION_DESIGNATOR_INVALID;
}

PartitionDesignator partition_verity_of(PartitionDesignator d) {
        switch (d) {
        case PARTITION_ROOT:
                return PARTITION_ROOT_VERITY;
        case PARTITION_USR:
                return PARTITION_USR_VERITY;
        default:
                return _PARTITION_DESIGNATOR_INVALID;
        }
}

PartitionDesignator partition_verity_sig_of(PartitionDesignator d) {
        switch (d) {
        case PARTITION_ROOT:
                return PARTITION_ROOT_VERITY_SIG;
        case PARTITION_USR:
                return PARTITION_USR_VERITY_SIG;
        default:
                return _PARTITION_DESIGNATOR_INVALID;
        }
}

PartitionDesignator partition_data_of(PartitionDesignator d) {
        switch (d) {
        case PARTITION_ROOT_VERITY:
        case PARTITION_ROOT_VERITY_SIG:
                return PARTITION_ROOT;
        case PARTITION_USR_VERITY:
        case PARTITION_USR_VERITY_SIG:
                return PARTITION_USR;
        default:
                return _PARTITION_DESIGNATOR_INVALID;
        }
}

bool partition_designator_has_arch(PartitionDesignator d) {
        return partition_data_of(d) >= 0 || d == PARTITION_ROOT || d == PARTITION_USR;
}

/* Type UUIDs in string byte order, written as the five dash-separated groups. */
#define U(a, b, c, d, e)                                                                        \
        { { (uint8_t) ((a) >> 24), (uint8_t) ((a) >> 16), (uint8_t) ((a) >> 8), (uint8_t) (a),   \
            (uint8_t) ((b) >> 8), (uint8_t) (b), (uint8_t) ((c) >> 8), (uint8_t) (c),             \
            (uint8_t) ((d) >> 8), (uint8_t) (d), (uint8_t) ((e) >> 40), (uint8_t) ((e) >> 32),    \
            (uint8_t) ((e) >> 24), (uint8_t) ((e) >> 16), (uint8_t) ((e) >> 8), (uint8_t) (e) } }

static const DpsType dps_table[] = {
        { PARTITION_ROOT, ARCHITECTURE_ALPHA, U(0x6523f8ae, 0x3eb1, 0x4e2a, 0xa05a, 0x18b695ae656f) },
        { PARTITION_USR, ARCHITECTURE_ALPHA, U(0xe18cf08c, 0x33ec, 0x4c0d, 0x8246, 0xc6c6fb3da024) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_ALPHA, U(0xfc56d9e9, 0xe6e5, 0x4c06, 0xbe32, 0xe74407ce09a5) },
        { PARTITION_USR_VERITY, ARCHITECTURE_ALPHA, U(0x8cce0d25, 0xc0d0, 0x4a44, 0xbd87, 0x46331bf1df67) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_ALPHA, U(0xd46495b7, 0xa053, 0x414f, 0x80f7, 0x700c99921ef8) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_ALPHA, U(0x5c6e1c76, 0x076a, 0x457a, 0xa0fe, 0xf3b4cd21ce6e) },
        { PARTITION_ROOT, ARCHITECTURE_ARC, U(0xd27f46ed, 0x2919, 0x4cb8, 0xbd25, 0x9531f3c16534) },
        { PARTITION_USR, ARCHITECTURE_ARC, U(0x7978a683, 0x6316, 0x4922, 0xbbee, 0x38bff5a2fecc) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_ARC, U(0x24b2d975, 0x0f97, 0x4521, 0xafa1, 0xcd531e421b8d) },
        { PARTITION_USR_VERITY, ARCHITECTURE_ARC, U(0xfca0598c, 0xd880, 0x4591, 0x8c16, 0x4eda05c7347c) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_ARC, U(0x143a70ba, 0xcbd3, 0x4f06, 0x919f, 0x6c05683a78bc) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_ARC, U(0x94f9a9a1, 0x9971, 0x427a, 0xa400, 0x50cb297f0f35) },
        { PARTITION_ROOT, ARCHITECTURE_ARM, U(0x69dad710, 0x2ce4, 0x4e3c, 0xb16c, 0x21a1d49abed3) },
        { PARTITION_USR, ARCHITECTURE_ARM, U(0x7d0359a3, 0x02b3, 0x4f0a, 0x865c, 0x654403e70625) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_ARM, U(0x7386cdf2, 0x203c, 0x47a9, 0xa498, 0xf2ecce45a2d6) },
        { PARTITION_USR_VERITY, ARCHITECTURE_ARM, U(0xc215d751, 0x7bcd, 0x4649, 0xbe90, 0x6627490a4c05) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_ARM, U(0x42b0455f, 0xeb11, 0x491d, 0x98d3, 0x56145ba9d037) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_ARM, U(0xd7ff812f, 0x37d1, 0x4902, 0xa810, 0xd76ba57b975a) },
        { PARTITION_ROOT, ARCHITECTURE_ARM64, U(0xb921b045, 0x1df0, 0x41c3, 0xaf44, 0x4c6f280d3fae) },
        { PARTITION_USR, ARCHITECTURE_ARM64, U(0xb0e01050, 0xee5f, 0x4390, 0x949a, 0x9101b17104e9) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_ARM64, U(0xdf3300ce, 0xd69f, 0x4c92, 0x978c, 0x9bfb0f38d820) },
        { PARTITION_USR_VERITY, ARCHITECTURE_ARM64, U(0x6e11a4e7, 0xfbca, 0x4ded, 0xb9e9, 0xe1a512bb664e) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_ARM64, U(0x6db69de6, 0x29f4, 0x4758, 0xa7a5, 0x962190f00ce3) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_ARM64, U(0xc23ce4ff, 0x44bd, 0x4b00, 0xb2d4, 0xb41b3419e02a) },
        { PARTITION_ROOT, ARCHITECTURE_IA64, U(0x993d8d3d, 0xf80e, 0x4225, 0x855a, 0x9daf8ed7ea97) },
        { PARTITION_USR, ARCHITECTURE_IA64, U(0x4301d2a6, 0x4e3b, 0x4b2a, 0xbb94, 0x9e0b2c4225ea) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_IA64, U(0x86ed10d5, 0xb607, 0x45bb, 0x8957, 0xd350f23d0571) },
        { PARTITION_USR_VERITY, ARCHITECTURE_IA64, U(0x6a491e03, 0x3be7, 0x4545, 0x8e38, 0x83320e0ea880) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_IA64, U(0xe98b36ee, 0x32ba, 0x4882, 0x9b12, 0x0ce14655f46a) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_IA64, U(0x8de58bc2, 0x2a43, 0x460d, 0xb14e, 0xa76e4a17b47f) },
        { PARTITION_ROOT, ARCHITECTURE_LOONGARCH64, U(0x77055800, 0x792c, 0x4f94, 0xb39a, 0x98c91b762bb6) },
        { PARTITION_USR, ARCHITECTURE_LOONGARCH64, U(0xe611c702, 0x575c, 0x4cbe, 0x9a46, 0x434fa0bf7e3f) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_LOONGARCH64, U(0xf3393b22, 0xe9af, 0x4613, 0xa948, 0x9d3bfbd0c535) },
        { PARTITION_USR_VERITY, ARCHITECTURE_LOONGARCH64, U(0xf46b2c26, 0x59ae, 0x48f0, 0x9106, 0xc50ed47f673d) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_LOONGARCH64, U(0x5afb67eb, 0xecc8, 0x4f85, 0xae8e, 0xac1e7c50e7d0) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_LOONGARCH64, U(0xb024f315, 0xd330, 0x444c, 0x8461, 0x44bbde524e99) },
        { PARTITION_ROOT, ARCHITECTURE_MIPS, U(0xe9434544, 0x6e2c, 0x47cc, 0xbae2, 0x12d6deafb44c) },
        { PARTITION_USR, ARCHITECTURE_MIPS, U(0x773b2abc, 0x2a99, 0x4398, 0x8bf5, 0x03baac40d02b) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_MIPS, U(0x7a430799, 0xf711, 0x4c7e, 0x8e5b, 0x1d685bd48607) },
        { PARTITION_USR_VERITY, ARCHITECTURE_MIPS, U(0x6e5a1bc8, 0xd223, 0x49b7, 0xbca8, 0x37a5fcceb996) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_MIPS, U(0xbba210a2, 0x9c5d, 0x45ee, 0x9e87, 0xff2ccbd002d0) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_MIPS, U(0x97ae158d, 0xf216, 0x497b, 0x8057, 0xf7f905770f54) },
        { PARTITION_ROOT, ARCHITECTURE_MIPS_LE, U(0x37c58c8a, 0xd913, 0x4156, 0xa25f, 0x48b1b64e07f0) },
        { PARTITION_USR, ARCHITECTURE_MIPS_LE, U(0x0f4868e9, 0x9952, 0x4706, 0x979f, 0x3ed3a473e947) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_MIPS_LE, U(0xd7d150d2, 0x2a04, 0x4a33, 0x8f12, 0x16651205ff7b) },
        { PARTITION_USR_VERITY, ARCHITECTURE_MIPS_LE, U(0x46b98d8d, 0xb55c, 0x4e8f, 0xaab3, 0x37fca7f80752) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_MIPS_LE, U(0xc919cc1f, 0x4456, 0x4eff, 0x918c, 0xf75e94525ca5) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_MIPS_LE, U(0x3e23ca0b, 0xa4bc, 0x4b4e, 0x8087, 0x5ab6a26aa8a9) },
        { PARTITION_ROOT, ARCHITECTURE_MIPS64, U(0xd113af76, 0x80ef, 0x41b4, 0xbdb6, 0x0cff4d3d4a25) },
        { PARTITION_USR, ARCHITECTURE_MIPS64, U(0x57e13958, 0x7331, 0x4365, 0x8e6e, 0x35eeee17c61b) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_MIPS64, U(0x579536f8, 0x6a33, 0x4055, 0xa95a, 0xdf2d5e2c42a8) },
        { PARTITION_USR_VERITY, ARCHITECTURE_MIPS64, U(0x81cf9d90, 0x7458, 0x4df4, 0x8dcf, 0xc8a3a404f09b) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_MIPS64, U(0x43ce94d4, 0x0f3d, 0x4999, 0x8250, 0xb9deafd98e6e) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_MIPS64, U(0x05816ce2, 0xdd40, 0x4ac6, 0xa61d, 0x37d32dc1ba7d) },
        { PARTITION_ROOT, ARCHITECTURE_MIPS64_LE, U(0x700bda43, 0x7a34, 0x4507, 0xb179, 0xeeb93d7a7ca3) },
        { PARTITION_USR, ARCHITECTURE_MIPS64_LE, U(0xc97c1f32, 0xba06, 0x40b4, 0x9f22, 0x236061b08aa8) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_MIPS64_LE, U(0x16b417f8, 0x3e06, 0x4f57, 0x8dd2, 0x9b5232f41aa6) },
        { PARTITION_USR_VERITY, ARCHITECTURE_MIPS64_LE, U(0x3c3d61fe, 0xb5f3, 0x414d, 0xbb71, 0x8739a694a4ef) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_MIPS64_LE, U(0x904e58ef, 0x5c65, 0x4a31, 0x9c57, 0x6af5fc7c5de7) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_MIPS64_LE, U(0xf2c2c7ee, 0xadcc, 0x4351, 0xb5c6, 0xee9816b66e16) },
        { PARTITION_ROOT, ARCHITECTURE_PARISC, U(0x1aacdb3b, 0x5444, 0x4138, 0xbd9e, 0xe5c2239b2346) },
        { PARTITION_USR, ARCHITECTURE_PARISC, U(0xdc4a4480, 0x6917, 0x4262, 0xa4ec, 0xdb9384949f25) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_PARISC, U(0xd212a430, 0xfbc5, 0x49f9, 0xa983, 0xa7feef2b8d0e) },
        { PARTITION_USR_VERITY, ARCHITECTURE_PARISC, U(0x5843d618, 0xec37, 0x48d7, 0x9f12, 0xcea8e08768b2) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_PARISC, U(0x15de6170, 0x65d3, 0x431c, 0x916e, 0xb0dcd8393f25) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_PARISC, U(0x450dd7d1, 0x3224, 0x45ec, 0x9cf2, 0xa43a346d71ee) },
        { PARTITION_ROOT, ARCHITECTURE_PPC, U(0x1de3f1ef, 0xfa98, 0x47b5, 0x8dcd, 0x4a860a654d78) },
        { PARTITION_USR, ARCHITECTURE_PPC, U(0x7d14fec5, 0xcc71, 0x415d, 0x9d6c, 0x06bf0b3c3eaf) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_PPC, U(0x98cfe649, 0x1588, 0x46dc, 0xb2f0, 0xadd147424925) },
        { PARTITION_USR_VERITY, ARCHITECTURE_PPC, U(0xdf765d00, 0x270e, 0x49e5, 0xbc75, 0xf47bb2118b09) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_PPC, U(0x1b31b5aa, 0xadd9, 0x463a, 0xb2ed, 0xbd467fc857e7) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_PPC, U(0x7007891d, 0xd371, 0x4a80, 0x86a4, 0x5cb875b9302e) },
        { PARTITION_ROOT, ARCHITECTURE_PPC64, U(0x912ade1d, 0xa839, 0x4913, 0x8964, 0xa10eee08fbd2) },
        { PARTITION_USR, ARCHITECTURE_PPC64, U(0x2c9739e2, 0xf068, 0x46b3, 0x9fd0, 0x01c5a9afbcca) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_PPC64, U(0x9225a9a3, 0x3c19, 0x4d89, 0xb4f6, 0xeeff88f17631) },
        { PARTITION_USR_VERITY, ARCHITECTURE_PPC64, U(0xbdb528a5, 0xa259, 0x475f, 0xa87d, 0xda53fa736a07) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_PPC64, U(0xf5e2c20c, 0x45b2, 0x4ffa, 0xbce9, 0x2a60737e1aaf) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_PPC64, U(0x0b888863, 0xd7f8, 0x4d9e, 0x9766, 0x239fce4d58af) },
        { PARTITION_ROOT, ARCHITECTURE_PPC64_LE, U(0xc31c45e6, 0x3f39, 0x412e, 0x80fb, 0x4809c4980599) },
        { PARTITION_USR, ARCHITECTURE_PPC64_LE, U(0x15bb03af, 0x77e7, 0x4d4a, 0xb12b, 0xc0d084f7491c) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_PPC64_LE, U(0x906bd944, 0x4589, 0x4aae, 0xa4e4, 0xdd983917446a) },
        { PARTITION_USR_VERITY, ARCHITECTURE_PPC64_LE, U(0xee2b9983, 0x21e8, 0x4153, 0x86d9, 0xb6901a54d1ce) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_PPC64_LE, U(0xd4a236e7, 0xe873, 0x4c07, 0xbf1d, 0xbf6cf7f1c3c6) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_PPC64_LE, U(0xc8bfbd1e, 0x268e, 0x4521, 0x8bba, 0xbf314c399557) },
        { PARTITION_ROOT, ARCHITECTURE_RISCV32, U(0x60d5a7fe, 0x8e7d, 0x435c, 0xb714, 0x3dd8162144e1) },
        { PARTITION_USR, ARCHITECTURE_RISCV32, U(0xb933fb22, 0x5c3f, 0x4f91, 0xaf90, 0xe2bb0fa50702) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_RISCV32, U(0xae0253be, 0x1167, 0x4007, 0xac68, 0x43926c14c5de) },
        { PARTITION_USR_VERITY, ARCHITECTURE_RISCV32, U(0xcb1ee4e3, 0x8cd0, 0x4136, 0xa0a4, 0xaa61a32e8730) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_RISCV32, U(0x3a112a75, 0x8729, 0x4380, 0xb4cf, 0x764d79934448) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_RISCV32, U(0xc3836a13, 0x3137, 0x45ba, 0xb583, 0xb16c50fe5eb4) },
        { PARTITION_ROOT, ARCHITECTURE_RISCV64, U(0x72ec70a6, 0xcf74, 0x40e6, 0xbd49, 0x4bda08e8f224) },
        { PARTITION_USR, ARCHITECTURE_RISCV64, U(0xbeaec34b, 0x8442, 0x439b, 0xa40b, 0x984381ed097d) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_RISCV64, U(0xb6ed5582, 0x440b, 0x4209, 0xb8da, 0x5ff7c419ea3d) },
        { PARTITION_USR_VERITY, ARCHITECTURE_RISCV64, U(0x8f1056be, 0x9b05, 0x47c4, 0x81d6, 0xbe53128e5b54) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_RISCV64, U(0xefe0f087, 0xea8d, 0x4469, 0x821a, 0x4c2a96a8386a) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_RISCV64, U(0xd2f9000a, 0x7a18, 0x453f, 0xb5cd, 0x4d32f77a7b32) },
        { PARTITION_ROOT, ARCHITECTURE_S390, U(0x08a7acea, 0x624c, 0x4a20, 0x91e8, 0x6e0fa67d23f9) },
        { PARTITION_USR, ARCHITECTURE_S390, U(0xcd0f869b, 0xd0fb, 0x4ca0, 0xb141, 0x9ea87cc78d66) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_S390, U(0x7ac63b47, 0xb25c, 0x463b, 0x8df8, 0xb4a94e6c90e1) },
        { PARTITION_USR_VERITY, ARCHITECTURE_S390, U(0xb663c618, 0xe7bc, 0x4d6d, 0x90aa, 0x11b756bb1797) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_S390, U(0x3482388e, 0x4254, 0x435a, 0xa241, 0x766a065f9960) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_S390, U(0x17440e4f, 0xa8d0, 0x467f, 0xa46e, 0x3912ae6ef2c5) },
        { PARTITION_ROOT, ARCHITECTURE_S390X, U(0x5eead9a9, 0xfe09, 0x4a1e, 0xa1d7, 0x520d00531306) },
        { PARTITION_USR, ARCHITECTURE_S390X, U(0x8a4f5770, 0x50aa, 0x4ed3, 0x874a, 0x99b710db6fea) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_S390X, U(0xb325bfbe, 0xc7be, 0x4ab8, 0x8357, 0x139e652d2f6b) },
        { PARTITION_USR_VERITY, ARCHITECTURE_S390X, U(0x31741cc4, 0x1a2a, 0x4111, 0xa581, 0xe00b447d2d06) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_S390X, U(0xc80187a5, 0x73a3, 0x491a, 0x901a, 0x017c3fa953e9) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_S390X, U(0x3f324816, 0x667b, 0x46ae, 0x86ee, 0x9b0c0c6c11b4) },
        { PARTITION_ROOT, ARCHITECTURE_TILEGX, U(0xc50cdd70, 0x3862, 0x4cc3, 0x90e1, 0x809a8c93ee2c) },
        { PARTITION_USR, ARCHITECTURE_TILEGX, U(0x55497029, 0xc7c1, 0x44cc, 0xaa39, 0x815ed1558630) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_TILEGX, U(0x966061ec, 0x28e4, 0x4b2e, 0xb4a5, 0x1f0a825a1d84) },
        { PARTITION_USR_VERITY, ARCHITECTURE_TILEGX, U(0x2fb4bf56, 0x07fa, 0x42da, 0x8132, 0x6b139f2026ae) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_TILEGX, U(0xb3671439, 0x97b0, 0x4a53, 0x90f7, 0x2d5a8f3ad47b) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_TILEGX, U(0x4ede75e2, 0x6ccc, 0x4cc8, 0xb9c7, 0x70334b087510) },
        { PARTITION_ROOT, ARCHITECTURE_X86, U(0x44479540, 0xf297, 0x41b2, 0x9af7, 0xd131d5f0458a) },
        { PARTITION_USR, ARCHITECTURE_X86, U(0x75250d76, 0x8cc6, 0x458e, 0xbd66, 0xbd47cc81a812) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_X86, U(0xd13c5d3b, 0xb5d1, 0x422a, 0xb29f, 0x9454fdc89d76) },
        { PARTITION_USR_VERITY, ARCHITECTURE_X86, U(0x8f461b0d, 0x14ee, 0x4e81, 0x9aa9, 0x049b6fb97abd) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_X86, U(0x5996fc05, 0x109c, 0x48de, 0x808b, 0x23fa0830b676) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_X86, U(0x974a71c0, 0xde41, 0x43c3, 0xbe5d, 0x5c5ccd1ad2c0) },
        { PARTITION_ROOT, ARCHITECTURE_X86_64, U(0x4f68bce3, 0xe8cd, 0x4db1, 0x96e7, 0xfbcaf984b709) },
        { PARTITION_USR, ARCHITECTURE_X86_64, U(0x8484680c, 0x9521, 0x48c6, 0x9c11, 0xb0720656f69e) },
        { PARTITION_ROOT_VERITY, ARCHITECTURE_X86_64, U(0x2c7357ed, 0xebd2, 0x46d9, 0xaec1, 0x23d437ec2bf5) },
        { PARTITION_USR_VERITY, ARCHITECTURE_X86_64, U(0x77ff5f63, 0xe7b6, 0x4633, 0xacf4, 0x1565b864c0e6) },
        { PARTITION_ROOT_VERITY_SIG, ARCHITECTURE_X86_64, U(0x41092b05, 0x9fc8, 0x4523, 0x994f, 0x2def0408b176) },
        { PARTITION_USR_VERITY_SIG, ARCHITECTURE_X86_64, U(0xe7bb33fb, 0x06cf, 0x4e81, 0x8273, 0xe543b413e2e2) },
        { PARTITION_ESP, _ARCHITECTURE_INVALID, U(0xc12a7328, 0xf81f, 0x11d2, 0xba4b, 0x00a0c93ec93b) },
        { PARTITION_XBOOTLDR, _ARCHITECTURE_INVALID, U(0xbc13c2ff, 0x59e6, 0x4262, 0xa352, 0xb275fd6f7172) },
        { PARTITION_SWAP, _ARCHITECTURE_INVALID, U(0x0657fd6d, 0xa4ab, 0x43c4, 0x84e5, 0x0933c84b4f4f) },
        { PARTITION_HOME, _ARCHITECTURE_INVALID, U(0x933ac7e1, 0x2eb4, 0x4f13, 0xb844, 0x0e14e2aef915) },
        { PARTITION_SRV, _ARCHITECTURE_INVALID, U(0x3b8f8425, 0x20e0, 0x4f3b, 0x907f, 0x1a25a76f98e8) },
        { PARTITION_VAR, _ARCHITECTURE_INVALID, U(0x4d21b016, 0xb534, 0x45c2, 0xa9fb, 0x5c16e091fd2d) },
        { PARTITION_TMP, _ARCHITECTURE_INVALID, U(0x7ec6f557, 0x3bc5, 0x4aca, 0xb293, 0x16ef5df639d1) },
        { PARTITION_USER_HOME, _ARCHITECTURE_INVALID, U(0x773f91ef, 0x66d4, 0x49b5, 0xbd83, 0xd683bf40ad16) },
        { PARTITION_LINUX_GENERIC, _ARCHITECTURE_INVALID, U(0x0fc63daf, 0x8483, 0x4772, 0x8e79, 0x3d69d8477de4) },
};

const DpsType *dps_type_from_uuid(const Uuid *type) {
        if (!type)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(dps_table); i++)
                if (uuid_equal(&dps_table[i].uuid, type))
                        return &dps_table[i];
        return NULL;
}

const DpsType *dps_type_find(PartitionDesignator d, Architecture a) {
        if (!partition_designator_has_arch(d))
                a = _ARCHITECTURE_INVALID;
        else if (a < 0 || a >= _ARCHITECTURE_MAX)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(dps_table); i++)
                if (dps_table[i].designator == d && dps_table[i].arch == a)
                        return &dps_table[i];
        return NULL;
}

size_t dps_table_get(const DpsType **ret) {
        *ret = dps_table;
        return ELEMENTSOF(dps_table);
}

/* "root-x86-64", "usr-arm64-verity-sig", "esp": the names systemd-id128 uses. */
void dps_type_name(const DpsType *t, char *buf, size_t size) {
        PartitionDesignator data = partition_data_of(t->designator);
        if (t->arch < 0)
                snprintf(buf, size, "%s", partition_designator_to_string(t->designator));
        else
                snprintf(buf, size, "%s-%s%s", partition_designator_to_string(data >= 0 ? data : t->designator),
                         architecture_to_string(t->arch),
                         data < 0 ? "" : partition_verity_of(data) == t->designator ? "-verity" : "-verity-sig");
}
