/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Downloads over HTTP and HTTPS with libcurl: timeouts (connect, and a transfer that stalls),
 * retries of transport failures that resume where the data stopped (a Range request), progress
 * for a bar on a terminal, proxies from the environment (http_proxy, https_proxy, no_proxy, as
 * libcurl reads them), TLS verified against the system's CAs (or CURL_CA_BUNDLE / SSL_CERT_FILE,
 * as the curl tool takes them). The downloaded bytes are hashed (SHA-256) as they are written. */
#pragma once

#include "error.h"
#include "progress.h"

typedef struct FetchOptions {
        uint64_t connect_timeout_usec; /* 0: 30 s */
        uint64_t stall_timeout_usec;   /* no byte for this long ends an attempt; 0: 60 s */
        unsigned retries;              /* transport failures retried (resuming); default set by caller */
        uint64_t retry_delay_usec;     /* before the first retry, doubling; 0: 1 s */
        ProgressFn progress;
        void *progress_userdata;
        /* Told about each failed attempt that will be retried (may be NULL). */
        void (*on_retry)(void *userdata, const char *why, uint64_t delay_usec);
        void *retry_userdata;
} FetchOptions;

typedef struct FetchResult {
        uint64_t bytes_fetched;  /* over the network, all attempts */
        uint64_t size;           /* of the file written */
        unsigned attempts;
        unsigned resumes;        /* attempts that continued with a Range request */
        char sha256[65];         /* of the whole file, lowercase hex */
} FetchResult;

/* Downloads url into fd (a new, empty regular file), retrying transport failures (connection
 * refused or cut, timeouts, 5xx) with a request for the rest. An HTTP error is -ENOENT (404) or
 * -EIO with GRAFT_ERROR_IO naming the URL and the status; a failed write is its errno naming
 * "shown" (the file being written), e.g. ENOSPC. */
int fetch_to_fd(const char *url, int fd, const char *shown, const FetchOptions *o, FetchResult *ret,
                GraftError *err);

/* Downloads a small file (at most max bytes) into memory, NUL-terminated. */
int fetch_to_memory(const char *url, size_t max, const FetchOptions *o, char **ret, size_t *ret_size,
                    GraftError *err);
