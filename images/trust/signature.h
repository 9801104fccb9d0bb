/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Root-hash signatures: the JSON verity-signature partition, PKCS#7 signing and verification with
 * OpenSSL, and the trust store (PEM certificates in the verity.d directories). */
#pragma once

#include <inttypes.h>

#include "error.h"

#define VERITY_SIGNATURE_MAX_SIZE (UINT64_C(4) * 1024 * 1024)
#define VERITY_SIGNATURE_PARTITION_SIZE (UINT64_C(16) * 1024)
/* Root hash sizes accepted in a signature (sha256 .. sha512), in bytes. */
#define VERITY_ROOT_HASH_MIN_SIZE 32
#define VERITY_ROOT_HASH_MAX_SIZE 64

typedef struct VeritySignature {
        char *root_hash_hex;   /* lowercase */
        char *certificate_fingerprint_hex; /* NULL when the JSON carried none */
        uint8_t *pkcs7_der;
        size_t pkcs7_der_size;
} VeritySignature;

VeritySignature *verity_signature_free(VeritySignature *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VeritySignature *, verity_signature_free);

/* Parses the content of a signature partition: compact JSON, then only NUL bytes. Refuses more
 * than VERITY_SIGNATURE_MAX_SIZE, non-NUL bytes after the first NUL, invalid JSON, a missing or
 * malformed rootHash or signature. Errors are GRAFT_ERROR_BAD_SIGNATURE, naming "what". */
int verity_signature_parse(const void *buf, size_t size, const char *what, VeritySignature **ret,
                           GraftError *err);

/* Lowercase hex, an even number of digits, VERITY_ROOT_HASH_MIN_SIZE..MAX_SIZE bytes. */
bool verity_root_hash_hex_is_valid(const char *s);

/* The JSON text, NUL-padded to pad_to bytes (which must be large enough: -E2BIG otherwise).
 * pad_to == 0 returns just the JSON text, NUL-terminated. */
int verity_signature_format(const VeritySignature *s, size_t pad_to, uint8_t **ret, GraftError *err);

/* Signs the lowercase hex root hash (detached, binary, no signed attributes, signer certificate
 * embedded) with a PEM key and certificate, filling the fingerprint of the certificate. */
int verity_signature_sign(const char *root_hash_hex, const char *key_path, const char *cert_path,
                          VeritySignature **ret, GraftError *err);

#include "trust-store.h"

/* Verifies a detached PKCS#7 (DER) over the root hash hex string. The signer must be one of the
 * trusted certificates (found by the issuer and serial number its signerInfo names, then checked
 * with that certificate's key); certificates only embedded in the PKCS#7 are not trusted. Chain
 * validity dates are not checked (images outlive certificates, as with systemd). On success
 * *ret_signer (if non-NULL) is the signer's subject ("CN=…") and *ret_cert_path the trusted file
 * that matched. -EKEYREJECTED with GRAFT_ERROR_UNTRUSTED if the signer is not in the store (or the
 * store is empty), -EBADMSG with GRAFT_ERROR_BAD_SIGNATURE if the signature is malformed or does
 * not verify. */
int verity_signature_verify(const uint8_t *pkcs7_der, size_t pkcs7_der_size, const char *root_hash_hex,
                            const TrustStore *store, const char *what, char **ret_signer,
                            char **ret_cert_path, GraftError *err);
