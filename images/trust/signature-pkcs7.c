/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PKCS#7 over the root hash: signing with a PEM key and certificate, verifying against the trust
 * store, and the translation of OpenSSL's error queue into the error record. */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "hex.h"
#include "openssl-error.h"
#include "signature.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS7 *, PKCS7_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free);

static void sk_X509_freep(STACK_OF(X509) **p) {
        sk_X509_free(*p); /* the stack only, the certificates belong to someone else */
}

#define PEM_FILE_MAX (UINT64_C(1) * 1024 * 1024)

static int read_pem_file(const char *path, const char *kind, BIO **ret, GraftError *err) {
        _cleanup_free_ char *data = NULL;
        size_t size;

        int r = file_read(&(FileOpen) { .dir_fd = AT_FDCWD, .path = path, .error_name = GRAFT_ERROR_INVALID_ARGUMENT },
                          PEM_FILE_MAX, &data, &size, err);
        if (r < 0)
                return graft_error_set(err, r, r == -ENOENT ? GRAFT_ERROR_MISSING_FILE : GRAFT_ERROR_IO,
                                       "cannot read %s %s: %s", kind, path, strerror(-r));
        /* BIO_new_mem_buf() does not copy, so the BIO reads a copy owned by itself. */
        BIO *bio = BIO_new(BIO_s_mem());
        if (!bio)
                return -ENOMEM;
        if (BIO_write(bio, data, (int) size) != (int) size) {
                BIO_free(bio);
                return -ENOMEM;
        }
        *ret = bio;
        return 0;
}

/* No passphrase prompt: library code never talks to the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

static int load_key_and_cert(const char *key_path, const char *cert_path, EVP_PKEY **ret_key,
                             X509 **ret_cert, GraftError *err) {
        _cleanup_(BIO_freep) BIO *kb = NULL, *cb = NULL;
        int r;

        r = read_pem_file(key_path, "signing key", &kb, err);
        if (r < 0)
                return r;
        r = read_pem_file(cert_path, "certificate", &cb, err);
        if (r < 0)
                return r;

        ERR_clear_error();
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL);
        if (!key)
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "signing key %s is not an unencrypted PEM private key",
                                               key_path);
        _cleanup_(X509_freep) X509 *cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
        if (!cert)
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "certificate %s is not a PEM certificate", cert_path);
        if (X509_check_private_key(cert, key) != 1)
                return graft_error_set_openssl(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "signing key %s does not belong to certificate %s",
                                               key_path, cert_path);
        *ret_key = TAKE_PTR(key);
        *ret_cert = TAKE_PTR(cert);
        return 0;
}

static int cert_fingerprint(X509 *cert, char **ret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        /* The SHA-256 of the DER encoding, as systemd-repart writes it. */
        if (X509_digest(cert, EVP_sha256(), md, &n) != 1)
                return -EIO;
        char *h = hexmem(md, n);
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

int verity_signature_sign(const char *root_hash_hex, const char *key_path, const char *cert_path,
                          VeritySignature **ret, GraftError *err) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(verity_signature_freep) VeritySignature *s = NULL;
        int r;

        if (!verity_root_hash_hex_is_valid(root_hash_hex))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "cannot sign \"%s\": not a lowercase hex root hash of 32 to 64 bytes",
                                       strna(root_hash_hex));
        r = load_key_and_cert(key_path, cert_path, &key, &cert, err);
        if (r < 0)
                return r;

        _cleanup_(BIO_freep) BIO *in = BIO_new_mem_buf(root_hash_hex, (int) strlen(root_hash_hex));
        if (!in)
                return -ENOMEM;
        /* What "openssl smime -sign -binary -noattr" makes: detached, no MIME canonicalisation,
         * no authenticated attributes (the kernel's verifier wants none), signer cert embedded. */
        _cleanup_(PKCS7_freep) PKCS7 *p7 = PKCS7_sign(
                cert, key, NULL, in, PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP);
        if (!p7)
                return graft_error_set_openssl(err, -EIO, GRAFT_ERROR_IO, "cannot sign root hash with %s",
                                               key_path);

        s = calloc(1, sizeof(VeritySignature));
        if (!s)
                return -ENOMEM;
        unsigned char *der = NULL;
        int n = i2d_PKCS7(p7, &der);
        if (n <= 0)
                return graft_error_set_openssl(err, -EIO, GRAFT_ERROR_IO, "cannot encode the PKCS#7 signature");
        s->pkcs7_der = malloc((size_t) n);
        if (s->pkcs7_der)
                memcpy(s->pkcs7_der, der, (size_t) n);
        OPENSSL_free(der);
        if (!s->pkcs7_der)
                return -ENOMEM;
        s->pkcs7_der_size = (size_t) n;

        s->root_hash_hex = strdup(root_hash_hex);
        if (!s->root_hash_hex)
                return -ENOMEM;
        r = cert_fingerprint(cert, &s->certificate_fingerprint_hex);
        if (r < 0)
                return graft_error_set_openssl(err, r, GRAFT_ERROR_IO, "cannot hash certificate %s", cert_path);
        *ret = TAKE_PTR(s);
        return 0;
}

