/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns mutable merges (--mutable=, as systemd-sysext v256 has them): for each hierarchy H the
 * write routing directory is ROOT/var/lib/extensions.mutable/H (for confext too: .../etc),
 * resolved inside the root, so a symlink there routes writes where it points ("usr -> /usr"
 * keeps the host's /usr writable through the merge). Its overlay work directory lies next to it,
 * on the same file system, as ".systemd-NAME-workdir" (NAME: the last component of H), as
 * systemd names it. Ephemeral modes take an empty tmpfs of their own, made in the builder's
 * private namespace: the overlay keeps it alive, and it goes when the merge goes, crash or not,
 * so nothing of it is ever left on disk. */
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "path-util.h"
#include "sysext-internal.h"

static const char * const mutable_names[_SYSEXT_MUTABLE_MAX] = {
        [SYSEXT_MUTABLE_UNSET] = "unset",
        [SYSEXT_MUTABLE_NO] = "no",
        [SYSEXT_MUTABLE_YES] = "yes",
        [SYSEXT_MUTABLE_AUTO] = "auto",
        [SYSEXT_MUTABLE_IMPORT] = "import",
        [SYSEXT_MUTABLE_EPHEMERAL] = "ephemeral",
        [SYSEXT_MUTABLE_EPHEMERAL_IMPORT] = "ephemeral-import",
};

const char *sysext_mutable_to_string(SysextMutable m) {
        return m >= 0 && m < _SYSEXT_MUTABLE_MAX ? mutable_names[m] : NULL;
}

int sysext_mutable_from_string(const char *s, SysextMutable *ret) {
        static const char * const yes[] = { "yes", "y", "true", "t", "on", "1" };
        static const char * const no[] = { "no", "n", "false", "f", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return *ret = SYSEXT_MUTABLE_YES, 0;
                if (strcasecmp(s, no[i]) == 0)
                        return *ret = SYSEXT_MUTABLE_NO, 0;
        }
        for (SysextMutable m = SYSEXT_MUTABLE_AUTO; m < _SYSEXT_MUTABLE_MAX; m++)
                if (streq(s, mutable_names[m]))
                        return *ret = m, 0;
        return -EINVAL;
}

void sysext_mutable_layout_done(SysextMutableLayout *l) {
        if (!l)
                return;
        free(l->import);
        free(l->upper);
        free(l->work);
        *l = (SysextMutableLayout) {};
}

/* The write routing directory of h, resolved inside root; NULL (0) when it does not exist, or
 * created first (create). In a dry run nothing is created: *ret NULL and 1 then. */
static int routing_dir(const SysextMutableRequest *q, bool create, char **ret, GraftError *err) {
        _cleanup_free_ char *path = path_join("/var/lib/extensions.mutable", q->hierarchy);
        if (!path)
                return -ENOMEM;
        _cleanup_close_ int root_fd = open(q->root ?: "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m",
                                       q->root ?: "/");
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0) {
                *ret = sysext_fd_path(fd);
                return *ret ? 0 : -ENOMEM;
        }
        if (fd != -ENOENT)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot use %s%s as the write routing directory: %s",
                                       strempty(q->root), path, strerror(-fd));
        *ret = NULL;
        if (!create)
                return 0;
        if (q->dry_run)
                return 1;
        int r = sysext_hierarchy_create(q->root, path, ret, err);
        if (r >= 0)
                fault_point("sysext-mutable-created");
        return r;
}

/* The work directory next to upper, on its file system. */
static int work_dir(const SysextMutableRequest *q, const char *upper, char **ret, GraftError *err) {
        _cleanup_free_ char *base = path_basename(q->hierarchy), *name = NULL;
        if (!base || asprintf(&name, ".systemd-%s-workdir", base) < 0)
                return -ENOMEM;
        _cleanup_free_ char *dir = strndup(upper, strlen(upper) - strlen(strrchr(upper, '/') ?: ""));
        char *w = dir ? path_join(isempty(dir) ? "/" : dir, name) : NULL;
        if (!w)
                return -ENOMEM;
        if (mkdir(w, 0700) < 0 && errno != EEXIST) {
                int r = graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create the overlay work directory %s: %m", w);
                free(w);
                return r;
        }
        *ret = w;
        return 0;
}

/* An empty upper and work directory on a tmpfs of their own, below staging. */
static int ephemeral(const SysextMutableRequest *q, SysextMutableLayout *l, GraftError *err) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/m%zu", q->staging, q->index) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0 || mount("tmpfs", dir, "tmpfs", MS_NODEV | MS_NOSUID, "mode=0755") < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot make the ephemeral upper layer %s: %m", dir);
        l->upper = path_join(dir, "upper");
        l->work = path_join(dir, "work");
        if (!l->upper || !l->work)
                return -ENOMEM;
        /* The upper directory's root becomes the merged tree's: the host's owner and mode. */
        if (mkdir(l->upper, q->mode & 07777) < 0 || chown(l->upper, q->uid, q->gid) < 0 || mkdir(l->work, 0700) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot make the ephemeral upper layer %s: %m", dir);
        return 0;
}

int sysext_mutable_layout(const SysextMutableRequest *q, SysextMutableLayout *ret, GraftError *err) {
        _cleanup_(sysext_mutable_layout_done) SysextMutableLayout l = {};
        SysextMutable m = q->mode_wanted;
        int r = 0;
        _cleanup_free_ char *routing = NULL;
        if (m == SYSEXT_MUTABLE_YES || m == SYSEXT_MUTABLE_AUTO || m == SYSEXT_MUTABLE_IMPORT ||
            m == SYSEXT_MUTABLE_EPHEMERAL_IMPORT) {
                r = routing_dir(q, m == SYSEXT_MUTABLE_YES, &routing, err);
                if (r < 0)
                        return r;
        }
        if (m == SYSEXT_MUTABLE_IMPORT || m == SYSEXT_MUTABLE_EPHEMERAL_IMPORT)
                l.import = TAKE_PTR(routing);
        else if (routing) {
                r = work_dir(q, routing, &l.work, err);
                if (r < 0)
                        return r;
                l.upper = TAKE_PTR(routing);
        } else if (r > 0)
                l.writable = true; /* dry run: would be created */
        if (m == SYSEXT_MUTABLE_EPHEMERAL || m == SYSEXT_MUTABLE_EPHEMERAL_IMPORT) {
                r = ephemeral(q, &l, err);
                if (r < 0)
                        return r;
        }
        l.writable = l.writable || l.upper;
        *ret = l;
        l = (SysextMutableLayout) {};
        return 0;
}
