/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns who may do what: changes, and reads that name a path or pass an image policy
 * (INSPECT_ACTION), are for root and for callers that the polkit authority, when one is on the
 * bus, authorizes for the operation's action (shipped in org.graft.policy); other reads are for
 * every caller. Without polkit, others are refused. polkit is asked asynchronously: the main loop
 * keeps serving while it decides. */
#include <string.h>

#include "authorize.h"
#include "bus-util.h"
#include "daemon-log.h"

static int refuse(AuthorizeRequest *q, const char *name, const char *why) {
        /* A read that needs authorization: say what made it need one, and the way without. */
        const char *hint = streq(q->action, INSPECT_ACTION)
                                   ? " (reads that name a path or pass an image policy need it; pctl --direct reads "
                                     "with the caller's own privileges)"
                                   : "";
        return graft_error_set(q->error, -EACCES, name, "access denied: %s needs root, or polkit's authorization for %s%s%s%s",
                               q->description, q->action, why ? ": " : "", strempty(why), hint);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AuthorizeRequest *q = userdata;
        q->slot = sd_bus_slot_unref(q->slot);

        int authorized = 0, challenge = 0, r = 0;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e)
                r = refuse(q, SD_BUS_ERROR_ACCESS_DENIED, sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                                                                  SD_BUS_ERROR_NAME_HAS_NO_OWNER)
                                                                   ? "no polkit authority is running"
                                                                   : e->message);
        else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") <= 0 ||
                 sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0)
                r = refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit's answer could not be read");
        else if (!authorized && challenge && !sd_bus_message_get_allow_interactive_authorization(q->call))
                r = refuse(q, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                           "polkit would ask for a password, but the caller does not allow interaction");
        else if (!authorized && challenge)
                /* Interaction was allowed, yet polkit still wants a password: no authentication
                 * agent of the caller's could ask for it. */
                r = refuse(q, SD_BUS_ERROR_ACCESS_DENIED,
                           "polkit wants a password, and no authentication agent was there to ask for it");
        else if (!authorized)
                r = refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit says no");

        if (r >= 0)
                daemon_log(LOG_DEBUG, "%s (uid %u): authorized by polkit for %s", q->description, (unsigned) q->uid,
                           q->action);
        q->done(q->userdata, r);
        return 0;
}

int authorize(AuthorizeRequest *q) {
        if (!q->action || q->uid == 0)
                return 1;
        const char *sender = sd_bus_message_get_sender(q->call);
        if (!sender)
                return refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "the caller has no bus name to ask polkit about");
        uint32_t flags = sd_bus_message_get_allow_interactive_authorization(q->call) ? 1 : 0;
        int r = sd_bus_call_method_async(q->bus, &q->slot, "org.freedesktop.PolicyKit1",
                                         "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                                         "CheckAuthorization", on_polkit_reply, q, "(sa{sv})sa{ss}us", "system-bus-name",
                                         1, "name", "s", sender, q->action, 0, flags, "");
        if (r < 0)
                return refuse(q, SD_BUS_ERROR_ACCESS_DENIED, "polkit cannot be asked");
        return 0;
}