static char *name_to_string(const X509_NAME *name) {
        _cleanup_(BIO_freep) BIO *b = BIO_new(BIO_s_mem());
        if (!b)
                return NULL;
        if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0)
                return NULL;
        char *p;
        long n = BIO_get_mem_data(b, &p);
        return n >= 0 ? strndup(p, (size_t) n) : NULL;
}

/* Names the first signer the store does not know: the subject of its certificate when the
 * PKCS#7 embeds it, else its issuer and serial number (all a signerInfo carries). */
static char *describe_untrusted_signer(PKCS7 *p7, STACK_OF(X509) *trusted) {
        STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
        STACK_OF(X509) *embedded = p7->d.sign->cert;

        for (int i = 0; i < sk_PKCS7_SIGNER_INFO_num(infos); i++) {
                /* (PKCS7_get_issuer_and_serial() is about recipients of enveloped data.) */
                PKCS7_ISSUER_AND_SERIAL *ias = sk_PKCS7_SIGNER_INFO_value(infos, i)->issuer_and_serial;
                if (!ias || X509_find_by_issuer_and_serial(trusted, ias->issuer, ias->serial))
                        continue;
                X509 *c = embedded ? X509_find_by_issuer_and_serial(embedded, ias->issuer, ias->serial) : NULL;
                if (c)
                        return name_to_string(X509_get_subject_name(c));

                _cleanup_free_ char *issuer = name_to_string(ias->issuer), *serial = NULL;
                BIGNUM *bn = ASN1_INTEGER_to_BN(ias->serial, NULL);
                char *h = bn ? BN_bn2hex(bn) : NULL;
                BN_free(bn);
                if (h)
                        serial = strdup(h);
                OPENSSL_free(h);
                char *d = NULL;
                if (asprintf(&d, "certificate not embedded; issuer %s, serial %s", strna(issuer), strna(serial)) < 0)
                        return NULL;
                return d;
        }
        return strdup("unknown");
}

static int untrusted(PKCS7 *p7, const TrustStore *store, const char *what, GraftError *err) {
        STACK_OF(X509) *certs = trust_store_certs(store);
        size_t n = trust_store_size(store);
        _cleanup_free_ char *dirs = trust_store_describe_dirs(store);

        ERR_clear_error();
        if (n == 0)
                return graft_error_set(err, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED,
                                       "%s: the signature cannot be checked: no trusted certificates are installed (looked in %s)",
                                       what, strna(dirs));

        _cleanup_free_ char *signer = describe_untrusted_signer(p7, certs);
        if (n == 1)
                return graft_error_set(err, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED,
                                       "%s: the signer (%s) is not the one trusted certificate, %s",
                                       what, strna(signer), trust_store_paths(store)[0]);
        return graft_error_set(err, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED,
                               "%s: the signer (%s) is not among the %zu trusted certificates in %s",
                               what, strna(signer), n, strna(dirs));
}

