/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The partition table reader and dissect on arbitrary files. */
#include <stdio.h>

#include "dissect.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = fuzz_memfd(data, size);
        if (fd < 0)
                return 0;
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        (void) gpt_read(fd, "fuzz", &t, &e);
        gpt_table_free(t);
        graft_error_done(&e);

        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        DissectedImage *d = NULL;
        (void) dissect_image(path, &(DissectOptions) { .arch = _ARCHITECTURE_INVALID, .untrusted_ok = true }, &d, &e);
        dissected_image_free(d);
        graft_error_done(&e);
        close(fd);
        return 0;
}
