/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verity-signature partition's content: compact JSON ({"rootHash", "certificateFingerprint",
 * "signature"}) followed by NUL padding. Parsing enforces the reader rules of REFERENCE.md with
 * one message per refusal; formatting writes what systemd-repart writes. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "hex.h"
#include "json-out.h"
#include "signature.h"

VeritySignature *verity_signature_free(VeritySignature *s) {
        if (!s)
                return NULL;
        free(s->root_hash_hex);
        free(s->certificate_fingerprint_hex);
        free(s->pkcs7_der);
        free(s);
        return NULL;
}

/* Why a root hash string is unacceptable, or NULL if it is fine. */
static const char *root_hash_hex_problem(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return "is not lowercase hex";
        if (n % 2 != 0)
                return "has an odd number of hex digits";
        if (n < 2 * VERITY_ROOT_HASH_MIN_SIZE || n > 2 * VERITY_ROOT_HASH_MAX_SIZE)
                return "is not 32 to 64 bytes long";
        return NULL;
}

bool verity_root_hash_hex_is_valid(const char *s) {
        return s && !root_hash_hex_problem(s, strlen(s));
}

static bool base64_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '+' || c == '/';
}

/* EVP_DecodeBlock() is lenient ('=' anywhere decodes as zero bits, surrounding blanks are
 * skipped) and always returns whole triplets, so the strict shape is checked here first and the
 * padding is taken off its result. */
static int base64_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_size) {
        size_t pad = 0;

        if (n == 0 || n % 4 != 0 || n > INT32_MAX)
                return -EINVAL;
        while (pad < 2 && s[n - 1 - pad] == '=')
                pad++;
        for (size_t i = 0; i < n - pad; i++)
                if (!base64_char(s[i]))
                        return -EINVAL;

        _cleanup_free_ uint8_t *b = malloc(n / 4 * 3 + 1);
        if (!b)
                return -ENOMEM;
        int k = EVP_DecodeBlock(b, (const unsigned char *) s, (int) n);
        if (k < 0 || (size_t) k != n / 4 * 3)
                return -EINVAL;
        *ret = TAKE_PTR(b);
        *ret_size = (size_t) k - pad;
        return 0;
}

static int base64_encode(const uint8_t *p, size_t n, char **ret) {
        if (n > INT32_MAX / 2)
                return -E2BIG;
        char *s = malloc(DIV_ROUND_UP(n, 3) * 4 + 1);
        if (!s)
                return -ENOMEM;
        (void) EVP_EncodeBlock((unsigned char *) s, p, (int) n);
        *ret = s;
        return 0;
}

/* Splits buf into the JSON text and the NUL padding, which must be all NULs. */
static int split_padding(const uint8_t *buf, size_t size, const char *what, size_t *ret_len,
                         GraftError *err) {
        const uint8_t *nul = memchr(buf, 0, size);
        size_t len = nul ? (size_t) (nul - buf) : size;

        for (size_t i = len; i < size; i++)
                if (buf[i] != 0)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "signature %s has non-NUL bytes after the JSON at offset %zu",
                                               what, i);
        /* Trailing blanks before the padding are harmless (a file written with echo). */
        while (len > 0 && isspace(buf[len - 1]))
                len--;
        if (len == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is empty (only NUL bytes)", what);
        *ret_len = len;
        return 0;
}

static int parse_json(const char *text, size_t len, const char *what, struct json_object **ret,
                      GraftError *err) {
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);

        struct json_object *o = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (!o && e == json_tokener_continue)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is not valid JSON: it ends at offset %zu before the object is complete",
                                       what, len);
        if (!o && e != json_tokener_success)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is not valid JSON: %s at offset %zu", what,
                                       json_tokener_error_desc(e), end);
        _cleanup_json_ struct json_object *obj = o;
        if (end < len)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is not valid JSON: unexpected data after the object at offset %zu",
                                       what, end);
        if (!json_object_is_type(obj, json_type_object))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is not valid JSON: the top level is of type %s, not an object",
                                       what, json_type_to_name(json_object_get_type(obj)));
        *ret = TAKE_PTR(obj);
        return 0;
}

