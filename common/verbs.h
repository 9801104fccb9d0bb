/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verb dispatch for the command-line programs: "PROGRAM [OPTIONS] VERB ARGS…". */
#pragma once

#include "error.h" /* exit codes */

#define VERB_ANY (-1)

typedef enum VerbFlags {
        VERB_DEFAULT = 1 << 0, /* run when no verb is given */
} VerbFlags;

typedef struct Verb {
        const char *name;
        int min_args, max_args; /* counting argv[0] (the verb) as well; VERB_ANY for no limit */
        VerbFlags flags;
        int (*dispatch)(int argc, char **argv, void *userdata);
} Verb;

/* Finds the verb in argv[0] (or the default one when argc == 0), checks the argument count and
 * runs it; returns its exit code, or EXIT_USAGE (2) after logging what was wrong. verbs ends with
 * an entry whose name is NULL. */
int dispatch_verb(int argc, char **argv, const Verb verbs[], void *userdata);
