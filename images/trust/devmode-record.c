/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the record of which trust root admitted each image in use (devmode.h): what status, list
 * and leaving developer mode read, since the trust root is a fact of the verification at merge or
 * attach time, which they do not repeat. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devmode.h"
#include "fileio.h"
#include "path-util.h"
#include "strv.h"

#define RECORD_MAX (1024 * 1024)

static char *record_path(const char *root, ImageClass class) {
        switch (class) {
        case IMAGE_CLASS_SYSEXT:
                return path_prefix_root(root, "/run/graft/sysext.trust");
        case IMAGE_CLASS_CONFEXT:
                return path_prefix_root(root, "/run/graft/confext.trust");
        case IMAGE_CLASS_PORTABLE:
                return path_prefix_root(root, "/var/lib/graft/portable.trust");
        default:
                return NULL;
        }
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

int developer_admissions_write(const char *root, ImageClass class, char * const *triples, GraftError *err) {
        _cleanup_free_ char *path = record_path(root, class);
        if (!path)
                return -ENOMEM;
        if (strv_length(triples) == 0) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot remove %s: %m", path);
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; triples[i] && triples[i + 1] && triples[i + 2]; i += 3)
                fprintf(f, "%s\t%s\t%s\n", triples[i], triples[i + 1], triples[i + 2]);
        if (fclose(f) != 0)
                return -ENOMEM;
        int r = mkdir_parents(path);
        if (r >= 0)
                r = write_file_atomic(path, text, len, 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", path, strerror(-r));
        return 0;
}

int developer_admissions_read(const char *root, ImageClass class, char ***ret, GraftError *err) {
        _cleanup_free_ char *path = record_path(root, class), *text = NULL;
        if (!path)
                return -ENOMEM;
        size_t size = 0;
        int r = file_read(&(FileOpen) { .dir_fd = AT_FDCWD, .path = path, .nofollow = true }, RECORD_MAX, &text, &size,
                          err);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", path, strerror(-r));
        _cleanup_strv_free_ char **lines = strv_split(text, "\n"), **triples = NULL;
        if (!lines)
                return -ENOMEM;
        STRV_FOREACH(l, lines) {
                char *tab1 = strchr(*l, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
                if (!tab2)
                        continue; /* not ours: ignored rather than trusted */
                *tab1 = *tab2 = 0;
                if (strv_extend(&triples, *l) < 0 || strv_extend(&triples, tab1 + 1) < 0 ||
                    strv_extend(&triples, tab2 + 1) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(triples);
        return 0;
}

const char *developer_admission_find(char * const *triples, const char *name, const char **ret_signer) {
        for (size_t i = 0; triples && triples[i] && triples[i + 1] && triples[i + 2]; i += 3)
                if (streq(triples[i], name)) {
                        if (ret_signer)
                                *ret_signer = triples[i + 2];
                        return triples[i + 1];
                }
        return NULL;
}

int developer_admitted(const char *root, ImageClass class, char ***ret, GraftError *err) {
        _cleanup_strv_free_ char **triples = NULL, **l = NULL;
        int r = developer_admissions_read(root, class, &triples, err);
        if (r < 0)
                return r;
        for (size_t i = 0; triples && triples[i] && triples[i + 1] && triples[i + 2]; i += 3)
                if (streq(triples[i + 1], trust_root_to_string(TRUST_ROOT_DEVELOPER)) &&
                    strv_extendf(&l, "%s (%s)", triples[i], triples[i + 2]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *class_noun(ImageClass c) {
        return c == IMAGE_CLASS_PORTABLE ? "portable image" : c == IMAGE_CLASS_CONFEXT ? "configuration extension"
                                                                                       : "system extension";
}

int developer_mode_leave_check(const char *root, const ImageClass *handled, size_t n_handled, GraftError *err) {
        static const ImageClass all[] = { IMAGE_CLASS_SYSEXT, IMAGE_CLASS_CONFEXT, IMAGE_CLASS_PORTABLE };
        _cleanup_strv_free_ char **why = NULL;
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                bool mine = false;
                for (size_t k = 0; k < n_handled; k++)
                        mine = mine || handled[k] == all[i];
                _cleanup_strv_free_ char **names = NULL;
                int r = mine ? 0 : developer_admitted(root, all[i], &names, err);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names) {
                        _cleanup_free_ char *name = strndup(*n, strcspn(*n, " "));
                        if (!name)
                                return -ENOMEM;
                        r = all[i] == IMAGE_CLASS_PORTABLE
                                    ? strv_extendf(&why, "portable image %s is attached; detach it first (pctl detach %s)",
                                                   *n, name)
                                    : strv_extendf(&why, "%s %s is merged; sextctl%s developer-mode off unmerges it",
                                                   class_noun(all[i]), *n,
                                                   all[i] == IMAGE_CLASS_CONFEXT ? " --confext" : "");
                        if (r < 0)
                                return -ENOMEM;
                }
        }
        if (!why)
                return 0;
        _cleanup_free_ char *list = strv_join(why, "; ");
        return graft_error_set(err, -EBUSY, GRAFT_ERROR_CONFLICT,
                               "developer mode stays on: only a local developer key admitted what is in use: %s",
                               strna(list));
}

int developer_mode_status_text(const char *root, char **ret, GraftError *err) {
        static const ImageClass all[] = { IMAGE_CLASS_SYSEXT, IMAGE_CLASS_CONFEXT, IMAGE_CLASS_PORTABLE };
        int on = developer_mode_get(root, err);
        if (on < 0)
                return on;
        _cleanup_(trust_store_freep) TrustStore *store = NULL;
        int r = developer_trust_store_load(root, &store, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *mode = path_prefix_root(root, DEVELOPER_MODE_PATH), *dirs = trust_store_describe_dirs(store);
        _cleanup_strv_free_ char **lines = NULL;
        if (!mode || !dirs || strv_extendf(&lines, "Developer mode: %s (%s %s)", on ? "on" : "off", mode,
                                           on ? "exists" : "does not exist") < 0 ||
            strv_extendf(&lines, "Developer keys: %zu in %s%s", trust_store_size(store), dirs,
                         on ? "" : " (not trusted while the mode is off)") < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                _cleanup_strv_free_ char **names = NULL;
                r = developer_admitted(root, all[i], &names, err);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names)
                        if (strv_extendf(&lines, "In use on a developer key's word: %s %s", class_noun(all[i]), *n) < 0)
                                return -ENOMEM;
        }
        char *text = strv_join(lines, "\n");
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

int developer_mode_verb(const char *root, const char *what, const ImageClass *handled, size_t n_handled,
                        char **ret_text, GraftError *err) {
        if (streq(what, "status"))
                return developer_mode_status_text(root, ret_text, err);
        bool on = streq(what, "on");
        if (!on && !streq(what, "off"))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "developer-mode takes on, off or status, not \"%s\"", what);
        int r = on ? 0 : developer_mode_leave_check(root, handled, n_handled, err);
        if (r >= 0)
                r = developer_mode_set(root, on, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = path_prefix_root(root, DEVELOPER_TRUST_DIR);
        if (!dir || asprintf(ret_text, on ? "Developer mode is on: images signed by a local developer key (%s) are trusted."
                                          : "Developer mode is off: only the vendor's keys (verity.d) are trusted; "
                                            "local developer keys (%s) are not.",
                             dir) < 0)
                return -ENOMEM;
        return 0;
}
