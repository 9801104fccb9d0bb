/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the picture of a component (see update.h): its transfers, every source's and target's
 * versions, which version is in use, and what each version is (available, installed, current,
 * protected, bad, a candidate). */
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "path-util.h"
#include "portable.h"
#include "strv.h"
#include "update-switch.h"
#include "update.h"
#include "version.h"

UpdateContext *update_context_free(UpdateContext *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->set.n; i++) {
                if (c->sources)
                        resource_done(&c->sources[i]);
                if (c->targets)
                        resource_done(&c->targets[i]);
        }
        free(c->sources);
        free(c->targets);
        for (size_t i = 0; i < c->n_versions; i++)
                free(c->versions[i].version);
        free(c->versions);
        free(c->current);
        bad_marks_done(&c->bad);
        strv_free(c->warnings);
        strv_free(c->notes);
        transfer_set_done(&c->set);
        free(c);
        return NULL;
}

void update_note(UpdateContext *c, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        char *line = NULL;
        int n = vasprintf(&line, format, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (c->o.on_note)
                c->o.on_note(c->o.userdata, line);
        (void) strv_consume(&c->notes, line);
}

char **update_version_flags_to_strv(VersionFlags f) {
        static const struct { VersionFlags flag; const char *name; } names[] = {
                { VERSION_CURRENT, "current" },     { VERSION_CANDIDATE, "candidate" },
                { VERSION_INSTALLED, "installed" }, { VERSION_AVAILABLE, "available" },
                { VERSION_INCOMPLETE, "incomplete" }, { VERSION_PROTECTED, "protected" },
                { VERSION_BAD, "bad" },             { VERSION_OBSOLETE, "obsolete" },
        };
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if ((f & names[i].flag) && strv_extend(&l, names[i].name) < 0)
                        return NULL;
        return TAKE_PTR(l);
}

const UpdateVersion *update_context_find(const UpdateContext *c, const char *version) {
        for (size_t i = 0; i < c->n_versions; i++)
                if (streq(c->versions[i].version, version))
                        return &c->versions[i];
        return NULL;
}

const UpdateVersion *update_context_newest_candidate(const UpdateContext *c) {
        for (size_t i = 0; i < c->n_versions; i++)
                if (c->versions[i].flags & VERSION_CANDIDATE)
                        return &c->versions[i];
        return NULL;
}

static int add_version(UpdateContext *c, const char *v) {
        if (update_context_find(c, v))
                return 0;
        UpdateVersion *a = reallocarray(c->versions, c->n_versions + 1, sizeof(UpdateVersion));
        if (!a)
                return -ENOMEM;
        c->versions = a;
        c->versions[c->n_versions] = (UpdateVersion) { .version = strdup(v) };
        return c->versions[c->n_versions++].version ? 0 : -ENOMEM;
}

static int cmp_version(const void *a, const void *b) {
        return -version_compare(((const UpdateVersion *) a)->version, ((const UpdateVersion *) b)->version);
}

/* The version a portable service runs: its attached image, if that lives in the target. */
static int portable_current(const UpdateContext *c, const Transfer *t, char **ret) {
        PortableImageInfo *infos = NULL;
        size_t n = 0, k = 0;
        if (update_portable_attached(c, t, &infos, &n, &k) == 0)
                return 0;
        _cleanup_free_ char *base = path_basename(infos[k].path);
        PatternFields f = {};
        if (base && pattern_match_any(t->target_patterns, base, &f) > 0) {
                *ret = TAKE_PTR(f.value[PATTERN_VERSION]);
                pattern_fields_done(&f);
        }
        portable_image_infos_free(infos, n);
        return 0;
}

static int symlink_current(const UpdateContext *c, const Transfer *t, char **ret) {
        _cleanup_free_ char *link = path_prefix_root(c->o.root, t->current_symlink);
        if (!link)
                return -ENOMEM;
        char buf[PATH_MAX];
        ssize_t n = readlink(link, buf, sizeof buf - 1);
        if (n < 0)
                return 0;
        buf[n] = '\0';
        _cleanup_free_ char *base = path_basename(buf);
        PatternFields f = {};
        if (base && pattern_match_any(t->target_patterns, base, &f) > 0) {
                *ret = TAKE_PTR(f.value[PATTERN_VERSION]);
                pattern_fields_done(&f);
        }
        return 0;
}

/* In use: an update in flight's version; else what the first transfer shows (its CurrentSymlink,
 * the attached portable image); else the newest complete installed version, which is what the
 * discovery of a NAME.v/ directory picks. */
static int find_current(UpdateContext *c) {
        PendingUpdate p = {};
        if (pending_update_load(c->o.root, c->o.component, &p, NULL) > 0) {
                c->current = TAKE_PTR(p.version);
                pending_update_done(&p);
                return 0;
        }
        if (c->set.n == 0)
                return 0;
        const Transfer *t = c->set.transfers[0];
        int r = 0;
        if (t->current_symlink)
                r = symlink_current(c, t, &c->current);
        else if (t->kind == UPDATE_KIND_PORTABLE)
                r = portable_current(c, t, &c->current);
        if (r < 0 || c->current)
                return r;
        for (size_t i = 0; i < c->n_versions; i++)
                if (c->versions[i].flags & VERSION_INSTALLED)
                        return (c->current = strdup(c->versions[i].version)) ? 0 : -ENOMEM;
        return 0;
}

static VersionFlags flags_of(const UpdateContext *c, const char *v, bool offline) {
        VersionFlags f = 0;
        size_t in_sources = 0, in_targets = 0;
        for (size_t i = 0; i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                in_sources += !offline && resource_find(&c->sources[i], v);
                in_targets += !!resource_find(&c->targets[i], v);
                if (strv_contains(t->protect_versions, v))
                        f |= VERSION_PROTECTED;
                if (t->min_version && version_compare(v, t->min_version) < 0)
                        f |= VERSION_OBSOLETE;
        }
        if (in_sources == c->set.n)
                f |= VERSION_AVAILABLE;
        if (in_targets == c->set.n)
                f |= VERSION_INSTALLED;
        else if (in_targets > 0)
                f |= VERSION_INCOMPLETE;
        return f;
}

static int classify(UpdateContext *c, bool offline) {
        for (size_t i = 0; i < c->set.n; i++) {
                for (size_t k = 0; k < c->sources[i].n; k++)
                        if (add_version(c, c->sources[i].instances[k].version) < 0)
                                return -ENOMEM;
                for (size_t k = 0; k < c->targets[i].n; k++)
                        if (add_version(c, c->targets[i].instances[k].version) < 0)
                                return -ENOMEM;
        }
        if (c->n_versions > 1)
                qsort(c->versions, c->n_versions, sizeof(UpdateVersion), cmp_version);
        for (size_t i = 0; i < c->n_versions; i++)
                c->versions[i].flags = flags_of(c, c->versions[i].version, offline);
        int r = find_current(c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_versions; i++) {
                UpdateVersion *v = &c->versions[i];
                v->bad = bad_marks_find(&c->bad, v->version);
                if (v->bad)
                        v->flags |= VERSION_BAD;
                if (c->current && streq(v->version, c->current))
                        v->flags |= VERSION_CURRENT;
                bool newer = !c->current || version_compare(v->version, c->current) > 0;
                if (newer && (v->flags & (VERSION_AVAILABLE | VERSION_INSTALLED)) &&
                    !(v->flags & (VERSION_BAD | VERSION_OBSOLETE)))
                        v->flags |= VERSION_CANDIDATE;
        }
        return 0;
}

int update_context_reload_targets(UpdateContext *c, GraftError *err) {
        for (size_t i = 0; i < c->set.n; i++) {
                resource_done(&c->targets[i]);
                int r = target_list(c->set.transfers[i], c->o.root, &c->targets[i], err);
                if (r < 0)
                        return graft_error_prefix(err, r, "transfer %s", c->set.transfers[i]->id);
        }
        c->current = (free(c->current), NULL);
        return classify(c, c->offline);
}

static int list_resources(UpdateContext *c, bool offline, GraftError *err) {
        c->sources = calloc(c->set.n + 1, sizeof(Resource));
        c->targets = calloc(c->set.n + 1, sizeof(Resource));
        if (!c->sources || !c->targets)
                return -ENOMEM;
        SourceOptions so = { .root = c->o.root, .keyring = c->o.keyring, .verify = c->o.verify, .fetch = &c->o.fetch };
        for (size_t i = 0; i < c->set.n; i++) {
                const Transfer *t = c->set.transfers[i];
                STRV_FOREACH(w, t->warnings)
                        if (strv_extend(&c->warnings, *w) < 0)
                                return -ENOMEM;
                int r = target_list(t, c->o.root, &c->targets[i], err);
                if (r >= 0 && !offline)
                        r = source_list(t, &so, &c->sources[i], err);
                if (r < 0)
                        return graft_error_prefix(err, r, "transfer %s", t->id);
        }
        return 0;
}

int update_context_new(const UpdateOptions *o, bool offline, UpdateContext **ret, GraftError *err) {
        _cleanup_(update_context_freep) UpdateContext *c = calloc(1, sizeof(UpdateContext));
        if (!c)
                return -ENOMEM;
        c->o = *o;
        c->offline = offline;
        if (isempty(c->o.root) || streq(c->o.root, "/"))
                c->o.root = NULL;
        int r = transfer_set_load(c->o.root, o->component, o->definitions, &c->set, err);
        if (r < 0)
                return r;
        r = bad_marks_load(c->o.root, o->component, &c->bad, err);
        if (r < 0)
                return r;
        r = list_resources(c, offline, err);
        if (r < 0)
                return r;
        r = classify(c, offline);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
