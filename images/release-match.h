/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether an image's extension-release fits a host: the rules systemd-sysext and portabled
 * apply, in their order (scope, architecture, ID / ID_LIKE, SYSEXT_LEVEL, VERSION_ID), with
 * each refusal explained in one line that names the image and the field. */
#pragma once

#include "error.h"

typedef enum ExtensionKind {
        EXTENSION_SYSEXT,  /* usr/lib/extension-release.d/, SYSEXT_SCOPE, SYSEXT_LEVEL */
        EXTENSION_CONFEXT, /* etc/extension-release.d/, CONFEXT_SCOPE, CONFEXT_LEVEL */
} ExtensionKind;

/* The release file of extension NAME inside the image, e.g.
 * "/usr/lib/extension-release.d/extension-release.NAME", malloc'd. */
char *extension_release_path(ExtensionKind k, const char *name);

/* Reads the host's os-release under root (etc/os-release, else usr/lib/os-release, symlinks
 * resolved inside root) as a key/value strv. */
int host_os_release_read(const char *root, char ***ret, GraftError *err);

/* Checks an extension's release fields against the host's os-release. scope is the use the
 * extension is put to: "system", "initrd" or "portable". host_arch is e.g. "x86-64".
 * Refusals are -EBADR with GRAFT_ERROR_INCOMPATIBLE and a message like
 * "debugtools: extension-release ID=fedora does not match the host's ID=debian". */
int extension_release_check(ExtensionKind k, const char *image_name, char * const *extension_release,
                            char * const *host_os_release, const char *scope, const char *host_arch,
                            GraftError *err);
