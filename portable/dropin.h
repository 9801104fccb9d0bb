/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* 20-portable.conf: the drop-in that ties an attached unit to its image. Its first line is
 * systemd-portabled's marker ("# Drop-in created for image 'IMAGE[:EXT…]', do not edit."), so
 * portablectl recognises graft's attachments; the second is graft's record: the image's name and
 * verified root hash (so foo_1.raw and foo_2.raw are never confused), the profile, the link made in
 * the portables directory and the directories attach created (so detach removes exactly those). */
#pragma once

#include "error.h"

#define PORTABLE_DROPIN_NAME "20-portable.conf"
#define PORTABLE_PROFILE_DROPIN_NAME "10-profile.conf"

typedef struct PortableMarker {
        char *image;               /* image path inside the root */
        char **extensions;         /* extension paths */
        bool graft;                /* graft's record line is present */
        char *name;                /* image name */
        char *version;             /* image version (.v/ entry or partition label), or NULL */
        char *root_hash;           /* verified root hash, or NULL */
        char **extension_root_hashes; /* one per extension, "-" for none */
        char *profile;
        char *link;                /* link attach created for the image, or NULL */
        char **extension_links;    /* one per extension, "-" for none */
        char **created;            /* directories attach created (other than UNIT.d) */
} PortableMarker;

void portable_marker_done(PortableMarker *m);
int portable_marker_copy(const PortableMarker *m, PortableMarker *ret);

/* The drop-in text: the marker lines, then for services [Service] with RootImage= (RootDirectory=
 * for directory images), Environment=PORTABLE=, the host's os-release bound at
 * /run/host/os-release, LogExtraFields=PORTABLE= and ExtensionImages= / ExtensionDirectories=.
 * provider is the basename of the image that shipped the unit. ext_is_dir has one entry per
 * extension. */
int portable_dropin_format(const PortableMarker *m, bool image_is_dir, const bool *ext_is_dir, const char *unit,
                           const char *provider, char **ret);

/* Parses a 20-portable.conf. -EBADMSG when it does not start with the marker line. */
int portable_marker_parse(const char *text, size_t size, PortableMarker *ret);