static int parse_pkcs7(const uint8_t *der, size_t size, const char *what, PKCS7 **ret, GraftError *err) {
        const unsigned char *p = der;

        if (!der || size == 0 || size > VERITY_SIGNATURE_MAX_SIZE)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s: the PKCS#7 signature is empty or too large (%zu bytes)", what, size);
        ERR_clear_error();
        _cleanup_(PKCS7_freep) PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long) size);
        if (!p7)
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "%s: the signature is not valid PKCS#7 DER", what);
        if (p != der + size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s: the PKCS#7 signature is followed by %zu bytes of garbage",
                                       what, size - (size_t) (p - der));
        if (!PKCS7_type_is_signed(p7))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s: the PKCS#7 structure is not signed data", what);
        if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) <= 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s: the PKCS#7 signature has no signers", what);
        *ret = TAKE_PTR(p7);
        return 0;
}

int verity_signature_verify(const uint8_t *pkcs7_der, size_t pkcs7_der_size, const char *root_hash_hex,
                            const TrustStore *store, const char *what, char **ret_signer,
                            char **ret_cert_path, GraftError *err) {
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_free_ char *signer = NULL, *path = NULL;
        STACK_OF(X509) *certs = trust_store_certs(store);
        int r;

        what = what ?: "signature";
        if (!verity_root_hash_hex_is_valid(root_hash_hex))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: \"%s\" is not a lowercase hex root hash", what, strna(root_hash_hex));
        r = parse_pkcs7(pkcs7_der, pkcs7_der_size, what, &p7, err);
        if (r < 0)
                return r;
        if (trust_store_size(store) == 0)
                return untrusted(p7, store, what, err);

        /* The signer must be found among the trusted certificates alone (PKCS7_NOINTERN): a
         * certificate that only travels inside the PKCS#7 proves nothing, anyone can embed one. */
        _cleanup_(sk_X509_freep) STACK_OF(X509) *signers = PKCS7_get0_signers(p7, certs, PKCS7_NOINTERN);
        if (!signers) {
                if (ERR_GET_REASON(ERR_peek_last_error()) == PKCS7_R_SIGNER_CERTIFICATE_NOT_FOUND)
                        return untrusted(p7, store, what, err);
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "%s: cannot determine the signer", what);
        }

        _cleanup_(BIO_freep) BIO *content = BIO_new_mem_buf(root_hash_hex, (int) strlen(root_hash_hex));
        if (!content)
                return -ENOMEM;
        /* PKCS7_NOVERIFY: the trusted certificates are self-signed leaves that are trusted as
         * such, like systemd's verity.d and the kernel keyring use them; there is no chain to
         * build, and expiry does not apply because images outlive the certificate's validity
         * period. Trust comes from the signer being one of the store's files, checked above and
         * again by PKCS7_verify() under PKCS7_NOINTERN. PKCS7_NO_DUAL_CONTENT refuses a
         * signature that carries content of its own instead of covering ours. */
        if (PKCS7_verify(p7, certs, NULL, content, NULL,
                         PKCS7_NOINTERN | PKCS7_NOVERIFY | PKCS7_BINARY | PKCS7_NO_DUAL_CONTENT) != 1)
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "%s: the signature does not match root hash %s", what,
                                               root_hash_hex);

        X509 *c = sk_X509_value(signers, 0);
        if (ret_signer) {
                signer = name_to_string(X509_get_subject_name(c));
                if (!signer)
                        return -ENOMEM;
        }
        if (ret_cert_path) {
                for (int i = 0; i < sk_X509_num(certs); i++)
                        if (sk_X509_value(certs, i) == c) {
                                path = strdup(trust_store_paths(store)[i]);
                                if (!path)
                                        return -ENOMEM;
                                break;
                        }
                if (!path)
                        return -EIO; /* cannot happen: the signer was taken from certs */
        }
        if (ret_signer)
                *ret_signer = TAKE_PTR(signer);
        if (ret_cert_path)
                *ret_cert_path = TAKE_PTR(path);
        return 0;
}
