/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sextctl as a client of graftd: each function has the signature of the library call it stands
 * for and returns the same struct, read from graftd's reply (org.graft.Extensions1), so the verbs
 * print the same whichever path ran. */
#include "bus-util.h"
#include "sextctl.h"
#include "strv.h"
#include "sysext-wire.h"

sd_bus *arg_bus = NULL;

static int new_call(const char *member, const SysextOptions *o, sd_bus_message **ret) {
        int r = bus_new_graftd_call(arg_bus, GRAFT_BUS_EXTENSIONS_INTERFACE, member, ret);
        return r < 0 ? r : sd_bus_message_append(*ret, "s", sysext_class_to_string(o->class));
}

static int call(sd_bus_message *m, sd_bus_message **reply, GraftError *err) {
        return bus_call_graftd(arg_bus, m, reply, err);
}

static int bad_reply(int r, GraftError *err) {
        return graft_error_set(err, r, GRAFT_ERROR_IO, "graftd sent a reply sextctl cannot read: %s", strerror(-r));
}

int sextctl_bus_status(const SysextOptions *o, SysextStatus *ret, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call("Status", o, &m);
        if (r < 0)
                return r;
        r = call(m, &reply, err);
        if (r < 0)
                return r;
        r = sysext_status_read(reply, ret);
        return r < 0 ? bad_reply(r, err) : 0;
}

int sextctl_bus_list(const SysextOptions *o, SysextListing *ret, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call("List", o, &m);
        if (r < 0)
                return r;
        r = call(m, &reply, err);
        if (r < 0)
                return r;
        r = sysext_listing_read(reply, ret);
        return r < 0 ? bad_reply(r, err) : 0;
}

static int change(const char *member, const SysextOptions *o, SysextResult *ret, GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *policy = o->policy ? image_policy_to_string(o->policy) : NULL, *named = NULL;
        if (o->policy && !policy)
                return -ENOMEM;
        bool merges = !streq(member, "Unmerge"); /* only what merges verifies and chooses images */
        if (merges && o->only && asprintf(&named, "%sNamed", member) < 0)
                return -ENOMEM;
        int r = new_call(named ?: member, o, &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "t", sysext_options_to_bus_flags(o));
        if (r >= 0 && merges)
                r = sd_bus_message_append(m, "s", policy ?: "");
        if (r >= 0 && named)
                r = bus_append_strv(m, o->only);
        if (r < 0)
                return r;
        r = call(m, &reply, err);
        if (r < 0)
                return r;
        r = sysext_result_read(reply, o->class, ret);
        return r < 0 ? bad_reply(r, err) : 0;
}

int sextctl_bus_merge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change("Merge", o, ret, err);
}

int sextctl_bus_refresh(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change("Refresh", o, ret, err);
}

int sextctl_bus_unmerge(const SysextOptions *o, SysextResult *ret, GraftError *err) {
        return change("Unmerge", o, ret, err);
}

int sextctl_bus_set_enabled(const SysextOptions *o, char * const *names, bool enable, char ***ret_changed,
                            GraftError *err) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r = new_call("SetEnabled", o, &m);
        if (r >= 0)
                r = bus_append_strv(m, (char **) names);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) enable);
        if (r < 0)
                return r;
        r = call(m, &reply, err);
        if (r < 0)
                return r;
        char **changed = NULL;
        r = bus_read_strv(reply, &changed);
        if (r < 0)
                return bad_reply(r, err);
        if (ret_changed)
                *ret_changed = changed;
        else
                strv_free(changed);
        return 0;
}

int sextctl_bus_root(char **ret) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        return sd_bus_get_property_string(arg_bus, GRAFT_BUS_NAME, GRAFT_BUS_PATH, GRAFT_BUS_PORTABLE_INTERFACE, "Root",
                                          &e, ret);
}
