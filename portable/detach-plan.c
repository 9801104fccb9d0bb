/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the detach plan: exactly the files attach created for the units that go, nothing else
 * (see attach-plan.h). A drop-in someone else put next to ours, a link that now points somewhere
 * else, a directory that still holds something: all stay. */
#include <string.h>
#include <sys/stat.h>

#include "attach-plan.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

static bool exists_in(int root_fd, const char *path) {
        struct stat st;
        return portable_lstat_in_root(root_fd, path, &st) >= 0;
}

static int add_unlink(PortablePlan *p, int root_fd, const PortablePlan *keep, const char *path) {
        if ((keep && plan_has(keep, path)) || plan_has(p, path) || !exists_in(root_fd, path))
                return 0;
        return plan_add_unlink(p, path, false);
}

static int add_rmdir(char ***dirs, const char *path) {
        if (strv_contains(*dirs, path))
                return 0;
        return strv_extend(dirs, path);
}

static int plan_unit(PortablePlan *p, const char *root, int root_fd, const AttachedUnit *u, const PortablePlan *keep,
                     char * const *keep_units, char ***dirs) {
        _cleanup_strv_free_ char **links = NULL;
        /* A unit a reattach keeps stays enabled: its links point to the same path. */
        int r = strv_contains(keep_units, u->name) ? 0 : attached_unit_install_links(root, root_fd, u, &links);
        if (r < 0)
                return r;
        STRV_FOREACH(l, links) {
                if ((r = add_unlink(p, root_fd, keep, *l)) < 0)
                        return r;
                _cleanup_free_ char *base = path_basename(*l);
                _cleanup_free_ char *dir = base ? strndup(*l, strlen(*l) - strlen(base) - 1) : NULL;
                if (!dir || add_rmdir(dirs, dir) < 0)
                        return -ENOMEM;
        }
        _cleanup_free_ char *dropins = NULL;
        if (asprintf(&dropins, "%s.d", u->path) < 0)
                return -ENOMEM;
        _cleanup_free_ char *profile = path_join(dropins, PORTABLE_PROFILE_DROPIN_NAME);
        _cleanup_free_ char *portable = path_join(dropins, PORTABLE_DROPIN_NAME);
        if (!profile || !portable)
                return -ENOMEM;
        /* The unit file first, so systemd never sees it without its drop-ins. */
        if ((r = add_unlink(p, root_fd, keep, u->path)) < 0 || (r = add_unlink(p, root_fd, keep, profile)) < 0 ||
            (r = add_unlink(p, root_fd, keep, portable)) < 0)
                return r;
        if (!keep || !plan_has(keep, portable))
                return plan_add_unlink(p, dropins, true);
        return 0;
}

/* Whether an attachment that stays refers to this image or extension path. */
static bool still_used(const PortableAttachments *all, const bool *detaching, const char *image) {
        for (size_t i = 0; i < all->n_units; i++)
                if (!detaching[i] && (streq(all->units[i].marker.image, image) ||
                                      strv_contains(all->units[i].marker.extensions, image)))
                        return true;
        return false;
}

/* A link attach made: removed only while it still points where attach pointed it. */
static int plan_link(PortablePlan *p, int root_fd, const PortablePlan *keep, const PortableAttachments *all,
                     const bool *detaching, const char *link, const char *target) {
        if (!link || streq(link, "-") || still_used(all, detaching, target))
                return 0;
        _cleanup_free_ char *current = NULL;
        if (portable_readlink_in_root(root_fd, link, &current) < 0 || !streq(current, target))
                return 0;
        return add_unlink(p, root_fd, keep, link);
}

/* The link systemd-portabled makes for an image outside the search path, for its drop-ins. */
static int plan_foreign_link(PortablePlan *p, int root_fd, const PortablePlan *keep, const PortableAttachments *all,
                             const bool *detaching, const AttachedUnit *u) {
        _cleanup_free_ char *base = path_basename(u->marker.image);
        _cleanup_free_ char *link = base ? path_join(portable_link_dir(u->runtime), base) : NULL;
        if (!link)
                return -ENOMEM;
        return plan_link(p, root_fd, keep, all, detaching, link, u->marker.image);
}

static int plan_links(PortablePlan *p, int root_fd, const PortablePlan *keep, const PortableAttachments *all,
                      const bool *detaching, const AttachedUnit *u) {
        const PortableMarker *m = &u->marker;
        if (!m->graft)
                return plan_foreign_link(p, root_fd, keep, all, detaching, u);
        int r = plan_link(p, root_fd, keep, all, detaching, m->link, m->image);
        for (size_t i = 0; r >= 0 && i < strv_length(m->extension_links) && i < strv_length(m->extensions); i++)
                r = plan_link(p, root_fd, keep, all, detaching, m->extension_links[i], m->extensions[i]);
        return r;
}

static size_t depth(const char *path) {
        size_t n = 0;
        for (; *path; path++)
                n += *path == '/';
        return n;
}

static int cmp_deepest_first(const void *a, const void *b) {
        const char *x = *(const char * const *) a, *y = *(const char * const *) b;
        int c = CMP(depth(y), depth(x));
        return c ? c : strcmp(x, y);
}

int detach_plan_build(const char *root, int root_fd, const PortableAttachments *all, const bool *detaching,
                      const PortablePlan *keep, char * const *keep_units, PortablePlan *ret, GraftError *err) {
        _cleanup_(portable_plan_done) PortablePlan p = {};
        _cleanup_strv_free_ char **install_dirs = NULL, **created = NULL;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < all->n_units; i++)
                if (detaching[i])
                        r = plan_unit(&p, root, root_fd, &all->units[i], keep, keep_units, &install_dirs);
        for (size_t i = 0; r >= 0 && i < all->n_units; i++) {
                if (!detaching[i])
                        continue;
                r = plan_links(&p, root_fd, keep, all, detaching, &all->units[i]);
                /* systemd-portabled records nothing, and removes the attached directory once
                 * empty: so does its detach done here. */
                if (r >= 0 && !all->units[i].marker.graft)
                        r = add_rmdir(&created, portable_attached_dir(all->units[i].runtime));
                STRV_FOREACH(c, all->units[i].marker.created)
                        if (r >= 0 && (*c)[0] == '/' && path_is_safe_relative(*c + 1))
                                r = add_rmdir(&created, *c);
        }
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot plan the detach: %s", strerror(-r));
        STRV_FOREACH(d, install_dirs)
                if ((r = plan_add_unlink(&p, *d, true)) < 0)
                        return r;
        if (created)
                qsort(created, strv_length(created), sizeof(char *), cmp_deepest_first);
        STRV_FOREACH(d, created)
                if (!(keep && plan_has(keep, *d)) && !plan_has(&p, *d) && (r = plan_add_unlink(&p, *d, true)) < 0)
                        return r;
        *ret = p;
        p = (PortablePlan) {};
        return 0;
}
