/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the compatibility rules between an extension and its host (see release-match.h). The
 * order and the rules are systemd's; one deliberate difference: ID may also match an entry of the
 * host's ID_LIKE (as newer systemd does), so an extension for "debian" fits a Debian derivative
 * that says ID_LIKE=debian. */
#include <fcntl.h>
#include <string.h>

#include "env-file.h"
#include "fileio.h"
#include "path-util.h"
#include "release-match.h"
#include "strv.h"

#define RELEASE_FILE_MAX (64 * 1024)

char *extension_release_path(ExtensionKind k, const char *name) {
        char *p;
        if (asprintf(&p, "%s/extension-release.%s",
                     k == EXTENSION_CONFEXT ? "/etc/extension-release.d" : "/usr/lib/extension-release.d", name) < 0)
                return NULL;
        return p;
}

int host_os_release_read(const char *root, char ***ret, GraftError *err) {
        static const char * const paths[] = { "/etc/os-release", "/usr/lib/os-release" };
        const char *r_ = isempty(root) ? "/" : root;
        _cleanup_close_ int root_fd = open(r_, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m", r_);

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *full = path_prefix_root(root, paths[i]), *text = NULL;
                if (!full)
                        return -ENOMEM;
                size_t size;
                int r = file_read(&(FileOpen) { .dir_fd = root_fd, .path = paths[i], .in_root = true, .display = full },
                                  RELEASE_FILE_MAX, &text, &size, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", full, strerror(-r));
                return env_file_parse(text, size, full, ret, err);
        }
        _cleanup_free_ char *a = path_prefix_root(root, paths[0]), *b = path_prefix_root(root, paths[1]);
        return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                               "the host has no os-release (neither %s nor %s exists)", a, b);
}

static int refuse(GraftError *err, const char *format, ...) _printf_(2, 3);
static int refuse(GraftError *err, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = graft_error_setv(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE, format, ap);
        va_end(ap);
        return r;
}

static int check_scope(ExtensionKind k, const char *name, char * const *ext, const char *scope, GraftError *err) {
        const char *key = k == EXTENSION_CONFEXT ? "CONFEXT_SCOPE" : "SYSEXT_SCOPE";
        const char *value = strv_env_get(ext, key);
        _cleanup_strv_free_ char **scopes = strv_split(value ?: "system portable", " \t\n");
        if (!scopes)
                return -ENOMEM;
        if (!strv_contains(scopes, scope))
                return refuse(err, "%s: extension-release %s=%s does not include \"%s\"%s", name, key, strna(value),
                              scope, value ? "" : " (the default is \"system portable\")");
        return 0;
}

/* The ID rule: equal to the host's ID, or one of its ID_LIKE. */
static bool id_matches(const char *id, char * const *host) {
        if (streq(id, strv_env_get(host, "ID") ?: ""))
                return true;
        _cleanup_strv_free_ char **like = strv_split(strv_env_get(host, "ID_LIKE"), " \t\n");
        return like && strv_contains(like, id);
}

static int check_version(ExtensionKind k, const char *name, char * const *ext, char * const *host, GraftError *err) {
        const char *level_key = k == EXTENSION_CONFEXT ? "CONFEXT_LEVEL" : "SYSEXT_LEVEL";
        const char *host_version = strv_env_get(host, "VERSION_ID"), *host_level = strv_env_get(host, level_key);
        const char *ext_version = strv_env_get(ext, "VERSION_ID"), *ext_level = strv_env_get(ext, level_key);

        /* Rolling releases carry neither: any version of the extension fits. */
        if (isempty(host_version) && isempty(host_level))
                return 0;

        /* An API level both sides declare is what counts; otherwise the OS version as a whole. */
        if (!isempty(host_level) && !isempty(ext_level)) {
                if (!streq(host_level, ext_level))
                        return refuse(err, "%s: extension-release %s=%s does not match the host's %s=%s", name,
                                      level_key, ext_level, level_key, host_level);
                return 0;
        }
        if (isempty(host_version))
                return 0;
        if (isempty(ext_version))
                return refuse(err, "%s: extension-release has no VERSION_ID (nor %s) to match the host's VERSION_ID=%s",
                              name, level_key, host_version);
        if (!streq(host_version, ext_version))
                return refuse(err, "%s: extension-release VERSION_ID=%s does not match the host's VERSION_ID=%s", name,
                              ext_version, host_version);
        return 0;
}

int extension_release_check(ExtensionKind k, const char *image_name, char * const *ext, char * const *host,
                            const char *scope, const char *host_arch, GraftError *err) {
        const char *host_id = strv_env_get(host, "ID");
        if (isempty(host_id))
                return graft_error_set(err, -EBADR, GRAFT_ERROR_INCOMPATIBLE,
                                       "the host's os-release has no ID, so no extension can be matched to it");
        if (!ext || !ext[0])
                return refuse(err, "%s: has no extension-release file (or an empty one)", image_name);

        if (scope) {
                int r = check_scope(k, image_name, ext, scope, err);
                if (r < 0)
                        return r;
        }

        const char *arch = strv_env_get(ext, "ARCHITECTURE");
        if (!isempty(arch) && !streq(arch, "_any") && !streq(arch, strna(host_arch)))
                return refuse(err, "%s: extension-release ARCHITECTURE=%s does not match the host's architecture %s",
                              image_name, arch, strna(host_arch));

        const char *id = strv_env_get(ext, "ID");
        if (isempty(id))
                return refuse(err, "%s: extension-release has no ID (use ID=_any for an extension that fits every OS)",
                              image_name);
        /* Static binaries and scripts need no particular OS: no version check either. */
        if (streq(id, "_any"))
                return 0;
        if (!id_matches(id, host)) {
                const char *like = strv_env_get(host, "ID_LIKE");
                return refuse(err, "%s: extension-release ID=%s does not match the host's ID=%s%s%s%s", image_name, id,
                              host_id, like ? " (nor its ID_LIKE=" : "", like ?: "", like ? ")" : "");
        }
        return check_version(k, image_name, ext, host, err);
}
