/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the configuration file of the extension tools, read as systemd-sysext (v259) reads its
 * own, so that one file configures both: sysext.conf (confext: confext.conf) in /etc/systemd/,
 * /run/systemd/, /usr/local/lib/systemd/, /usr/lib/systemd/ (the first one found), then the
 * drop-ins *.conf of sysext.conf.d/ in the same directories (a name in an earlier directory
 * hides the same name in a later one; a symlink to /dev/null or an empty file masks), applied in
 * the order of their names. Section [SysExt] ([ConfExt]), keys Mutable= and ImagePolicy=. Read
 * below the root, like everything else, by sextctl, the boot units (which run sextctl) and graftd
 * (through the library). A value that cannot be parsed is an error naming the file and line: a
 * typo must not silently change what gets merged. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

#define CONFIG_MAX (64 * 1024)

static const char * const config_dirs[] = {
        "/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd", NULL,
};

void sysext_config_done(SysextConfig *c) {
        if (!c)
                return;
        free(c->image_policy);
        *c = (SysextConfig) {};
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && strchr(" \t\r", s[n - 1]))
                s[--n] = 0;
        return s;
}

static int parse_text(ImageClass class, char *text, const char *shown, SysextConfig *c, GraftError *err) {
        const char *section = class == IMAGE_CLASS_CONFEXT ? "[ConfExt]" : "[SysExt]";
        bool in = false;
        unsigned line = 0;
        for (char *l = text, *next; l; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = 0;
                line++;
                char *s = strip(l);
                if (!*s || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        in = streq(s, section);
                        continue;
                }
                char *eq = strchr(s, '=');
                if (!in || !eq)
                        continue; /* other sections, and what is no assignment, are not ours */
                *eq = 0;
                const char *key = strip(s), *value = strip(eq + 1);
                if (streq(key, "Mutable")) {
                        if (isempty(value))
                                c->mutable = SYSEXT_MUTABLE_UNSET;
                        else if (sysext_mutable_from_string(value, &c->mutable) < 0)
                                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "%s:%u: Mutable=%s is none of no, yes, auto, import, ephemeral, "
                                                       "ephemeral-import", shown, line, value);
                } else if (streq(key, "ImagePolicy")) {
                        ImagePolicy p;
                        GraftError e = GRAFT_ERROR_INIT;
                        int r = isempty(value) ? 0 : image_policy_parse(value, &p, &e);
                        if (r < 0) {
                                r = graft_error_set(err, r, GRAFT_ERROR_INVALID_ARGUMENT, "%s:%u: ImagePolicy=%s: %s", shown,
                                                    line, value, strna(e.message));
                                graft_error_done(&e);
                                return r;
                        }
                        free(c->image_policy);
                        c->image_policy = isempty(value) ? NULL : strdup(value);
                        if (!isempty(value) && !c->image_policy)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* Reads one file below root_fd; a missing one is nothing, a masked (empty) one too. */
static int read_one(int root_fd, const char *root, ImageClass class, const char *path, SysextConfig *c,
                    GraftError *err) {
        _cleanup_free_ char *shown = path_prefix_root(root, path), *text = NULL;
        if (!shown)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH, 0);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) >= 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return 0; /* a symlink to /dev/null: masked */
        int r = file_read(&(FileOpen) { .dir_fd = root_fd, .path = path, .in_root = true, .display = shown }, CONFIG_MAX,
                          &text, NULL, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return graft_error_is_set(err) ? r
                                               : graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", shown,
                                                                 strerror(-r));
        return parse_text(class, text, shown, c, err);
}

/* The drop-ins, as "NAME.conf\tPATH" sorted by name: each name from the first directory that has it. */
static int collect_dropins(int root_fd, const char *dname, char ***ret) {
        _cleanup_strv_free_ char **names = NULL, **entries = NULL;
        for (const char * const *d = config_dirs; *d; d++) {
                _cleanup_free_ char *dir = path_join(*d, dname);
                if (!dir)
                        return -ENOMEM;
                int fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
                if (fd < 0)
                        continue;
                DIR *dd = fdopendir(fd);
                if (!dd) {
                        safe_close(fd);
                        return -ENOMEM;
                }
                int r = 0;
                for (struct dirent *de; r >= 0 && (de = readdir(dd));) {
                        if (de->d_name[0] == '.' || !endswith(de->d_name, ".conf") || strv_contains(names, de->d_name))
                                continue; /* an earlier directory has it (and masks it there, if it is empty) */
                        r = strv_extend(&names, de->d_name);
                        if (r >= 0)
                                r = strv_extendf(&entries, "%s\t%s/%s", de->d_name, dir, de->d_name);
                }
                closedir(dd);
                if (r < 0)
                        return r;
        }
        strv_sort(entries);
        *ret = TAKE_PTR(entries);
        return 0;
}

int sysext_config_load(ImageClass class, const char *root, SysextConfig *ret, GraftError *err) {
        const char *base = class == IMAGE_CLASS_CONFEXT ? "confext.conf" : "sysext.conf";
        _cleanup_close_ int root_fd = open(root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       root ?: "/");
        _cleanup_(sysext_config_done) SysextConfig c = {};
        for (const char * const *d = config_dirs; *d; d++) {
                _cleanup_free_ char *p = path_join(*d, base);
                if (!p)
                        return -ENOMEM;
                _cleanup_close_ int fd = open_in_root(root_fd, p, O_PATH, 0);
                if (fd < 0)
                        continue;
                int r = read_one(root_fd, root, class, p, &c, err);
                if (r < 0)
                        return r;
                break; /* the first one found is the file */
        }
        _cleanup_free_ char *dname = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        if (asprintf(&dname, "%s.d", base) < 0)
                return -ENOMEM;
        int r = collect_dropins(root_fd, dname, &dropins);
        if (r < 0)
                return r;
        STRV_FOREACH(e, dropins) { /* in the order of their names, wherever each one lives */
                r = read_one(root_fd, root, class, strchr(*e, '\t') + 1, &c, err);
                if (r < 0)
                        return r;
        }
        *ret = c;
        c = (SysextConfig) {};
        return 0;
}

int sysext_options_configure(const SysextOptions *o, SysextOptions *ret, ImagePolicy *policy, GraftError *err) {
        *ret = *o;
        if (o->policy && o->mutable != SYSEXT_MUTABLE_UNSET)
                return 0;
        _cleanup_(sysext_config_done) SysextConfig c = {};
        int r = sysext_config_load(o->class, sysext_root(o), &c, err);
        if (r < 0)
                return r;
        if (!o->policy && c.image_policy) {
                r = image_policy_parse(c.image_policy, policy, err);
                if (r < 0)
                        return r;
                ret->policy = policy;
        }
        if (o->mutable == SYSEXT_MUTABLE_UNSET)
                ret->mutable = c.mutable != SYSEXT_MUTABLE_UNSET ? c.mutable : SYSEXT_MUTABLE_NO;
        return 0;
}
