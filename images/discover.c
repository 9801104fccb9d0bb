/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the search for images in the search directories (see discover.h). Everything is resolved
 * inside the root with openat2(RESOLVE_IN_ROOT), so a symlink in a scratch root's
 * /etc/extensions can never lead to the host's files. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "discover.h"
#include "escape.h"
#include "path-util.h"
#include "strv.h"
#include "version.h"

static const char * const sysext_dirs[] = {
        "/etc/extensions", "/run/extensions", "/var/lib/extensions", NULL,
};
static const char * const confext_dirs[] = {
        "/run/confexts", "/var/lib/confexts", "/usr/local/lib/confexts", "/usr/lib/confexts", NULL,
};
static const char * const portable_dirs[] = {
        "/etc/portables", "/run/portables", "/var/lib/portables", "/usr/local/lib/portables", "/usr/lib/portables", NULL,
};

const char * const *image_class_search_dirs(ImageClass c) {
        switch (c) {
        case IMAGE_CLASS_SYSEXT:
                return sysext_dirs;
        case IMAGE_CLASS_CONFEXT:
                return confext_dirs;
        default:
                return portable_dirs;
        }
}

bool image_name_is_valid(const char *s) {
        if (!filename_is_valid(s) || s[0] == '.')
                return false;
        for (const char *p = s; *p; p++)
                if (*p == ' ' || *p == '\t' || (unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

void discovered_image_done(DiscoveredImage *d) {
        if (!d)
                return;
        free(d->name);
        free(d->path);
        free(d->found_as);
        free(d->version);
        *d = (DiscoveredImage) {};
}

void discovery_done(Discovery *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_images; i++)
                discovered_image_done(&d->images[i]);
        free(d->images);
        strv_free(d->skipped);
        strv_free(d->masked);
        strv_free(d->passed_over);
        *d = (Discovery) {};
}

/* The path an fd refers to, as the kernel sees it (root-prefixed, symlinks resolved). */
static char *fd_path(int fd) {
        char proc[64], buf[PATH_MAX];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        return strndup(buf, (size_t) n);
}

/* Splits a .v/ entry "NAME_VERSION[_ARCH][.raw]": 1 and the version if it is one for arch. */
static int parse_versioned_entry(const char *entry, const char *name, Architecture arch, char **ret_version) {
        size_t n = strlen(name);
        if (strncmp(entry, name, n) != 0 || entry[n] != '_')
                return 0;
        _cleanup_free_ char *rest = strdup_strip_suffix(entry + n + 1, ".raw");
        if (!rest)
                return -ENOMEM;
        char *u = strrchr(rest, '_');
        if (u) {
                Architecture a = architecture_from_string(u + 1);
                if (a >= 0) {
                        if (a != arch)
                                return 0;
                        *u = 0;
                }
        }
        if (isempty(rest))
                return 0;
        *ret_version = TAKE_PTR(rest);
        return 1;
}

int image_pick_versioned(const char *vdir, const char *name, Architecture arch, char **ret_path,
                         char **ret_version, GraftError *err) {
        if (arch < 0)
                arch = architecture_native();
        DIR *d = opendir(vdir);
        if (!d)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m", vdir);

        _cleanup_free_ char *best = NULL, *best_version = NULL;
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *version = NULL;
                r = parse_versioned_entry(de->d_name, name, arch, &version);
                if (r < 0)
                        break;
                if (r == 0 || (best_version && version_compare(version, best_version) <= 0))
                        continue;
                free(best);
                free(best_version);
                best = strdup(de->d_name);
                best_version = TAKE_PTR(version);
                if (!best) {
                        r = -ENOMEM;
                        break;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        if (!best)
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE,
                                       "%s holds no %s_VERSION[_%s][.raw] entry", vdir, name, architecture_to_string(arch));
        _cleanup_free_ char *path = path_join(vdir, best);
        if (!path)
                return -ENOMEM;
        *ret_path = TAKE_PTR(path);
        *ret_version = TAKE_PTR(best_version);
        return 0;
}

/* Every other version in a .v/ directory for arch: passed over for the newest, which the dry run
 * of a merge says (passed_over may be NULL). */
static int note_older(const char *vdir, const char *name, Architecture arch, const char *best, char ***passed_over) {
        if (!passed_over)
                return 0;
        DIR *d = opendir(vdir);
        if (!d)
                return 0;
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *version = NULL;
                if (de->d_name[0] == '.' || streq(de->d_name, best) ||
                    parse_versioned_entry(de->d_name, name, arch, &version) <= 0)
                        continue;
                _cleanup_free_ char *e = escape_string(de->d_name);
                r = strv_extendf(passed_over, "%s/%s: an older version than %s", vdir, strna(e), best);
        }
        closedir(d);
        return r;
}

static int invalid_name(const char *name, char **ret_reason) {
        _cleanup_free_ char *e = escape_string(name);
        return asprintf(ret_reason, "\"%s\" is not a valid image name", strna(e)) < 0 ? -ENOMEM : 0;
}

/* Turns one search directory entry into an image (1), or says why it cannot be one (0 with a
 * reason), or ignores it (0 without: nothing that could be an image by its name and type). */
static int classify_entry(int root_fd, const char *dir, const char *entry, Architecture arch, DiscoveredImage *ret,
                          char **ret_reason, char ***passed_over) {
        _cleanup_free_ char *rel = path_join(dir, entry);
        if (!rel)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, rel, O_PATH, 0);
        if (fd < 0)
                return asprintf(ret_reason, "cannot be opened: %s", strerror(-fd)) < 0 ? -ENOMEM : 0;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();

        _cleanup_(discovered_image_done) DiscoveredImage img = { .type = st.st_mode & S_IFMT };
        img.path = fd_path(fd);
        if (!img.path)
                return -ENOMEM;

        if (S_ISDIR(st.st_mode) && endswith(entry, ".v")) {
                _cleanup_free_ char *a = strdup_strip_suffix(entry, ".v");
                if (!a)
                        return -ENOMEM;
                img.name = strdup_strip_suffix(a, ".raw");
                if (!img.name)
                        return -ENOMEM;
                if (!image_name_is_valid(img.name))
                        return invalid_name(img.name, ret_reason);
                _cleanup_free_ char *picked = NULL;
                GraftError e = GRAFT_ERROR_INIT;
                int r = image_pick_versioned(img.path, img.name, arch, &picked, &img.version, &e);
                if (r < 0) {
                        r = asprintf(ret_reason, "%s", e.message ?: strerror(-r)) < 0 ? -ENOMEM : 0;
                        graft_error_done(&e);
                        return r;
                }
                /* The picked entry may be a symlink too, absolute or not: it is resolved inside
                 * the root like the .v/ directory itself, never against the host's "/". */
                _cleanup_free_ char *base = path_basename(picked), *prel = base ? path_join(rel, base) : NULL;
                if (!prel || note_older(img.path, img.name, arch, base, passed_over) < 0)
                        return -ENOMEM;
                _cleanup_close_ int pfd = open_in_root(root_fd, prel, O_PATH, 0);
                if (pfd < 0)
                        return asprintf(ret_reason, "%s cannot be opened: %s", picked, strerror(-pfd)) < 0 ? -ENOMEM : 0;
                if (fstat(pfd, &st) < 0)
                        return negative_errno();
                free(img.path);
                img.path = fd_path(pfd);
                if (!img.path)
                        return -ENOMEM;
                img.type = st.st_mode & S_IFMT;
        } else if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
                img.name = strdup_strip_suffix(entry, ".raw");
        else if (!endswith(entry, ".raw"))
                /* Neither a directory nor a device, and not named like an image file (a README, a
                 * sidecar such as foo.roothash): no image by its name, ignored as systemd does. */
                return 0;
        else if (S_ISREG(st.st_mode))
                img.name = strdup_strip_suffix(entry, ".raw");
        else
                return asprintf(ret_reason, "neither a .raw file, a directory nor a block device") < 0 ? -ENOMEM : 0;
        if (!img.name)
                return -ENOMEM;
        if (!image_name_is_valid(img.name))
                return invalid_name(img.name, ret_reason);
        if (img.type != S_IFREG && img.type != S_IFDIR && img.type != S_IFBLK)
                return asprintf(ret_reason, "the newest version is neither a file nor a directory") < 0 ? -ENOMEM : 0;

        img.found_as = path_join(dir, entry);
        if (!img.found_as)
                return -ENOMEM;
        *ret = img;
        img = (DiscoveredImage) {};
        return 1;
}

