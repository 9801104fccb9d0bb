/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Security profiles: the drop-in (10-profile.conf) attach puts next to each unit. A profile is a
 * directory NAME/ holding TYPE.conf files (service.conf, socket.conf, …), found by name in
 * /etc/graft/profiles, /run/graft/profiles, /usr/local/lib/graft/profiles, /usr/lib/graft/profiles
 * (inside the root; the first wins, so /etc overrides what is installed) and then in the directory
 * graft installs them to; or given as a path: a directory like the above, or one file used for
 * services. A profile given by path outside those directories is copied, never linked, and only
 * if nobody but root can change it or a directory above it (file-trust.h). */
#pragma once

#include "error.h"

typedef struct Profile {
        char *name;      /* the name, or the path as given */
        char *dir;       /* the directory holding TYPE.conf; NULL for a single-file profile */
        char *file;      /* the single-file profile; NULL otherwise */
        /* dir/file are paths inside the root, in one of its profile directories (may be linked
         * to); else host paths of a profile given by path, which are always copied */
        bool in_root;
} Profile;

void profile_done(Profile *p);

/* Search directories inside the root, highest precedence first, NULL-terminated. */
extern const char * const profile_search_dirs[];

int profile_find(const char *root, const char *name_or_path, Profile *ret, GraftError *err);

/* The drop-in for a unit type ("service"): 1 with its content and the path it came from (inside
 * the root when p->in_root), 0 when the profile has nothing for that type. */
int profile_read(const char *root, const Profile *p, const char *unit_type, char **ret_content, size_t *ret_size,
                 char **ret_path, GraftError *err);
