/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenSSL's error queue in graft's error records. */
#pragma once

#include "error.h"

/* Fills err with "message: <reasons from the OpenSSL error queue>" and empties the queue: the one
 * place where OpenSSL's error space is translated. Returns r. */
int graft_error_set_openssl(GraftError *err, int r, const char *name, const char *format, ...)
        _printf_(4, 5);
