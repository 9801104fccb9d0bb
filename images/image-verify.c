/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the order of verification (see image-verify.h). */
#include <string.h>
#include <strings.h>

#include "devmode.h"
#include "file-trust.h"
#include "fileio.h"
#include "hex.h"
#include "image-verify.h"
#include "signature.h"
#include "squashfs.h"

void image_verification_done(ImageVerification *v) {
        if (!v)
                return;
        free(v->root_hash_hex);
        free(v->signer);
        free(v->signer_certificate);
        free(v->signature_ignored);
        *v = (ImageVerification) {};
}

/* The signature that goes with the data: the signature partition's JSON, or the .p7s sidecar
 * (whose root hash then comes from the .roothash sidecar). NULL when the image has none. */
static int load_signature(const DissectedImage *image, VeritySignature **ret, GraftError *err) {
        if (image->signature.found) {
                const ImageRange *r = &image->signature.range;
                if (r->size > VERITY_SIGNATURE_MAX_SIZE)
                        return graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "%s: signature %s is %" PRIu64 " bytes, more than the %" PRIu64 " allowed",
                                               image->path, r->what, r->size, VERITY_SIGNATURE_MAX_SIZE);
                _cleanup_free_ uint8_t *buf = malloc(r->size ?: 1);
                if (!buf)
                        return -ENOMEM;
                int k = pread_full(r->fd, buf, r->size, r->offset);
                if (k < 0)
                        return graft_error_set(err, k, GRAFT_ERROR_BAD_IMAGE, "%s: cannot read %s: %s",
                                               image->path, r->what, strerror(-k));
                k = verity_signature_parse(buf, r->size, r->what, ret, err);
                if (k < 0)
                        return graft_error_prefix(err, k, "%s", image->path);
                return 1;
        }

        if (image->sidecar_p7s) {
                if (!image->sidecar_root_hash)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                               "%s: has a .roothash.p7s signature but no .roothash file saying what it signs",
                                               image->path);
                _cleanup_(verity_signature_freep) VeritySignature *s = calloc(1, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                s->root_hash_hex = strdup(image->sidecar_root_hash);
                s->pkcs7_der = malloc(image->sidecar_p7s_size);
                if (!s->root_hash_hex || !s->pkcs7_der)
                        return -ENOMEM;
                memcpy(s->pkcs7_der, image->sidecar_p7s, image->sidecar_p7s_size);
                s->pkcs7_der_size = image->sidecar_p7s_size;
                *ret = TAKE_PTR(s);
                return 1;
        }

        *ret = NULL;
        return 0;
}

/* Gathers the root hash every source claims and refuses disagreement between them. */
static int expected_root_hash(const DissectedImage *image, const ImageVerifyOptions *o,
                              const VeritySignature *sig, char **ret_hex, GraftError *err) {
        _cleanup_free_ char *given = o->root_hash ? hexmem(o->root_hash, o->root_hash_size) : NULL;
        const struct {
                const char *hex, *source;
        } claims[] = {
                { given, "--root-hash" },
                { sig ? sig->root_hash_hex : NULL, "the signature" },
                { image->sidecar_root_hash, "the .roothash file" },
        };
        const char *hex = NULL, *source = NULL;
        for (size_t i = 0; i < ELEMENTSOF(claims); i++) {
                if (!claims[i].hex)
                        continue;
                if (hex && strcasecmp(hex, claims[i].hex) != 0)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                               "%s: %s says the root hash is %s, but %s says %s", image->path,
                                               source, hex, claims[i].source, claims[i].hex);
                hex = claims[i].hex;
                source = claims[i].source;
        }
        if (!hex) {
                *ret_hex = NULL;
                return 0;
        }
        *ret_hex = strdup(hex);
        if (!*ret_hex)
                return -ENOMEM;
        for (char *p = *ret_hex; *p; p++)
                *p = (char) (*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
        return 0;
}

static int check_signature(const DissectedImage *image, const ImageVerifyOptions *o, const VeritySignature *sig,
                           ImageVerification *v, GraftError *err) {
        _cleanup_(trust_store_freep) TrustStore *store = NULL;
        int r = trust_store_load(o->root, &store, err);
        if (r < 0)
                return r;
        const char *what = image->signature.found ? image->signature.range.what : "the .roothash.p7s file";
        _cleanup_graft_error_ GraftError vendor_err = GRAFT_ERROR_INIT;
        r = verity_signature_verify(sig->pkcs7_der, sig->pkcs7_der_size, sig->root_hash_hex, store, what,
                                    &v->signer, &v->signer_certificate, &vendor_err);
        if (r >= 0) {
                v->trust_root = TRUST_ROOT_VENDOR;
                return 0;
        }
        /* Not the vendor's: perhaps a local developer's, which counts only in developer mode
         * (and which is named when the mode is off, so the refusal says what is missing). */
        int k = r == -EKEYREJECTED
                        ? developer_signature_verify(o->root, sig, what, &v->signer, &v->signer_certificate, err)
                        : 0;
        if (k > 0) {
                v->trust_root = TRUST_ROOT_DEVELOPER;
                return 0;
        }
        if (k < 0)
                return graft_error_prefix(err, k, "%s", image->path);
        if (err && !err->name) {
                *err = vendor_err;
                vendor_err = GRAFT_ERROR_INIT;
        }
        return graft_error_prefix(err, r, "%s", image->path);
}

