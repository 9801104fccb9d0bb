/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graft's conventions on the bus (see bus-util.h): strings, errors, finding graftd. */
#include <string.h>

#include "bus-util.h"
#include "path-util.h"
#include "strv.h"

int bus_append_string(sd_bus_message *m, const char *s) {
        return sd_bus_message_append_basic(m, 's', s ?: "");
}

int bus_read_string(sd_bus_message *m, char **ret) {
        const char *s;
        int r = sd_bus_message_read_basic(m, 's', &s);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        char *c = NULL;
        if (!isempty(s) && !(c = strdup(s)))
                return -ENOMEM;
        *ret = c;
        return 0;
}

int bus_append_strv(sd_bus_message *m, char * const *l) {
        int r = sd_bus_message_open_container(m, 'a', "s");
        STRV_FOREACH(s, r >= 0 ? l : NULL)
                if ((r = sd_bus_message_append_basic(m, 's', *s)) < 0)
                        break;
        return r < 0 ? r : sd_bus_message_close_container(m);
}

int bus_read_strv(sd_bus_message *m, char ***ret) {
        char **l = NULL;
        int r = sd_bus_message_read_strv(m, &l);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        if (l && !l[0])
                l = strv_free(l);
        *ret = l;
        return 0;
}

int bus_read_struct_array(sd_bus_message *m, const char *contents, void **items, size_t *n, size_t size,
                          int (*read)(sd_bus_message *m, void *item)) {
        int r = sd_bus_message_enter_container(m, 'a', contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        const char *inner = contents + 1;
        _cleanup_free_ char *sig = strndup(inner, strlen(inner) - 1);
        if (!sig)
                return -ENOMEM;
        while ((r = sd_bus_message_enter_container(m, 'r', sig)) > 0) {
                char *g = reallocarray(*items, *n + 2, size);
                if (!g)
                        return -ENOMEM;
                *items = g;
                memset(g + *n * size, 0, 2 * size);
                r = read(m, g + (*n)++ * size);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* Every name of error.h, and the errno a bare name stands for. */
static const struct {
        const char *name;
        int error;
} graft_errors[] = {
        { GRAFT_ERROR_INVALID_ARGUMENT, EINVAL },
        { GRAFT_ERROR_NO_SUCH_IMAGE, ENOENT },
        { GRAFT_ERROR_BAD_IMAGE, EBADMSG },
        { GRAFT_ERROR_INTEGRITY, EBADMSG },
        { GRAFT_ERROR_BAD_SIGNATURE, EBADMSG },
        { GRAFT_ERROR_UNTRUSTED, EKEYREJECTED },
        { GRAFT_ERROR_POLICY, EPERM },
        { GRAFT_ERROR_MISSING_FILE, ENOENT },
        { GRAFT_ERROR_UNSUPPORTED, EOPNOTSUPP },
        { GRAFT_ERROR_IO, EIO },
        { GRAFT_ERROR_INCOMPATIBLE, EBADR },
        { GRAFT_ERROR_CONFLICT, EBUSY },
};

/* Refusals of the bus or of graftd's authorization, passed on by name. */
static const char * const access_errors[] = {
        SD_BUS_ERROR_ACCESS_DENIED,
        SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
};

int bus_error_from_graft(sd_bus_error *ret, const GraftError *e, int r) {
        if (graft_error_is_set(e)) {
                sd_bus_error_set(ret, e->name, e->message ?: strerror(-r));
                return r;
        }
        const char *n = strerrorname_np(-r);
        if (!n)
                n = "EIO";
        char name[64];
        snprintf(name, sizeof name, "System.Error.%s", n);
        sd_bus_error_set(ret, name, strerror(-r));
        return r;
}

int bus_reply_graft_error(sd_bus_message *call, const GraftError *e, int r) {
        _cleanup_bus_error_ sd_bus_error be = SD_BUS_ERROR_NULL;
        bus_error_from_graft(&be, e, r);
        return sd_bus_reply_method_error(call, &be);
}

int graft_error_from_bus(const sd_bus_error *be, int r, GraftError *ret) {
        if (!sd_bus_error_is_set(be))
                return graft_error_set(ret, r < 0 ? r : -EIO, GRAFT_ERROR_IO, "graftd: %s", strerror(r < 0 ? -r : EIO));
        for (size_t i = 0; i < ELEMENTSOF(graft_errors); i++)
                if (streq(be->name, graft_errors[i].name))
                        return graft_error_set(ret, -graft_errors[i].error, graft_errors[i].name, "%s",
                                               strempty(be->message));
        if (startswith(be->name, "System.Error."))
                return -sd_bus_error_get_errno(be); /* a bare errno, as the library returned it */
        for (size_t i = 0; i < ELEMENTSOF(access_errors); i++)
                if (streq(be->name, access_errors[i]))
                        return graft_error_set(ret, -EACCES, access_errors[i], "%s", strempty(be->message));
        return graft_error_set(ret, r < 0 ? r : -EIO, GRAFT_ERROR_IO, "graftd: %s (%s)", strempty(be->message), be->name);
}

static int name_reachable(sd_bus *bus) {
        _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has = 0;
        int r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                   "NameHasOwner", &e, &reply, "s", GRAFT_BUS_NAME);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has);
        if (r < 0 || has)
                return r < 0 ? r : 1;
        _cleanup_strv_free_ char **names = NULL;
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "ListActivatableNames", &e, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(reply, &names);
        return r < 0 ? r : strv_contains(names, GRAFT_BUS_NAME);
}

int bus_connect_graftd(BusTransport t, const char *host, sd_bus **ret, GraftError *err) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *where = t == BUS_TRANSPORT_REMOTE ? "host" : "machine";
        int r;
        switch (t) {
        case BUS_TRANSPORT_DIRECT:
                return 0;
        case BUS_TRANSPORT_AUTO:
                /* No system bus, or no graftd on it: the work is done here. */
                if (sd_bus_open_system(&bus) < 0 || name_reachable(bus) <= 0)
                        return 0;
                *ret = TAKE_PTR(bus);
                return 1;
        case BUS_TRANSPORT_REMOTE:
                r = sd_bus_open_system_remote(&bus, host);
                break;
        case BUS_TRANSPORT_MACHINE:
                r = sd_bus_open_system_machine(&bus, host);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot connect to the system bus of %s %s: %s", where,
                                       host, strerror(-r));
        r = name_reachable(bus);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot talk to the system bus of %s %s: %s", where,
                                       host, strerror(-r));
        if (r == 0)
                return graft_error_set(err, -EHOSTUNREACH, GRAFT_ERROR_IO,
                                       "graftd (%s) is neither running nor activatable on %s %s", GRAFT_BUS_NAME,
                                       where, host);
        *ret = TAKE_PTR(bus);
        return 1;
}

int bus_new_graftd_call(sd_bus *bus, const char *interface, const char *member, sd_bus_message **ret) {
        int r = sd_bus_message_new_method_call(bus, ret, GRAFT_BUS_NAME, GRAFT_BUS_PATH, interface, member);
        if (r >= 0)
                r = sd_bus_message_set_allow_interactive_authorization(*ret, true);
        return r;
}

int bus_call_graftd(sd_bus *bus, sd_bus_message *m, sd_bus_message **ret_reply, GraftError *err) {
        _cleanup_bus_error_ sd_bus_error be = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(bus, m, GRAFT_BUS_CALL_TIMEOUT_USEC, &be, ret_reply);
        if (r < 0)
                return graft_error_from_bus(&be, r, err);
        return 0;
}
