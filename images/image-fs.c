/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns file access inside an image's data file system (see image-fs.h). erofs has no userspace
 * reader here, so it is mounted through a loop device and immediately detached (MNT_DETACH): the
 * directory fd we keep holds the file system alive, and no mount is ever visible on the host. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fileio.h"
#include "image-fs.h"
#include "loop-mount.h"
#include "path-util.h"

struct ImageFs {
        SquashfsReader *squashfs; /* squashfs data */
        int dir_fd;               /* directory images, and mounted erofs */
};

ImageFs *image_fs_free(ImageFs *fs) {
        if (!fs)
                return NULL;
        squashfs_reader_free(fs->squashfs);
        safe_close(fs->dir_fd);
        free(fs);
        return NULL;
}

static int open_mounted(const DissectedImage *image, const char *fstype, int *ret_fd, GraftError *err) {
        _cleanup_(loop_device_freep) LoopDevice *loop = NULL;
        int r = loop_device_attach(&image->data.range, &loop, err);
        if (r < 0)
                return r;

        char dir[] = "/tmp/graft-image-fs-XXXXXX";
        if (!mkdtemp(dir))
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                       "cannot create a temporary mount point: %m");

        r = mount_image_device(loop->node, dir, fstype, "nodev,nosuid", err);
        if (r < 0) {
                (void) rmdir(dir);
                return r;
        }
        int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        r = fd < 0 ? negative_errno() : 0;
        (void) umount_image(dir, NULL);
        (void) rmdir(dir);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot open the mounted %s of %s: %m",
                                       fstype, image->path);
        *ret_fd = fd;
        return 0;
}

int image_fs_open(const DissectedImage *image, ImageFs **ret, GraftError *err) {
        _cleanup_(image_fs_freep) ImageFs *fs = calloc(1, sizeof(*fs));
        if (!fs)
                return -ENOMEM;
        fs->dir_fd = -EBADF;

        int r = 0;
        if (image->kind == IMAGE_KIND_DIRECTORY) {
                fs->dir_fd = fcntl(image->fd, F_DUPFD_CLOEXEC, 3);
                if (fs->dir_fd < 0)
                        return negative_errno();
        } else if (image->data.fstype == FS_TYPE_SQUASHFS)
                r = squashfs_reader_open(&image->data.range, &fs->squashfs, err);
        else if (image->data.fstype == FS_TYPE_EROFS)
                r = open_mounted(image, "erofs", &fs->dir_fd, err);
        else
                r = graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                                    "%s: %s holds %s, not squashfs or erofs", image->path,
                                    image->data.range.what, fs_type_to_string(image->data.fstype));
        if (r < 0)
                return r;

        *ret = TAKE_PTR(fs);
        return 0;
}

/* A regular file of a directory image or mounted erofs. A FIFO, socket or device node in the
 * image's place of a file is a broken image: refused unopened (a FIFO would block the reader for
 * good). -ENOENT without an error record. */
static int open_file(ImageFs *fs, const char *path, GraftError *err) {
        int fd = file_open(&(FileOpen) { .dir_fd = fs->dir_fd, .path = path, .in_root = true,
                                         .error_name = GRAFT_ERROR_BAD_IMAGE }, err);
        if (fd < 0 && fd != -ENOENT)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s in the image: %s", path,
                                       strerror(-fd));
        return fd;
}

int image_fs_read_file(ImageFs *fs, const char *path, size_t max, char **ret, size_t *ret_size,
                       GraftError *err) {
        if (fs->squashfs)
                return squashfs_read_file(fs->squashfs, path, max, ret, ret_size, err);

        _cleanup_close_ int fd = open_file(fs, path, err);
        if (fd < 0)
                return fd;
        int r = read_full_fd(fd, max, ret, ret_size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s in the image: %s", path,
                                       strerror(-r));
        return 0;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const SquashfsEntry *) a)->name, ((const SquashfsEntry *) b)->name);
}

static int read_entry(int dir_fd, const char *name, SquashfsEntry *e) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        *e = (SquashfsEntry) { .name = strdup(name), .mode = st.st_mode, .size = (uint64_t) st.st_size };
        if (!e->name)
                return -ENOMEM;
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return negative_errno();
                e->link_target = strndup(target, (size_t) n);
                if (!e->link_target)
                        return -ENOMEM;
        }
        return 0;
}

int image_fs_list_dir(ImageFs *fs, const char *path, SquashfsEntry **ret, size_t *ret_n, GraftError *err) {
        if (fs->squashfs)
                return squashfs_list_dir(fs->squashfs, path, ret, ret_n, err);

        int fd = open_in_root(fs->dir_fd, path, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return -ENOENT;
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open directory %s in the image: %s",
                                       path, strerror(-fd));
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -ENOMEM;
        }

        SquashfsEntry *entries = NULL;
        size_t n = 0;
        int r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                SquashfsEntry *grown = reallocarray(entries, n + 1, sizeof(*entries));
                if (!grown) {
                        r = -ENOMEM;
                        break;
                }
                entries = grown;
                r = read_entry(dirfd(d), de->d_name, &entries[n]);
                if (r < 0)
                        break;
                n++;
        }
        closedir(d);
        if (r < 0) {
                squashfs_entries_free(entries, n);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot list %s in the image: %s", path,
                                       strerror(-r));
        }
        if (n > 0)
                qsort(entries, n, sizeof(*entries), cmp_entry);
        *ret = entries;
        *ret_n = n;
        return 0;
}

int image_fs_get_xattr(ImageFs *fs, const char *path, const char *key, char **ret, GraftError *err) {
        if (fs->squashfs)
                return squashfs_get_xattr(fs->squashfs, path, key, ret, err);
        _cleanup_close_ int fd = open_file(fs, path, err);
        if (fd < 0)
                return fd;
        char value[256];
        ssize_t n = fgetxattr(fd, key, value, sizeof value - 1);
        if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
                return -ENODATA;
        if (n < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot read %s of %s in the image: %m",
                                       key, path);
        value[n] = 0;
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}
