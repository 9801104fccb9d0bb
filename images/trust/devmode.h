/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Developer mode: an explicit, visible state of a host (ROOT/etc/graft/developer-mode) in which
 * a second, local trust root is honoured besides the vendor's verity.d store: the developer's
 * certificates in ROOT/etc/graft/developer.d, enrolled by `graft-image keygen`. An image signed
 * by such a key is admitted only while the mode is on; otherwise its signature is refused naming
 * the trust root it would need. See graft-image(1), DEVELOPER MODE. */
#pragma once

#include <stdbool.h>

#include "discover.h"
#include "error.h"
#include "signature.h"

#define DEVELOPER_MODE_PATH "/etc/graft/developer-mode"
#define DEVELOPER_TRUST_DIR "/etc/graft/developer.d"

/* Which trust root admitted an image. */
typedef enum TrustRoot {
        TRUST_ROOT_NONE,      /* not signed by anyone trusted (verity only, or unprotected) */
        TRUST_ROOT_VENDOR,    /* a certificate of the verity.d directories */
        TRUST_ROOT_DEVELOPER, /* a local developer certificate, developer mode on */
        _TRUST_ROOT_MAX,
} TrustRoot;

/* "none", "vendor", "developer". */
const char *trust_root_to_string(TrustRoot t);

/* 1 when developer mode is on under root (NULL: the host), 0 when off. The mode file must be a
 * regular file nobody but root can change (file-trust.h): otherwise -EPERM with
 * GRAFT_ERROR_POLICY saying who could, and the mode counts as off for nobody. */
int developer_mode_get(const char *root, GraftError *err);

/* Turns the mode on (the file records when) or off (the file is removed). Idempotent. */
int developer_mode_set(const char *root, bool on, GraftError *err);

/* The developer trust store under root (developer.d, same file rules as verity.d). */
int developer_trust_store_load(const char *root, TrustStore **ret, GraftError *err);

/* After the vendor store refused the signer: whether a developer certificate under root signed
 * sig. 1 with *ret_signer and *ret_cert_path when it did and the mode is on; -EKEYREJECTED with
 * GRAFT_ERROR_UNTRUSTED naming the certificate and saying that developer mode is off when it did
 * and the mode is off; 0 when no developer certificate signed it (the vendor's refusal stands). */
int developer_signature_verify(const char *root, const VeritySignature *sig, const char *what, char **ret_signer,
                               char **ret_cert_path, GraftError *err);

/* Makes an RSA key and a self-signed certificate (CN=name), writes KEY_DIR/NAME.key (0600) and
 * KEY_DIR/NAME.crt, and enrolls the certificate as ROOT/etc/graft/developer.d/NAME.crt. Refuses
 * to overwrite an existing key or certificate (-EEXIST, GRAFT_ERROR_CONFLICT). */
int developer_keygen(const char *root, const char *name, const char *key_dir, GraftError *err);

/* Which trust root admitted each image in use, as the changes record it, in
 * ROOT/run/graft/CLASS.trust for extensions (a merge does not outlive a boot) and
 * ROOT/var/lib/graft/portable.trust for portable services (an attachment does): one line
 * "NAME<TAB>TRUST<TAB>SIGNER" per image. In memory a flat strv of triples (name, trust root,
 * signer; the signer may be ""). triples NULL removes the record. Written after the change it
 * describes and outside its all-or-nothing (the merge's intent record, the portable journal): a
 * crash in between leaves it one change behind until the next change. Readers match it by name
 * against what is merged or attached; leaving developer mode does not rely on it for extensions
 * (it refreshes whatever is merged, verifying anew). */
int developer_admissions_write(const char *root, ImageClass class, char * const *triples, GraftError *err);
/* The record's triples (NULL when there is none). */
int developer_admissions_read(const char *root, ImageClass class, char ***ret, GraftError *err);
/* The trust root ("vendor", "developer", "none") recorded for name, and its signer; NULL if none. */
const char *developer_admission_find(char * const *triples, const char *name, const char **ret_signer);

/* The images of class that the record says only a developer key admitted, as "NAME (SIGNER)". */
int developer_admitted(const char *root, ImageClass class, char ***ret, GraftError *err);

/* Before developer mode is left: -EBUSY with GRAFT_ERROR_CONFLICT when an image of a class not
 * in handled (whose caller will not take it out of use itself) is in use on a developer key's
 * word only, naming each and what to do; 0 otherwise. */
int developer_mode_leave_check(const char *root, const ImageClass *handled, size_t n_handled, GraftError *err);

/* "on" or "off", the mode file, the developer trust store and what it admitted, as lines for
 * `developer-mode status`. */
int developer_mode_status_text(const char *root, char **ret, GraftError *err);

/* The developer-mode verb of sextctl and pctl: "on", "off" (after developer_mode_leave_check()
 * with handled) or "status"; *ret_text is what to tell the user. Anything else is -EINVAL with
 * GRAFT_ERROR_INVALID_ARGUMENT. */
int developer_mode_verb(const char *root, const char *what, const ImageClass *handled, size_t n_handled,
                        char **ret_text, GraftError *err);
