/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the hierarchies: which ones (defaults, environment), where they are under a root, whether
 * one carries a merge and what it lists (status). A merge is recognised as systemd-sysext does:
 * the hierarchy is a mount point whose .systemd-sysext/dev names the st_dev it has, so an
 * unmounted copy of a merged tree is never taken for a live merge. */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "env-file.h"
#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

#define METADATA_FILE_MAX (1024 * 1024)

const char *sysext_metadata_dir(ImageClass class) {
        return class == IMAGE_CLASS_CONFEXT ? ".systemd-confext" : ".systemd-sysext";
}

bool sysext_parse_boolean(const char *s) {
        static const char * const yes[] = { "1", "yes", "y", "true", "t", "on" };
        if (!s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return true;
        return false;
}

bool sysext_compat(const char *what) {
        const char *v = getenv("GRAFT_SYSEXT_COMPAT");
        if (isempty(v))
                return false;
        _cleanup_strv_free_ char **l = strv_split(v, ",");
        return l && strv_contains(l, what);
}

/* Absolute, no "." or ".." component, no empty component. */
static bool hierarchy_is_valid(const char *p) {
        if (p[0] != '/' || streq(p, "/"))
                return false;
        return path_is_safe_relative(p + 1);
}

int sysext_hierarchies_default(ImageClass class, char ***ret, GraftError *err) {
        bool confext = class == IMAGE_CLASS_CONFEXT;
        const char *vars[] = {
                confext ? "GRAFT_CONFEXT_HIERARCHIES" : "GRAFT_SYSEXT_HIERARCHIES",
                confext ? "SYSTEMD_CONFEXT_HIERARCHIES" : "SYSTEMD_SYSEXT_HIERARCHIES",
        };
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                const char *v = getenv(vars[i]);
                if (!v)
                        continue;
                _cleanup_strv_free_ char **l = strv_split(v, ":");
                if (!l)
                        return -ENOMEM;
                if (!l[0])
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "$%s is set but names no hierarchy", vars[i]);
                STRV_FOREACH(p, l)
                        if (!hierarchy_is_valid(*p))
                                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "$%s: \"%s\" is not an absolute, normalised path", vars[i], *p);
                *ret = TAKE_PTR(l);
                return 0;
        }
        char **l = strv_split(confext ? "/etc" : "/usr:/opt", ":");
        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

int sysext_hierarchies(const SysextOptions *o, char ***ret, GraftError *err) {
        if (!o->hierarchies)
                return sysext_hierarchies_default(o->class, ret, err);
        STRV_FOREACH(p, o->hierarchies)
                if (!hierarchy_is_valid(*p))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "hierarchy \"%s\" is not an absolute, normalised path", *p);
        char **l = strv_copy(o->hierarchies);
        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

char *sysext_fd_path(int fd) {
        char proc[64], buf[PATH_MAX];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        return strndup(buf, (size_t) n);
}

static int parse_devnum(const char *s, dev_t *ret) {
        unsigned maj, min;
        char tail;
        if (sscanf(s, "%u:%u%c", &maj, &min, &tail) != 3 && sscanf(s, "%u:%u", &maj, &min) != 2)
                return -EINVAL;
        *ret = makedev(maj, min);
        return 0;
}

int sysext_path_is_merged(ImageClass class, const char *path, dev_t *ret_dev) {
        struct statx sx;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx) < 0)
                return negative_errno();
        bool mount_root;
        if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                mount_root = sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
        else { /* before Linux 5.8: a mount point has another device than its parent */
                _cleanup_free_ char *parent = path_join(path, "..");
                struct stat a, b;
                if (!parent)
                        return -ENOMEM;
                if (stat(path, &a) < 0 || stat(parent, &b) < 0)
                        return negative_errno();
                mount_root = a.st_dev != b.st_dev;
        }
        if (!mount_root)
                return 0;

        _cleanup_free_ char *f = path_join(path, sysext_metadata_dir(class), "dev"), *text = NULL;
        if (!f)
                return -ENOMEM;
        int r = read_full_file_at(AT_FDCWD, f, 64, &text, NULL);
        /* No file (or, refused unopened, something else than a file): not a merge of ours. */
        if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR || r == -EBADFD)
                return 0;
        if (r < 0)
                return r;
        dev_t dev;
        if (parse_devnum(text, &dev) < 0)
                return 0;
        dev_t have = makedev(sx.stx_dev_major, sx.stx_dev_minor);
        if (have != dev)
                return 0; /* an offline copy of a merged tree, or a stale one */
        if (ret_dev)
                *ret_dev = dev;
        return 1;
}

void sysext_hierarchy_done(SysextHierarchy *h) {
        if (!h)
                return;
        free(h->path);
        free(h->resolved);
        strv_free(h->extensions);
        *h = (SysextHierarchy) {};
}

int sysext_hierarchy_read(ImageClass class, const char *root, const char *path, SysextHierarchy *ret,
                          GraftError *err) {
        _cleanup_(sysext_hierarchy_done) SysextHierarchy h = { .path = strdup(path) };
        if (!h.path)
                return -ENOMEM;
        _cleanup_close_ int root_fd = open(root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       root ?: "/");
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
        if (fd == -ENOENT || fd == -ENOTDIR) {
                *ret = h;
                h = (SysextHierarchy) {};
                return 0;
        }
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s%s: %s", strempty(root), path,
                                       strerror(-fd));
        h.resolved = sysext_fd_path(fd);
        if (!h.resolved)
                return -ENOMEM;

        int r = sysext_path_is_merged(class, h.resolved, &h.dev);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot tell whether %s is merged: %s", h.resolved,
                                       strerror(-r));
        if (r > 0) {
                h.merged = true;
                _cleanup_free_ char *f = path_join(h.resolved, sysext_metadata_dir(class), "extensions");
                _cleanup_free_ char *text = NULL;
                if (!f)
                        return -ENOMEM;
                r = file_read(&(FileOpen) { .dir_fd = AT_FDCWD, .path = f }, METADATA_FILE_MAX, &text, NULL, err);
                if (r < 0 && r != -ENOENT)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", f, strerror(-r));
                h.extensions = strv_split(strempty(text), "\n");
                if (!h.extensions)
                        return -ENOMEM;
                struct stat st;
                if (stat(h.resolved, &st) >= 0)
                        h.since_usec = (uint64_t) st.st_mtim.tv_sec * 1000000u + (uint64_t) st.st_mtim.tv_nsec / 1000u;
        }
        *ret = h;
        h = (SysextHierarchy) {};
        return 0;
}

