/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the questions that change nothing: is-attached, list, inspect (see portable.h). */
#include <string.h>

#include "context.h"
#include "devmode.h"
#include "discover.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

static const char * const state_names[_PORTABLE_STATE_MAX] = {
        [PORTABLE_DETACHED] = "detached",
        [PORTABLE_ATTACHED] = "attached",
        [PORTABLE_ATTACHED_RUNTIME] = "attached-runtime",
        [PORTABLE_ENABLED] = "enabled",
        [PORTABLE_ENABLED_RUNTIME] = "enabled-runtime",
        [PORTABLE_RUNNING] = "running",
        [PORTABLE_RUNNING_RUNTIME] = "running-runtime",
};

const char *portable_state_to_string(PortableState s) {
        return s >= 0 && s < _PORTABLE_STATE_MAX ? state_names[s] : NULL;
}

/* The state of the picked attached units: running beats enabled beats attached; "-runtime" only
 * when every unit is attached below /run. */
static int units_state(Context *c, const bool *picked, PortableState *ret) {
        bool any = false, runtime = true, enabled = false, running = false;
        _cleanup_strv_free_ char **names = NULL;
        for (size_t i = 0; i < c->att.n_units; i++) {
                if (!picked[i])
                        continue;
                const AttachedUnit *u = &c->att.units[i];
                any = true;
                runtime = runtime && u->runtime;
                _cleanup_strv_free_ char **links = NULL;
                int r = attached_unit_install_links(c->root, c->root_fd, u, &links);
                if (r < 0)
                        return r;
                enabled = enabled || links;
                if (strv_extend(&names, u->name) < 0)
                        return -ENOMEM;
        }
        if (!any) {
                *ret = PORTABLE_DETACHED;
                return 0;
        }
        UnitStatus *st = NULL;
        int r = context_statuses(c, names, &st);
        if (r < 0)
                return r;
        for (size_t i = 0; names && names[i]; i++)
                running = running || unit_status_is_running(&st[i]);
        unit_statuses_free(st, strv_length(names));
        PortableState s = running ? PORTABLE_RUNNING : enabled ? PORTABLE_ENABLED : PORTABLE_ATTACHED;
        *ret = runtime ? s + 1 : s;
        return 0;
}

int portable_is_attached(const PortableOptions *o, const char *image, PortableState *ret, GraftError *err) {
        _cleanup_(context_done) Context c = {};
        int r = context_init(&c, o, NULL, NULL, err);
        if (r < 0)
                return r;
        _cleanup_free_ bool *picked = calloc(c.att.n_units + 1, sizeof(bool));
        if (!picked)
                return -ENOMEM;
        r = context_pick_attached(&c, image, picked);
        return r < 0 ? r : units_state(&c, picked, ret);
}

void portable_image_infos_free(PortableImageInfo *l, size_t n) {
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].name);
                free(l[i].path);
                free(l[i].version);
                free(l[i].root_hash);
                strv_free(l[i].units);
                free(l[i].profile);
                strv_free(l[i].extensions);
                free(l[i].trust);
        }
        free(l);
}

typedef struct Listing {
        PortableImageInfo *items;
        size_t n;
} Listing;

static PortableImageInfo *listing_add(Listing *l, const char *name, const char *path) {
        PortableImageInfo *g = reallocarray(l->items, l->n + 1, sizeof(*g));
        if (!g)
                return NULL;
        l->items = g;
        g[l->n] = (PortableImageInfo) { .name = strdup(name), .path = strdup(path) };
        if (!g[l->n].name || !g[l->n].path) {
                free(g[l->n].name);
                free(g[l->n].path);
                return NULL;
        }
        return &g[l->n++];
}

/* Fills in what the attachments of one image path say about it. */
static int describe(Context *c, PortableImageInfo *info, const char *link) {
        _cleanup_free_ bool *picked = calloc(c->att.n_units + 1, sizeof(bool));
        if (!picked)
                return -ENOMEM;
        for (size_t i = 0; i < c->att.n_units; i++) {
                const PortableMarker *m = &c->att.units[i].marker;
                picked[i] = streq(m->image, info->path) || (link && streq(m->image, link));
                if (!picked[i])
                        continue;
                if (!strv_contains(info->units, c->att.units[i].name) &&
                    strv_extend(&info->units, c->att.units[i].name) < 0)
                        return -ENOMEM;
                if ((!info->root_hash && m->root_hash && !(info->root_hash = strdup(m->root_hash))) ||
                    (!info->version && m->version && !(info->version = strdup(m->version))) ||
                    (!info->profile && m->profile && !(info->profile = strdup(m->profile))) ||
                    (!info->extensions && m->extensions && !(info->extensions = strv_copy(m->extensions))))
                        return -ENOMEM;
        }
        return units_state(c, picked, &info->state);
}

