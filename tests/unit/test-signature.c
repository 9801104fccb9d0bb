/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Root-hash signatures: the JSON partition format and its refusals, PKCS#7 signing and
 * verification, the trust store's precedence and masking rules, and interoperability with
 * "openssl smime" in both directions. Keys are made per run with tests/lib/mkcert.sh. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "error.h"
#include "fileio.h"
#include "path-util.h"
#include "signature.h"
#include "tests.h"

#define ROOT_HASH "0d3a9e5b7c1f24680ace13579bdf02468ace13579bdf02468ace13579bdf0246"
#define OTHER_HASH "1d3a9e5b7c1f24680ace13579bdf02468ace13579bdf02468ace13579bdf0246"

static char scratch[] = "/tmp/graft-test-signature-XXXXXX";

_printf_(1, 2) static int run(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&cmd, format, ap);
        va_end(ap);
        ASSERT_TRUE(k >= 0);
        int st = system(cmd);
        return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *key_path(const char *name, const char *ext) {
        char *p = NULL;
        ASSERT_TRUE(asprintf(&p, "%s/keys/%s.%s", scratch, name, ext) >= 0);
        return p;
}

static void write_file(const char *path, const void *data, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(pwrite_full(fd, data, size, 0));
}

/* A fresh directory under the scratch dir, used as --root. */
static char *new_root(void) {
        char *p = NULL;
        ASSERT_TRUE(asprintf(&p, "%s/root-XXXXXX", scratch) >= 0);
        ASSERT_TRUE(mkdtemp(p));
        return p;
}

/* Copies keys/NAME.crt to ROOT/DIR/FILE. */
static void install_cert(const char *root, const char *dir, const char *file, const char *name) {
        ASSERT_EQ(run("mkdir -p '%s/%s' && cp '%s/keys/%s.crt' '%s/%s/%s'", root, dir, scratch, name,
                      root, dir, file), 0);
}

static void install_symlink(const char *root, const char *dir, const char *file, const char *target) {
        ASSERT_EQ(run("mkdir -p '%s/%s' && ln -sfn '%s' '%s/%s/%s'", root, dir, target, root, dir, file), 0);
}

static VeritySignature *sign_with(const char *name, const char *root_hash) {
        _cleanup_free_ char *k = key_path(name, "key"), *c = key_path(name, "crt");
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        VeritySignature *s = NULL;
        ASSERT_OK(verity_signature_sign(root_hash, k, c, &s, &e));
        return s;
}

static TrustStore *load_store(const char *root) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        TrustStore *t = NULL;
        ASSERT_OK(trust_store_load(root, &t, &e));
        return t;
}

/* Verifies and checks the outcome: r, error name and a message fragment (NULL: success). */
static void check_verify(const VeritySignature *s, const char *root_hash, const TrustStore *t, int expect_r,
                         const char *expect_name, const char *expect_msg) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_free_ char *signer = NULL, *path = NULL;
        int r = verity_signature_verify(s->pkcs7_der, s->pkcs7_der_size, root_hash, t, "partition 3",
                                        &signer, &path, &e);
        if (e.message)
                fprintf(stderr, "  verify: %s\n", e.message);
        ASSERT_EQ(r, expect_r);
        if (expect_r >= 0)
                return;
        ASSERT_STREQ(e.name, expect_name);
        ASSERT_MESSAGE_CONTAINS(&e, expect_msg);
        ASSERT_TRUE(!signer && !path);
}

static void check_verify_ok(const VeritySignature *s, const TrustStore *t, const char *expect_signer,
                            const char *expect_path) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_free_ char *signer = NULL, *path = NULL;
        int r = verity_signature_verify(s->pkcs7_der, s->pkcs7_der_size, s->root_hash_hex, t, "partition 3",
                                        &signer, &path, &e);
        if (e.message)
                fprintf(stderr, "  verify: %s\n", e.message);
        ASSERT_OK(r);
        ASSERT_STREQ(signer, expect_signer);
        ASSERT_STREQ(path, expect_path);
}

/* ---- JSON ---- */

static void check_parse_fails(const void *buf, size_t size, const char *expect_msg) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        VeritySignature *s = NULL;
        int r = verity_signature_parse(buf, size, "partition 3", &s, &e);
        fprintf(stderr, "  parse: %s\n", e.message ?: "(no message)");
        ASSERT_TRUE(r < 0);
        ASSERT_TRUE(s == NULL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_SIGNATURE);
        ASSERT_MESSAGE_CONTAINS(&e, expect_msg);
}

