/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "env-file.h"
#include "fuzz.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char **l = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        if (env_file_parse((const char *) data, size, "fuzz", &l, &e) >= 0 && strv_length(l) % 2 != 0)
                abort();
        strv_free(l);
        graft_error_done(&e);
        return 0;
}
