/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the attach plan: the exact files attach writes for an image set (see attach-plan.h). */
#include <string.h>
#include <sys/stat.h>

#include "attach-plan.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

typedef struct Builder {
        const AttachPlanInput *in;
        PortablePlan plan;
        PortableMarker marker;
        char **created;   /* directories this plan creates (UNIT.d excluded) */
        GraftError *err;
} Builder;

static void builder_done(Builder *b) {
        portable_plan_done(&b->plan);
        portable_marker_done(&b->marker);
        strv_free(b->created);
}

static int lstat_in(const Builder *b, const char *path, struct stat *st) {
        int r = portable_lstat_in_root(b->in->root_fd, path, st);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return graft_error_set(b->err, r, GRAFT_ERROR_IO, "cannot look at %s%s: %s", strempty(b->in->root), path,
                                       strerror(-r));
        return r == -ENOTDIR ? -ENOENT : r;
}

/* MKDIR steps for path and each missing ancestor, outermost first. */
static int ensure_dir(Builder *b, const char *path, bool record) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1;; p++) {
                bool end = *p == 0;
                if (*p != '/' && !end)
                        continue;
                *p = 0;
                struct stat st;
                int r = plan_has(&b->plan, copy) ? 0 : lstat_in(b, copy, &st);
                if (r == -ENOENT) {
                        if ((r = plan_add_mkdir(&b->plan, copy)) < 0)
                                return r;
                        if (record && !strv_contains(b->created, copy) && strv_extend(&b->created, copy) < 0)
                                return -ENOMEM;
                } else if (r < 0)
                        return r;
                else if (!plan_has(&b->plan, copy) && !S_ISDIR(st.st_mode))
                        return graft_error_set(b->err, -ENOTDIR, GRAFT_ERROR_IO, "%s%s exists and is not a directory",
                                               strempty(b->in->root), copy);
                if (end)
                        return 0;
                *p = '/';
        }
}

/* The link NAME in the portables directory for an image outside the search directories. Returns
 * the link path to record (NULL when none is needed or one is there already). */
static int plan_link(Builder *b, const PortableImage *img, char **ret) {
        *ret = NULL;
        if (img->in_search_dir)
                return 0;
        _cleanup_free_ char *base = path_basename(img->given ?: img->path);
        const char *dir = portable_link_dir(b->in->runtime);
        _cleanup_free_ char *link = base ? path_join(dir, base) : NULL;
        if (!link)
                return -ENOMEM;
        if (plan_has(&b->plan, link))
                return 0;
        struct stat st;
        int r = lstat_in(b, link, &st);
        bool replace = false;
        if (r >= 0) {
                _cleanup_free_ char *target = NULL;
                if (S_ISLNK(st.st_mode) && portable_readlink_in_root(b->in->root_fd, link, &target) >= 0 &&
                    streq(target, img->path))
                        return 0; /* there already, not ours to remove later */
                replace = strv_contains(b->in->replaceable, link);
                if (!replace)
                        return graft_error_set(b->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                               "%s exists already and is not a link to %s; refusing to attach image %s",
                                               link, img->path, img->path);
        } else if (r != -ENOENT)
                return r;
        r = ensure_dir(b, dir, true);
        if (r < 0)
                return r;
        r = plan_add_symlink(&b->plan, link, img->path, replace);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(link);
        return 0;
}

static int make_marker(Builder *b) {
        const PortableImageSet *s = b->in->set;
        PortableMarker *m = &b->marker;
        m->graft = true;
        m->image = strdup(s->image->path);
        m->name = strdup(s->image->name);
        m->profile = strdup(b->in->profile->name);
        if (!m->image || !m->name || !m->profile)
                return -ENOMEM;
        if ((s->image->root_hash && !(m->root_hash = strdup(s->image->root_hash))) ||
            (s->image->version && !(m->version = strdup(s->image->version))))
                return -ENOMEM;
        int r = plan_link(b, s->image, &m->link);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_extensions; i++) {
                const PortableImage *e = s->extensions[i];
                _cleanup_free_ char *link = NULL;
                if ((r = plan_link(b, e, &link)) < 0)
                        return r;
                if (strv_extend(&m->extensions, e->path) < 0 ||
                    strv_extend(&m->extension_root_hashes, e->root_hash ?: "-") < 0 ||
                    strv_extend(&m->extension_links, link ?: "-") < 0)
                        return -ENOMEM;
        }
        return 0;
}

