/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the wire form of the extension library's results (see sysext-wire.h). Every field the CLI
 * prints travels; what only the library itself uses (dissected images, verification details)
 * does not. */
#include <string.h>

#include "bus-util.h"
#include "strv.h"
#include "sysext-wire.h"

uint64_t sysext_options_to_bus_flags(const SysextOptions *o) {
        return (o->force ? SYSEXT_BUS_FORCE : 0) | (o->noexec ? SYSEXT_BUS_NOEXEC : 0) |
               (o->no_reload ? SYSEXT_BUS_NO_RELOAD : 0) | (o->dry_run ? SYSEXT_BUS_DRY_RUN : 0) |
               ((uint64_t) o->mutable << SYSEXT_BUS_MUTABLE_SHIFT) | (o->exec ? SYSEXT_BUS_EXEC : 0);
}

int sysext_options_from_bus_flags(uint64_t flags, SysextOptions *o) {
        uint64_t m = (flags & SYSEXT_BUS_MUTABLE_MASK) >> SYSEXT_BUS_MUTABLE_SHIFT;
        if (flags & ~(uint64_t) _SYSEXT_BUS_FLAGS_ALL || m >= _SYSEXT_MUTABLE_MAX)
                return -EINVAL;
        o->mutable = (SysextMutable) m;
        o->force = flags & SYSEXT_BUS_FORCE;
        o->noexec = flags & SYSEXT_BUS_NOEXEC;
        o->no_reload = flags & SYSEXT_BUS_NO_RELOAD;
        o->dry_run = flags & SYSEXT_BUS_DRY_RUN;
        o->exec = flags & SYSEXT_BUS_EXEC;
        return 0;
}

const char *sysext_class_to_string(ImageClass c) {
        return c == IMAGE_CLASS_SYSEXT ? "sysext" : c == IMAGE_CLASS_CONFEXT ? "confext" : NULL;
}

int sysext_class_from_string(const char *s, ImageClass *ret) {
        if (streq(s, "sysext"))
                *ret = IMAGE_CLASS_SYSEXT;
        else if (streq(s, "confext"))
                *ret = IMAGE_CLASS_CONFEXT;
        else
                return -EINVAL;
        return 0;
}

