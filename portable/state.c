/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns reading which units are attached and from which image (see state.h). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "portable-util.h"
#include "state.h"
#include "strv.h"

#define DROPIN_MAX (64 * 1024)

const char * const portable_host_unit_dirs[] = {
        "/etc/systemd/system",
        "/run/systemd/transient",
        "/run/systemd/generator.early",
        "/run/systemd/system",
        "/run/systemd/generator",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
        "/run/systemd/generator.late",
        NULL,
};

void portable_attachments_done(PortableAttachments *a) {
        if (!a)
                return;
        for (size_t i = 0; i < a->n_units; i++) {
                free(a->units[i].name);
                free(a->units[i].path);
                portable_marker_done(&a->units[i].marker);
        }
        free(a->units);
        *a = (PortableAttachments) {};
}

/* One NAME.d directory: an attachment if its 20-portable.conf carries the marker. */
static int load_unit(int dir_fd, const char *dir, const char *entry, bool runtime, PortableAttachments *a) {
        _cleanup_free_ char *unit = strdup_strip_suffix(entry, ".d");
        if (!unit)
                return -ENOMEM;
        if (!portable_unit_name_is_valid(unit))
                return 0;
        _cleanup_free_ char *rel = path_join(entry, PORTABLE_DROPIN_NAME), *text = NULL;
        if (!rel)
                return -ENOMEM;
        /* Whatever cannot be read as a file of ours (a FIFO, a device, a symlink: refused unopened)
         * is not a marker. */
        size_t size;
        if (file_read(&(FileOpen) { .dir_fd = dir_fd, .path = rel, .nofollow = true }, DROPIN_MAX, &text, &size,
                      NULL) < 0)
                return 0;
        AttachedUnit u = { .runtime = runtime };
        int r = portable_marker_parse(text, size, &u.marker);
        if (r == -EBADMSG)
                return 0;
        if (r < 0)
                return r;
        struct stat st;
        u.has_unit_file = fstatat(dir_fd, unit, &st, AT_SYMLINK_NOFOLLOW) >= 0;
        u.path = path_join(dir, unit);
        u.name = TAKE_PTR(unit);
        AttachedUnit *g = u.path ? reallocarray(a->units, a->n_units + 1, sizeof(*g)) : NULL;
        if (!g) {
                free(u.name);
                free(u.path);
                portable_marker_done(&u.marker);
                return -ENOMEM;
        }
        a->units = g;
        a->units[a->n_units++] = u;
        return 0;
}

static int cmp_unit(const void *x, const void *y) {
        const AttachedUnit *a = x, *b = y;
        int c = strcmp(a->name, b->name);
        return c ? c : CMP(a->runtime, b->runtime);
}

int portable_attachments_load(const char *root, PortableAttachments *ret, GraftError *err) {
        _cleanup_close_ int root_fd = portable_root_open(root, err);
        if (root_fd < 0)
                return root_fd;
        _cleanup_(portable_attachments_done) PortableAttachments a = {};
        for (int runtime = 0; runtime <= 1; runtime++) {
                const char *dir = portable_attached_dir(runtime);
                int fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
                if (fd == -ENOENT || fd == -ENOTDIR)
                        continue;
                if (fd < 0)
                        return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s%s: %s", strempty(root), dir,
                                               strerror(-fd));
                DIR *d = fdopendir(fd);
                if (!d) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                int r = 0;
                for (struct dirent *de; r >= 0 && (de = readdir(d));)
                        if (de->d_name[0] != '.' && endswith(de->d_name, ".d"))
                                r = load_unit(dirfd(d), dir, de->d_name, runtime, &a);
                closedir(d);
                if (r < 0)
                        return r;
        }
        if (a.n_units > 0)
                qsort(a.units, a.n_units, sizeof(*a.units), cmp_unit);
        *ret = a;
        a = (PortableAttachments) {};
        return 0;
}

bool attached_unit_matches(const AttachedUnit *u, const char *given, const char *image_path) {
        const PortableMarker *m = &u->marker;
        if (image_path && streq(m->image, image_path))
                return true;
        if (strchr(given, '/'))
                return streq(m->image, given) || (m->link && streq(m->link, given));
        if (m->name)
                return streq(m->name, given);
        /* A drop-in from systemd-portabled: its image name is the file name without ".raw". */
        _cleanup_free_ char *base = path_basename(m->image);
        _cleanup_free_ char *name = base ? strdup_strip_suffix(base, ".raw") : NULL;
        return name && streq(name, given);
}

static int link_points_to(int dir_fd, const char *entry, const AttachedUnit *u, bool *ret) {
        _cleanup_free_ char *rel = path_join(entry, u->name);
        if (!rel)
                return -ENOMEM;
        char target[PATH_MAX];
        ssize_t n = readlinkat(dir_fd, rel, target, sizeof target - 1);
        if (n < 0) {
                *ret = false;
                return 0;
        }
        target[n] = 0;
        /* Absolute to the unit (what systemd writes) or relative to it ("../NAME"). */
        *ret = streq(target, u->path) || streq(target, u->name) ||
               (strncmp(target, "../", 3) == 0 && streq(target + 3, u->name));
        return 0;
}

int attached_unit_install_links(const char *root, int root_fd, const AttachedUnit *u, char ***ret) {
        const char *dir = portable_attached_dir(u->runtime);
        _cleanup_strv_free_ char **links = NULL;
        int fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0) {
                *ret = NULL;
                return fd == -ENOENT ? 0 : fd;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -ENOMEM;
        }
        int r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (de->d_name[0] == '.' || !(endswith(de->d_name, ".wants") || endswith(de->d_name, ".requires") ||
                                              endswith(de->d_name, ".upholds")))
                        continue;
                bool ours = false;
                r = link_points_to(dirfd(d), de->d_name, u, &ours);
                if (r >= 0 && ours) {
                        char *p = path_join(dir, de->d_name, u->name);
                        r = p ? strv_consume(&links, p) : -ENOMEM;
                }
        }
        closedir(d);
        if (r < 0)
                return r;
        if (links)
                strv_sort(links);
        *ret = TAKE_PTR(links);
        return 0;
}

int portable_unit_on_host(int root_fd, const char *unit, bool runtime, char **ret_where) {
        const char *dirs[ELEMENTSOF(portable_host_unit_dirs) + 2];
        size_t n = 0;
        for (const char * const *d = portable_host_unit_dirs; *d; d++)
                dirs[n++] = *d;
        /* Leftovers in the attached directories that carry no marker count as well. */
        dirs[n++] = portable_attached_dir(runtime);
        dirs[n++] = portable_attached_dir(!runtime);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = path_join(dirs[i], unit);
                if (!p)
                        return -ENOMEM;
                struct stat st;
                int r = portable_lstat_in_root(root_fd, p, &st);
                if (r == -ENOENT || r == -ENOTDIR)
                        continue;
                if (r < 0)
                        return r;
                *ret_where = TAKE_PTR(p);
                return 1;
        }
        return 0;
}
