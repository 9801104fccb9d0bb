/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns which attached units a detach removes (see context.h, context_pick_detach()): those of the
 * image as given, narrowed by --extension and by unit prefixes, and never more than one
 * attachment unless the operator named the units. An attachment is what one attach made: the
 * units whose markers name the same image and the same extensions. Two services attached on one
 * base image through different extensions are two attachments; "detach BASE" cannot tell which
 * is meant and is refused, saying how to name one. */
#include <string.h>

#include "context.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

/* An extension as the operator gave it (name or path) against one the marker records (a path). */
static bool extension_matches(const char *given, const char *given_path, const char *recorded) {
        if (!isempty(given_path) && streq(given_path, recorded))
                return true;
        if (strchr(given, '/'))
                return false;
        _cleanup_free_ char *base = path_basename(recorded);
        _cleanup_free_ char *name = base ? strdup_strip_suffix(base, ".raw") : NULL;
        return name && streq(name, given);
}

/* Whether every extension given (o->extensions, resolved in paths) is one the unit was attached
 * with. */
static bool extensions_match(const Context *c, char * const *paths, const AttachedUnit *u) {
        for (size_t i = 0; c->o->extensions && c->o->extensions[i]; i++) {
                bool found = false;
                STRV_FOREACH(e, u->marker.extensions)
                        found = found || extension_matches(c->o->extensions[i], paths[i], *e);
                if (!found)
                        return false;
        }
        return true;
}

/* o->extensions resolved as context_match_path() resolves images (NULL entries: found by no path). */
static int resolve_extensions(Context *c, char ***ret) {
        size_t n = strv_length(c->o->extensions);
        _cleanup_strv_free_ char **l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char *p = NULL;
                int r = context_match_path(c, c->o->extensions[i], &p);
                if (r < 0)
                        return r;
                /* strv_free stops at the first NULL: an unresolved one is kept as "". */
                l[i] = p ?: strdup("");
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int context_pick_attached(Context *c, const char *image, bool *picked) {
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **ext_paths = NULL;
        int r = context_match_path(c, image, &path);
        if (r >= 0)
                r = resolve_extensions(c, &ext_paths);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->att.n_units; i++)
                picked[i] = attached_unit_matches(&c->att.units[i], image, path) &&
                            extensions_match(c, ext_paths, &c->att.units[i]);
        return 0;
}

static bool prefixes_match(char * const *prefixes, const char *unit) {
        if (strv_length(prefixes) == 0)
                return true;
        STRV_FOREACH(p, prefixes)
                if (portable_unit_matches_prefix(unit, *p))
                        return true;
        return false;
}

