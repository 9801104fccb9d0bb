/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the small naming and path rules of portable services (see portable-util.h). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "escape.h"
#include "metadata.h"
#include "path-util.h"
#include "portable-util.h"

int portable_root_canonicalize(const char *root, char **ret, GraftError *err) {
        if (isempty(root) || streq(root, "/")) {
                *ret = NULL;
                return 0;
        }
        char *r = realpath(root, NULL);
        if (!r)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_INVALID_ARGUMENT,
                                       "cannot use %s as the root directory: %m", root);
        if (streq(r, "/")) {
                free(r);
                r = NULL;
        }
        *ret = r;
        return 0;
}

int portable_root_open(const char *root, GraftError *err) {
        int fd = open(root ?: "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open the root directory %s: %m",
                                       root ?: "/");
        return fd;
}

char *path_strip_root(const char *root, const char *path) {
        if (!root)
                return strdup(path);
        size_t n = strlen(root);
        if (strncmp(path, root, n) != 0)
                return NULL;
        if (path[n] == 0)
                return strdup("/");
        if (path[n] != '/')
                return NULL;
        return strdup(path + n);
}

const char *portable_attached_dir(bool runtime) {
        return runtime ? "/run/systemd/system.attached" : "/etc/systemd/system.attached";
}

const char *portable_link_dir(bool runtime) {
        return runtime ? "/run/portables" : "/etc/portables";
}

static bool unit_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(":_.@-\\", c);
}

bool portable_unit_name_is_valid(const char *name) {
        if (isempty(name) || strlen(name) > 255 || name[0] == '.' || name[0] == '-')
                return false;
        if (!unit_name_is_portable_type(name))
                return false;
        unsigned ats = 0;
        for (const char *p = name; *p; p++) {
                if (!unit_char_ok(*p))
                        return false;
                if (*p == '@')
                        ats++;
        }
        return ats <= 1 && name[0] != '@';
}

bool portable_prefix_is_valid(const char *prefix) {
        if (isempty(prefix) || strlen(prefix) > 255 || prefix[0] == '.' || prefix[0] == '-')
                return false;
        for (const char *p = prefix; *p; p++)
                if (!unit_char_ok(*p))
                        return false;
        return true;
}

bool portable_unit_matches_prefix(const char *unit, const char *prefix) {
        size_t n = strlen(prefix);
        if (strncmp(unit, prefix, n) != 0)
                return false;
        return unit[n] == 0 || unit[n] == '-' || unit[n] == '.' || unit[n] == '@';
}

char *portable_name_family(const char *name) {
        return strndup(name, strcspn(name, "_"));
}

const char *portable_unit_type(const char *unit) {
        const char *dot = strrchr(unit, '.');
        if (!dot || !unit_name_is_portable_type(unit))
                return NULL;
        return dot + 1;
}

int portable_check_unit_file_path(const char *path, const char *what, GraftError *err) {
        for (const char *p = path; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c > 0x20 && c != 0x7f && !strchr("\"'\\%:;", c))
                        continue;
                _cleanup_free_ char *e = escape_string(path);
                char shown[8];
                if (c <= 0x20 || c == 0x7f)
                        snprintf(shown, sizeof shown, "\\x%02x", c);
                else
                        snprintf(shown, sizeof shown, "%c", c);
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s path \"%s\" contains '%s', which cannot be written into a unit file as is; "
                                       "rename the image or link it under a plain name",
                                       what, strna(e), shown);
        }
        return 0;
}

static bool value_char_plain(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/._:@+-", c);
}

char *portable_value_encode(const char *s) {
        size_t n = 1;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                n += value_char_plain(*p) ? 1 : 4;
        char *r = malloc(n), *q = r;
        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (value_char_plain(*p))
                        *q++ = (char) *p;
                else
                        q += sprintf(q, "\\x%02x", *p);
        }
        *q = 0;
        return r;
}

static int unhex_char(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int portable_value_decode(const char *s, size_t n, char **ret) {
        _cleanup_free_ char *r = malloc(n + 1);
        if (!r)
                return -ENOMEM;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] != '\\') {
                        r[j++] = s[i];
                        continue;
                }
                if (i + 3 >= n || s[i + 1] != 'x')
                        return -EBADMSG;
                int hi = unhex_char(s[i + 2]), lo = unhex_char(s[i + 3]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -EBADMSG;
                r[j++] = (char) (hi << 4 | lo);
                i += 3;
        }
        r[j] = 0;
        *ret = TAKE_PTR(r);
        return 0;
}

int portable_lstat_in_root(int root_fd, const char *path, struct stat *ret) {
        /* Resolve the parent inside the root, then look at the last component itself. */
        _cleanup_free_ char *base = path_basename(path);
        if (!base)
                return -ENOMEM;
        _cleanup_free_ char *parent = strndup(path, strlen(path) - strlen(base));
        if (!parent)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, isempty(parent) ? "/" : parent, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd == -ENOTDIR ? -ENOENT : fd;
        if (streq(base, "/"))
                return fstat(fd, ret) < 0 ? negative_errno() : 0;
        if (fstatat(fd, base, ret, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

int portable_readlink_in_root(int root_fd, const char *path, char **ret) {
        _cleanup_free_ char *base = path_basename(path);
        if (!base)
                return -ENOMEM;
        _cleanup_free_ char *parent = strndup(path, strlen(path) - strlen(base));
        if (!parent)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, isempty(parent) ? "/" : parent, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        char buf[PATH_MAX];
        ssize_t n = readlinkat(fd, base, buf, sizeof buf - 1);
        if (n < 0)
                return negative_errno();
        *ret = strndup(buf, (size_t) n);
        return *ret ? 0 : -ENOMEM;
}

/* Everything below dir_fd, not following symlinks and not crossing into other mounts (-EXDEV):
 * removed, or with check only, looked at for what would stop a removal half way (another mount,
 * an immutable or append-only entry: -EPERM). */
static int walk_tree_at(int dir_fd, dev_t dev, bool check) {
        int fd = dup(dir_fd);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct statx sx;
                if (statx(dir_fd, de->d_name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx) < 0) {
                        r = negative_errno();
                        break;
                }
                bool dir = S_ISDIR(sx.stx_mode);
                /* A bind mount of the same file system has the same device: the mount-root
                 * attribute tells it (where the kernel reports it). */
                bool mount = makedev(sx.stx_dev_major, sx.stx_dev_minor) != dev ||
                             (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
                if (check && (sx.stx_attributes & (STATX_ATTR_IMMUTABLE | STATX_ATTR_APPEND)))
                        r = -EPERM;
                else if (mount)
                        r = -EXDEV;
                else if (dir) {
                        _cleanup_close_ int sub = openat(dir_fd, de->d_name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
                        r = sub < 0 ? negative_errno() : walk_tree_at(sub, dev, check);
                }
                if (r >= 0 && !check && unlinkat(dir_fd, de->d_name, dir ? AT_REMOVEDIR : 0) < 0)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

int portable_remove_tree_at(int dir_fd, const char *name, bool check) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return check ? 0 : unlinkat(dir_fd, name, 0) < 0 ? negative_errno() : 0;
        _cleanup_close_ int fd = openat(dir_fd, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = walk_tree_at(fd, st.st_dev, check);
        if (r < 0 || check)
                return r;
        return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
}
