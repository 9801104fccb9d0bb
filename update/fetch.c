/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the HTTP(S) client (see fetch.h): one curl easy handle per attempt, our write callback
 * hashing and writing, and the decision which failures are worth another attempt. libcurl's
 * messages are translated here, once. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fetch.h"
#include "fileio.h"
#include "hex.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct Sink {
        int fd;            /* -EBADF: to memory */
        char *buf;
        size_t size, max;
        uint64_t offset;   /* where the next byte goes */
        uint64_t resumed_from;
        bool checked;      /* the response code of this attempt was looked at */
        bool discard;      /* this attempt's body is an error page */
        CURL *curl;
        EVP_MD_CTX *md;
        int write_error;   /* errno of a failed write */
        bool too_big;
        uint64_t fetched;
        const FetchOptions *o;
        uint64_t total_expected;
} Sink;

/* A resumed request answered with the whole file (200, no Range support): start over. */
static int sink_restart(Sink *s) {
        if (s->fd >= 0 && ftruncate(s->fd, 0) < 0)
                return -errno;
        s->offset = 0;
        s->size = 0;
        return EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata) {
        Sink *s = userdata;
        size_t n = size * nmemb;
        if (!s->checked) {
                long code = 0;
                curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
                s->checked = true;
                /* An error page is dropped; attempt() reports the status. */
                s->discard = code >= 300;
                if (!s->discard && s->offset > 0 && code != 206 && sink_restart(s) < 0) {
                        s->write_error = EIO;
                        return 0;
                }
        }
        if (s->discard)
                return n;
        if (s->fd < 0) {
                if (s->size + n > s->max) {
                        s->too_big = true;
                        return 0;
                }
                memcpy(s->buf + s->size, data, n);
                s->size += n;
        } else {
                int r = pwrite_full(s->fd, data, n, s->offset);
                if (r < 0) {
                        s->write_error = -r;
                        return 0;
                }
        }
        if (EVP_DigestUpdate(s->md, data, n) != 1) {
                s->write_error = ENOMEM;
                return 0;
        }
        s->offset += n;
        s->fetched += n;
        return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        Sink *s = userdata;
        if (dltotal > 0)
                s->total_expected = s->resumed_from + (uint64_t) dltotal;
        if (s->o && s->o->progress && s->total_expected > 0)
                s->o->progress(s->o->progress_userdata, s->resumed_from + (uint64_t) dlnow, s->total_expected);
        return 0;
}

static const char *ca_bundle(void) {
        const char *e = getenv("CURL_CA_BUNDLE");
        return !isempty(e) ? e : !isempty(getenv("SSL_CERT_FILE")) ? getenv("SSL_CERT_FILE") : NULL;
}

static CURL *easy_new(const char *url, Sink *s, const FetchOptions *o, char *errbuf) {
        CURL *c = curl_easy_init();
        if (!c)
                return NULL;
        uint64_t connect = o && o->connect_timeout_usec ? o->connect_timeout_usec : 30000000u;
        uint64_t stall = o && o->stall_timeout_usec ? o->stall_timeout_usec : 60000000u;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) (connect / 1000));
        /* Less than one byte a second for the stall time: the server is gone. */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long) MAX(stall / 1000000, 1u));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "graft-update/" "1");
        if (ca_bundle())
                curl_easy_setopt(c, CURLOPT_CAINFO, ca_bundle());
        if (s->offset > 0)
                curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) s->offset);
        return c;
}

