/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "fuzz.h"
#include "verity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t buf[VERITY_SUPERBLOCK_SIZE] = {};
        memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
        VerityParams p;
        GraftError e = GRAFT_ERROR_INIT;
        if (verity_superblock_parse(buf, "fuzz", &p, &e) >= 0)
                (void) verity_hash_area_size(&p, true);
        graft_error_done(&e);
        return 0;
}
