/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns where transfer files are found (see transfer.h): the four directories systemd reads, in
 * its precedence, masking by /dev/null symlinks, and the drop-in directories of each file. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "path-util.h"
#include "strv.h"
#include "transfer.h"

static const char * const base_dirs[] = { "/etc", "/run", "/usr/local/lib", "/usr/lib", NULL };

void transfer_set_done(TransferSet *s) {
        for (size_t i = 0; i < s->n; i++)
                transfer_free(s->transfers[i]);
        free(s->transfers);
        free(s->component);
        *s = (TransferSet) {};
}

static bool component_is_valid(const char *c) {
        return filename_is_valid(c) && !strchr(c, '.') && c[0] != '-';
}

int transfer_dirs(const char *root, const char *component, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *leaf = NULL;
        if (asprintf(&leaf, component ? "sysupdate.%s.d" : "sysupdate.d", component) < 0)
                return -ENOMEM;
        for (const char * const *b = base_dirs; *b; b++) {
                _cleanup_free_ char *inner = path_join(*b, leaf);
                char *p = inner ? path_prefix_root(root, inner) : NULL;
                if (!p || strv_consume(&l, p) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_masked(const char *path) {
        char buf[16];
        ssize_t n = readlink(path, buf, sizeof buf - 1);
        if (n < 0)
                return false;
        buf[n] = '\0';
        return streq(buf, "/dev/null");
}

/* Adds dir/NAME for every entry of dir ending in suffix whose NAME is not yet in names (earlier
 * directories win). Masked entries are recorded in names but not in paths. */
static int collect(const char *dir, const char *suffix, char ***names, char ***paths) {
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : negative_errno();
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !endswith(de->d_name, suffix) || strv_contains(*names, de->d_name))
                        continue;
                _cleanup_free_ char *p = path_join(dir, de->d_name);
                if (!p || strv_extend(names, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (is_masked(p))
                        continue;
                if (strv_consume(paths, TAKE_PTR(p)) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        closedir(d);
        return r;
}

static int cmp_basename(const void *a, const void *b) {
        const char *x = strrchr(*(char * const *) a, '/'), *y = strrchr(*(char * const *) b, '/');
        return strcmp(x ? x + 1 : *(char * const *) a, y ? y + 1 : *(char * const *) b);
}

static int dropins_of(char * const *dirs, const char *file_name, char ***ret) {
        _cleanup_strv_free_ char **names = NULL, **paths = NULL;
        _cleanup_free_ char *leaf = NULL;
        if (asprintf(&leaf, "%s.d", file_name) < 0)
                return -ENOMEM;
        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *dd = path_join(*d, leaf);
                if (!dd)
                        return -ENOMEM;
                int r = collect(dd, ".conf", &names, &paths);
                if (r < 0)
                        return r;
        }
        if (paths)
                qsort(paths, strv_length(paths), sizeof(char *), cmp_basename);
        *ret = TAKE_PTR(paths);
        return 0;
}

static int load_files(const char *root, char * const *dirs, char * const *files, TransferSet *s, GraftError *err) {
        SpecifierContext spec = {};
        int r = specifier_context_load(root, &spec, err);
        if (r < 0)
                return r;
        size_t n = strv_length(files);
        s->transfers = calloc(n + 1, sizeof(Transfer *));
        if (!s->transfers) {
                specifier_context_done(&spec);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_strv_free_ char **dropins = NULL;
                _cleanup_free_ char *name = path_basename(files[i]);
                r = name ? dropins_of(dirs, name, &dropins) : -ENOMEM;
                if (r >= 0)
                        r = transfer_load(root, &spec, files[i], dropins, &s->transfers[s->n], err);
                if (r >= 0)
                        s->n++;
        }
        specifier_context_done(&spec);
        return r;
}

int transfer_set_load(const char *root, const char *component, const char *definitions, TransferSet *ret,
                      GraftError *err) {
        if (component && !component_is_valid(component))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "\"%s\" is no valid component name (a file name without '.')", component);
        _cleanup_strv_free_ char **dirs = NULL, **names = NULL, **files = NULL;
        int r;
        if (definitions)
                r = strv_extend(&dirs, definitions);
        else
                r = transfer_dirs(root, component, &dirs);
        if (r < 0)
                return r;
        STRV_FOREACH(d, dirs) {
                r = collect(*d, ".transfer", &names, &files);
                if (r >= 0)
                        r = collect(*d, ".conf", &names, &files); /* systemd 251-253 read *.conf */
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", *d, strerror(-r));
        }
        if (!files) {
                _cleanup_free_ char *where = strv_join(dirs, ", ");
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE, "no transfer files (*.transfer) in %s",
                                       strna(where));
        }
        qsort(files, strv_length(files), sizeof(char *), cmp_basename);

        TransferSet s = {};
        if (component && !(s.component = strdup(component)))
                return -ENOMEM;
        r = load_files(root, dirs, files, &s, err);
        if (r < 0) {
                transfer_set_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int transfer_components(const char *root, char ***ret, GraftError *err) {
        _cleanup_strv_free_ char **l = NULL;
        for (const char * const *b = base_dirs; *b; b++) {
                _cleanup_free_ char *dir = path_prefix_root(root, *b);
                if (!dir)
                        return -ENOMEM;
                DIR *d = opendir(dir);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (!startswith(de->d_name, "sysupdate.") || !endswith(de->d_name, ".d") ||
                            streq(de->d_name, "sysupdate.d"))
                                continue;
                        _cleanup_free_ char *c = strndup(de->d_name + STRLEN("sysupdate."),
                                                         strlen(de->d_name) - STRLEN("sysupdate.") - 2);
                        if (!c) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        if (component_is_valid(c) && !strv_contains(l, c) && strv_consume(&l, TAKE_PTR(c)) < 0) {
                                closedir(d);
                                return -ENOMEM;
                        }
                }
                closedir(d);
        }
        if (l)
                strv_sort(l);
        *ret = TAKE_PTR(l);
        (void) err;
        return 0;
}