void sysext_status_done(SysextStatus *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_hierarchies; i++)
                sysext_hierarchy_done(&s->hierarchies[i]);
        free(s->hierarchies);
        *s = (SysextStatus) {};
}

int sysext_status_current(const SysextOptions *o, SysextStatus *ret, GraftError *err) {
        _cleanup_strv_free_ char **hier = NULL;
        int r = sysext_hierarchies(o, &hier, err);
        if (r < 0)
                return r;
        _cleanup_(sysext_status_done) SysextStatus s = {};
        s.hierarchies = calloc(strv_length(hier) + 1, sizeof(SysextHierarchy));
        if (!s.hierarchies)
                return -ENOMEM;
        STRV_FOREACH(p, hier) {
                r = sysext_hierarchy_read(o->class, sysext_root(o), *p, &s.hierarchies[s.n_hierarchies], err);
                if (r < 0)
                        return r;
                s.n_hierarchies++;
        }
        *ret = s;
        s = (SysextStatus) {};
        return 0;
}

int sysext_hierarchy_create(const char *root, const char *path, char **ret, GraftError *err) {
        _cleanup_close_ int root_fd = open(root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       root ?: "/");
        _cleanup_strv_free_ char **parts = strv_split(path, "/");
        if (!parts)
                return -ENOMEM;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *rel = strdup("");
        STRV_FOREACH(c, parts) {
                /* The parent so far, resolved inside the root (a symlink /opt -> /var/opt too). */
                _cleanup_close_ int parent = open_in_root(root_fd, isempty(rel) ? "." : rel, O_PATH | O_DIRECTORY, 0);
                char *s = rel ? path_join(rel, *c) : NULL;
                free(rel);
                rel = s;
                if (!rel)
                        return -ENOMEM;
                if (parent < 0 || (mkdirat(parent, *c, 0755) < 0 && errno != EEXIST))
                        return graft_error_set(err, parent < 0 ? parent : negative_errno(), GRAFT_ERROR_IO,
                                               "%s%s is missing and cannot be created to merge into: %s", strempty(root),
                                               path, strerror(parent < 0 ? -parent : errno));
                safe_close(fd);
                fd = open_in_root(root_fd, rel, O_PATH | O_DIRECTORY, 0);
                if (fd < 0)
                        return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot merge into %s%s: %s", strempty(root),
                                               path, strerror(-fd));
        }
        char *p = fd >= 0 ? sysext_fd_path(fd) : NULL;
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int sysext_staging_dir(ImageClass class, const char *root, char **ret, GraftError *err) {
        _cleanup_close_ int root_fd = open(root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       root ?: "/");
        const char *parts[] = { "run", "graft", class == IMAGE_CLASS_CONFEXT ? "confext" : "sysext" };
        _cleanup_close_ int fd = TAKE_FD(root_fd);
        _cleanup_free_ char *shown = strdup(strempty(root));
        for (size_t i = 0; shown && i < ELEMENTSOF(parts); i++) {
                char *s = path_join(shown, parts[i]);
                free(shown);
                shown = s;
                if (!shown)
                        break;
                if (mkdirat(fd, parts[i], 0755) < 0 && errno != EEXIST)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "cannot create the staging directory %s: %m", shown);
                /* Resolved inside the root: a scratch root's run/ may be a symlink. */
                int next = open_in_root(fd, parts[i], O_PATH | O_DIRECTORY, 0);
                if (next < 0)
                        return graft_error_set(err, next, GRAFT_ERROR_IO, "cannot use %s as the staging directory: %s",
                                               shown, strerror(-next));
                safe_close(fd);
                fd = next;
        }
        if (!shown)
                return -ENOMEM;
        char *p = sysext_fd_path(fd);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

bool sysext_merged_wants_reload(ImageClass class, const char *root, const SysextHierarchy *h) {
        if (!h->merged || !h->resolved)
                return false;
        /* The release files are visible through the merged tree itself; a merged /opt carries
         * none, so only the hierarchy that holds them is asked. */
        const char *where = class == IMAGE_CLASS_CONFEXT ? "/etc" : "/usr";
        if (!streq(h->path, where))
                return false;
        STRV_FOREACH(n, h->extensions) {
                _cleanup_free_ char *rel = extension_release_path(sysext_extension_kind(class), *n);
                if (!rel)
                        return false;
                _cleanup_free_ char *full = path_join(h->resolved, rel + strlen(where)), *text = NULL;
                _cleanup_strv_free_ char **l = NULL;
                size_t size;
                if (!full || read_full_file_at(AT_FDCWD, full, 64 * 1024, &text, &size) < 0 ||
                    env_file_parse(text, size, full, &l, NULL) < 0)
                        continue;
                if (sysext_parse_boolean(strv_env_get(l, "EXTENSION_RELOAD_MANAGER")))
                        return true;
        }
        return false;
}