int sysext_listing_append(sd_bus_message *m, const SysextListing *l) {
        int r = sd_bus_message_open_container(m, 'a', "(ssssut)");
        for (size_t i = 0; r >= 0 && i < l->discovery.n_images; i++) {
                const DiscoveredImage *d = &l->discovery.images[i];
                r = sd_bus_message_open_container(m, 'r', "ssssut");
                if (r >= 0)
                        r = bus_append_string(m, d->name);
                if (r >= 0)
                        r = bus_append_string(m, d->path);
                if (r >= 0)
                        r = bus_append_string(m, d->found_as);
                if (r >= 0)
                        r = bus_append_string(m, d->version);
                if (r >= 0)
                        r = sd_bus_message_append(m, "ut", (uint32_t) d->type, l->mtime_usec ? l->mtime_usec[i] : 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : bus_append_strv(m, l->discovery.skipped);
}

static int read_listing_item(sd_bus_message *m, void *item) {
        DiscoveredImage *d = item;
        uint32_t type;
        int r = bus_read_string(m, &d->name);
        if (r >= 0)
                r = bus_read_string(m, &d->path);
        if (r >= 0)
                r = bus_read_string(m, &d->found_as);
        if (r >= 0)
                r = bus_read_string(m, &d->version);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &type);
        if (r >= 0)
                d->type = type;
        return r;
}

int sysext_listing_read(sd_bus_message *m, SysextListing *ret) {
        _cleanup_(sysext_listing_done) SysextListing l = {};
        /* The times ride along in the structs: read them in a second pass over a copy. */
        int r = sd_bus_message_enter_container(m, 'a', "(ssssut)");
        while (r > 0 && (r = sd_bus_message_enter_container(m, 'r', "ssssut")) > 0) {
                size_t n = l.discovery.n_images;
                DiscoveredImage *g = reallocarray(l.discovery.images, n + 1, sizeof(*g));
                uint64_t *t = g ? reallocarray(l.mtime_usec, n + 1, sizeof(*t)) : NULL;
                if (g)
                        l.discovery.images = g;
                if (t)
                        l.mtime_usec = t;
                if (!g || !t)
                        return -ENOMEM;
                g[n] = (DiscoveredImage) {};
                l.discovery.n_images++;
                r = read_listing_item(m, &g[n]);
                if (r >= 0)
                        r = sd_bus_message_read(m, "t", &t[n]);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = bus_read_strv(m, &l.discovery.skipped);
        if (r < 0)
                return r;
        *ret = l;
        l = (SysextListing) {};
        return 0;
}

int sysext_status_append(sd_bus_message *m, const SysextStatus *s) {
        int r = sd_bus_message_open_container(m, 'a', "(ssbast)");
        for (size_t i = 0; r >= 0 && i < s->n_hierarchies; i++) {
                const SysextHierarchy *h = &s->hierarchies[i];
                r = sd_bus_message_open_container(m, 'r', "ssbast");
                if (r >= 0)
                        r = bus_append_string(m, h->path);
                if (r >= 0)
                        r = bus_append_string(m, h->resolved);
                if (r >= 0)
                        r = sd_bus_message_append(m, "b", (int) h->merged);
                if (r >= 0)
                        r = bus_append_strv(m, h->extensions);
                if (r >= 0)
                        r = sd_bus_message_append(m, "t", h->since_usec);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int read_hierarchy(sd_bus_message *m, void *item) {
        SysextHierarchy *h = item;
        int merged = 0;
        int r = bus_read_string(m, &h->path);
        if (r >= 0)
                r = bus_read_string(m, &h->resolved);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &merged);
        if (r >= 0)
                r = bus_read_strv(m, &h->extensions);
        if (r >= 0)
                r = sd_bus_message_read(m, "t", &h->since_usec);
        h->merged = merged;
        return r;
}

int sysext_status_read(sd_bus_message *m, SysextStatus *ret) {
        _cleanup_(sysext_status_done) SysextStatus s = {};
        int r = bus_read_struct_array(m, "(ssbast)", (void **) &s.hierarchies, &s.n_hierarchies, sizeof(SysextHierarchy),
                           read_hierarchy);
        if (r < 0)
                return r;
        *ret = s;
        s = (SysextStatus) {};
        return 0;
}

static int append_image(sd_bus_message *m, const SysextImage *img) {
        int r = sd_bus_message_open_container(m, 'r', "ssssubssusssas");
        if (r >= 0)
                r = bus_append_string(m, img->name);
        if (r >= 0)
                r = bus_append_string(m, img->version);
        if (r >= 0)
                r = bus_append_string(m, img->path);
        if (r >= 0)
                r = bus_append_string(m, img->found_as);
        if (r >= 0)
                r = sd_bus_message_append(m, "ub", (uint32_t) img->type, (int) img->skipped);
        if (r >= 0)
                r = bus_append_string(m, img->error.name);
        if (r >= 0)
                r = bus_append_string(m, img->error.message);
        if (r >= 0)
                r = sd_bus_message_append(m, "u", (uint32_t) img->offer);
        if (r >= 0)
                r = bus_append_string(m, img->root_hash);
        if (r >= 0)
                r = bus_append_string(m, img->signer);
        if (r >= 0)
                r = bus_append_string(m, img->mounted_via);
        if (r >= 0)
                r = bus_append_strv(m, img->content);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_hierarchy_result(sd_bus_message *m, const SysextHierarchyResult *h) {
        int r = sd_bus_message_open_container(m, 'r', "sssast");
        if (r >= 0)
                r = bus_append_string(m, h->path);
        if (r >= 0)
                r = bus_append_string(m, h->resolved);
        if (r >= 0)
                r = bus_append_string(m, sysext_action_to_string(h->action));
        if (r >= 0)
                r = bus_append_strv(m, h->extensions);
        if (r >= 0)
                r = sd_bus_message_append(m, "t", h->gap_usec);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int sysext_result_append(sd_bus_message *m, const SysextResult *res) {
        const SysextPlan *p = res->plan;
        int r = sd_bus_message_append(m, "b", (int) !!p);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(ssssubssusssas)");
        for (size_t i = 0; r >= 0 && p && i < p->n_images; i++)
                r = append_image(m, &p->images[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = bus_append_strv(m, p ? p->discovery_skipped : NULL);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sssast)");
        for (size_t i = 0; r >= 0 && i < res->n_hierarchies; i++)
                r = append_hierarchy_result(m, &res->hierarchies[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = bus_append_string(m, sysext_reload_to_string(res->reload));
        if (r >= 0)
                r = bus_append_string(m, res->reload_error);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) res->beneath_unsupported);
        if (r >= 0)
                r = bus_append_strv(m, p ? p->passed_over : NULL);
        return r < 0 ? r : sd_bus_message_append(m, "b", (int) res->dry_run);
}

static int read_image(sd_bus_message *m, void *item) {
        SysextImage *img = item;
        _cleanup_free_ char *ename = NULL, *emsg = NULL;
        uint32_t type, offer;
        int skipped;
        int r = bus_read_string(m, &img->name);
        if (r >= 0)
                r = bus_read_string(m, &img->version);
        if (r >= 0)
                r = bus_read_string(m, &img->path);
        if (r >= 0)
                r = bus_read_string(m, &img->found_as);
        if (r >= 0)
                r = sd_bus_message_read(m, "ub", &type, &skipped);
        if (r >= 0)
                r = bus_read_string(m, &ename);
        if (r >= 0)
                r = bus_read_string(m, &emsg);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &offer);
        if (r >= 0)
                r = bus_read_string(m, &img->root_hash);
        if (r >= 0)
                r = bus_read_string(m, &img->signer);
        if (r >= 0)
                r = bus_read_string(m, &img->mounted_via);
        if (r >= 0)
                r = bus_read_strv(m, &img->content);
        if (r < 0)
                return r;
        if (offer > OFFER_SIGNED)
                return -EBADMSG;
        img->type = type;
        img->skipped = skipped;
        img->offer = offer;
        if (ename) /* back to the static name of error.h */
                (void) graft_error_from_bus(&SD_BUS_ERROR_MAKE_CONST(ename, emsg), -EIO, &img->error);
        return 0;
}

static int action_from_string(const char *s, SysextAction *ret) {
        for (SysextAction a = 0; a < _SYSEXT_ACTION_MAX; a++)
                if (streq(s, sysext_action_to_string(a))) {
                        *ret = a;
                        return 0;
                }
        return -EBADMSG;
}

static int read_hierarchy_result(sd_bus_message *m, void *item) {
        SysextHierarchyResult *h = item;
        _cleanup_free_ char *action = NULL;
        int r = bus_read_string(m, &h->path);
        if (r >= 0)
                r = bus_read_string(m, &h->resolved);
        if (r >= 0)
                r = bus_read_string(m, &action);
        if (r >= 0)
                r = action ? action_from_string(action, &h->action) : -EBADMSG;
        if (r >= 0)
                r = bus_read_strv(m, &h->extensions);
        if (r >= 0)
                r = sd_bus_message_read(m, "t", &h->gap_usec);
        return r;
}

static int reload_from_string(const char *s, SysextReload *ret) {
        for (SysextReload x = 0; x < _SYSEXT_RELOAD_MAX; x++)
                if (streq(strempty(s), sysext_reload_to_string(x))) {
                        *ret = x;
                        return 0;
                }
        return -EBADMSG;
}

static int plan_finish(SysextPlan *p, ImageClass class, const SysextResult *res) {
        p->class = class;
        for (size_t i = 0; i < res->n_hierarchies; i++)
                if (strv_extend(&p->hierarchies, res->hierarchies[i].path) < 0)
                        return -ENOMEM;
        return 0;
}

int sysext_result_read(sd_bus_message *m, ImageClass class, SysextResult *ret) {
        _cleanup_(sysext_result_done) SysextResult res = {};
        _cleanup_free_ char *reload = NULL;
        int has_plan, beneath, dry_run;
        int r = sd_bus_message_read(m, "b", &has_plan);
        if (r < 0)
                return r;
        _cleanup_(sysext_plan_freep) SysextPlan *p = calloc(1, sizeof(SysextPlan));
        if (!p)
                return -ENOMEM;
        r = bus_read_struct_array(m, "(ssssubssusssas)", (void **) &p->images, &p->n_images, sizeof(SysextImage), read_image);
        if (r >= 0)
                r = bus_read_strv(m, &p->discovery_skipped);
        if (r >= 0)
                r = bus_read_struct_array(m, "(sssast)", (void **) &res.hierarchies, &res.n_hierarchies,
                               sizeof(SysextHierarchyResult), read_hierarchy_result);
        if (r >= 0)
                r = bus_read_string(m, &reload);
        if (r >= 0)
                r = reload_from_string(reload, &res.reload);
        if (r >= 0)
                r = bus_read_string(m, &res.reload_error);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &beneath);
        if (r >= 0)
                r = bus_read_strv(m, &p->passed_over);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &dry_run);
        if (r >= 0 && has_plan)
                r = plan_finish(p, class, &res);
        if (r < 0)
                return r;
        res.beneath_unsupported = beneath;
        res.dry_run = dry_run;
        if (has_plan)
                res.plan = TAKE_PTR(p);
        *ret = res;
        res = (SysextResult) {};
        return 0;
}