static bool file_exists(Builder *b, const char *path, int *ret_error) {
        struct stat st;
        int r = lstat_in(b, path, &st);
        *ret_error = r == -ENOENT ? 0 : r;
        return r >= 0;
}

/* A file of the plan; over an existing one only where reattach may replace it. */
static int add_file(Builder *b, PortableChangeType type, const char *path, const char *source, char *content,
                    size_t size) {
        int r;
        bool exists = file_exists(b, path, &r);
        if (r < 0) {
                free(content);
                return r;
        }
        bool replace = exists && strv_contains(b->in->replaceable, path);
        if (type == PORTABLE_CHANGE_SYMLINK)
                return plan_add_symlink(&b->plan, path, source, replace);
        return plan_add_file(&b->plan, type, path, source, content, size, 0644, replace);
}

static int plan_profile(Builder *b, const char *unit, const char *dropin_dir) {
        const char *type = portable_unit_type(unit);
        _cleanup_free_ char *content = NULL, *from = NULL;
        size_t size = 0;
        int r = profile_read(b->in->root, b->in->profile, type, &content, &size, &from, b->err);
        if (r <= 0)
                return r;
        _cleanup_free_ char *path = path_join(dropin_dir, PORTABLE_PROFILE_DROPIN_NAME);
        if (!path)
                return -ENOMEM;
        if (b->in->copy_mode != PORTABLE_COPY_COPY && b->in->profile->in_root)
                return add_file(b, PORTABLE_CHANGE_SYMLINK, path, from, NULL, 0);
        return add_file(b, PORTABLE_CHANGE_COPY, path, from, TAKE_PTR(content), size);
}

static int plan_dropin(Builder *b, const PortableUnit *u, const char *dropin_dir) {
        const PortableImageSet *s = b->in->set;
        bool ext_dirs[s->n_extensions + 1];
        for (size_t i = 0; i < s->n_extensions; i++)
                ext_dirs[i] = s->extensions[i]->directory;
        const PortableImage *provider = u->provider == 0 ? s->image : s->extensions[u->provider - 1];
        _cleanup_free_ char *base = path_basename(provider->path), *text = NULL;
        _cleanup_free_ char *path = path_join(dropin_dir, PORTABLE_DROPIN_NAME);
        if (!base || !path)
                return -ENOMEM;
        int r = portable_dropin_format(&b->marker, s->image->directory, ext_dirs, u->name, base, &text);
        if (r < 0)
                return r;
        size_t n = strlen(text);
        return add_file(b, PORTABLE_CHANGE_WRITE, path, NULL, TAKE_PTR(text), n);
}

static int plan_unit_file(Builder *b, const PortableUnit *u, const char *unit_path) {
        const PortableImageSet *s = b->in->set;
        const PortableImage *provider = u->provider == 0 ? s->image : s->extensions[u->provider - 1];
        /* A unit inside a raw image has no path on the host to link to: it is copied, and the
         * profile still linked, as portablectl --copy=symlink does for raw images. */
        if (b->in->copy_mode == PORTABLE_COPY_SYMLINK && provider->directory) {
                _cleanup_free_ char *target = NULL;
                int r = portable_unit_link_source(b->in->root, s, u, &target, b->err);
                if (r < 0)
                        return r;
                return add_file(b, PORTABLE_CHANGE_SYMLINK, unit_path, target, NULL, 0);
        }
        _cleanup_free_ char *source = path_join(provider->path, u->image_path);
        char *copy = malloc(u->size + 1);
        if (!source || !copy) {
                free(copy);
                return -ENOMEM;
        }
        memcpy(copy, u->content, u->size);
        copy[u->size] = 0;
        return add_file(b, PORTABLE_CHANGE_COPY, unit_path, source, copy, u->size);
}