/* Failures another attempt may cure: the network or the server, not the request. */
static bool retryable(CURLcode cc, long code) {
        switch (cc) {
        case CURLE_OK:
                return code >= 500;
        case CURLE_COULDNT_CONNECT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / 1000000u), .tv_nsec = (long) (usec % 1000000u) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* One attempt: 0, or a negative errno with err set, *retry telling whether to try again. */
static int attempt(const char *url, const char *shown, Sink *s, const FetchOptions *o, bool *retry, GraftError *err) {
        char errbuf[CURL_ERROR_SIZE] = "";
        s->checked = false;
        s->resumed_from = s->offset;
        CURL *c = easy_new(url, s, o, errbuf);
        if (!c)
                return -ENOMEM;
        s->curl = c;
        CURLcode cc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        s->curl = NULL;
        *retry = retryable(cc, code);
        if (s->write_error)
                return graft_error_set(err, -s->write_error, GRAFT_ERROR_IO, "cannot write %s (downloading %s): %s",
                                       shown, url, strerror(s->write_error));
        if (s->too_big)
                return graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_IMAGE, "%s is larger than %zu bytes", url, s->max);
        if (cc != CURLE_OK)
                return graft_error_set(err, -EIO, GRAFT_ERROR_IO, "cannot download %s: %s", url,
                                       errbuf[0] ? errbuf : curl_easy_strerror(cc));
        if (code >= 300)
                return graft_error_set(err, code == 404 || code == 410 ? -ENOENT : -EIO,
                                       code == 404 || code == 410 ? GRAFT_ERROR_MISSING_FILE : GRAFT_ERROR_IO,
                                       "cannot download %s: the server answered HTTP %ld", url, code);
        return 0;
}

static int fetch_run(const char *url, const char *shown, Sink *s, const FetchOptions *o, FetchResult *ret,
                     GraftError *err) {
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return graft_error_set(err, -EIO, GRAFT_ERROR_IO, "cannot initialize libcurl: %s",
                                       curl_easy_strerror(curl_init_result));
        s->md = EVP_MD_CTX_new();
        if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(s->md);
                return -ENOMEM;
        }
        s->o = o;
        uint64_t delay = o && o->retry_delay_usec ? o->retry_delay_usec : 1000000u;
        unsigned retries = o ? o->retries : 0, attempts = 0, resumes = 0;
        int r;
        for (;;) {
                GraftError e = GRAFT_ERROR_INIT;
                bool retry = false;
                resumes += s->offset > 0;
                attempts++;
                r = attempt(url, shown, s, o, &retry, &e);
                if (r >= 0 || !retry || attempts > retries) {
                        if (r < 0 && err && !err->name)
                                *err = e;
                        else
                                graft_error_done(&e);
                        break;
                }
                if (o->on_retry)
                        o->on_retry(o->retry_userdata, e.message ?: strerror(-r), delay);
                graft_error_done(&e);
                sleep_usec(delay);
                delay *= 2;
        }
        unsigned char digest[32];
        unsigned len = 0;
        if (r >= 0 && EVP_DigestFinal_ex(s->md, digest, &len) != 1)
                r = -ENOMEM;
        EVP_MD_CTX_free(s->md);
        if (r < 0)
                return r;
        if (ret) {
                *ret = (FetchResult) { .bytes_fetched = s->fetched, .size = s->offset, .attempts = attempts,
                                       .resumes = resumes };
                _cleanup_free_ char *hex = hexmem(digest, len);
                if (!hex)
                        return -ENOMEM;
                memcpy(ret->sha256, hex, 65);
        }
        return 0;
}

int fetch_to_fd(const char *url, int fd, const char *shown, const FetchOptions *o, FetchResult *ret,
                GraftError *err) {
        Sink s = { .fd = fd };
        return fetch_run(url, shown, &s, o, ret, err);
}

int fetch_to_memory(const char *url, size_t max, const FetchOptions *o, char **ret, size_t *ret_size,
                    GraftError *err) {
        Sink s = { .fd = -EBADF, .max = max, .buf = malloc(max + 1) };
        if (!s.buf)
                return -ENOMEM;
        int r = fetch_run(url, url, &s, o, NULL, err);
        if (r < 0) {
                free(s.buf);
                return r;
        }
        s.buf[s.size] = '\0';
        *ret = s.buf;
        if (ret_size)
                *ret_size = s.size;
        return 0;
}
