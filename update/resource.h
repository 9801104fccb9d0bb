/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The versions one side of a transfer has: a source's (the SHA256SUMS of a URL, verified, or a
 * local directory's entries) and a target's (the entries of the target directory that match its
 * patterns), each entry an Instance. */
#pragma once

#include "fetch.h"
#include "manifest.h"
#include "pattern.h"
#include "transfer.h"

typedef struct Instance {
        char *version;
        char *name;        /* the file name, as listed */
        char *location;    /* URL (url-file), or path (root-prefixed for targets and local sources) */
        char *sha256;      /* from SHA256SUMS or @h; NULL if unknown */
        PatternFields fields;
} Instance;

typedef struct Resource {
        Instance *instances; /* newest first */
        size_t n;
        char **temporary;    /* targets: leftovers of interrupted placements (root-prefixed paths) */
        char *signer;        /* url-file with Verify=yes: fingerprint of the key that signed SHA256SUMS */
} Resource;

void resource_done(Resource *r);
const Instance *resource_find(const Resource *r, const char *version);

typedef struct SourceOptions {
        const char *root;
        const char *keyring;     /* NULL: the default places */
        int verify;              /* -1: as the transfer says, 0/1: override (--verify=) */
        const FetchOptions *fetch;
} SourceOptions;

/* Lists the source's versions: for url-file, SHA256SUMS is fetched and, with Verify=yes, its
 * signature SHA256SUMS.gpg checked before any line of it is believed. */
int source_list(const Transfer *t, const SourceOptions *o, Resource *ret, GraftError *err);

/* Lists the target's versions in ROOT/Path (a missing directory has none). Hidden entries
 * graft-update left behind (".#graft-update.*") are listed in temporary. */
int target_list(const Transfer *t, const char *root, Resource *ret, GraftError *err);

/* The prefix of graft-update's staging files in a target directory: hidden, so nothing that
 * looks for images ever picks one up. */
#define STAGING_PREFIX ".#graft-update."
