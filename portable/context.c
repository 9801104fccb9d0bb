/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the shared start of portable operations and their common refusals (see context.h). */
#include <string.h>

#include "context.h"
#include "discover.h"
#include "escape.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

#define IN_SET_BUS_ABSENT(r) ((r) == -ENOENT || (r) == -ECONNREFUSED || (r) == -ENOTCONN || (r) == -ENOMEDIUM)

int context_init(Context *c, const PortableOptions *o, const char *verb, const char *image, GraftError *err) {
        *c = (Context) { .o = o, .root_fd = -EBADF, .err = err, .bus = o->bus, .lock = OP_LOCK_INIT };
        int r = portable_root_canonicalize(o->root, &c->root, err);
        if (r < 0)
                return r;
        c->live = !c->root;
        c->root_fd = portable_root_open(c->root, err);
        if (c->root_fd < 0)
                return c->root_fd;
        if (verb) {
                /* The holder's line is shown to whoever waits: the image as given, escaped. */
                _cleanup_free_ char *shown = image ? escape_string(image) : NULL, *line = NULL;
                if ((image && !shown) || asprintf(&c->what, "%s %s", verb, strempty(shown)) < 0 ||
                    asprintf(&line, "%s%s%s", c->what, o->lock_who ? " " : "", strempty(o->lock_who)) < 0)
                        return -ENOMEM;
                r = portable_lock(c->root, c->root_fd, o, line, &c->lock, err);
        } else if (!o->no_recovery)
                portable_recover_if_idle(c->root, c->root_fd, o);
        if (r < 0)
                return r;
        return portable_attachments_load(c->root, &c->att, err);
}

void context_done(Context *c) {
        free(c->root);
        free(c->what);
        safe_close(c->root_fd);
        if (c->own_bus)
                sd_bus_flush_close_unref(c->bus);
        portable_attachments_done(&c->att);
        op_lock_release(&c->lock);
        *c = (Context) { .root_fd = -EBADF, .lock = OP_LOCK_INIT };
}

int context_bus(Context *c, sd_bus **ret) {
        if (!c->bus) {
                int r = portable_bus_open(&c->bus, c->err);
                if (r < 0)
                        return r;
                c->own_bus = true;
        }
        *ret = c->bus;
        return 0;
}

int context_match_path(Context *c, const char *image, char **ret) {
        *ret = NULL;
        if (strchr(image, '/')) {
                _cleanup_free_ char *real = realpath(image, NULL);
                if (!real && image[0] != '/') {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);
                        real = cwd ? path_join(cwd, image) : NULL;
                } else if (!real)
                        real = strdup(image);
                if (!real)
                        return -ENOMEM;
                *ret = path_strip_root(c->root, real);
                return 0;
        }
        DiscoveredImage d = {};
        GraftError ignored = GRAFT_ERROR_INIT;
        if (image_find(c->root, IMAGE_CLASS_PORTABLE, _ARCHITECTURE_INVALID, image, &d, &ignored) >= 0)
                *ret = path_strip_root(c->root, d.path);
        graft_error_done(&ignored);
        discovered_image_done(&d);
        return 0;
}

void unit_statuses_free(UnitStatus *s, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                unit_status_done(&s[i]);
        free(s);
}

/* Whether a failure to connect means "no systemd here" rather than a broken bus. */
static bool bus_absent(int r) {
        return IN_SET_BUS_ABSENT(r);
}

