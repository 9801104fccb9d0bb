/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns who may do what: changes, and reads that name a path or pass an image policy
 * (INSPECT_ACTION), are for root and for callers that the polkit authority, when one is on the
 * bus, authorizes for the operation's action (shipped in org.graft.policy); other reads are for
 * every caller. Without polkit, others are refused. polkit is asked asynchronously: the main loop
 * keeps serving while it decides. */
#include <string.h>

#include "bus-util.h"
#include "daemon-log.h"
#include "operation.h"

static int refuse(Operation *op, const char *name, const char *why) {
        /* A read that needs authorization: say what made it need one, and the way without. */
        const char *hint = streq(op->action, INSPECT_ACTION)
                                   ? " (reads that name a path or pass an image policy need it; pctl --direct reads "
                                     "with the caller's own privileges)"
                                   : "";
        return graft_error_set(&op->error, -EACCES, name, "access denied: %s needs root, or polkit's authorization for %s%s%s%s",
                               op->description, op->action, why ? ": " : "", strempty(why), hint);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Operation *op = userdata;
        Manager *m = op->manager;
        op->auth_slot = sd_bus_slot_unref(op->auth_slot);
        m->n_authorizing--;

        int authorized = 0, challenge = 0, r = 0;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e)
                r = refuse(op, SD_BUS_ERROR_ACCESS_DENIED, sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                                                                  SD_BUS_ERROR_NAME_HAS_NO_OWNER)
                                                                   ? "no polkit authority is running"
                                                                   : e->message);
        else if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") <= 0 ||
                 sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0)
                r = refuse(op, SD_BUS_ERROR_ACCESS_DENIED, "polkit's answer could not be read");
        else if (!authorized && challenge && !sd_bus_message_get_allow_interactive_authorization(op->call))
                r = refuse(op, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                           "polkit would ask for a password, but the caller does not allow interaction");
        else if (!authorized && challenge)
                /* Interaction was allowed, yet polkit still wants a password: no authentication
                 * agent of the caller's could ask for it. */
                r = refuse(op, SD_BUS_ERROR_ACCESS_DENIED,
                           "polkit wants a password, and no authentication agent was there to ask for it");
        else if (!authorized)
                r = refuse(op, SD_BUS_ERROR_ACCESS_DENIED, "polkit says no");

        if (r < 0)
                operation_refuse(op);
        else {
                daemon_log(LOG_DEBUG, "%s (uid %u): authorized by polkit for %s", op->description, (unsigned) op->uid,
                           op->action);
                operation_submit(op);
        }
        manager_activity(m);
        return 0;
}

int operation_authorize(Operation *op) {
        if (!op->action)
                return 1;
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r = sd_bus_query_sender_creds(op->call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID, &creds);
        uid_t uid = (uid_t) -1;
        if (r >= 0 && sd_bus_creds_get_euid(creds, &uid) < 0 && sd_bus_creds_get_uid(creds, &uid) < 0)
                uid = (uid_t) -1;
        op->uid = uid;
        if (uid == 0)
                return 1;

        const char *sender = sd_bus_message_get_sender(op->call);
        if (!sender)
                return refuse(op, SD_BUS_ERROR_ACCESS_DENIED, "the caller has no bus name to ask polkit about");
        uint32_t flags = sd_bus_message_get_allow_interactive_authorization(op->call) ? 1 : 0;
        r = sd_bus_call_method_async(op->manager->bus, &op->auth_slot, "org.freedesktop.PolicyKit1",
                                     "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                                     "CheckAuthorization", on_polkit_reply, op, "(sa{sv})sa{ss}us", "system-bus-name",
                                     1, "name", "s", sender, op->action, 0, flags, "");
        if (r < 0)
                return refuse(op, SD_BUS_ERROR_ACCESS_DENIED, "polkit cannot be asked");
        op->manager->n_authorizing++;
        return 0;
}