static int cmp_image(const void *a, const void *b) {
        return strcmp(((const DiscoveredImage *) a)->name, ((const DiscoveredImage *) b)->name);
}

static const DiscoveredImage *have_name(const Discovery *d, const char *name) {
        for (size_t i = 0; i < d->n_images; i++)
                if (streq(d->images[i].name, name))
                        return &d->images[i];
        return NULL;
}

/* Whether an entry masks the extension of its name, as in systemd: a symlink to /dev/null (by its
 * text: a scratch root has no /dev/null of its own) or an empty directory, not a .v/ one. *ret_how
 * says which. */
static int entry_masks(int root_fd, const char *dir, const char *entry, char **ret_name, const char **ret_how) {
        _cleanup_free_ char *rel = path_join(dir, entry);
        if (!rel)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, rel, O_PATH | O_NOFOLLOW, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return 0;
        const char *how = NULL;
        if (S_ISLNK(st.st_mode)) {
                char target[16];
                ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
                if (n < 0 || (size_t) n != strlen("/dev/null") || memcmp(target, "/dev/null", (size_t) n) != 0)
                        return 0;
                how = "a symlink to /dev/null";
        } else if (S_ISDIR(st.st_mode) && !endswith(entry, ".v")) {
                _cleanup_close_ int dfd = open_in_root(root_fd, rel, O_RDONLY | O_DIRECTORY, 0);
                DIR *dd = dfd >= 0 ? fdopendir(dfd) : NULL;
                if (!dd)
                        return 0;
                TAKE_FD(dfd);
                bool empty = true;
                for (struct dirent *de; empty && (de = readdir(dd));)
                        empty = streq(de->d_name, ".") || streq(de->d_name, "..");
                closedir(dd);
                if (!empty)
                        return 0;
                how = "an empty directory";
        } else
                return 0;
        char *name = strdup_strip_suffix(entry, ".raw");
        if (!name)
                return -ENOMEM;
        if (!image_name_is_valid(name)) {
                free(name);
                return 0;
        }
        *ret_name = name;
        *ret_how = how;
        return 1;
}