int context_statuses(Context *c, char * const *units, UnitStatus **ret) {
        size_t n = strv_length(units);
        UnitStatus *s = calloc(n ?: 1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if (c->live && n > 0) {
                sd_bus *bus;
                int r = context_bus(c, &bus);
                if (r < 0 && bus_absent(r) && !c->o->now) {
                        /* No systemd running (a chroot, an image being prepared): nothing can be
                         * active, and nothing needs reloading. */
                        graft_error_done(c->err);
                        c->no_systemd = true;
                        *ret = s;
                        return 0;
                }
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = portable_bus_unit_status(bus, units[i], &s[i], c->err);
                if (r < 0) {
                        unit_statuses_free(s, n);
                        return r;
                }
        }
        *ret = s;
        return 0;
}

int context_created_records(const Context *c, bool runtime, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < c->att.n_units; i++) {
                if (c->att.units[i].runtime != runtime)
                        continue;
                STRV_FOREACH(d, c->att.units[i].marker.created)
                        if (!strv_contains(l, *d) && strv_extend(&l, *d) < 0)
                                return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int check_attached(Context *c, const PortableImageSet *s, const PortableUnit *u, const bool *replacing) {
        for (size_t i = 0; i < c->att.n_units; i++) {
                const AttachedUnit *a = &c->att.units[i];
                if (!streq(a->name, u->name) || (replacing && replacing[i]))
                        continue;
                if (streq(a->marker.image, s->image->path))
                        return graft_error_set(c->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                               "image %s is attached already (unit %s%s); use reattach to update it",
                                               s->image->path, u->name, a->runtime ? ", runtime" : "");
                return graft_error_set(c->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                       "unit %s is attached already from image %s; refusing to attach image %s "
                                       "(detach that one first, or reattach to replace it)",
                                       u->name, a->marker.image, s->image->path);
        }
        return 0;
}

static bool is_replaced(const Context *c, const char *unit, const bool *replacing) {
        for (size_t i = 0; replacing && i < c->att.n_units; i++)
                if (replacing[i] && streq(c->att.units[i].name, unit))
                        return true;
        return false;
}

static bool in_attached_dir(const char *path) {
        return path && (startswith(path, "/etc/systemd/system.attached/") ||
                        startswith(path, "/run/systemd/system.attached/"));
}

int context_check_conflicts(Context *c, const PortableImageSet *s, const bool *replacing, const UnitStatus *st) {
        for (size_t i = 0; i < s->n_units; i++) {
                const PortableUnit *u = &s->units[i];
                int r = check_attached(c, s, u, replacing);
                if (r < 0)
                        return r;
                if (is_replaced(c, u->name, replacing))
                        continue;
                _cleanup_free_ char *where = NULL;
                r = portable_unit_on_host(c->root_fd, u->name, c->o->runtime, &where);
                if (r < 0)
                        return graft_error_set(c->err, r, GRAFT_ERROR_IO, "cannot look for unit %s on the host: %s",
                                               u->name, strerror(-r));
                if (r > 0)
                        return graft_error_set(c->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                               "unit %s exists on the host already (%s%s); refusing to attach image %s",
                                               u->name, strempty(c->root), where, s->image->path);
                /* --force: attach over a unit still running (detached with --force), as portablectl's. */
                if (unit_status_is_running(&st[i]) && !c->o->force)
                        return graft_error_set(c->err, -EBUSY, GRAFT_ERROR_CONFLICT,
                                               "unit %s is active on the host (%s); refusing to attach image %s",
                                               u->name, st[i].active_state, s->image->path);
                if (st[i].known && !isempty(st[i].fragment_path) && !in_attached_dir(st[i].fragment_path))
                        return graft_error_set(c->err, -EEXIST, GRAFT_ERROR_CONFLICT,
                                               "unit %s is loaded on the host from %s; refusing to attach image %s",
                                               u->name, st[i].fragment_path, s->image->path);
        }
        return 0;
}

int image_set_unit_names(const PortableImageSet *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        for (size_t i = 0; i < s->n_units; i++)
                if (strv_extend(&l, s->units[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

char **startable_units(char * const *units) {
        char **l = calloc(strv_length(units) + 1, sizeof(char *));
        size_t n = 0;
        STRV_FOREACH(u, l ? units : NULL) {
                const char *at = strchr(*u, '@'), *dot = strrchr(*u, '.');
                if (at && dot && at + 1 == dot)
                        continue; /* a template */
                if (!(l[n++] = strdup(*u)))
                        return strv_free(l);
        }
        return l;
}
