/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the wire form of the portable library's results (see portable-wire.h). */
#include <string.h>

#include "bus-util.h"
#include "dissect.h"
#include "portable-wire.h"
#include "strv.h"

uint64_t portable_options_to_bus_flags(const PortableOptions *o) {
        return (o->runtime ? PORTABLE_BUS_RUNTIME : 0) | (o->enable ? PORTABLE_BUS_ENABLE : 0) |
               (o->now ? PORTABLE_BUS_NOW : 0) | (o->no_block ? PORTABLE_BUS_NO_BLOCK : 0) |
               (o->no_reload ? PORTABLE_BUS_NO_RELOAD : 0) | (o->force ? PORTABLE_BUS_FORCE : 0);
}

int portable_options_from_bus_flags(uint64_t flags, PortableOptions *o) {
        if (flags & ~(uint64_t) _PORTABLE_BUS_FLAGS_ALL)
                return -EINVAL;
        o->runtime = flags & PORTABLE_BUS_RUNTIME;
        o->enable = flags & PORTABLE_BUS_ENABLE;
        o->now = flags & PORTABLE_BUS_NOW;
        o->no_block = flags & PORTABLE_BUS_NO_BLOCK;
        o->no_reload = flags & PORTABLE_BUS_NO_RELOAD;
        o->force = flags & PORTABLE_BUS_FORCE;
        return 0;
}

PortableState portable_state_from_string(const char *s) {
        for (PortableState x = 0; x < _PORTABLE_STATE_MAX; x++)
                if (streq(strempty(s), portable_state_to_string(x)))
                        return x;
        return _PORTABLE_STATE_MAX;
}

