/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SHA256SUMS index of a url-file source (sha256sum(1) output: "HASH  NAME" or "HASH *NAME"),
 * and its detached OpenPGP signature SHA256SUMS.gpg, checked with gpgv against a keyring as
 * systemd-sysupdate does (import-pubring.pgp/.gpg in /etc/systemd, then /usr/lib/systemd). */
#pragma once

#include "error.h"

typedef struct ManifestEntry {
        char *name;
        char sha256[65]; /* lowercase hex */
} ManifestEntry;

typedef struct Manifest {
        ManifestEntry *entries;
        size_t n;
} Manifest;

void manifest_done(Manifest *m);

/* Parses the text of SHA256SUMS; "what" (its URL) names it in messages. A line that is not
 * "HASH NAME", a name that is not a plain file name, or a name listed twice with different hashes
 * is -EBADMSG with GRAFT_ERROR_INTEGRITY. */
int manifest_parse(const char *text, size_t size, const char *what, Manifest *ret, GraftError *err);
const ManifestEntry *manifest_find(const Manifest *m, const char *name);

/* The keyring: "keyring" if given, else the first of ROOT/etc/systemd/import-pubring.pgp, .gpg,
 * ROOT/usr/lib/systemd/import-pubring.pgp, .gpg that exists. -ENOENT with
 * GRAFT_ERROR_UNTRUSTED naming the places looked in; -EPERM (GRAFT_ERROR_POLICY) when anybody but
 * root could change the keyring (path_check_trusted()). */
int manifest_keyring_find(const char *root, const char *keyring, char **ret, GraftError *err);

/* Checks the detached signature sig over data with gpgv against keyring. A bad signature is
 * -EBADMSG with GRAFT_ERROR_BAD_SIGNATURE, one by a key not in the keyring -EPERM with
 * GRAFT_ERROR_UNTRUSTED; both name "what" (the URL of SHA256SUMS). On success *ret_signer (if
 * non-NULL) is the signing key's fingerprint. */
int manifest_verify_signature(const char *data, size_t data_size, const char *sig, size_t sig_size,
                              const char *keyring, const char *what, char **ret_signer, GraftError *err);
