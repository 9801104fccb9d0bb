/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "fuzz.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *s = strndup((const char *) data, size);
        ImagePolicy p, q;
        GraftError e = GRAFT_ERROR_INIT;
        if (s && image_policy_parse(s, &p, &e) >= 0) {
                /* The canonical form parses to the same policy. */
                char *c = image_policy_to_string(&p);
                if (!c || image_policy_parse(c, &q, NULL) < 0 || memcmp(&p, &q, sizeof p) != 0)
                        abort();
                free(c);
        }
        free(s);
        graft_error_done(&e);
        return 0;
}
