/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "log.h"
#include "verbs.h"

int dispatch_verb(int argc, char **argv, const Verb verbs[], void *userdata) {
        const Verb *v = NULL;
        for (const Verb *i = verbs; i->name; i++)
                if (argc > 0 ? streq(argv[0], i->name) : (i->flags & VERB_DEFAULT)) {
                        v = i;
                        break;
                }
        if (!v) {
                if (argc > 0)
                        log_error("unknown command \"%s\"; see --help", argv[0]);
                else
                        log_error("no command given; see --help");
                return EXIT_USAGE;
        }

        /* The default verb without arguments gets a one-element argv with its own name. */
        char *fake[] = { (char *) v->name, NULL };
        if (argc == 0) {
                argc = 1;
                argv = fake;
        }
        int n = argc - 1;
        int lo = v->min_args == VERB_ANY ? 0 : v->min_args - 1, hi = v->max_args == VERB_ANY ? -1 : v->max_args - 1;
        if (n < lo || (hi >= 0 && n > hi)) {
                if (lo == hi)
                        log_error("%s takes %d argument%s, %d given; see --help", v->name, lo, lo == 1 ? "" : "s", n);
                else if (hi < 0)
                        log_error("%s takes at least %d argument%s, %d given; see --help", v->name, lo, lo == 1 ? "" : "s", n);
                else
                        log_error("%s takes %d to %d arguments, %d given; see --help", v->name, lo, hi, n);
                return EXIT_USAGE;
        }
        return v->dispatch(argc, argv, userdata);
}