static void check_parse_str_fails(const char *json, const char *expect_msg) {
        check_parse_fails(json, strlen(json), expect_msg);
}

TEST(json_round_trip) {
        /* Every DER length modulo 3 exercises a different base64 padding. */
        for (size_t n = 1; n <= 7; n++) {
                uint8_t der[7] = { 0x30, 0x82, 0xff, 0x00, 0x2f, 0x2b, 0x3e };
                VeritySignature in = {
                        .root_hash_hex = (char *) ROOT_HASH,
                        .certificate_fingerprint_hex = n % 2 ? (char *) "ab12" : NULL,
                        .pkcs7_der = der,
                        .pkcs7_der_size = n,
                };
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                _cleanup_free_ uint8_t *buf = NULL;
                _cleanup_(verity_signature_freep) VeritySignature *out = NULL;

                ASSERT_OK(verity_signature_format(&in, VERITY_SIGNATURE_PARTITION_SIZE, &buf, &e));
                size_t len = strlen((char *) buf);
                for (size_t i = len; i < VERITY_SIGNATURE_PARTITION_SIZE; i++)
                        ASSERT_EQ(buf[i], 0);
                ASSERT_OK(verity_signature_parse(buf, VERITY_SIGNATURE_PARTITION_SIZE, "partition 3", &out, &e));
                ASSERT_STREQ(out->root_hash_hex, ROOT_HASH);
                if (n % 2)
                        ASSERT_STREQ(out->certificate_fingerprint_hex, "ab12");
                else
                        ASSERT_TRUE(out->certificate_fingerprint_hex == NULL);
                ASSERT_EQ(out->pkcs7_der_size, n);
                ASSERT_TRUE(memcmp(out->pkcs7_der, der, n) == 0);
        }
}

TEST(json_format_exact) {
        uint8_t der[] = { 0xfb, 0xff, 0xbf }; /* "+/+/" in base64: json-c must not escape '/' */
        VeritySignature in = {
                .root_hash_hex = (char *) ROOT_HASH,
                .certificate_fingerprint_hex = (char *) "00ff",
                .pkcs7_der = der,
                .pkcs7_der_size = sizeof(der),
        };
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_free_ uint8_t *text = NULL, *small = NULL;

        ASSERT_OK(verity_signature_format(&in, 0, &text, &e));
        ASSERT_STREQ((char *) text,
                     "{\"rootHash\":\"" ROOT_HASH "\",\"certificateFingerprint\":\"00ff\",\"signature\":\"+/+/\"}");

        size_t len = strlen((char *) text);
        ASSERT_OK(verity_signature_format(&in, len, &small, &e)); /* exactly fits, no NUL needed */
        free(TAKE_PTR(small));
        ASSERT_ERRNO(verity_signature_format(&in, len - 1, &small, &e), -E2BIG);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_MESSAGE_CONTAINS(&e, "does not fit into");
        graft_error_done(&e);

        in.root_hash_hex = (char *) "abc";
        ASSERT_ERRNO(verity_signature_format(&in, 0, &small, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "without a valid root hash");
}

TEST(json_lenient) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(verity_signature_freep) VeritySignature *s = NULL;
        /* Unknown keys ignored, no fingerprint, a non-string fingerprint ignored, whitespace and a
         * trailing newline before the padding accepted, no padding at all accepted. */
        const char *j1 = "{ \"rootHash\" : \"" ROOT_HASH "\", \"x\": [1, {}], \"signature\": \"AAAA\" }\n";
        ASSERT_OK(verity_signature_parse(j1, strlen(j1), "partition 3", &s, &e));
        ASSERT_TRUE(s->certificate_fingerprint_hex == NULL);
        ASSERT_EQ(s->pkcs7_der_size, 3);
        s = verity_signature_free(s);

        const char *j2 = "{\"rootHash\":\"" ROOT_HASH ROOT_HASH "\",\"certificateFingerprint\":7,\"signature\":\"AA==\"}";
        ASSERT_OK(verity_signature_parse(j2, strlen(j2), "partition 3", &s, &e));
        ASSERT_TRUE(s->certificate_fingerprint_hex == NULL);
        ASSERT_EQ(s->pkcs7_der_size, 1);
        ASSERT_EQ(strlen(s->root_hash_hex), 128);
}

