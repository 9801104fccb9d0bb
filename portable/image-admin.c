/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the image file operations of the portable side: remove and mark read-only (see
 * portable.h). They change images, never attachments. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "context.h"
#include "discover.h"
#include "fileio.h"
#include "path-util.h"
#include "portable-util.h"
#include "strv.h"

/* Removes everything below dir_fd, not following symlinks and not crossing into other mounts. */
static int rm_tree_at(int dir_fd, dev_t dev) {
        int fd = dup(dir_fd);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = negative_errno();
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (st.st_dev != dev) {
                                r = -EXDEV;
                                break;
                        }
                        _cleanup_close_ int sub = openat(dir_fd, de->d_name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
                        if (sub < 0 || (r = rm_tree_at(sub, dev)) < 0) {
                                r = sub < 0 ? negative_errno() : r;
                                break;
                        }
                }
                if (unlinkat(dir_fd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
                        r = negative_errno();
                        break;
                }
        }
        closedir(d);
        return r;
}

static int remove_entry(const char *path, const struct stat *st, GraftError *err) {
        int r = 0;
        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int fd = open(path, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
                r = fd < 0 ? negative_errno() : rm_tree_at(fd, st->st_dev);
                if (r >= 0 && rmdir(path) < 0)
                        r = negative_errno();
        } else if (unlink(path) < 0)
                r = negative_errno();
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot remove %s: %s", path, strerror(-r));
        if (S_ISREG(st->st_mode)) { /* the sidecars of NAME.raw are NAME.roothash, … */
                _cleanup_free_ char *base = strdup_strip_suffix(path, ".raw");
                static const char * const sidecars[] = { ".roothash", ".roothash.p7s", ".verity" };
                for (size_t i = 0; base && i < ELEMENTSOF(sidecars); i++) {
                        _cleanup_free_ char *s = NULL;
                        if (asprintf(&s, "%s%s", base, sidecars[i]) >= 0 && unlink(s) < 0 && errno != ENOENT)
                                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot remove %s: %m", s);
                }
        }
        return 0;
}

int portable_remove(const PortableOptions *o, const char *image, GraftError *err) {
        if (strchr(image, '/'))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "remove takes the name of an image in the search directories, not a path (%s)",
                                       image);
        _cleanup_(context_done) Context c = {};
        _cleanup_(discovered_image_done) DiscoveredImage d = {};
        int r = context_init(&c, o, err);
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
        return remove_entry(entry, &st, err);
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
        int r = context_init(&c, o, err);
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
        return 0;
}
