/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sextctl developer-mode [on|off|status] (devmode.h). The mode file is written here, by the CLI,
 * as root (it lives under /etc, like verity.d). Leaving the mode takes every extension that only
 * a developer key admitted out of use: the mode goes off, then each class with such an extension
 * is refreshed, and the refresh, verifying anew, leaves them out and says why. A failed refresh
 * puts the mode back on, so that the mode never says off while such an extension is merged. */
#include <string.h>

#include "devmode.h"
#include "log.h"
#include "sextctl.h"
#include "strv.h"

static int refresh_class(ImageClass class, char * const *names) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(sysext_result_done) SysextResult res = {};
        SysextOptions o = arg_options;
        o.class = class;
        int r = (arg_bus ? sextctl_bus_refresh : sysext_refresh)(&o, &res, &e);
        if (r < 0) {
                log_graft_error(&e, r, "cannot unmerge what only a developer key admitted");
                return graft_error_exit_code(&e, r);
        }
        STRV_FOREACH(n, names)
                log_info("Unmerged %s: only a local developer key admitted it.", *n);
        return EXIT_OK;
}

static int class_is_merged(ImageClass class) {
        _cleanup_(sysext_status_done) SysextStatus st = {};
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        SysextOptions o = arg_options;
        o.class = class;
        int r = (arg_bus ? sextctl_bus_status : sysext_status)(&o, &st, &e);
        if (r < 0)
                return log_graft_error(&e, r, "cannot tell what is merged"), r;
        for (size_t i = 0; i < st.n_hierarchies; i++)
                if (st.hierarchies[i].merged)
                        return 1;
        return 0;
}

int verb_developer_mode(int argc, char **argv, void *userdata) {
        static const ImageClass mine[] = { IMAGE_CLASS_SYSEXT, IMAGE_CLASS_CONFEXT };
        const char *root = isempty(arg_options.root) || streq(arg_options.root, "/") ? NULL : arg_options.root;
        const char *what = argc > 1 ? argv[1] : "status";
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_free_ char *text = NULL;
        int r = developer_mode_verb(root, what, mine, ELEMENTSOF(mine), &text, &e);
        if (r < 0) {
                log_graft_error(&e, r, "developer-mode %s", what);
                return graft_error_exit_code(&e, r);
        }
        for (size_t i = 0; streq(what, "off") && i < ELEMENTSOF(mine); i++) {
                _cleanup_strv_free_ char **names = NULL;
                r = developer_admitted(root, mine[i], &names, &e);
                /* Refreshed whenever something is merged, not only what the record names: the
                 * refresh verifies anew, so nothing only a developer key admitted stays, even
                 * where a crash left the record behind its merge. */
                int merged = r < 0 ? r : class_is_merged(mine[i]);
                int code = merged < 0 ? graft_error_exit_code(&e, merged)
                                      : merged ? refresh_class(mine[i], names) : EXIT_OK;
                if (r < 0)
                        log_graft_error(&e, r, "developer-mode off");
                if (code != EXIT_OK && code != EXIT_PARTIAL) {
                        GraftError e2 = GRAFT_ERROR_INIT;
                        if (developer_mode_set(root, true, &e2) >= 0)
                                log_error("developer mode stays on");
                        graft_error_done(&e2);
                        return code;
                }
        }
        if (streq(what, "status"))
                puts(text);
        else
                log_info("%s", text);
        return EXIT_OK;
}
