/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns finding and reading security profiles (see profile.h). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "fileio.h"
#include "path-util.h"
#include "portable-util.h"
#include "portable.h"
#include "profile.h"
#include "strv.h"

#ifndef PORTABLE_PROFILE_DIR
#define PORTABLE_PROFILE_DIR "/usr/lib/graft/profiles"
#endif

#define PROFILE_FILE_MAX (256 * 1024)

const char * const profile_search_dirs[] = {
        "/etc/graft/profiles",
        "/run/graft/profiles",
        "/usr/local/lib/graft/profiles",
        "/usr/lib/graft/profiles",
        NULL,
};

void profile_done(Profile *p) {
        if (!p)
                return;
        free(p->name);
        free(p->dir);
        free(p->file);
        *p = (Profile) {};
}

static int find_by_path(const char *root, const char *path, Profile *p, GraftError *err) {
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_NO_SUCH_IMAGE, "profile %s: %m", path);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "profile %s is neither a file nor a directory", path);
        /* A profile inside the root can be linked to; one outside it must be copied. */
        char *inside = path_strip_root(root, real);
        p->in_root = inside != NULL;
        char *where = inside ?: TAKE_PTR(real);
        if (S_ISDIR(st.st_mode))
                p->dir = where;
        else
                p->file = where;
        p->name = strdup(path);
        return p->name ? 0 : -ENOMEM;
}

int profile_find(const char *root, const char *name_or_path, Profile *ret, GraftError *err) {
        _cleanup_(profile_done) Profile p = {};
        int r;
        if (strchr(name_or_path, '/')) {
                r = find_by_path(root, name_or_path, &p, err);
                if (r < 0)
                        return r;
                *ret = p;
                p = (Profile) {};
                return 0;
        }
        if (!filename_is_valid(name_or_path) || name_or_path[0] == '.') {
                _cleanup_free_ char *e = escape_string(name_or_path);
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"%s\" is not a valid profile name",
                                       strna(e));
        }
        _cleanup_close_ int root_fd = portable_root_open(root, err);
        if (root_fd < 0)
                return root_fd;
        for (const char * const *d = profile_search_dirs; *d; d++) {
                _cleanup_free_ char *dir = path_join(*d, name_or_path);
                if (!dir)
                        return -ENOMEM;
                _cleanup_close_ int fd = open_in_root(root_fd, dir, O_PATH | O_DIRECTORY, 0);
                if (fd < 0)
                        continue;
                p.dir = TAKE_PTR(dir);
                p.in_root = true;
                break;
        }
        if (!p.dir) {
                /* What graft installed, when the root (a scratch root, or a host where graft lives
                 * under another prefix) has no profile of that name. */
                _cleanup_free_ char *dir = path_join(PORTABLE_PROFILE_DIR, name_or_path);
                struct stat st;
                if (!dir)
                        return -ENOMEM;
                if (stat(dir, &st) >= 0 && S_ISDIR(st.st_mode)) {
                        p.in_root = !root; /* on the host it may be linked to */
                        p.dir = TAKE_PTR(dir);
                }
        }
        if (!p.dir) {
                _cleanup_free_ char *dirs = strv_join((char **) profile_search_dirs, ", ");
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE, "no profile \"%s\" in %s%s%s or %s",
                                       name_or_path, dirs ?: "", root ? " under " : "", strempty(root),
                                       PORTABLE_PROFILE_DIR);
        }
        p.name = strdup(name_or_path);
        if (!p.name)
                return -ENOMEM;
        *ret = p;
        p = (Profile) {};
        return 0;
}

int profile_read(const char *root, const Profile *p, const char *unit_type, char **ret_content, size_t *ret_size,
                 char **ret_path, GraftError *err) {
        _cleanup_free_ char *path = NULL;
        if (p->file) {
                if (!streq(unit_type, "service"))
                        return 0; /* a one-file profile is for services */
                path = strdup(p->file);
        } else if (asprintf(&path, "%s/%s.conf", p->dir, unit_type) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;

        _cleanup_close_ int root_fd = -EBADF;
        if (p->in_root) {
                root_fd = portable_root_open(root, err);
                if (root_fd < 0)
                        return root_fd;
        }
        _cleanup_free_ char *shown = p->in_root ? path_prefix_root(root, path) : strdup(path), *content = NULL;
        if (!shown)
                return -ENOMEM;
        size_t size = 0;
        int r = file_read(&(FileOpen) { .dir_fd = p->in_root ? root_fd : AT_FDCWD, .path = path, .in_root = p->in_root,
                                        .display = shown },
                          PROFILE_FILE_MAX, &content, &size, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read profile %s: %s", strna(shown), strerror(-r));
        *ret_content = TAKE_PTR(content);
        *ret_size = size;
        *ret_path = TAKE_PTR(path);
        return 1;
}

/* Names of the profile directories in one search directory (inside the root, or on the host). */
static int add_profiles(int dir_fd, char ***names) {
        int fd = dup(dir_fd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                struct stat st;
                if (de->d_name[0] == '.' || fstatat(dir_fd, de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode) ||
                    strv_contains(*names, de->d_name))
                        continue;
                r = strv_extend(names, de->d_name);
        }
        closedir(d);
        return r;
}

int portable_profiles(const char *root, char ***ret, GraftError *err) {
        _cleanup_close_ int root_fd = portable_root_open(root, err);
        if (root_fd < 0)
                return root_fd;
        _cleanup_strv_free_ char **names = NULL;
        for (const char * const *d = profile_search_dirs; *d; d++) {
                _cleanup_close_ int fd = open_in_root(root_fd, *d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
                if (fd >= 0 && add_profiles(fd, &names) < 0)
                        return -ENOMEM;
        }
        _cleanup_close_ int fd = open(PORTABLE_PROFILE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && add_profiles(fd, &names) < 0)
                return -ENOMEM;
        strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}