/* A directory the policy refuses (unsigned: a build tree) is admitted in developer mode, as the
 * local developer's, when nobody but root can change it (file-trust.h): 1 then, 0 with the mode
 * off, -EPERM naming who could write it otherwise. */
static int admit_directory(const DissectedImage *image, const ImageVerifyOptions *o, ImageVerification *v,
                           GraftError *err) {
        int r = developer_mode_get(o->root, err);
        if (r <= 0)
                return r;
        r = path_check_trusted(image->path, "directory extension", err);
        if (r < 0)
                return graft_error_prefix(err, r, "developer mode admits unsigned directories only when root owns them");
        free(v->signer);
        v->signer = strdup("unsigned local directory");
        if (!v->signer)
                return -ENOMEM;
        v->offer = OFFER_SIGNED;
        v->trust_root = TRUST_ROOT_DEVELOPER;
        return 1;
}

/* A policy refusal of an image whose signature was set aside (untrusted signer) says why it did
 * not count, so that "no trusted signature" is not read as "unsigned". */
static int add_ignored_signature(GraftError *err, int r, const char *path, const char *why) {
        char *m = NULL;
        size_t n = strlen(path);
        if (why && strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0)
                why += n + 2; /* the refusal names the image already */
        if (!why || !err || !err->message || asprintf(&m, "%s (%s)", err->message, why) < 0)
                return r;
        free(err->message);
        err->message = m;
        return r;
}

/* Every designator the policy could speak of, with what the image offers for it. */
static int check_policy(const DissectedImage *image, const ImagePolicy *policy, PolicyOffer data_offer,
                        GraftError *err) {
        PartitionDesignator data = image->data.designator;
        for (PartitionDesignator d = 0; d < _PARTITION_DESIGNATOR_MAX; d++) {
                if (d == partition_verity_of(data) || d == partition_verity_sig_of(data))
                        continue; /* part of the data partition's protection */
                PolicyOffer offer = OFFER_ABSENT;
                if (d == data)
                        offer = data_offer;
                else if (image->table)
                        for (size_t i = 0; i < image->table->n_partitions; i++) {
                                const DpsType *t = dps_type_from_uuid(&image->table->partitions[i].type);
                                if (t && t->designator == d)
                                        offer = OFFER_UNPROTECTED;
                        }
                int r = image_policy_check(policy, d, offer, image->path, err);
                if (r < 0)
                        return r;
                /* Present but allowed only unused: fine for partitions we ignore, not for the
                 * one we are asked to vouch for. */
                if (r == POLICY_CHECK_UNUSED && d == data)
                        return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                               "%s: the image policy allows the %s partition only to be left unused, "
                                               "but it is the image's data partition",
                                               image->path, partition_designator_to_string(d));
        }
        return 0;
}

static int check_file_system(const DissectedImage *image, ImageVerification *v, GraftError *err) {
        if (image->kind == IMAGE_KIND_DIRECTORY || image->data.fstype != FS_TYPE_SQUASHFS)
                return 0;
        _cleanup_(squashfs_reader_freep) SquashfsReader *reader = NULL;
        int r = squashfs_reader_open(&image->data.range, &reader, err);
        if (r >= 0)
                r = squashfs_check_tree(reader, &v->inodes, err);
        return r < 0 ? graft_error_prefix(err, r, "%s", image->path) : 0;
}

static bool uuids_match(const DissectedImage *image, const VerityResult *vr) {
        if (image->kind != IMAGE_KIND_GPT || vr->root_hash_size < 32)
                return false;
        return memcmp(image->data.uuid.bytes, vr->root_hash, 16) == 0 &&
               memcmp(image->verity.uuid.bytes, vr->root_hash + vr->root_hash_size - 16, 16) == 0;
}

int image_policy_default(const char *root, ImagePolicy *ret, GraftError *err) {
        _cleanup_(trust_store_freep) TrustStore *store = NULL;
        int r = trust_store_load(root, &store, err);
        if (r < 0)
                return r;
        /* With a trust store, only signed data partitions; without one, anything, and whatever
         * protection an image carries is still checked (a hash tree is always verified). */
        return image_policy_parse(trust_store_size(store) > 0 ? "root=signed+absent:usr=signed+absent" : "*", ret, err);
}