/* A mask (1, said in d->passed_over), or 0: something to classify. */
static int passed_over_entry(int root_fd, const char *root, const char *dir, const char *entry, bool masking,
                             Discovery *d) {
        _cleanup_free_ char *name = NULL;
        const char *how = NULL;
        int r = masking ? entry_masks(root_fd, dir, entry, &name, &how) : 0;
        if (r <= 0)
                return r;
        if (have_name(d, name) || strv_contains(d->masked, name))
                return 1; /* an earlier directory decided already */
        _cleanup_free_ char *e = escape_string(entry);
        if (!e)
                return -ENOMEM;
        r = strv_extendf(&d->passed_over, "%s%s/%s: masks %s (%s)", strempty(root), dir, e, name, how);
        if (r >= 0)
                r = strv_consume(&d->masked, TAKE_PTR(name));
        return r < 0 ? r : 1;
}

static int scan_dir(int root_fd, const char *root, const char *dir, Architecture arch, bool masking, Discovery *d) {
        int dfd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (dfd == -ENOENT || dfd == -ENOTDIR)
                return 0;
        if (dfd < 0)
                return strv_extendf(&d->skipped, "%s%s: cannot be opened: %s", strempty(root), dir, strerror(-dfd));
        DIR *dd = fdopendir(dfd);
        if (!dd) {
                safe_close(dfd);
                return -ENOMEM;
        }
        _cleanup_strv_free_ char **entries = NULL;
        int r = 0;
        for (struct dirent *de; (de = readdir(dd)) && r >= 0;)
                if (de->d_name[0] != '.') /* hidden entries are not images, as for systemd */
                        r = strv_extend(&entries, de->d_name);
        closedir(dd);
        if (r < 0)
                return r;
        strv_sort(entries);

        STRV_FOREACH(e, entries) {
                DiscoveredImage img = {};
                _cleanup_free_ char *reason = NULL;
                r = passed_over_entry(root_fd, root, dir, *e, masking, d);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = classify_entry(root_fd, dir, *e, arch, &img, &reason, &d->passed_over);
                if (r < 0)
                        return r;
                if (r == 0 && !reason)
                        continue; /* no image by its name */
                if (r == 0) {
                        _cleanup_free_ char *entry = escape_string(*e);
                        r = strv_extendf(&d->skipped, "%s%s/%s: %s", strempty(root), dir, strna(entry), reason);
                        if (r < 0)
                                return r;
                        continue;
                }
                const DiscoveredImage *winner = have_name(d, img.name);
                if (winner || strv_contains(d->masked, img.name)) { /* an earlier directory wins */
                        _cleanup_free_ char *entry = escape_string(*e);
                        r = winner ? strv_extendf(&d->passed_over, "%s%s/%s: %s is used from %s", strempty(root), dir,
                                                  strna(entry), img.name, winner->found_as)
                                   : strv_extendf(&d->passed_over, "%s%s/%s: %s is masked", strempty(root), dir,
                                                  strna(entry), img.name);
                        discovered_image_done(&img);
                        if (r < 0)
                                return r;
                        continue;
                }
                DiscoveredImage *n = reallocarray(d->images, d->n_images + 1, sizeof(*n));
                if (!n) {
                        discovered_image_done(&img);
                        return -ENOMEM;
                }
                d->images = n;
                d->images[d->n_images++] = img;
        }
        return 0;
}

