/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the translation of OpenSSL's error queue into GraftError records (see openssl-error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

#include "openssl-error.h"

int graft_error_set_openssl(GraftError *err, int r, const char *name, const char *format, ...) {
        _cleanup_free_ char *prefix = NULL;
        char reasons[1024] = "";
        size_t used = 0;
        unsigned long e;
        va_list ap;

        /* Oldest first: the innermost cause ("bad signature") before the wrappers around it
         * ("signature failure"). Repeats are dropped. */
        while ((e = ERR_get_error()) != 0) {
                char buf[256];
                const char *reason = ERR_reason_error_string(e);
                if (!reason) {
                        ERR_error_string_n(e, buf, sizeof(buf));
                        reason = buf;
                }
                if (strstr(reasons, reason))
                        continue;
                int k = snprintf(reasons + used, sizeof(reasons) - used, "%s%s", used ? ", " : "", reason);
                if (k < 0 || (size_t) k >= sizeof(reasons) - used)
                        break;
                used += (size_t) k;
        }
        if (!err || err->name)
                return r;

        va_start(ap, format);
        int k = vasprintf(&prefix, format, ap);
        va_end(ap);
        if (k < 0)
                return r;
        return graft_error_set(err, r, name, "%s: %s", prefix, used ? reasons : "unknown OpenSSL error");
}
