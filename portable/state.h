/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which units are attached, from which image: read from the 20-portable.conf markers in
 * /etc/systemd/system.attached and /run/systemd/system.attached (inside the root). */
#pragma once

#include "dropin.h"
#include "portable.h"

typedef struct AttachedUnit {
        char *name;
        bool runtime;
        char *path;           /* the unit file: /etc/systemd/system.attached/NAME */
        bool has_unit_file;   /* the unit file (or link) exists */
        PortableMarker marker;
} AttachedUnit;

typedef struct PortableAttachments {
        AttachedUnit *units;  /* sorted by name, persistent before runtime */
        size_t n_units;
} PortableAttachments;

void portable_attachments_done(PortableAttachments *a);

/* Reads every drop-in directory of both attached directories; entries whose 20-portable.conf is
 * missing or carries no marker are not attachments and are left out. */
int portable_attachments_load(const char *root, PortableAttachments *ret, GraftError *err);

/* Which attached units belong to an image given as the user gave it: a path matches the marker's
 * image path exactly (after resolving it inside the root); a name matches the marker's image name,
 * or the image path found for that name. image_path may be NULL (nothing found by that name). */
bool attached_unit_matches(const AttachedUnit *u, const char *given, const char *image_path);

/* The [Install] links of an attached unit in its attached directory (*.wants/, *.requires/,
 * *.upholds/ entries named after the unit that point to it), as paths inside the root. */
int attached_unit_install_links(const char *root, int root_fd, const AttachedUnit *u, char ***ret);

/* Whether a unit file of this name exists on the host outside the attached directories (or in the
 * attached directory of the other kind): 1 and where, 0 if not. */
int portable_unit_on_host(int root_fd, const char *unit, bool runtime, char **ret_where);

/* Unit search directories systemd reads, highest precedence first (without the attached ones). */
extern const char * const portable_host_unit_dirs[];