TEST(json_refusals) {
        char buf[64] = "{}";
        buf[40] = 'x';
        check_parse_fails(buf, sizeof(buf), "signature partition 3 has non-NUL bytes after the JSON at offset 40");

        _cleanup_free_ uint8_t *big = calloc(1, VERITY_SIGNATURE_MAX_SIZE + 1);
        ASSERT_TRUE(big);
        check_parse_fails(big, VERITY_SIGNATURE_MAX_SIZE + 1,
                          "signature partition 3 is 4194305 bytes, more than the 4194304 allowed");
        check_parse_fails(big, 16384, "signature partition 3 is empty (only NUL bytes)");

        check_parse_str_fails("{\"rootHash\":", "signature partition 3 is not valid JSON: it ends at offset 12");
        check_parse_str_fails("{\"rootHash\" 1}", "signature partition 3 is not valid JSON: ");
        check_parse_str_fails("{\"rootHash\":1,}", "signature partition 3 is not valid JSON: ");
        check_parse_str_fails("{} {}", "signature partition 3 is not valid JSON: unexpected character at offset 3");
        check_parse_str_fails("[1]", "signature partition 3 is not valid JSON: the top level is of type array, not an object");
        check_parse_str_fails("{\"signature\":\"AAAA\"}", "signature partition 3 lacks rootHash");
        check_parse_str_fails("{\"rootHash\":null,\"signature\":\"AAAA\"}", "signature partition 3 lacks rootHash");
        check_parse_str_fails("{\"rootHash\":12,\"signature\":\"AAAA\"}",
                              "signature partition 3 rootHash is of JSON type int, not a string");
        check_parse_str_fails("{\"rootHash\":\"0D3A9E5B7C1F24680ACE13579BDF02468ACE13579BDF02468ACE13579BDF0246\",\"signature\":\"AAAA\"}",
                              "signature partition 3 rootHash is not lowercase hex (64 characters)");
        check_parse_str_fails("{\"rootHash\":\"" ROOT_HASH "0\",\"signature\":\"AAAA\"}",
                              "signature partition 3 rootHash has an odd number of hex digits (65 characters)");
        check_parse_str_fails("{\"rootHash\":\"0d3a9e5b7c1f24680ace13579bdf0246\",\"signature\":\"AAAA\"}",
                              "signature partition 3 rootHash is not 32 to 64 bytes long (32 characters)");
        check_parse_str_fails("{\"rootHash\":\"\",\"signature\":\"AAAA\"}",
                              "signature partition 3 rootHash is not 32 to 64 bytes long (0 characters)");
        check_parse_str_fails("{\"rootHash\":\"" ROOT_HASH "\"}", "signature partition 3 lacks signature");
        check_parse_str_fails("{\"rootHash\":\"" ROOT_HASH "\",\"signature\":[]}",
                              "signature partition 3 signature is of JSON type array, not a string");

        static const char * const bad_b64[] = { "", "AAA", "AAAAA", "A===", "AA=A", "A*AA", "AA AA", "====",
                                                "AAAA\\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad_b64); i++) {
                _cleanup_free_ char *j = NULL;
                ASSERT_TRUE(asprintf(&j, "{\"rootHash\":\"%s\",\"signature\":\"%s\"}", ROOT_HASH, bad_b64[i]) >= 0);
                check_parse_str_fails(j, "signature partition 3 signature is not valid base64");
        }
}

/* ---- signing and verification ---- */

