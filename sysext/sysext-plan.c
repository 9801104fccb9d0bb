/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the plan: which discovered images may be merged. Each image is dissected, verified
 * (signature, policy, every hash block, entry names) and its extension-release checked against
 * the host before anything of it is mounted; images are validated in parallel, and a refused one
 * is kept in the plan with its reason rather than failing the others. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "fileio.h"
#include "image-fs.h"
#include "metadata.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"
#include "version.h"

void sysext_image_done(SysextImage *i) {
        free(i->name);
        free(i->path);
        free(i->found_as);
        free(i->version);
        free(i->root_hash);
        free(i->signer);
        free(i->mounted_via);
        strv_free(i->extension_release);
        strv_free(i->content);
        graft_error_done(&i->error);
        dissected_image_free(i->dissected);
        image_verification_done(&i->verification);
        *i = (SysextImage) {};
}

SysextPlan *sysext_plan_free(SysextPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_images; i++)
                sysext_image_done(&p->images[i]);
        free(p->images);
        strv_free(p->discovery_skipped);
        strv_free(p->passed_over);
        strv_free(p->hierarchies);
        free(p->root);
        free(p);
        return NULL;
}

size_t sysext_plan_n_ready(const SysextPlan *p) {
        size_t n = 0;
        for (size_t i = 0; p && i < p->n_images; i++)
                n += !p->images[i].skipped;
        return n;
}

size_t sysext_plan_n_skipped(const SysextPlan *p) {
        return p ? p->n_images - sysext_plan_n_ready(p) + strv_length(p->discovery_skipped) : 0;
}

/* What every worker needs to know about the host. */
typedef struct PlanContext {
        const SysextOptions *o;
        ImagePolicy policy;
        char **host_release;
        const char *scope;
        const char *arch;
        unsigned threads_per_image;
        SysextPlan *plan;
        atomic_size_t next;
} PlanContext;

/* "foo: has no extension-release.foo" is true but unhelpful when the image ships the release file
 * of another name (renamed image, or one pretending to be another): say which. */
static int missing_release(ImageFs *fs, ExtensionKind kind, const char *name, GraftError *err) {
        _cleanup_free_ char *path = extension_release_path(kind, name);
        if (!path)
                return -ENOMEM;
        _cleanup_free_ char *dir = strndup(path, strrchr(path, '/') - path);
        SquashfsEntry *entries = NULL;
        size_t n = 0;
        _cleanup_strv_free_ char **others = NULL;
        if (dir && image_fs_list_dir(fs, dir, &entries, &n, NULL) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (startswith(entries[i].name, "extension-release.")) {
                                _cleanup_free_ char *e = escape_string(entries[i].name);
                                if (e)
                                        (void) strv_consume(&others, TAKE_PTR(e));
                        }
                squashfs_entries_free(entries, n);
        }
        _cleanup_free_ char *list = others ? strv_join(others, ", ") : NULL;
        if (list)
                return graft_error_set(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE,
                                       "%s: has no %s, only %s: an extension must carry the release file of its own name",
                                       name, path, list);
        return graft_error_set(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE, "%s: has no extension-release file (%s)", name,
                               path);
}

/* Reads and checks the extension-release of a verified image. */
static int check_release(PlanContext *c, SysextImage *img, GraftError *err) {
        ExtensionKind kind = sysext_extension_kind(c->o->class);
        _cleanup_(image_fs_freep) ImageFs *fs = NULL;
        int r = image_fs_open(img->dissected, &fs, err);
        if (r < 0)
                return graft_error_prefix(err, r, "%s", img->name);
        _cleanup_free_ char *path = extension_release_path(kind, img->name);
        if (!path)
                return -ENOMEM;
        r = image_read_release(fs, path, &img->extension_release, err);
        if (r < 0)
                return graft_error_prefix(err, r, "%s", img->name);
        if (r == 0)
                return missing_release(fs, kind, img->name, err);
        img->reload_manager = sysext_parse_boolean(strv_env_get(img->extension_release, "EXTENSION_RELOAD_MANAGER"));
        if (c->o->force)
                return 0;
        return extension_release_check(kind, img->name, img->extension_release, c->host_release, c->scope, c->arch,
                                       err);
}

static int validate_image(PlanContext *c, SysextImage *img, GraftError *err) {
        DissectOptions dopts = { .arch = _ARCHITECTURE_INVALID };
        int r = dissect_image(img->path, &dopts, &img->dissected, err);
        if (r < 0)
                return r;
        img->kind = img->dissected->kind;
        if (!img->version && img->dissected->version) {
                img->version = strdup(img->dissected->version);
                if (!img->version)
                        return -ENOMEM;
        }

        ImageVerifyOptions vo = {
                .root = c->o->root,
                .policy = &c->policy,
                .n_threads = c->threads_per_image,
                /* A signer we do not trust makes the image verity-only; the policy decides. */
                .untrusted_signature_ok = true,
                .cache = c->o->verify_cache,
        };
        r = image_verify(img->dissected, &vo, &img->verification, err);
        if (r < 0)
                return r;
        img->offer = img->verification.offer;
        if (img->verification.root_hash_hex && !(img->root_hash = strdup(img->verification.root_hash_hex)))
                return -ENOMEM;
        if (img->verification.signer && !(img->signer = strdup(img->verification.signer)))
                return -ENOMEM;
        img->trust_root = img->verification.trust_root;

        return check_release(c, img, err);
}

