/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns listing the versions of a source or target (see resource.h). */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "path-util.h"
#include "resource.h"
#include "strv.h"
#include "version.h"

#define MANIFEST_MAX (16u * 1024u * 1024u)
#define SIGNATURE_MAX (1024u * 1024u)

static void instance_done(Instance *i) {
        free(i->version);
        free(i->name);
        free(i->location);
        free(i->sha256);
        pattern_fields_done(&i->fields);
}

void resource_done(Resource *r) {
        for (size_t i = 0; i < r->n; i++)
                instance_done(&r->instances[i]);
        free(r->instances);
        strv_free(r->temporary);
        free(r->signer);
        *r = (Resource) {};
}

const Instance *resource_find(const Resource *r, const char *version) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->instances[i].version, version))
                        return &r->instances[i];
        return NULL;
}

static int cmp_instance(const void *a, const void *b) {
        const Instance *x = a, *y = b;
        return -version_compare(x->version, y->version);
}

/* Adds an instance for name if it matches; several names of one version: the first listed wins. */
static int add_if_match(Resource *r, char * const *patterns, const char *name, const char *location,
                        const char *sha256) {
        PatternFields f = {};
        if (pattern_match_any(patterns, name, &f) <= 0)
                return 0;
        if (resource_find(r, f.value[PATTERN_VERSION])) {
                pattern_fields_done(&f);
                return 0;
        }
        Instance *a = reallocarray(r->instances, r->n + 1, sizeof(Instance));
        if (!a) {
                pattern_fields_done(&f);
                return -ENOMEM;
        }
        r->instances = a;
        Instance *i = &r->instances[r->n++];
        *i = (Instance) {
                .version = strdup(f.value[PATTERN_VERSION]),
                .name = strdup(name),
                .location = strdup(location),
                .sha256 = sha256 ? strdup(sha256) : f.value[PATTERN_SHA256] ? strdup(f.value[PATTERN_SHA256]) : NULL,
                .fields = f,
        };
        if (!i->version || !i->name || !i->location || (!i->sha256 && (sha256 || f.value[PATTERN_SHA256])))
                return -ENOMEM;
        return 0;
}

static int list_url(const Transfer *t, const SourceOptions *o, Resource *r, GraftError *err) {
        _cleanup_free_ char *url = NULL, *text = NULL;
        size_t size = 0;
        if (asprintf(&url, "%s/SHA256SUMS", t->source_path) < 0)
                return -ENOMEM;
        int k = fetch_to_memory(url, MANIFEST_MAX, o->fetch, &text, &size, err);
        if (k < 0)
                return k;
        bool verify = o->verify >= 0 ? o->verify : t->verify;
        if (verify) {
                _cleanup_free_ char *keyring = NULL, *sig_url = NULL, *sig = NULL;
                size_t sig_size = 0;
                k = manifest_keyring_find(o->root, o->keyring, &keyring, err);
                if (k < 0)
                        return graft_error_prefix(err, k, "%s", t->path);
                if (asprintf(&sig_url, "%s.gpg", url) < 0)
                        return -ENOMEM;
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                k = fetch_to_memory(sig_url, SIGNATURE_MAX, o->fetch, &sig, &sig_size, &e);
                if (k == -ENOENT)
                        return graft_error_set(err, -EPERM, GRAFT_ERROR_UNTRUSTED,
                                               "%s: Verify=yes, but %s is not signed (%s: HTTP 404)", t->path, url, sig_url);
                if (k < 0)
                        return graft_error_set(err, k, e.name ?: GRAFT_ERROR_IO, "%s", e.message ?: strerror(-k));
                k = manifest_verify_signature(text, size, sig, sig_size, keyring, url, &r->signer, err);
                if (k < 0)
                        return k;
        }
        _cleanup_(manifest_done) Manifest m = {};
        k = manifest_parse(text, size, url, &m, err);
        if (k < 0)
                return k;
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *file_url = NULL;
                if (asprintf(&file_url, "%s/%s", t->source_path, m.entries[i].name) < 0)
                        return -ENOMEM;
                k = add_if_match(r, t->source_patterns, m.entries[i].name, file_url, m.entries[i].sha256);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Entries of a directory, for local sources and targets. A missing directory is empty. */
static int list_dir(const char *dir, char * const *patterns, Resource *r, bool regular_only, GraftError *err) {
        DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot read directory %s: %m", dir);
        }
        struct dirent *de;
        int k = 0;
        while (k >= 0 && (de = readdir(d))) {
                if (startswith(de->d_name, STAGING_PREFIX)) {
                        char *p = path_join(dir, de->d_name);
                        k = p ? strv_consume(&r->temporary, p) : -ENOMEM;
                        continue;
                }
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = path_join(dir, de->d_name);
                if (!p) {
                        k = -ENOMEM;
                        break;
                }
                struct stat st;
                if (regular_only && (stat(p, &st) < 0 || !S_ISREG(st.st_mode)))
                        continue;
                k = add_if_match(r, patterns, de->d_name, p, NULL);
        }
        closedir(d);
        return k;
}

int source_list(const Transfer *t, const SourceOptions *o, Resource *ret, GraftError *err) {
        Resource r = {};
        int k;
        if (t->source_type == RESOURCE_URL_FILE)
                k = list_url(t, o, &r, err);
        else {
                _cleanup_free_ char *dir = path_prefix_root(o->root, t->source_path);
                k = dir ? list_dir(dir, t->source_patterns, &r, true, err) : -ENOMEM;
        }
        if (k < 0) {
                resource_done(&r);
                return k;
        }
        if (r.n > 1)
                qsort(r.instances, r.n, sizeof(Instance), cmp_instance);
        *ret = r;
        return 0;
}

int target_list(const Transfer *t, const char *root, Resource *ret, GraftError *err) {
        _cleanup_free_ char *dir = path_prefix_root(root, t->target_path);
        if (!dir)
                return -ENOMEM;
        Resource r = {};
        int k = list_dir(dir, t->target_patterns, &r, true, err);
        if (k < 0) {
                resource_done(&r);
                return k;
        }
        if (r.n > 1)
                qsort(r.instances, r.n, sizeof(Instance), cmp_instance);
        *ret = r;
        return 0;
}
