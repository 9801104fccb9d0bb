/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pctl developer-mode [on|off|status] (devmode.h). Leaving the mode is refused while an attached
 * portable image is there on a developer key's word only (its units may run, and an attachment
 * outlives a reboot): the refusal names each image and says to detach it first. */
#include "bus-util.h"
#include "devmode.h"
#include "log.h"
#include "pctl.h"

int pctl_local_root(char **ret) {
        const char *root = isempty(arg_options.root) || streq(arg_options.root, "/") ? NULL : arg_options.root;
        char *r_ = NULL;
        if (arg_bus && !arg_bus_local)
                return -EREMOTE; /* the files are on the other machine */
        if (arg_bus) { /* graftd's root, as it keeps the record there */
                _cleanup_bus_error_ sd_bus_error e = SD_BUS_ERROR_NULL;
                int r = sd_bus_get_property_string(arg_bus, GRAFT_BUS_NAME, GRAFT_BUS_PATH,
                                                   GRAFT_BUS_PORTABLE_INTERFACE, "Root", &e, &r_);
                if (r < 0)
                        return r;
                if (streq(r_, "/"))
                        r_ = mfree(r_);
        } else if (root && !(r_ = strdup(root)))
                return -ENOMEM;
        *ret = r_;
        return 0;
}

int verb_developer_mode(int argc, char **argv, void *userdata) {
        const char *what = argc > 1 ? argv[1] : "status";
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_free_ char *text = NULL, *root = NULL;
        int r = pctl_local_root(&root);
        if (r < 0)
                return log_error("developer-mode works on this machine's files only: %s", strerror(-r)), EXIT_FAILED;
        r = developer_mode_verb(root, what, NULL, 0, &text, &e);
        if (r < 0) {
                log_graft_error(&e, r, "developer-mode %s", what);
                return graft_error_exit_code(&e, r);
        }
        if (arg_quiet)
                return EXIT_OK;
        puts(text);
        return EXIT_OK;
}
