/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image keygen: a developer key pair, the certificate enrolled in the developer trust
 * store of the root (devmode.h). */
#include "devmode.h"
#include "graft-image.h"
#include "log.h"
#include "path-util.h"

int verb_keygen(int argc, char **argv) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        const char *dir = arg_output ?: ".";
        int r = developer_keygen(arg_root, argv[1], dir, &e);
        if (r < 0)
                return exit_code_for(&e, r, "cannot make a developer key");
        _cleanup_free_ char *store = path_prefix_root(arg_root, DEVELOPER_TRUST_DIR);
        if (!arg_quiet)
                printf("Key %s/%s.key, certificate %s/%s.crt, enrolled in %s/%s.crt.\n"
                       "Images signed with it are trusted only in developer mode (sextctl developer-mode on).\n",
                       dir, argv[1], dir, argv[1], strna(store), argv[1]);
        return EXIT_OK;
}
