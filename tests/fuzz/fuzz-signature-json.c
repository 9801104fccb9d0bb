/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fuzz.h"
#include "signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VeritySignature *s = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        if (verity_signature_parse(data, size, "fuzz", &s, &e) >= 0) {
                uint8_t *out = NULL;
                /* Whatever parses must format again. */
                if (verity_signature_format(s, 0, &out, NULL) < 0)
                        abort();
                free(out);
        }
        verity_signature_free(s);
        graft_error_done(&e);
        return 0;
}