static void *plan_worker(void *userdata) {
        PlanContext *c = userdata;
        for (;;) {
                size_t i = atomic_fetch_add(&c->next, 1);
                if (i >= c->plan->n_images)
                        return NULL;
                SysextImage *img = &c->plan->images[i];
                int r = validate_image(c, img, &img->error);
                if (r < 0) {
                        img->skipped = true;
                        if (!graft_error_is_set(&img->error))
                                graft_error_set(&img->error, r, GRAFT_ERROR_IO, "%s: %s", img->name, strerror(-r));
                        else if (!strstr(img->error.message ?: "", img->name))
                                graft_error_prefix(&img->error, r, "%s", img->name);
                }
        }
}

static int run_workers(PlanContext *c) {
        unsigned cpus = c->o->n_threads ?: cpus_available();
        size_t n = MIN((size_t) cpus, c->plan->n_images);
        c->threads_per_image = n > 0 ? MAX(1u, cpus / (unsigned) n) : 1;
        if (n <= 1) {
                plan_worker(c);
                return 0;
        }
        pthread_t *t = calloc(n, sizeof(pthread_t));
        if (!t)
                return -ENOMEM;
        size_t started = 0;
        for (; started < n - 1; started++)
                if (pthread_create(&t[started], NULL, plan_worker, c) != 0)
                        break;
        plan_worker(c); /* this thread works too, and alone if no thread could be started */
        for (size_t i = 0; i < started; i++)
                pthread_join(t[i], NULL);
        free(t);
        return 0;
}

/* Layer order: by name in version order, so "foo10" lies above "foo9" as a human expects. */
static int cmp_image(const void *a, const void *b) {
        const SysextImage *x = a, *y = b;
        int r = version_compare(x->name, y->name);
        return r != 0 ? r : strcmp(x->name, y->name);
}

static int plan_from_discovery(const SysextOptions *o, SysextPlan *p, GraftError *err) {
        _cleanup_(discovery_done) Discovery d = {};
        int r = image_discover(sysext_root(o), o->class, architecture_native(), &d, err);
        if (r < 0)
                return r;
        p->discovery_skipped = TAKE_PTR(d.skipped);
        p->passed_over = TAKE_PTR(d.passed_over);
        p->images = calloc(d.n_images + 1, sizeof(SysextImage));
        if (!p->images)
                return -ENOMEM;
        for (size_t i = 0; i < d.n_images; i++) {
                SysextImage *img = &p->images[p->n_images++];
                img->name = TAKE_PTR(d.images[i].name);
                img->path = TAKE_PTR(d.images[i].path);
                img->found_as = TAKE_PTR(d.images[i].found_as);
                img->version = TAKE_PTR(d.images[i].version);
                img->type = d.images[i].type;
        }
        if (p->n_images > 1)
                qsort(p->images, p->n_images, sizeof(SysextImage), cmp_image);
        /* Chosen before anything is verified: what is left out costs nothing. */
        return sysext_plan_select(o, p, d.masked, err);
}

/* In an initrd extensions are matched against the "initrd" scope, as systemd does. */
static const char *host_scope(const char *root) {
        _cleanup_free_ char *p = path_prefix_root(root, "/etc/initrd-release");
        return p && access(p, F_OK) >= 0 ? "initrd" : "system";
}

int sysext_plan_build(const SysextOptions *o, SysextPlan **ret, GraftError *err) {
        _cleanup_(sysext_plan_freep) SysextPlan *p = calloc(1, sizeof(SysextPlan));
        if (!p)
                return -ENOMEM;
        p->class = o->class;
        if (sysext_root(o) && !(p->root = strdup(sysext_root(o))))
                return -ENOMEM;
        int r = sysext_hierarchies(o, &p->hierarchies, err);
        if (r < 0)
                return r;

        PlanContext c = {
                .o = o,
                .scope = host_scope(sysext_root(o)),
                .arch = architecture_to_string(architecture_native()),
                .plan = p,
        };
        if (o->policy)
                c.policy = *o->policy;
        else {
                r = image_policy_default(sysext_root(o), &c.policy, err);
                if (r < 0)
                        return r;
        }
        r = host_os_release_read(sysext_root(o), &c.host_release, err);
        if (r < 0 && !o->force)
                return r;

        r = plan_from_discovery(o, p, err);
        if (r >= 0)
                r = run_workers(&c);
        strv_free(c.host_release);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
