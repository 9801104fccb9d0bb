/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns choosing which of the discovered extensions a merge takes: the ones named on the command
 * line (merge NAME…), else every one not disabled. The disabled ones are listed, one name a line,
 * in ROOT/etc/graft/sysext.disabled (confext: confext.disabled): state that survives reboots and
 * leaves the images where they are (sextctl disable/enable write it, under the operation lock, by
 * an atomic rename). What is left out is said in the plan's passed_over, never an error. */
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

#define DISABLED_MAX (1024 * 1024)

static const char *disabled_file(ImageClass c) {
        return c == IMAGE_CLASS_CONFEXT ? "/etc/graft/confext.disabled" : "/etc/graft/sysext.disabled";
}

int sysext_disabled_read(ImageClass class, const char *root, char ***ret, GraftError *err) {
        _cleanup_close_ int root_fd = open(root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       root ?: "/");
        _cleanup_free_ char *shown = path_prefix_root(root, disabled_file(class)), *text = NULL;
        if (!shown)
                return -ENOMEM;
        int r = file_read(&(FileOpen) { .dir_fd = root_fd, .path = disabled_file(class), .in_root = true, .display = shown },
                          DISABLED_MAX, &text, NULL, err);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return graft_error_is_set(err) ? r : graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", shown, strerror(-r));
        _cleanup_strv_free_ char **lines = strv_split(text, "\n"), **names = NULL;
        if (!lines)
                return -ENOMEM;
        STRV_FOREACH(l, lines)
                if (image_name_is_valid(*l) && !strv_contains(names, *l) && strv_extend(&names, *l) < 0)
                        return -ENOMEM; /* anything else (comments, blank lines) is no name */
        *ret = TAKE_PTR(names);
        return 0;
}

/* Removes every s from l, in place. */
static void remove_name(char **l, const char *s) {
        char **w = l;
        for (char **p = l; p && *p; p++)
                if (streq(*p, s))
                        free(*p);
                else
                        *w++ = *p;
        if (w)
                *w = NULL;
}

static int disabled_write(ImageClass class, const char *root, char **names, GraftError *err) {
        _cleanup_free_ char *dir = NULL, *file = NULL, *text = NULL;
        int r = sysext_hierarchy_create(root, "/etc/graft", &dir, err);
        if (r < 0)
                return r;
        file = path_join(dir, strrchr(disabled_file(class), '/') + 1);
        _cleanup_free_ char *joined = names ? strv_join(names, "\n") : strdup("");
        if (!file || !joined ||
            asprintf(&text, "# Extensions sextctl leaves out of merge and refresh (sextctl disable/enable).\n%s%s",
                     joined, names ? "\n" : "") < 0)
                return -ENOMEM;
        r = write_file_atomic(file, text, strlen(text), 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", file, strerror(-r));
        fault_point("sysext-disabled-written");
        return 0;
}

int sysext_set_enabled(const SysextOptions *o, char * const *names, bool enable, char ***ret_changed, GraftError *err) {
        STRV_FOREACH(n, names)
                if (!image_name_is_valid(*n))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"%s\" is not a valid image name",
                                               *n);
        _cleanup_(op_lock_release) OpLock lock = OP_LOCK_INIT;
        int r = sysext_lock(o, enable ? "enable" : "disable", false, &lock, err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **disabled = NULL, **changed = NULL;
        r = sysext_disabled_read(o->class, sysext_root(o), &disabled, err);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                if (strv_contains(disabled, *n) == !enable || strv_contains(changed, *n))
                        continue; /* already so */
                if (enable)
                        remove_name(disabled, *n);
                else if (strv_extend(&disabled, *n) < 0)
                        return -ENOMEM;
                if (strv_extend(&changed, *n) < 0)
                        return -ENOMEM;
        }
        if (changed) {
                r = disabled_write(o->class, sysext_root(o), disabled && disabled[0] ? disabled : NULL, err);
                if (r < 0)
                        return r;
        }
        if (ret_changed)
                *ret_changed = TAKE_PTR(changed);
        return 0;
}

static int pass_over(SysextPlan *p, size_t i, const char *why) {
        SysextImage *img = &p->images[i];
        int r = strv_extendf(&p->passed_over, "%s (%s): %s", img->name, img->found_as, why);
        if (r < 0)
                return r;
        sysext_image_done(img);
        memmove(img, img + 1, (p->n_images - i - 1) * sizeof(SysextImage));
        p->n_images--;
        return 0;
}

int sysext_plan_select(const SysextOptions *o, SysextPlan *p, char * const *masked, GraftError *err) {
        STRV_FOREACH(n, o->only) {
                bool found = false;
                for (size_t i = 0; !found && i < p->n_images; i++)
                        found = streq(p->images[i].name, *n);
                if (found)
                        continue;
                if (strv_contains(masked, *n))
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE,
                                               "extension \"%s\" is masked (see merge --dry-run)", *n);
                _cleanup_free_ char *dirs = strv_join((char **) image_class_search_dirs(o->class), ", ");
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, "no extension \"%s\" in %s%s%s", *n,
                                       strempty(dirs), p->root ? " under " : "", strempty(p->root));
        }
        _cleanup_strv_free_ char **disabled = NULL;
        int r = o->only ? 0 : sysext_disabled_read(o->class, p->root, &disabled, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_images;) {
                const char *name = p->images[i].name;
                if (o->only && !strv_contains(o->only, name))
                        r = pass_over(p, i, "not named on the command line");
                else if (!o->only && strv_contains(disabled, name))
                        r = pass_over(p, i, "disabled (sextctl enable turns it on again)");
                else {
                        i++;
                        continue;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}
