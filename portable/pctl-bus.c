/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pctl as a client of graftd: each function has the signature of the library call it stands for
 * and returns the same struct, read from graftd's reply (org.graft.Manager1), so the verbs print
 * the same whichever path ran. */
#include <string.h>

#include "bus-util.h"
#include "path-util.h"
#include "pctl.h"
#include "portable-wire.h"
#include "strv.h"

sd_bus *arg_bus = NULL;
bool arg_bus_local = false;

static int bad_reply(int r, GraftError *err) {
        return graft_error_set(err, r, GRAFT_ERROR_IO, "graftd sent a reply pctl cannot read: %s", strerror(-r));
}

/* graftd does not share our working directory: a relative path (anything with a '/') is made
 * absolute here when graftd runs on this machine. Names go as they are. */
static int absolute(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        if (!arg_bus_local || !strchr(s, '/') || s[0] == '/') {
                *ret = strdup(s);
                return *ret ? 0 : -ENOMEM;
        }
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        if (!cwd)
                return negative_errno();
        *ret = path_join(cwd, s);
        return *ret ? 0 : -ENOMEM;
}

static int append_path(sd_bus_message *m, const char *s) {
        _cleanup_free_ char *a = NULL;
        int r = absolute(s, &a);
        return r < 0 ? r : bus_append_string(m, a);
}

static int append_paths(sd_bus_message *m, char * const *l) {
        _cleanup_strv_free_ char **a = NULL;
        STRV_FOREACH(s, l) {
                char *p;
                int r = absolute(*s, &p);
                if (r < 0 || (r = strv_consume(&a, p)) < 0)
                        return r;
        }
        return bus_append_strv(m, a);
}

static int new_call(const char *member, const char *image, sd_bus_message **ret) {
        int r = bus_new_graftd_call(arg_bus, GRAFT_BUS_PORTABLE_INTERFACE, member, ret);
        return r < 0 || !image ? r : append_path(*ret, image);
}

/* What attach, reattach and inspect send after the image: prefixes, profile, copy mode, flags,
 * extensions, image policy. */
static int append_attach_args(sd_bus_message *m, const PortableOptions *o, char * const *prefixes) {
        _cleanup_free_ char *policy = o->image_policy ? image_policy_to_string(o->image_policy) : NULL;
        if (o->image_policy && !policy)
                return -ENOMEM;
        int r = bus_append_strv(m, prefixes);
        if (r >= 0)
                r = append_path(m, o->profile);
        if (r >= 0)
                r = sd_bus_message_append(m, "st", portable_copy_mode_to_string(o->copy_mode),
                                          portable_options_to_bus_flags(o));
        if (r >= 0)
                r = append_paths(m, o->extensions);
        return r < 0 ? r : bus_append_string(m, policy);
}

/* What DetachImageMatching sends after the image: prefixes, extensions, flags. */
static int append_detach_args(sd_bus_message *m, const PortableOptions *o, char * const *prefixes) {
        int r = bus_append_strv(m, prefixes);
        if (r >= 0)
                r = append_paths(m, o->extensions);
        return r < 0 ? r : sd_bus_message_append(m, "t", portable_options_to_bus_flags(o));
}

static int change(const char *member, const PortableOptions *o, const char *image, char * const *prefixes,
                  PortableResult *ret, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call(member, image, &m);
        if (r >= 0)
                r = streq(member, "DetachImageMatching") ? append_detach_args(m, o, prefixes)
                    : streq(member, "DetachImage")       ? sd_bus_message_append(m, "t", portable_options_to_bus_flags(o))
                                                         : append_attach_args(m, o, prefixes);
        if (r < 0)
                return r;
        r = bus_call_graftd(arg_bus, m, &reply, err);
        if (r < 0)
                return r;
        r = portable_result_read(reply, ret);
        return r < 0 ? bad_reply(r, err) : 0;
}

int pctl_bus_attach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err) {
        return change("AttachImage", o, image, prefixes, ret, err);
}

int pctl_bus_reattach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                      GraftError *err) {
        return change("ReattachImage", o, image, prefixes, ret, err);
}

int pctl_bus_detach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err) {
        /* DetachImage when nothing narrows the choice: what every graftd understands. */
        bool narrowed = strv_length(prefixes) > 0 || strv_length(o->extensions) > 0;
        return change(narrowed ? "DetachImageMatching" : "DetachImage", o, image, prefixes, ret, err);
}

int pctl_bus_is_attached(const PortableOptions *o, const char *image, PortableState *ret, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *state;
        /* GetImageState when no extension narrows it: what every graftd understands. */
        bool narrowed = strv_length(o->extensions) > 0;
        int r = new_call(narrowed ? "GetImageStateMatching" : "GetImageState", image, &m);
        if (r >= 0 && narrowed)
                r = append_paths(m, o->extensions);
        if (r < 0)
                return r;
        r = bus_call_graftd(arg_bus, m, &reply, err);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &state);
        if (r < 0)
                return bad_reply(r, err);
        PortableState s = portable_state_from_string(state);
        if (s == _PORTABLE_STATE_MAX)
                return bad_reply(-EBADMSG, err);
        *ret = s;
        return 0;
}

int pctl_bus_list(const PortableOptions *o, PortableImageInfo **ret, size_t *ret_n, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call("ListImages", NULL, &m);
        if (r < 0)
                return r;
        r = bus_call_graftd(arg_bus, m, &reply, err);
        if (r < 0)
                return r;
        r = portable_image_infos_read(reply, ret, ret_n);
        return r < 0 ? bad_reply(r, err) : 0;
}

int pctl_bus_inspect(const PortableOptions *o, const char *image, char * const *prefixes, PortableInspection *ret,
                     GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call("GetImageMetadata", image, &m);
        if (r >= 0)
                r = append_attach_args(m, o, prefixes);
        if (r < 0)
                return r;
        r = bus_call_graftd(arg_bus, m, &reply, err);
        if (r < 0)
                return r;
        r = portable_inspection_read(reply, ret);
        return r < 0 ? bad_reply(r, err) : 0;
}

int pctl_bus_remove(const PortableOptions *o, const char *image, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = new_call("RemoveImage", image, &m);
        return r < 0 ? r : bus_call_graftd(arg_bus, m, NULL, err);
}

int pctl_bus_set_read_only(const PortableOptions *o, const char *image, bool read_only, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = new_call("MarkImageReadOnly", image, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) read_only);
        return r < 0 ? r : bus_call_graftd(arg_bus, m, NULL, err);
}