/* The string member key: 1 and *ret if present as a string, 0 if absent, an error otherwise. */
static int get_string(struct json_object *obj, const char *key, const char *what,
                      const char **ret, size_t *ret_len, GraftError *err) {
        struct json_object *v;

        if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s %s is of JSON type %s, not a string", what,
                                       key, json_type_to_name(json_object_get_type(v)));
        *ret = json_object_get_string(v);
        *ret_len = (size_t) json_object_get_string_len(v);
        return 1;
}

int verity_signature_parse(const void *buf, size_t size, const char *what, VeritySignature **ret,
                           GraftError *err) {
        _cleanup_json_ struct json_object *obj = NULL;
        const char *rh, *sig, *fp;
        size_t rh_len, sig_len, fp_len, len = 0;
        int r;

        what = what ?: "partition";
        if (size > VERITY_SIGNATURE_MAX_SIZE)
                return graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s is %zu bytes, more than the %" PRIu64 " allowed",
                                       what, size, VERITY_SIGNATURE_MAX_SIZE);
        r = split_padding(buf, size, what, &len, err);
        if (r < 0)
                return r;
        r = parse_json(buf, len, what, &obj, err);
        if (r < 0)
                return r;

        r = get_string(obj, "rootHash", what, &rh, &rh_len, err);
        if (r < 0)
                return r;
        if (r == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s lacks rootHash", what);
        const char *problem = root_hash_hex_problem(rh, rh_len);
        if (problem)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s rootHash %s (%zu characters)", what, problem,
                                       rh_len);

        r = get_string(obj, "signature", what, &sig, &sig_len, err);
        if (r < 0)
                return r;
        if (r == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s lacks signature", what);

        /* Informational only (the trust store decides), so a malformed one is dropped, not refused. */
        r = get_string(obj, "certificateFingerprint", what, &fp, &fp_len, NULL);
        if (r <= 0 || fp_len == 0 || strlen(fp) != fp_len)
                fp = NULL;

        _cleanup_(verity_signature_freep) VeritySignature *s = calloc(1, sizeof(VeritySignature));
        if (!s)
                return -ENOMEM;
        r = base64_decode(sig, sig_len, &s->pkcs7_der, &s->pkcs7_der_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || s->pkcs7_der_size == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "signature %s signature is not valid base64", what);
        s->root_hash_hex = strndup(rh, rh_len);
        if (!s->root_hash_hex)
                return -ENOMEM;
        if (fp) {
                s->certificate_fingerprint_hex = strdup(fp);
                if (!s->certificate_fingerprint_hex)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int verity_signature_format(const VeritySignature *s, size_t pad_to, uint8_t **ret, GraftError *err) {
        _cleanup_json_ struct json_object *obj = NULL;
        _cleanup_free_ char *b64 = NULL;
        int r;

        if (!s || !verity_root_hash_hex_is_valid(s->root_hash_hex) || !s->pkcs7_der ||
            s->pkcs7_der_size == 0)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "cannot format a signature without a valid root hash and PKCS#7 data");

        r = base64_encode(s->pkcs7_der, s->pkcs7_der_size, &b64);
        if (r < 0)
                return r;
        obj = json_object_new_object();
        if (!obj)
                return -ENOMEM;
        /* Insertion order is output order: the order systemd-repart writes. */
        if (json_add_string(obj, "rootHash", s->root_hash_hex) < 0 ||
            (s->certificate_fingerprint_hex &&
             json_add_string(obj, "certificateFingerprint", s->certificate_fingerprint_hex) < 0) ||
            json_add_string(obj, "signature", b64) < 0)
                return -ENOMEM;

        size_t len;
        const char *text = json_object_to_json_string_length(
                obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!text)
                return -ENOMEM;

        size_t total = pad_to == 0 ? len + 1 : pad_to;
        if (len > total)
                return graft_error_set(err, -E2BIG, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "the signature JSON is %zu bytes, it does not fit into %zu",
                                       len, pad_to);
        uint8_t *b = calloc(1, total);
        if (!b)
                return -ENOMEM;
        memcpy(b, text, len);
        *ret = b;
        return 0;
}