static bool strv_same(char * const *a, char * const *b) {
        size_t n = strv_length(a);
        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

static bool same_attachment(const AttachedUnit *a, const AttachedUnit *b) {
        return streq(a->marker.image, b->marker.image) && strv_same(a->marker.extensions, b->marker.extensions) &&
               a->runtime == b->runtime;
}

/* "app0.service app0-foo.service (with extension /srv/app0.raw)", one attachment. */
static int describe_attachment(const Context *c, const bool *picked, size_t first, char **ret) {
        _cleanup_strv_free_ char **units = NULL;
        for (size_t i = first; i < c->att.n_units; i++)
                if (picked[i] && same_attachment(&c->att.units[first], &c->att.units[i]) &&
                    !strv_contains(units, c->att.units[i].name) && strv_extend(&units, c->att.units[i].name) < 0)
                        return -ENOMEM;
        _cleanup_free_ char *names = strv_join(units, " ");
        _cleanup_free_ char *exts = strv_join(c->att.units[first].marker.extensions, ", ");
        size_t n = strv_length(c->att.units[first].marker.extensions);
        if (!names || !exts ||
            asprintf(ret, "%s (%s%s%s)", names, c->att.units[first].runtime ? "runtime, " : "",
                     n == 0 ? "no extensions" : n == 1 ? "with extension " : "with extensions ", exts) < 0)
                return -ENOMEM;
        return 0;
}

/* The picked units span more than one attachment: refuse, naming each and how to name one. */
static int refuse_ambiguous(const Context *c, const char *image, const bool *picked) {
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *example = NULL;
        for (size_t i = 0; i < c->att.n_units; i++) {
                bool seen = false;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = picked[k] && same_attachment(&c->att.units[k], &c->att.units[i]);
                if (!picked[i] || seen)
                        continue;
                char *d = NULL;
                if (describe_attachment(c, picked, i, &d) < 0 || strv_consume(&parts, d) < 0)
                        return -ENOMEM;
                /* A unit's name without its type suffix is a prefix that names it. */
                const char *unit = c->att.units[i].name;
                if (!example && !(example = strndup(unit, strrchr(unit, '.') - unit)))
                        return -ENOMEM;
        }
        _cleanup_free_ char *list = strv_join(parts, "; ");
        if (!list)
                return -ENOMEM;
        return graft_error_set(c->err, -ENOTUNIQ, GRAFT_ERROR_INVALID_ARGUMENT,
                               "image %s is attached %zu times: %s; name the one to detach by its units' prefix "
                               "(pctl detach %s %s) or by its extensions (--extension=NAME); nothing was detached",
                               image, strv_length(parts), list, image, example);
}

static int refuse_none(const Context *c, const char *image, const char *path, char * const *prefixes,
                       char **units_of_image) {
        if (units_of_image) {
                _cleanup_free_ char *list = strv_join(units_of_image, " ");
                bool by_prefix = strv_length(prefixes) > 0;
                _cleanup_free_ char *want = strv_join(by_prefix ? prefixes : c->o->extensions, " ");
                return graft_error_set(c->err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE,
                                       "image %s is attached (%s), but no unit of it matches %s %s; nothing was detached",
                                       path ?: image, strempty(list), by_prefix ? "prefix" : "extension", strempty(want));
        }
        _cleanup_strv_free_ char **images = NULL;
        for (size_t i = 0; i < c->att.n_units; i++)
                if (!strv_contains(images, c->att.units[i].marker.image) &&
                    strv_extend(&images, c->att.units[i].marker.image) < 0)
                        return -ENOMEM;
        _cleanup_free_ char *list = strv_join(images, ", ");
        return graft_error_set(c->err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, "image %s is not attached%s%s%s",
                               path ?: image, images ? " (attached: " : "", strempty(list), images ? ")" : "");
}

int context_pick_detach(Context *c, const char *image, char * const *prefixes, bool *picked, char ***ret_units) {
        STRV_FOREACH(p, prefixes)
                if (!portable_prefix_is_valid(*p))
                        return graft_error_set(c->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "\"%s\" is not a valid unit prefix", *p);
        _cleanup_free_ char *path = NULL;
        int r = context_match_path(c, image, &path);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **ext_paths = NULL;
        r = resolve_extensions(c, &ext_paths);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **units = NULL, **of_image = NULL;
        size_t first = SIZE_MAX;
        bool several = false;
        for (size_t i = 0; r >= 0 && i < c->att.n_units; i++) {
                const AttachedUnit *u = &c->att.units[i];
                if (!attached_unit_matches(u, image, path))
                        continue;
                if (!strv_contains(of_image, u->name) && strv_extend(&of_image, u->name) < 0)
                        r = -ENOMEM;
                picked[i] = extensions_match(c, ext_paths, u) && prefixes_match(prefixes, u->name);
                if (!picked[i])
                        continue;
                if (first == SIZE_MAX)
                        first = i;
                several = several || !same_attachment(&c->att.units[first], u);
                if (!strv_contains(units, u->name) && strv_extend(&units, u->name) < 0)
                        r = -ENOMEM;
        }
        if (r < 0)
                return r;
        if (!units)
                return refuse_none(c, image, path, prefixes, of_image);
        /* Prefixes name the units themselves: then several attachments are what was asked for. */
        if (several && strv_length(prefixes) == 0)
                return refuse_ambiguous(c, image, picked);
        *ret_units = TAKE_PTR(units);
        return 0;
}