int image_verify_hash_tree(const DissectedImage *image, const char *expected_hex, const ImageVerifyOptions *o,
                           VerityResult *ret, GraftError *err) {
        _cleanup_free_ uint8_t *want = NULL;
        size_t want_size = 0;
        if (expected_hex && unhexmem(expected_hex, strlen(expected_hex), &want, &want_size) < 0)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: the root hash %s is not valid hex", image->path, expected_hex);
        VerityVerify req = {
                .data = &image->data.range,
                .hash = &image->verity.range,
                .expected_root_hash = want,
                .expected_root_hash_size = want_size,
                .n_threads = o->n_threads,
                .progress = o->progress,
                .progress_userdata = o->progress_userdata,
        };
        int r = verity_verify(&req, ret, err);
        return r < 0 ? graft_error_prefix(err, r, "%s", image->path) : 0;
}

/* The hash tree through o->cache: 1 if it was known verified, 0 if it was hashed now. */
static int verify_hash_tree_cached(const DissectedImage *image, const char *expected_hex, const ImageVerifyOptions *o,
                                   VerityResult *ret, GraftError *err) {
        if (verify_cache_lookup(o->cache, &image->data.range, &image->verity.range, expected_hex, ret) > 0)
                return 1;
        _cleanup_(verify_cache_key_freep) VerifyCacheKey *before = NULL;
        if (o->cache)
                (void) verify_cache_key(&image->data.range, &image->verity.range, &before);
        int r = image_verify_hash_tree(image, expected_hex, o, ret, err);
        if (r < 0)
                return r;
        (void) verify_cache_store(o->cache, &image->data.range, &image->verity.range, before, ret);
        return 0;
}

int image_verify(const DissectedImage *image, const ImageVerifyOptions *o, ImageVerification *ret,
                 GraftError *err) {
        _cleanup_(image_verification_done) ImageVerification v = {};
        _cleanup_(verity_signature_freep) VeritySignature *sig = NULL;
        _cleanup_free_ char *expected = NULL;
        int r;

        r = load_signature(image, &sig, err);
        if (r < 0)
                return r;
        if (sig && !image->verity.found)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: has a signature but no verity hash partition it could protect", image->path);
        r = expected_root_hash(image, o, sig, &expected, err);
        if (r < 0)
                return r;

        bool trusted = false;
        if (sig) {
                GraftError sig_err = GRAFT_ERROR_INIT;
                r = check_signature(image, o, sig, &v, &sig_err);
                if (r < 0 && o->untrusted_signature_ok && streq(sig_err.name, GRAFT_ERROR_UNTRUSTED)) {
                        /* Not an error here: the image counts as verity-only, and the policy,
                         * checked next, decides whether that is enough. */
                        v.signature_ignored = TAKE_PTR(sig_err.message);
                        graft_error_done(&sig_err);
                } else if (r < 0) {
                        if (err && !err->name)
                                *err = sig_err;
                        else
                                graft_error_done(&sig_err);
                        return r;
                } else
                        trusted = true;
        }
        v.offer = trusted ? OFFER_SIGNED : image->verity.found ? OFFER_VERITY : OFFER_UNPROTECTED;

        if (o->policy) {
                GraftError policy_err = GRAFT_ERROR_INIT;
                r = check_policy(image, o->policy, v.offer, &policy_err);
                if (r < 0 && image->kind == IMAGE_KIND_DIRECTORY && !trusted) {
                        int k = admit_directory(image, o, &v, err);
                        if (k != 0) {
                                graft_error_done(&policy_err);
                                if (k < 0)
                                        return k;
                                /* as the developer's: whatever else the policy asks still holds */
                                r = check_policy(image, o->policy, v.offer, &policy_err);
                        } else
                                v.signature_ignored = strdup("an unsigned directory is admitted only in developer mode, "
                                                             "which is off");
                }
                if (r < 0) {
                        if (err && !err->name)
                                *err = policy_err;
                        else
                                graft_error_done(&policy_err);
                        return add_ignored_signature(err, r, image->path, v.signature_ignored);
                }
        }

        if (image->verity.found) {
                VerityResult vr;
                r = verify_hash_tree_cached(image, expected, o, &vr, err);
                if (r < 0)
                        return r;
                v.hash_tree_cached = r > 0;
                v.root_hash_hex = hexmem(vr.root_hash, vr.root_hash_size);
                if (!v.root_hash_hex)
                        return -ENOMEM;
                v.params = vr.params;
                v.uuids_match_root_hash = uuids_match(image, &vr);
        } else if (expected)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: a root hash was given but the image has no verity hash partition or .verity file",
                                       image->path);

        r = check_file_system(image, &v, err);
        if (r < 0)
                return r;

        *ret = v;
        v = (ImageVerification) {};
        return 0;
}