static int read_state(sd_bus_message *m, PortableState *ret) {
        _cleanup_free_ char *s = NULL;
        int r = bus_read_string(m, &s);
        if (r < 0)
                return r;
        PortableState x = portable_state_from_string(s);
        if (x == _PORTABLE_STATE_MAX)
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* Three strings in a struct; NULL travels as "". */
static int append_triple(sd_bus_message *m, const char *a, const char *b, const char *c) {
        int r = sd_bus_message_open_container(m, 'r', "sss");
        if (r >= 0)
                r = bus_append_string(m, a);
        if (r >= 0)
                r = bus_append_string(m, b);
        if (r >= 0)
                r = bus_append_string(m, c);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int portable_changes_append(sd_bus_message *m, const PortableChanges *c) {
        int r = sd_bus_message_open_container(m, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < c->n; i++)
                r = append_triple(m, portable_change_type_to_string(c->items[i].type), c->items[i].path,
                                  c->items[i].source);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int read_change(sd_bus_message *m, void *item) {
        PortableChange *c = item;
        _cleanup_free_ char *type = NULL;
        int r = bus_read_string(m, &type);
        if (r >= 0)
                r = bus_read_string(m, &c->path);
        if (r >= 0)
                r = bus_read_string(m, &c->source);
        if (r < 0)
                return r;
        for (PortableChangeType t = 0; t < _PORTABLE_CHANGE_MAX; t++)
                if (streq(strempty(type), portable_change_type_to_string(t))) {
                        c->type = t;
                        return c->path ? 0 : -EBADMSG;
                }
        return -EBADMSG;
}

int portable_changes_read(sd_bus_message *m, PortableChanges *ret) {
        PortableChanges c = {};
        int r = bus_read_struct_array(m, "(sss)", (void **) &c.items, &c.n, sizeof(PortableChange), read_change);
        if (r < 0) {
                portable_changes_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int portable_result_append(sd_bus_message *m, const PortableResult *res) {
        int r = bus_append_string(m, res->image);
        if (r >= 0)
                r = bus_append_strv(m, res->units);
        if (r >= 0)
                r = portable_changes_append(m, &res->changes);
        if (r >= 0)
                r = bus_append_strv(m, res->started);
        if (r >= 0)
                r = bus_append_strv(m, res->stopped);
        if (r >= 0)
                r = bus_append_strv(m, res->restarted);
        return r < 0 ? r : sd_bus_message_append(m, "b", (int) res->reloaded);
}

int portable_result_read(sd_bus_message *m, PortableResult *ret) {
        _cleanup_(portable_result_done) PortableResult res = {};
        int reloaded;
        int r = bus_read_string(m, &res.image);
        if (r >= 0)
                r = bus_read_strv(m, &res.units);
        if (r >= 0)
                r = portable_changes_read(m, &res.changes);
        if (r >= 0)
                r = bus_read_strv(m, &res.started);
        if (r >= 0)
                r = bus_read_strv(m, &res.stopped);
        if (r >= 0)
                r = bus_read_strv(m, &res.restarted);
        if (r >= 0)
                r = sd_bus_message_read(m, "b", &reloaded);
        if (r < 0)
                return r;
        res.reloaded = reloaded;
        *ret = res;
        res = (PortableResult) {};
        return 0;
}

int portable_image_infos_append(sd_bus_message *m, const PortableImageInfo *l, size_t n) {
        int r = sd_bus_message_open_container(m, 'a', "(sssssass)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = sd_bus_message_open_container(m, 'r', "sssssass");
                if (r >= 0)
                        r = bus_append_string(m, l[i].name);
                if (r >= 0)
                        r = bus_append_string(m, l[i].path);
                if (r >= 0)
                        r = bus_append_string(m, l[i].version);
                if (r >= 0)
                        r = bus_append_string(m, l[i].root_hash);
                if (r >= 0)
                        r = bus_append_string(m, portable_state_to_string(l[i].state));
                if (r >= 0)
                        r = bus_append_strv(m, l[i].units);
                if (r >= 0)
                        r = bus_append_string(m, l[i].trust);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int read_info(sd_bus_message *m, void *item) {
        PortableImageInfo *i = item;
        int r = bus_read_string(m, &i->name);
        if (r >= 0)
                r = bus_read_string(m, &i->path);
        if (r >= 0)
                r = bus_read_string(m, &i->version);
        if (r >= 0)
                r = bus_read_string(m, &i->root_hash);
        if (r >= 0)
                r = read_state(m, &i->state);
        if (r >= 0)
                r = bus_read_strv(m, &i->units);
        if (r >= 0)
                r = bus_read_string(m, &i->trust);
        return r < 0 ? r : i->name && i->path ? 0 : -EBADMSG;
}

int portable_image_infos_read(sd_bus_message *m, PortableImageInfo **ret, size_t *ret_n) {
        PortableImageInfo *l = NULL;
        size_t n = 0;
        int r = bus_read_struct_array(m, "(sssssass)", (void **) &l, &n, sizeof(PortableImageInfo), read_info);
        if (r < 0) {
                portable_image_infos_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static int append_pairs(sd_bus_message *m, char * const *l) {
        int r = sd_bus_message_open_container(m, 'a', "(ss)");
        STRV_FOREACH_PAIR(k, v, r >= 0 ? l : NULL)
                if ((r = sd_bus_message_append(m, "(ss)", *k, *v)) < 0)
                        break;
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int read_pairs(sd_bus_message *m, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *k, *v;
        int r = sd_bus_message_enter_container(m, 'a', "(ss)");
        while (r > 0 && (r = sd_bus_message_read(m, "(ss)", &k, &v)) > 0)
                if (strv_extend(&l, k) < 0 || strv_extend(&l, v) < 0)
                        return -ENOMEM;
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int portable_inspection_append(sd_bus_message *m, const PortableInspection *in) {
        const char * const strings[] = { in->image, in->name, in->version, in->root_hash, in->signer, in->kind,
                                         in->os_release_path };
        int r = 0;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(strings); i++)
                r = bus_append_string(m, strings[i]);
        if (r >= 0)
                r = append_pairs(m, in->os_release);
        if (r >= 0)
                r = bus_append_strv(m, in->extensions);
        if (r >= 0)
                r = bus_append_strv(m, in->prefixes);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < in->n_units; i++)
                r = append_triple(m, in->units[i].name, in->units[i].source, in->units[i].content);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = portable_changes_append(m, &in->plan);
        if (r >= 0)
                r = bus_append_string(m, portable_state_to_string(in->state));
        if (r >= 0)
                r = bus_append_string(m, in->os_release_text);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < in->n_extension_releases; i++)
                r = append_triple(m, in->extension_releases[i].name, in->extension_releases[i].source,
                                  in->extension_releases[i].content);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int read_unit(sd_bus_message *m, void *item) {
        PortableInspectUnit *u = item;
        int r = bus_read_string(m, &u->name);
        if (r >= 0)
                r = bus_read_string(m, &u->source);
        if (r >= 0)
                r = bus_read_string(m, &u->content);
        if (r >= 0 && !u->content)
                r = (u->content = strdup("")) ? 0 : -ENOMEM; /* an empty unit file stays a string */
        return r < 0 ? r : u->name && u->source ? 0 : -EBADMSG;
}

/* The kind is one of dissect's static names. */
static int read_kind(sd_bus_message *m, const char **ret) {
        _cleanup_free_ char *s = NULL;
        int r = bus_read_string(m, &s);
        if (r < 0)
                return r;
        for (ImageKind k = IMAGE_KIND_GPT; k <= IMAGE_KIND_DIRECTORY; k++)
                if (streq(strempty(s), image_kind_to_string(k))) {
                        *ret = image_kind_to_string(k);
                        return 0;
                }
        return -EBADMSG;
}

int portable_inspection_read(sd_bus_message *m, PortableInspection *ret) {
        _cleanup_(portable_inspection_done) PortableInspection in = {};
        char **strings[] = { &in.image, &in.name, &in.version, &in.root_hash, &in.signer };
        int r = 0;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(strings); i++)
                r = bus_read_string(m, strings[i]);
        if (r >= 0)
                r = read_kind(m, &in.kind);
        if (r >= 0)
                r = bus_read_string(m, &in.os_release_path);
        if (r >= 0)
                r = read_pairs(m, &in.os_release);
        if (r >= 0)
                r = bus_read_strv(m, &in.extensions);
        if (r >= 0)
                r = bus_read_strv(m, &in.prefixes);
        if (r >= 0)
                r = bus_read_struct_array(m, "(sss)", (void **) &in.units, &in.n_units, sizeof(PortableInspectUnit),
                                          read_unit);
        if (r >= 0)
                r = portable_changes_read(m, &in.plan);
        if (r >= 0)
                r = read_state(m, &in.state);
        if (r >= 0)
                r = bus_read_string(m, &in.os_release_text);
        if (r >= 0)
                r = bus_read_struct_array(m, "(sss)", (void **) &in.extension_releases, &in.n_extension_releases,
                                          sizeof(PortableInspectUnit), read_unit);
        if (r < 0)
                return r;
        if (!in.image || !in.name)
                return -EBADMSG;
        *ret = in;
        in = (PortableInspection) {};
        return 0;
}
