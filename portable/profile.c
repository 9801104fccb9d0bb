/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns finding and reading security profiles (see profile.h). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "file-trust.h"
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

/* Inside one of the profile search directories of the root: *ret_inside is then the path as seen
 * inside the root. */
static bool in_profile_dir(const char *root, const char *real, char **ret_inside) {
        _cleanup_free_ char *inside = path_strip_root(root, real);
        for (const char * const *d = profile_search_dirs; inside && *d; d++)
                if (startswith(inside, *d) && inside[strlen(*d)] == '/') {
                        *ret_inside = TAKE_PTR(inside);
                        return true;
                }
        return false;
}

/* A profile given by path becomes the sandbox of a root service: it must be root's, and where it
 * lies outside the profile directories it is copied (a link would let whoever can write it change
 * the sandbox later), and refused when anybody but root could change it or a directory above it. */
static int find_by_path(const char *root, const char *path, Profile *p, GraftError *err) {
        _cleanup_free_ char *real = realpath(path, NULL);
        struct stat st;
        if (!real || stat(real, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_NO_SUCH_IMAGE, "profile %s: %m", path);
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "profile %s is neither a file nor a directory", path);
        char *inside = NULL;
        p->in_root = in_profile_dir(root, real, &inside);
        if (!p->in_root) {
                int r = path_check_trusted(real, "profile", err);
                if (r < 0)
                        return r;
        } else
                free(TAKE_PTR(real));
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

/* The drop-in becomes a root service's sandbox (copied, or linked for systemd to read at every
 * load): nobody but root may be able to change the file or a directory on its way, wherever it
 * lies, also where a profile directory's entry links elsewhere. The way is the one the descriptor
 * was opened through; when a mount on it went away meanwhile (an extension unmerged from /usr
 * lazily), the kernel names it relative to the detached mount, and the file is opened again.
 * Returns the descriptor, -ENOENT (no such file, no error record) or a refusal. */
#define PROFILE_OPEN_TRIES 4

static int open_checked(const FileOpen *how, GraftError *err) {
        for (unsigned attempt = 1;; attempt++) {
                _cleanup_close_ int fd = file_open(how, err);
                if (fd < 0)
                        return fd;
                char proc[64], real[PATH_MAX];
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(proc, real, sizeof real - 1);
                if (n < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot resolve profile %s: %m",
                                               how->display);
                real[n] = 0;
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                int r = path_check_trusted(real, "profile", &e);
                if (r >= 0)
                        return TAKE_FD(fd);
                if ((r != -ENOENT && r != -EXDEV) || attempt >= PROFILE_OPEN_TRIES) {
                        if (err && !err->name) {
                                *err = e;
                                e = GRAFT_ERROR_INIT;
                        }
                        return r == -ENOENT ? -EIO : r; /* -ENOENT means "no such profile file" */
                }
        }
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
        /* Opened so that a FIFO or device is refused by name, unopened. */
        _cleanup_close_ int fd = open_checked(&(FileOpen) { .dir_fd = p->in_root ? root_fd : AT_FDCWD, .path = path,
                                                            .in_root = p->in_root, .display = shown },
                                              err);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0 && graft_error_is_set(err))
                return fd;
        int r = fd < 0 ? fd : read_full_fd(fd, PROFILE_FILE_MAX, &content, &size);
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
