/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the image policy argument the changing methods of both interfaces take. */
#include "bus-policy-arg.h"
#include "error.h"
#include "macro.h"

int bus_parse_image_policy(const char *policy, ImagePolicy *ret, bool *ret_has, sd_bus_error *error) {
        if (isempty(policy))
                return 0;
        GraftError e = GRAFT_ERROR_INIT;
        int r = image_policy_parse(policy, ret, &e);
        if (r < 0) {
                sd_bus_error_setf(error, GRAFT_ERROR_INVALID_ARGUMENT, "invalid image policy %s: %s", policy,
                                  strna(e.message));
                graft_error_done(&e);
                return r;
        }
        *ret_has = true;
        return 0;
}
