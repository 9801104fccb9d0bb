/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the image file operations of the portable side: remove and mark read-only (see
 * portable.h). They change images, never attachments, under the portable lock like every change;
 * a removal goes through a plan and its journal, so that a crash leaves an image whole or gone. */
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "context.h"
#include "discover.h"
#include "fault.h"
#include "fileio.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

/* The removal as a plan: the entry (a file, a symlink, a directory tree: renamed aside, deleted
 * once everything is aside) and a file's sidecars, so that a crash leaves the image whole or gone. */
static int remove_plan(Context *c, const char *entry, const struct stat *st, PortablePlan *ret, GraftError *err) {
        _cleanup_(portable_plan_done) PortablePlan p = {};
        int r = plan_add_unlink(&p, entry, false);
        if (r < 0)
                return r;
        if (S_ISDIR(st->st_mode)) {
                _cleanup_free_ char *base = path_basename(entry);
                _cleanup_free_ char *parent = base ? strndup(entry, strlen(entry) - strlen(base)) : NULL;
                _cleanup_close_ int fd = parent ? open_in_root(c->root_fd, parent, O_RDONLY | O_DIRECTORY, 0) : -ENOMEM;
                r = fd < 0 ? fd : portable_remove_tree_at(fd, base, true);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot remove %s%s: %s", strempty(c->root),
                                               entry, r == -EXDEV ? "another file system is mounted below it"
                                               : r == -EPERM ? "it holds immutable or append-only files"
                                                             : strerror(-r));
        }
        _cleanup_free_ char *stem = S_ISREG(st->st_mode) ? strdup_strip_suffix(entry, ".raw") : NULL;
        static const char * const sidecars[] = { ".roothash", ".roothash.p7s", ".verity" };
        for (size_t i = 0; stem && i < ELEMENTSOF(sidecars); i++) {
                _cleanup_free_ char *s = NULL;
                struct stat sst;
                if (asprintf(&s, "%s%s", stem, sidecars[i]) < 0)
                        return -ENOMEM;
                if (portable_lstat_in_root(c->root_fd, s, &sst) >= 0 && (r = plan_add_unlink(&p, s, false)) < 0)
                        return r;
        }
        *ret = p;
        p = (PortablePlan) {};
        return 0;
}

int portable_remove(const PortableOptions *o, const char *image, GraftError *err) {
        if (strchr(image, '/'))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "remove takes the name of an image in the search directories, not a path (%s)",
                                       image);
        _cleanup_(context_done) Context c = {};
        _cleanup_(discovered_image_done) DiscoveredImage d = {};
        _cleanup_(portable_plan_done) PortablePlan plan = {};
        int r = context_init(&c, o, "remove", image, err);
        if (r >= 0)
                r = image_find(c.root, IMAGE_CLASS_PORTABLE, _ARCHITECTURE_INVALID, image, &d, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *inside = path_strip_root(c.root, d.path);
        for (size_t i = 0; i < c.att.n_units; i++)
                if (attached_unit_matches(&c.att.units[i], image, inside))
                        return graft_error_set(err, -EBUSY, GRAFT_ERROR_CONFLICT,
                                               "image %s is attached (unit %s); detach it first", image,
                                               c.att.units[i].name);
        _cleanup_free_ char *entry = path_prefix_root(c.root, d.found_as);
        if (!entry)
                return -ENOMEM;
        struct stat st;
        if (lstat(entry, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot access %s: %m", entry);
        if (S_ISBLK(st.st_mode) || endswith(entry, ".v"))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s is a %s; remove takes image files and directories", entry,
                                       S_ISBLK(st.st_mode) ? "block device" : "directory of versions");
        if (S_ISREG(st.st_mode) && !(st.st_mode & 0222))
                return graft_error_set(err, -EROFS, GRAFT_ERROR_CONFLICT,
                                       "image %s is read-only; mark it writable first to remove it", image);
        r = remove_plan(&c, d.found_as, &st, &plan, err);
        return r < 0 ? r : portable_plan_execute(c.root, &plan, c.what, NULL, err);
}

static int set_immutable(int fd, bool on) {
        unsigned flags;
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return negative_errno();
        flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
        return ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? negative_errno() : 0;
}

int portable_set_read_only(const PortableOptions *o, const char *image, bool read_only, GraftError *err) {
        _cleanup_(context_done) Context c = {};
        _cleanup_(discovered_image_done) DiscoveredImage d = {};
        int r = context_init(&c, o, "read-only", image, err);
        if (r >= 0)
                r = image_find(c.root, IMAGE_CLASS_PORTABLE, _ARCHITECTURE_INVALID, image, &d, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = file_open(&(FileOpen) { .dir_fd = AT_FDCWD, .path = d.path,
                                                         .accept = FILE_ACCEPT_DIRECTORY | FILE_ACCEPT_BLOCK,
                                                         .error_name = GRAFT_ERROR_BAD_IMAGE }, err);
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s: %s", d.path, strerror(-fd));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", d.path);
        if (S_ISREG(st.st_mode)) {
                mode_t m = read_only ? st.st_mode & 07555 : st.st_mode | 0200;
                if (fchmod(fd, m & 07777) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot change the mode of %s: %m",
                                               d.path);
                fault_point("mode changed"); /* one change, atomic by itself: no journal */
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return graft_error_set(err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                                       "%s is a block device; mark it read-only with blockdev --setro", d.path);
        r = set_immutable(fd, read_only);
        if (r == -ENOTTY || r == -EOPNOTSUPP)
                return graft_error_set(err, r, GRAFT_ERROR_UNSUPPORTED,
                                       "the file system of %s has no immutable attribute for directories", d.path);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot change the attributes of %s: %s", d.path,
                                       strerror(-r));
        fault_point("attribute changed");
        return 0;
}
