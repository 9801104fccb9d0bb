/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The %-specifiers of sysupdate.d(5) settings (%a %A %b %B %H %l %m %M %o %v %w %W %T %V %%),
 * expanded with the facts of the host (or of the tree below --root: its os-release and
 * machine-id). */
#pragma once

#include "error.h"

typedef struct SpecifierContext {
        char **os_release;   /* key/value strv of the host's (root's) os-release, may be NULL */
        char *machine_id;    /* /etc/machine-id, NULL if none */
        char *boot_id;
        char *hostname;
        char *kernel_release;
        const char *arch;    /* "x86-64" */
} SpecifierContext;

/* Gathers the facts once. A missing os-release is no error here (its specifiers expand to ""). */
int specifier_context_load(const char *root, SpecifierContext *ret, GraftError *err);
void specifier_context_done(SpecifierContext *c);

/* Expands every %X in s. An unknown specifier is -EINVAL with a message naming it and where it
 * came from ("what"). A fact the host lacks (no IMAGE_VERSION=) expands to the empty string, as
 * in systemd. */
int specifier_expand(const SpecifierContext *c, const char *s, const char *what, char **ret, GraftError *err);
