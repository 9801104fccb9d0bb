/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The trust store: the certificates of the verity.d directories that image signatures are checked
 * against (systemd's directories and conf-file rules). */
#pragma once

#include <stddef.h>

#include "error.h"
#include "macro.h"

typedef struct TrustStore TrustStore;

/* Loads every "*.crt" PEM certificate from /etc/verity.d, /run/verity.d, /usr/local/lib/verity.d
 * and /usr/lib/verity.d under root (NULL: the host), symlinks resolved inside root. A file name
 * seen in an earlier directory hides later ones; a symlink to /dev/null (or an empty file, as for
 * systemd's conf files) masks it. Hidden files are skipped. An unreadable file is
 * GRAFT_ERROR_IO, a malformed certificate -EBADMSG with GRAFT_ERROR_UNTRUSTED, both naming the
 * file. A missing directory is fine: the store may be empty. */
int trust_store_load(const char *root, TrustStore **ret, GraftError *err);
TrustStore *trust_store_free(TrustStore *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TrustStore *, trust_store_free);
size_t trust_store_size(const TrustStore *t);
/* The paths of the loaded certificates (with root prefixed, as they are found on this host), in
 * precedence order: by directory, then by file name. */
char * const *trust_store_paths(const TrustStore *t);
/* The directories looked in, with root prefixed, joined with ", " (for messages). */
char *trust_store_describe_dirs(const TrustStore *t);

/* For the signature check. */
struct stack_st_X509;
/* The loaded certificates, in the order of trust_store_paths(); owned by the store. */
struct stack_st_X509 *trust_store_certs(const TrustStore *t);