int image_discover(const char *root, ImageClass c, Architecture arch, Discovery *ret, GraftError *err) {
        const char *r_ = isempty(root) ? "/" : root;
        _cleanup_close_ int root_fd = open(r_, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m", r_);
        if (streq(r_, "/"))
                root = NULL;

        _cleanup_(discovery_done) Discovery d = {};
        for (const char * const *dir = image_class_search_dirs(c); *dir; dir++) {
                int r = scan_dir(root_fd, root, *dir, arch, c != IMAGE_CLASS_PORTABLE, &d);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot list %s%s: %s", strempty(root), *dir,
                                               strerror(-r));
        }
        if (d.n_images > 0)
                qsort(d.images, d.n_images, sizeof(*d.images), cmp_image);
        *ret = d;
        d = (Discovery) {};
        return 0;
}

static int find_by_path(const char *path, Architecture arch, DiscoveredImage *ret, GraftError *err) {
        /* A path the operator gave is followed like any path on the host; the image is named
         * after what was given, not after where a symlink leads. */
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return graft_error_set(err, negative_errno(), errno == ENOENT ? GRAFT_ERROR_NO_SUCH_IMAGE : GRAFT_ERROR_IO,
                                       "%s: %m", path);
        _cleanup_free_ char *base = path_basename(real), *given = path_basename(path);
        if (!base || !given)
                return -ENOMEM;
        _cleanup_free_ char *dir = strndup(real, strlen(real) - strlen(base));
        if (!dir)
                return -ENOMEM;
        /* The host's "/" is the root here: symlinks inside a .v/ directory lead where they say. */
        _cleanup_close_ int host_fd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (host_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open /: %m");

        _cleanup_free_ char *reason = NULL;
        _cleanup_(discovered_image_done) DiscoveredImage img = {};
        int r = classify_entry(host_fd, isempty(dir) ? "/" : dir, base, arch, &img, &reason, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE, "%s: %s", path,
                                       reason ?: "not a .raw file, a directory or a block device");

        _cleanup_free_ char *a = strdup_strip_suffix(given, ".v");
        char *name = a ? strdup_strip_suffix(a, ".raw") : NULL;
        if (!name)
                return -ENOMEM;
        free(img.name);
        img.name = name;
        if (!image_name_is_valid(img.name))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s: \"%s\" is not a valid image name",
                                       path, img.name);
        free(img.found_as);
        img.found_as = strdup(path);
        if (!img.found_as)
                return -ENOMEM;
        *ret = img;
        img = (DiscoveredImage) {};
        return 0;
}

int image_find(const char *root, ImageClass c, Architecture arch, const char *name_or_path, DiscoveredImage *ret,
               GraftError *err) {
        if (strchr(name_or_path, '/'))
                return find_by_path(name_or_path, arch, ret, err);
        if (!image_name_is_valid(name_or_path)) {
                _cleanup_free_ char *e = escape_string(name_or_path);
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"%s\" is not a valid image name",
                                       strna(e));
        }

        _cleanup_(discovery_done) Discovery d = {};
        int r = image_discover(root, c, arch, &d, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n_images; i++)
                if (streq(d.images[i].name, name_or_path)) {
                        *ret = d.images[i];
                        d.images[i] = (DiscoveredImage) {}; /* moved out; done() takes NULLs */
                        return 0;
                }
        _cleanup_free_ char *dirs = strv_join((char **) image_class_search_dirs(c), ", ");
        return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, "no image \"%s\" in %s%s%s", name_or_path,
                               dirs ?: "", isempty(root) ? "" : " under ", strempty(root));
}
