/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns `graft-image keygen`'s work (devmode.h): an RSA key and a self-signed certificate made
 * with OpenSSL, the key written where the developer keeps it (never into the root's trust
 * store), the certificate enrolled in the developer trust store, apart from the vendor's
 * verity.d so that it is trusted only while developer mode is on. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "devmode.h"
#include "fileio.h"
#include "openssl-error.h"
#include "path-util.h"

static X509 *make_cert(EVP_PKEY *key, const char *name) {
        X509 *x = X509_new();
        if (!x)
                return NULL;
        X509_NAME *subject = X509_get_subject_name(x);
        if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), (long) time(NULL)) != 1 ||
            !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600) || X509_set_pubkey(x, key) != 1 ||
            X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *) name, -1, -1, 0) != 1 ||
            X509_set_issuer_name(x, subject) != 1 || X509_sign(x, key, EVP_sha256()) <= 0) {
                X509_free(x);
                return NULL;
        }
        return x;
}

/* Writes PEM text from a memory BIO to path, refusing to replace anything. */
static int write_new(const char *path, BIO *bio, mode_t mode, GraftError *err) {
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0 && errno == EEXIST)
                return graft_error_set(err, -EEXIST, GRAFT_ERROR_CONFLICT, "%s exists already; not replacing it", path);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", path);
        int r = n > 0 ? pwrite_full(fd, data, (size_t) n, 0) : -EIO;
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(path);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", path, strerror(-r));
        }
        return 0;
}

static int pem_files(EVP_PKEY *key, X509 *cert, BIO **ret_key, BIO **ret_cert) {
        BIO *k = BIO_new(BIO_s_mem()), *c = BIO_new(BIO_s_mem());
        if (!k || !c || PEM_write_bio_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL) != 1 ||
            PEM_write_bio_X509(c, cert) != 1) {
                BIO_free(k);
                BIO_free(c);
                return -ENOMEM;
        }
        *ret_key = k;
        *ret_cert = c;
        return 0;
}

int developer_keygen(const char *root, const char *name, const char *key_dir, GraftError *err) {
        if (!filename_is_valid(name) || name[0] == '.')
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"%s\" is no valid key name", name);
        _cleanup_free_ char *key_path = NULL, *cert_path = NULL, *enrolled = NULL, *store = NULL;
        if (asprintf(&key_path, "%s/%s.key", key_dir, name) < 0 || asprintf(&cert_path, "%s/%s.crt", key_dir, name) < 0)
                return -ENOMEM;
        store = path_prefix_root(root, DEVELOPER_TRUST_DIR);
        if (!store || asprintf(&enrolled, "%s/%s.crt", store, name) < 0)
                return -ENOMEM;
        if (access(enrolled, F_OK) == 0)
                return graft_error_set(err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                       "a developer certificate %s is enrolled already; not replacing it", enrolled);

        EVP_PKEY *key = EVP_RSA_gen(2048);
        X509 *cert = key ? make_cert(key, name) : NULL;
        BIO *kb = NULL, *cb = NULL;
        int r = cert ? pem_files(key, cert, &kb, &cb) : -ENOMEM;
        X509_free(cert);
        EVP_PKEY_free(key);
        if (r < 0)
                return graft_error_set_openssl(err, r, GRAFT_ERROR_IO, "cannot make a key pair");

        /* The trust store directory, as root's, like verity.d. */
        _cleanup_free_ char *etc_graft = path_prefix_root(root, "/etc/graft");
        if (!etc_graft)
                r = -ENOMEM;
        else if ((mkdir(etc_graft, 0755) < 0 && errno != EEXIST) || (mkdir(store, 0755) < 0 && errno != EEXIST))
                r = graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", store);
        if (r >= 0)
                r = write_new(key_path, kb, 0600, err);
        if (r >= 0) {
                r = write_new(cert_path, cb, 0644, err);
                if (r < 0)
                        (void) unlink(key_path);
        }
        if (r >= 0) {
                r = write_new(enrolled, cb, 0644, err);
                if (r < 0) {
                        (void) unlink(key_path);
                        (void) unlink(cert_path);
                }
        }
        BIO_free(kb);
        BIO_free(cb);
        return r;
}