static int list_discovered(Context *c, Listing *l) {
        _cleanup_(discovery_done) Discovery d = {};
        int r = image_discover(c->root, IMAGE_CLASS_PORTABLE, _ARCHITECTURE_INVALID, &d, c->err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n_images; i++) {
                _cleanup_free_ char *path = path_strip_root(c->root, d.images[i].path);
                if (!path)
                        continue;
                PortableImageInfo *info = listing_add(l, d.images[i].name, path);
                if (!info || (d.images[i].version && !(info->version = strdup(d.images[i].version))))
                        return -ENOMEM;
                if ((r = describe(c, info, d.images[i].found_as)) < 0)
                        return r;
        }
        return 0;
}

static bool listed(const Listing *l, const char *path) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].path, path))
                        return true;
        return false;
}

static int cmp_info(const void *a, const void *b) {
        const PortableImageInfo *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->path, y->path);
}

/* Which trust root admitted each attached image, from the record attach keeps (devmode.h); where it
 * is, so graftd's answer carries it to callers on other machines. A caller who may not read graft's
 * state directory gets no column, not an error. */
static int fill_trust(const PortableOptions *o, Listing *l) {
        _cleanup_strv_free_ char **triples = NULL;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        const char *root = isempty(o->root) || streq(o->root, "/") ? NULL : o->root;
        if (developer_admissions_read(root, IMAGE_CLASS_PORTABLE, &triples, &e) < 0)
                return 0;
        for (size_t i = 0; i < l->n; i++) {
                const char *t = developer_admission_find(triples, l->items[i].name, NULL);
                if (t && !(l->items[i].trust = strdup(t)))
                        return -ENOMEM;
        }
        return 0;
}

int portable_list(const PortableOptions *o, PortableImageInfo **ret, size_t *ret_n, GraftError *err) {
        _cleanup_(context_done) Context c = {};
        Listing l = {};
        int r = context_init(&c, o, NULL, NULL, err);
        if (r >= 0)
                r = list_discovered(&c, &l);
        /* Attached images that are not (or no longer) in the search directories. */
        for (size_t i = 0; r >= 0 && i < c.att.n_units; i++) {
                const PortableMarker *m = &c.att.units[i].marker;
                if (listed(&l, m->image))
                        continue;
                _cleanup_free_ char *base = path_basename(m->image);
                _cleanup_free_ char *name = m->name ? strdup(m->name) : base ? strdup_strip_suffix(base, ".raw") : NULL;
                PortableImageInfo *info = name ? listing_add(&l, name, m->image) : NULL;
                r = info ? describe(&c, info, NULL) : -ENOMEM;
        }
        if (r >= 0)
                r = fill_trust(o, &l);
        if (r < 0) {
                portable_image_infos_free(l.items, l.n);
                return r;
        }
        if (l.n > 0)
                qsort(l.items, l.n, sizeof(*l.items), cmp_info);
        *ret = l.items;
        *ret_n = l.n;
        return 0;
}

static void inspect_units_free(PortableInspectUnit *u, size_t n) {
        for (size_t k = 0; k < n; k++) {
                free(u[k].name);
                free(u[k].source);
                free(u[k].content);
        }
        free(u);
}

void portable_inspection_done(PortableInspection *i) {
        if (!i)
                return;
        free(i->image);
        free(i->name);
        free(i->version);
        free(i->root_hash);
        free(i->signer);
        strv_free(i->os_release);
        free(i->os_release_path);
        free(i->os_release_text);
        strv_free(i->extensions);
        strv_free(i->prefixes);
        inspect_units_free(i->units, i->n_units);
        inspect_units_free(i->extension_releases, i->n_extension_releases);
        portable_changes_done(&i->plan);
        *i = (PortableInspection) {};
}

/* The release file of an image, as it is (inspect --cat). */
static int release_text(PortableImage *img, char **ret, GraftError *err) {
        int r = image_fs_read_file(img->fs, img->release_path, 64 * 1024, ret, NULL, err);
        return r < 0 ? graft_error_prefix(err, r, "%s", img->path) : 0;
}