/* The [Install] section's WantedBy= / RequiredBy= / UpheldBy= targets of a unit file. */
static int install_targets(const PortableUnit *u, char ***ret) {
        _cleanup_strv_free_ char **lines = strv_split(u->content, "\n"), **out = NULL;
        bool install = false;
        STRV_FOREACH(l, lines) {
                const char *line = *l + strspn(*l, " \t");
                if (line[0] == '[') {
                        install = startswith(line, "[Install]");
                        continue;
                }
                static const char * const keys[][2] = {
                        { "WantedBy=", ".wants" }, { "RequiredBy=", ".requires" }, { "UpheldBy=", ".upholds" },
                };
                for (size_t k = 0; install && k < ELEMENTSOF(keys); k++) {
                        if (!startswith(line, keys[k][0]))
                                continue;
                        _cleanup_strv_free_ char **targets = strv_split(line + strlen(keys[k][0]), " \t");
                        STRV_FOREACH(t, targets)
                                if (portable_unit_name_is_valid(*t) && !strchr(*t, '%') &&
                                    strv_extendf(&out, "%s%s", *t, keys[k][1]) < 0)
                                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* --enable: the links systemctl's portable enable would make in the attached directory, made by
 * the plan itself (on the live host too), so that they are part of the all-or-nothing change. */
static int plan_install_links(Builder *b, const PortableUnit *u, const char *unit_path) {
        if (strchr(u->name, '@'))
                return 0; /* templates need an instance to be enabled */
        _cleanup_strv_free_ char **dirs = NULL;
        int r = install_targets(u, &dirs);
        if (r < 0)
                return r;
        const char *attached = portable_attached_dir(b->in->runtime);
        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *dir = path_join(attached, *d);
                _cleanup_free_ char *link = dir ? path_join(dir, u->name) : NULL;
                if (!link)
                        return -ENOMEM;
                if (file_exists(b, link, &r) || r < 0 || plan_has(&b->plan, link))
                        continue;
                if ((r = ensure_dir(b, dir, false)) < 0 || (r = plan_add_symlink(&b->plan, link, unit_path, false)) < 0)
                        return r;
        }
        return 0;
}

static int plan_units(Builder *b) {
        const PortableImageSet *s = b->in->set;
        const char *attached = portable_attached_dir(b->in->runtime);
        for (size_t i = 0; i < s->n_units; i++) {
                const PortableUnit *u = &s->units[i];
                _cleanup_free_ char *unit_path = path_join(attached, u->name), *dropin_dir = NULL;
                if (!unit_path || asprintf(&dropin_dir, "%s.d", unit_path) < 0)
                        return -ENOMEM;
                int r = ensure_dir(b, dropin_dir, false);
                if (r >= 0)
                        r = plan_profile(b, u->name, dropin_dir);
                if (r >= 0)
                        r = plan_dropin(b, u, dropin_dir);
                if (r >= 0)
                        r = plan_unit_file(b, u, unit_path);
                if (r >= 0 && b->in->enable)
                        r = plan_install_links(b, u, unit_path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_paths(const Builder *b) {
        const PortableImageSet *s = b->in->set;
        int r = portable_check_unit_file_path(s->image->path, "image", b->err);
        for (size_t i = 0; r >= 0 && i < s->n_extensions; i++)
                r = portable_check_unit_file_path(s->extensions[i]->path, "extension", b->err);
        return r;
}

int attach_plan_build(const AttachPlanInput *in, PortablePlan *ret, PortableMarker *ret_marker, GraftError *err) {
        _cleanup_(builder_done) Builder b = { .in = in, .err = err };
        int r = check_paths(&b);
        if (r < 0)
                return r;
        r = ensure_dir(&b, portable_attached_dir(in->runtime), true);
        if (r < 0)
                return r;
        r = make_marker(&b);
        if (r < 0)
                return r;
        /* What this attach creates, and what earlier ones created that may go with the last. */
        STRV_FOREACH(c, in->inherited_created)
                if (!strv_contains(b.created, *c) && strv_extend(&b.created, *c) < 0)
                        return -ENOMEM;
        if (b.created)
                strv_sort(b.created);
        b.marker.created = TAKE_PTR(b.created);
        r = plan_units(&b);
        if (r < 0)
                return r;
        *ret = b.plan;
        b.plan = (PortablePlan) {};
        *ret_marker = b.marker;
        b.marker = (PortableMarker) {};
        return 0;
}