TEST(sign_and_verify) {
        _cleanup_free_ char *root = new_root(), *expect_path = NULL, *fp = NULL;
        _cleanup_(verity_signature_freep) VeritySignature *s = sign_with("alice", ROOT_HASH);
        install_cert(root, "etc/verity.d", "alice.crt", "alice");
        _cleanup_(trust_store_freep) TrustStore *t = load_store(root);
        ASSERT_EQ(trust_store_size(t), 1);

        ASSERT_STREQ(s->root_hash_hex, ROOT_HASH);
        ASSERT_TRUE(asprintf(&expect_path, "%s/etc/verity.d/alice.crt", root) >= 0);
        check_verify_ok(s, t, "CN=alice", expect_path);

        /* The fingerprint is the SHA-256 of the certificate's DER encoding. */
        _cleanup_free_ char *fp_file = NULL, *fp_text = NULL;
        ASSERT_TRUE(asprintf(&fp_file, "%s/fp", scratch) >= 0);
        ASSERT_EQ(run("openssl x509 -in '%s/keys/alice.crt' -outform DER | sha256sum | cut -c1-64 | tr -d '\\n' >'%s'",
                      scratch, fp_file), 0);
        ASSERT_OK(read_full_file_at(AT_FDCWD, fp_file, 4096, &fp_text, NULL));
        ASSERT_STREQ(s->certificate_fingerprint_hex, fp_text);

        /* A root hash the signature was not made over. */
        check_verify(s, OTHER_HASH, t, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the signature does not match root hash " OTHER_HASH ": ");

        /* The store is only looked at, it can verify any number of times; NULL out-params are fine. */
        ASSERT_OK(verity_signature_verify(s->pkcs7_der, s->pkcs7_der_size, ROOT_HASH, t, NULL, NULL, NULL, NULL));
        ASSERT_EQ(run("rm -rf '%s'", root), 0);
}

TEST(verify_untrusted) {
        _cleanup_free_ char *root = new_root(), *empty = new_root(), *msg = NULL;
        _cleanup_(verity_signature_freep) VeritySignature *bob = sign_with("bob", ROOT_HASH);
        _cleanup_(verity_signature_freep) VeritySignature *alice = sign_with("alice", ROOT_HASH);

        /* No certificate at all. */
        _cleanup_(trust_store_freep) TrustStore *none = load_store(empty);
        ASSERT_EQ(trust_store_size(none), 0);
        ASSERT_TRUE(asprintf(&msg, "partition 3: the signature cannot be checked: no trusted certificates are installed "
                             "(looked in %1$s/etc/verity.d, %1$s/run/verity.d, %1$s/usr/local/lib/verity.d, %1$s/usr/lib/verity.d)",
                             empty) >= 0);
        check_verify(alice, ROOT_HASH, none, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED, msg);
        msg = mfree(msg);

        /* Bob's certificate travels inside the PKCS#7 (as verity_signature_sign() embeds it); that
         * alone must not make him trusted. */
        install_cert(root, "etc/verity.d", "alice.crt", "alice");
        _cleanup_(trust_store_freep) TrustStore *one = load_store(root);
        ASSERT_TRUE(asprintf(&msg, "partition 3: the signer (CN=bob) is not the one trusted certificate, %s/etc/verity.d/alice.crt",
                             root) >= 0);
        check_verify(bob, ROOT_HASH, one, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED, msg);
        msg = mfree(msg);

        install_cert(root, "usr/lib/verity.d", "carol.crt", "carol");
        _cleanup_(trust_store_freep) TrustStore *two = load_store(root);
        ASSERT_TRUE(asprintf(&msg, "partition 3: the signer (CN=bob) is not among the 2 trusted certificates in "
                             "%1$s/etc/verity.d, %1$s/run/verity.d, %1$s/usr/local/lib/verity.d, %1$s/usr/lib/verity.d",
                             root) >= 0);
        check_verify(bob, ROOT_HASH, two, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED, msg);

        /* An impostor with Alice's name and serial number but his own key is found "by issuer and
         * serial" in the store, and then fails the signature check against Alice's key. */
        _cleanup_(verity_signature_freep) VeritySignature *mallory = sign_with("mallory", ROOT_HASH);
        check_verify(mallory, ROOT_HASH, two, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the signature does not match root hash");
        ASSERT_EQ(run("rm -rf '%s' '%s'", root, empty), 0);
}

TEST(verify_malformed) {
        _cleanup_free_ char *root = new_root();
        _cleanup_(verity_signature_freep) VeritySignature *s = sign_with("alice", ROOT_HASH);
        install_cert(root, "etc/verity.d", "alice.crt", "alice");
        _cleanup_(trust_store_freep) TrustStore *t = load_store(root);
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;

        /* The RSA signature value is the DER's last bytes: flipping one leaves valid DER. */
        s->pkcs7_der[s->pkcs7_der_size - 10] ^= 0x01;
        check_verify(s, ROOT_HASH, t, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the signature does not match root hash " ROOT_HASH ": ");
        s->pkcs7_der[s->pkcs7_der_size - 10] ^= 0x01;
        check_verify(s, ROOT_HASH, t, 0, NULL, NULL);

        s->pkcs7_der_size -= 20;
        check_verify(s, ROOT_HASH, t, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the signature is not valid PKCS#7 DER: ");
        s->pkcs7_der_size += 20;

        s->pkcs7_der[0] = 0x04;
        check_verify(s, ROOT_HASH, t, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the signature is not valid PKCS#7 DER: ");
        s->pkcs7_der[0] = 0x30;

        uint8_t *longer = realloc(s->pkcs7_der, s->pkcs7_der_size + 5);
        ASSERT_TRUE(longer);
        memset(longer + s->pkcs7_der_size, 0xaa, 5);
        s->pkcs7_der = longer;
        s->pkcs7_der_size += 5;
        check_verify(s, ROOT_HASH, t, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                     "partition 3: the PKCS#7 signature is followed by 5 bytes of garbage");

        ASSERT_ERRNO(verity_signature_verify(s->pkcs7_der, 0, ROOT_HASH, t, "partition 3", NULL, NULL, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "partition 3: the PKCS#7 signature is empty or too large (0 bytes)");
        graft_error_done(&e);
        ASSERT_ERRNO(verity_signature_verify(s->pkcs7_der, s->pkcs7_der_size, "xyz", t, "partition 3", NULL, NULL, &e),
                     -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "partition 3: \"xyz\" is not a lowercase hex root hash");
        ASSERT_EQ(run("rm -rf '%s'", root), 0);
}

TEST(sign_refusals) {
        _cleanup_free_ char *ak = key_path("alice", "key"), *ac = key_path("alice", "crt"), *bc = key_path("bob", "crt");
        _cleanup_free_ char *missing = key_path("nobody", "key"), *junk = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        VeritySignature *s = NULL;

        ASSERT_ERRNO(verity_signature_sign("ABCD", ak, ac, &s, &e), -EINVAL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_MESSAGE_CONTAINS(&e, "cannot sign \"ABCD\": not a lowercase hex root hash");
        graft_error_done(&e);

        ASSERT_ERRNO(verity_signature_sign(ROOT_HASH, missing, ac, &s, &e), -ENOENT);
        ASSERT_STREQ(e.name, GRAFT_ERROR_MISSING_FILE);
        ASSERT_MESSAGE_CONTAINS(&e, "cannot read signing key");
        ASSERT_MESSAGE_CONTAINS(&e, "nobody.key: No such file or directory");
        graft_error_done(&e);

        ASSERT_ERRNO(verity_signature_sign(ROOT_HASH, ak, bc, &s, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "alice.key does not belong to certificate");
        graft_error_done(&e);

        ASSERT_TRUE(asprintf(&junk, "%s/junk.pem", scratch) >= 0);
        write_file(junk, "not a pem file\n", 15);
        ASSERT_ERRNO(verity_signature_sign(ROOT_HASH, junk, ac, &s, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "junk.pem is not an unencrypted PEM private key: ");
        graft_error_done(&e);
        ASSERT_ERRNO(verity_signature_sign(ROOT_HASH, ak, junk, &s, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "certificate ");
        ASSERT_MESSAGE_CONTAINS(&e, "junk.pem is not a PEM certificate: ");
        graft_error_done(&e);

        /* An encrypted key fails instead of prompting on the terminal. */
        ASSERT_EQ(run("openssl pkey -in '%s' -aes256 -passout pass:secret -out '%s/enc.key'", ak, scratch), 0);
        _cleanup_free_ char *enc = NULL;
        ASSERT_TRUE(asprintf(&enc, "%s/enc.key", scratch) >= 0);
        ASSERT_ERRNO(verity_signature_sign(ROOT_HASH, enc, ac, &s, &e), -EBADMSG);
        ASSERT_MESSAGE_CONTAINS(&e, "enc.key is not an unencrypted PEM private key: ");
        ASSERT_TRUE(s == NULL);
}

/* ---- trust store ---- */

TEST(trust_store_precedence_and_masking) {
        _cleanup_free_ char *root = new_root(), *p = NULL;

        /* k1: /etc wins over /usr/lib. */
        install_cert(root, "etc/verity.d", "k1.crt", "alice");
        install_cert(root, "usr/lib/verity.d", "k1.crt", "bob");
        /* k2: masked in /run, so /usr/local/lib's copy is hidden too. */
        install_symlink(root, "run/verity.d", "k2.crt", "/dev/null");
        install_cert(root, "usr/local/lib/verity.d", "k2.crt", "bob");
        /* k3: a mask in a later directory does not hide an earlier file. */
        install_cert(root, "run/verity.d", "k3.crt", "carol");
        install_symlink(root, "usr/lib/verity.d", "k3.crt", "/dev/null");
        /* k4: an absolute symlink resolves inside the root. */
        ASSERT_EQ(run("mkdir -p '%1$s/keys' && cp '%2$s/keys/dave.crt' '%1$s/keys/dave.crt'", root, scratch), 0);
        install_symlink(root, "usr/local/lib/verity.d", "k4.crt", "/keys/dave.crt");
        /* k5: an empty file masks, like systemd's conf files. */
        ASSERT_EQ(run("touch '%s/etc/verity.d/k5.crt'", root), 0);
        install_cert(root, "usr/lib/verity.d", "k5.crt", "bob");
        /* Hidden files and other suffixes are not looked at. */
        install_cert(root, "etc/verity.d", ".hidden.crt", "bob");
        install_cert(root, "etc/verity.d", "bob.pem", "bob");

        _cleanup_(trust_store_freep) TrustStore *t = load_store(root);
        ASSERT_EQ(trust_store_size(t), 3);
        char * const *paths = trust_store_paths(t);
        ASSERT_TRUE(asprintf(&p, "%s/etc/verity.d/k1.crt", root) >= 0);
        ASSERT_STREQ(paths[0], p);
        p = mfree(p);
        ASSERT_TRUE(asprintf(&p, "%s/run/verity.d/k3.crt", root) >= 0);
        ASSERT_STREQ(paths[1], p);
        p = mfree(p);
        ASSERT_TRUE(asprintf(&p, "%s/usr/local/lib/verity.d/k4.crt", root) >= 0);
        ASSERT_STREQ(paths[2], p);
        ASSERT_TRUE(paths[3] == NULL);

        _cleanup_(verity_signature_freep) VeritySignature *a = sign_with("alice", ROOT_HASH);
        _cleanup_(verity_signature_freep) VeritySignature *b = sign_with("bob", ROOT_HASH);
        _cleanup_(verity_signature_freep) VeritySignature *c = sign_with("carol", ROOT_HASH);
        _cleanup_(verity_signature_freep) VeritySignature *d = sign_with("dave", ROOT_HASH);
        check_verify_ok(a, t, "CN=alice", paths[0]);
        check_verify_ok(c, t, "CN=carol", paths[1]);
        check_verify_ok(d, t, "CN=dave", paths[2]);
        check_verify(b, ROOT_HASH, t, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED,
                     "partition 3: the signer (CN=bob) is not among the 3 trusted certificates in ");
        ASSERT_EQ(run("rm -rf '%s'", root), 0);
}

static void check_load_fails(const char *root, int expect_r, const char *expect_name, const char *expect_msg) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        TrustStore *t = NULL;
        int r = trust_store_load(root, &t, &e);
        fprintf(stderr, "  load: %s\n", e.message ?: "(no message)");
        ASSERT_EQ(r, expect_r);
        ASSERT_TRUE(t == NULL);
        ASSERT_STREQ(e.name, expect_name);
        ASSERT_MESSAGE_CONTAINS(&e, expect_msg);
}

TEST(trust_store_errors) {
        _cleanup_free_ char *root = new_root(), *msg = NULL, *outside = NULL;

        /* A malformed certificate is an error naming the file, even next to good ones. */
        install_cert(root, "etc/verity.d", "good.crt", "alice");
        ASSERT_EQ(run("mkdir -p '%1$s/usr/lib/verity.d' && echo garbage >'%1$s/usr/lib/verity.d/bad.crt'", root), 0);
        ASSERT_TRUE(asprintf(&msg, "trusted certificate %s/usr/lib/verity.d/bad.crt is not a PEM certificate: ", root) >= 0);
        check_load_fails(root, -EBADMSG, GRAFT_ERROR_UNTRUSTED, msg);
        msg = mfree(msg);

        /* A PEM file whose body is not a certificate. */
        ASSERT_EQ(run("cp '%2$s/keys/alice.key' '%1$s/usr/lib/verity.d/bad.crt'", root, scratch), 0);
        ASSERT_TRUE(asprintf(&msg, "trusted certificate %s/usr/lib/verity.d/bad.crt is not a PEM certificate: ", root) >= 0);
        check_load_fails(root, -EBADMSG, GRAFT_ERROR_UNTRUSTED, msg);
        msg = mfree(msg);

        /* ...unless an earlier directory masks it. */
        install_symlink(root, "etc/verity.d", "bad.crt", "/dev/null");
        _cleanup_(trust_store_freep) TrustStore *t = load_store(root);
        ASSERT_EQ(trust_store_size(t), 1);
        ASSERT_EQ(run("rm -f '%s/etc/verity.d/bad.crt' '%s/usr/lib/verity.d/bad.crt'", root, root), 0);

        /* A symlink to a host file that does not exist inside the root is not followed out. */
        ASSERT_TRUE(asprintf(&outside, "%s/keys/alice.crt", scratch) >= 0);
        install_symlink(root, "run/verity.d", "escape.crt", outside);
        ASSERT_TRUE(asprintf(&msg, "cannot open trusted certificate %s/run/verity.d/escape.crt: No such file or directory",
                             root) >= 0);
        check_load_fails(root, -ENOENT, GRAFT_ERROR_IO, msg);
        msg = mfree(msg);
        install_symlink(root, "run/verity.d", "escape.crt", "../../../../../../../../..//tmp/../etc/hostname");
        check_load_fails(root, -ENOENT, GRAFT_ERROR_IO, "run/verity.d/escape.crt: No such file or directory");
        ASSERT_EQ(run("rm -f '%s/run/verity.d/escape.crt'", root), 0);

        /* Not a regular file: refused unopened (a FIFO without a writer would block a reader). */
        static const struct { const char *make, *what; int r; } odd[] = {
                { "mkdir", "a directory", -EISDIR },
                { "mkfifo", "a FIFO", -EBADFD },
        };
        for (size_t i = 0; i < ELEMENTSOF(odd); i++) {
                ASSERT_EQ(run("%s '%s/usr/lib/verity.d/odd.crt'", odd[i].make, root), 0);
                ASSERT_TRUE(asprintf(&msg, "trusted certificate %s/usr/lib/verity.d/odd.crt is %s, not a regular file",
                                     root, odd[i].what) >= 0);
                check_load_fails(root, odd[i].r, GRAFT_ERROR_UNTRUSTED, msg);
                msg = mfree(msg);
                ASSERT_EQ(run("rm -r '%s/usr/lib/verity.d/odd.crt'", root), 0);
        }

        /* A verity.d that is not a directory. */
        ASSERT_EQ(run("mkdir -p '%1$s/usr/local/lib' && touch '%1$s/usr/local/lib/verity.d'", root), 0);
        ASSERT_TRUE(asprintf(&msg, "cannot open trust store directory %s/usr/local/lib/verity.d: Not a directory", root) >= 0);
        check_load_fails(root, -ENOTDIR, GRAFT_ERROR_IO, msg);
        msg = mfree(msg);
        ASSERT_EQ(run("rm -f '%s/usr/local/lib/verity.d'", root), 0);

        ASSERT_TRUE(asprintf(&msg, "%s/does-not-exist", root) >= 0);
        check_load_fails(msg, -ENOENT, GRAFT_ERROR_MISSING_FILE, "cannot open root directory ");
        ASSERT_EQ(run("rm -rf '%s'", root), 0);
}

/* ---- interoperability with openssl smime ---- */

TEST(interop_openssl_smime) {
        _cleanup_free_ char *root = new_root(), *dir = NULL, *rh = NULL, *ours = NULL, *theirs_path = NULL;
        _cleanup_free_ char *theirs = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        size_t theirs_size;

        install_cert(root, "etc/verity.d", "alice.crt", "alice");
        _cleanup_(trust_store_freep) TrustStore *t = load_store(root);
        ASSERT_TRUE(asprintf(&dir, "%s/interop", scratch) >= 0);
        ASSERT_EQ(mkdir(dir, 0755), 0);
        ASSERT_TRUE(asprintf(&rh, "%s/roothash.txt", dir) >= 0);
        write_file(rh, ROOT_HASH, strlen(ROOT_HASH));

        /* Ours verifies with openssl, over exactly the hex string (no newline). */
        _cleanup_(verity_signature_freep) VeritySignature *s = sign_with("alice", ROOT_HASH);
        ASSERT_TRUE(asprintf(&ours, "%s/ours.p7s", dir) >= 0);
        write_file(ours, s->pkcs7_der, s->pkcs7_der_size);
        ASSERT_EQ(run("openssl smime -verify -binary -inform DER -in '%s' -content '%s' -CAfile '%s/keys/alice.crt' "
                      "-purpose any -out /dev/null 2>/dev/null", ours, rh, scratch), 0);
        ASSERT_EQ(run("printf '%%s\\n' " ROOT_HASH " >'%s/nl.txt' && openssl smime -verify -binary -inform DER -in '%s' "
                      "-content '%s/nl.txt' -CAfile '%s/keys/alice.crt' -purpose any -out /dev/null 2>/dev/null",
                      dir, ours, dir, scratch), 4);
        /* No signed attributes, as -noattr: openssl prints no signerInfo authenticatedAttributes. */
        ASSERT_EQ(run("openssl pkcs7 -inform DER -in '%s' -print -noout | grep -A1 '^ *auth_attr:$' | grep -q '<ABSENT>'",
                      ours), 0);

        /* openssl's verifies with ours, with and without the certificate embedded, and its
         * signature is the same bytes as ours (RSA PKCS#1 v1.5 is deterministic). */
        static const char * const variants[] = { "-noattr", "-noattr -nocerts", "" };
        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                theirs_path = mfree(theirs_path);
                theirs = mfree(theirs);
                ASSERT_TRUE(asprintf(&theirs_path, "%s/theirs%zu.p7s", dir, i) >= 0);
                ASSERT_EQ(run("openssl smime -sign -binary %1$s -in '%2$s' -signer '%3$s/keys/alice.crt' -inkey '%3$s/keys/alice.key' "
                              "-outform DER -out '%4$s'", variants[i], rh, scratch, theirs_path), 0);
                ASSERT_OK(read_full_file_at(AT_FDCWD, theirs_path, 1 << 20, &theirs, &theirs_size));
                _cleanup_free_ char *signer = NULL, *path = NULL;
                ASSERT_OK(verity_signature_verify((uint8_t *) theirs, theirs_size, ROOT_HASH, t, "file theirs.p7s",
                                                  &signer, &path, &e));
                ASSERT_STREQ(signer, "CN=alice");
                ASSERT_TRUE(endswith(path, "/etc/verity.d/alice.crt"));
                if (i == 0) {
                        ASSERT_EQ(theirs_size, s->pkcs7_der_size);
                        ASSERT_TRUE(memcmp(theirs, s->pkcs7_der, theirs_size) == 0);
                }
                ASSERT_ERRNO(verity_signature_verify((uint8_t *) theirs, theirs_size, OTHER_HASH, t, "file theirs.p7s",
                                                     NULL, NULL, &e), -EBADMSG);
                ASSERT_MESSAGE_CONTAINS(&e, "file theirs.p7s: the signature does not match root hash");
                graft_error_done(&e);
        }

        /* Not embedded and not trusted: the signer is named by issuer and serial. */
        _cleanup_free_ char *bob_sig = NULL, *bob_der = NULL;
        size_t bob_size;
        ASSERT_TRUE(asprintf(&bob_sig, "%s/bob.p7s", dir) >= 0);
        ASSERT_EQ(run("openssl smime -sign -binary -noattr -nocerts -in '%1$s' -signer '%2$s/keys/bob.crt' "
                      "-inkey '%2$s/keys/bob.key' -outform DER -out '%3$s'", rh, scratch, bob_sig), 0);
        ASSERT_OK(read_full_file_at(AT_FDCWD, bob_sig, 1 << 20, &bob_der, &bob_size));
        ASSERT_ERRNO(verity_signature_verify((uint8_t *) bob_der, bob_size, ROOT_HASH, t, "partition 3", NULL, NULL, &e),
                     -EKEYREJECTED);
        ASSERT_MESSAGE_CONTAINS(&e, "the signer (certificate not embedded; issuer CN=bob, serial ");
        ASSERT_EQ(run("rm -rf '%s' '%s'", root, dir), 0);
}

int main(int argc, char **argv) {
        const char *src = getenv("GRAFT_SOURCE_DIR");

        if (run("openssl version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "openssl(1) is missing, skipping\n");
                return EXIT_TEST_SKIP;
        }
        if (!src) {
                fprintf(stderr, "GRAFT_SOURCE_DIR is not set (run through meson test), skipping\n");
                return EXIT_TEST_SKIP;
        }
        ASSERT_TRUE(mkdtemp(scratch));
        static const char * const keys[][3] = {
                { "alice", "alice", "4242" },
                { "bob", "bob", "" },
                { "carol", "carol", "" },
                { "dave", "dave", "" },
                /* Same subject (= issuer, self-signed) and serial as alice below, another key. */
                { "mallory", "alice", "4242" },
        };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                ASSERT_EQ(run("'%s/tests/lib/mkcert.sh' '%s/keys' '%s' '%s' %s", src, scratch, keys[i][0], keys[i][1],
                              keys[i][2]), 0);

        int r = tests_run(argc, argv);
        ASSERT_EQ(run("rm -rf '%s'", scratch), 0);
        return r;
}