static int take_set(PortableImageSet *s, PortableInspection *in, GraftError *err) {
        PortableImage *img = s->image;
        int r = release_text(img, &in->os_release_text, err);
        if (r < 0)
                return r;
        in->extension_releases = calloc(s->n_extensions + 1, sizeof(*in->extension_releases));
        if (!in->extension_releases)
                return -ENOMEM;
        for (size_t k = 0; k < s->n_extensions; k++, in->n_extension_releases++) {
                PortableInspectUnit *e = &in->extension_releases[k];
                r = release_text(s->extensions[k], &e->content, err);
                if (r < 0)
                        return r;
                e->name = strdup(s->extensions[k]->path);
                e->source = strdup(s->extensions[k]->release_path);
                if (!e->name || !e->source)
                        return -ENOMEM;
        }
        in->image = TAKE_PTR(img->path);
        in->name = TAKE_PTR(img->name);
        in->version = TAKE_PTR(img->version);
        in->root_hash = TAKE_PTR(img->root_hash);
        in->signer = TAKE_PTR(img->signer);
        in->kind = image_kind_to_string(img->dissected->kind);
        in->os_release = TAKE_PTR(img->release);
        in->os_release_path = TAKE_PTR(img->release_path);
        in->prefixes = TAKE_PTR(s->prefixes);
        for (size_t k = 0; k < s->n_extensions; k++)
                if (strv_extend(&in->extensions, s->extensions[k]->path) < 0)
                        return -ENOMEM;
        in->units = calloc(s->n_units + 1, sizeof(*in->units));
        if (!in->units)
                return -ENOMEM;
        for (size_t k = 0; k < s->n_units; k++, in->n_units++) {
                PortableUnit *u = &s->units[k];
                const char *from = u->provider == 0 ? in->image : s->extensions[u->provider - 1]->path;
                in->units[k] = (PortableInspectUnit) {
                        .name = TAKE_PTR(u->name),
                        .source = path_join(from, u->image_path),
                        .content = TAKE_PTR(u->content),
                };
                if (!in->units[k].source)
                        return -ENOMEM;
        }
        return 0;
}

int portable_inspect(const PortableOptions *o, const char *image, char * const *prefixes, PortableInspection *ret,
                     GraftError *err) {
        _cleanup_(context_done) Context c = {};
        _cleanup_(profile_done) Profile profile = {};
        _cleanup_(portable_image_set_done) PortableImageSet set = {};
        _cleanup_(portable_plan_done) PortablePlan plan = {};
        _cleanup_(portable_marker_done) PortableMarker marker = {};
        _cleanup_(portable_inspection_done) PortableInspection in = {};
        _cleanup_strv_free_ char **inherited = NULL;
        int r = context_init(&c, o, NULL, NULL, err);
        if (r >= 0)
                r = profile_find(c.root, o->profile ?: "default", &profile, err);
        if (r >= 0)
                r = portable_image_set_load(c.root, o, image, prefixes, &set, err);
        if (r >= 0)
                r = context_created_records(&c, o->runtime, &inherited);
        if (r < 0)
                return r;
        AttachPlanInput pin = {
                .root = c.root, .root_fd = c.root_fd, .set = &set, .profile = &profile,
                .copy_mode = o->copy_mode, .runtime = o->runtime, .enable = o->enable,
                .inherited_created = inherited,
        };
        /* The plan as attach would make it now; a conflict (attached already) leaves it empty. */
        GraftError plan_err = GRAFT_ERROR_INIT;
        if (attach_plan_build(&pin, &plan, &marker, &plan_err) >= 0 && portable_plan_changes(&plan, &in.plan) < 0)
                return -ENOMEM;
        graft_error_done(&plan_err);
        _cleanup_free_ bool *picked = calloc(c.att.n_units + 1, sizeof(bool));
        if (!picked)
                return -ENOMEM;
        for (size_t i = 0; i < c.att.n_units; i++)
                picked[i] = streq(c.att.units[i].marker.image, set.image->path);
        r = units_state(&c, picked, &in.state);
        if (r >= 0)
                r = take_set(&set, &in, err);
        if (r < 0)
                return r;
        *ret = in;
        in = (PortableInspection) {};
        return 0;
}
