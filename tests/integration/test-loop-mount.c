/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loop devices and mounts, as root in a private mount namespace: a squashfs written by
 * squashfs_write_tree and an erofs made by mkfs.erofs, each at 1 MiB into a file with junk
 * around it, are attached with offset + size limit, mounted read-only, compared with their
 * source tree, unmounted, and must detach themselves. */
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "fileio.h"
#include "loop-mount.h"
#include "squashfs.h"
#include "test-tree.h"
#include "tests.h"

/* Copies image into a new file at offset 1 MiB, with random junk before and after it. */
static char *embed(const char *scratch, const char *image, uint64_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        read_whole(image, &data, &size);
        char *out = pathf("%s/embedded.img", scratch);
        int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        uint8_t junk[MB];
        random_bytes(junk, sizeof(junk));
        ASSERT_OK(pwrite_full(fd, junk, MB, 0));
        ASSERT_OK(pwrite_full(fd, data, size, MB));
        ASSERT_OK(pwrite_full(fd, junk, 100000, MB + size));
        close(fd);
        *ret_size = size;
        return out;
}

static char *sysfs_read(int nr, const char *attr) {
        _cleanup_free_ char *p = pathf("/sys/block/loop%i/%s", nr, attr);
        char *s = NULL;
        if (read_full_file_at(AT_FDCWD, p, 4096, &s, NULL) < 0)
                return NULL;
        s[strcspn(s, "\n")] = 0;
        return s;
}

/* Autoclear may run a moment after the last close; the number may also be reused at once by
 * someone else, so "detached" means "no longer backed by our file". */
static void wait_detached(int nr, const char *backing) {
        for (unsigned i = 0; i < 200; i++) {
                _cleanup_free_ char *b = sysfs_read(nr, "loop/backing_file");
                if (!b || !streq(b, backing))
                        return;
                struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        ASSERT_FAIL_("loop%i still backed by %s", nr, backing);
}

/* Attaches, mounts, compares, unmounts, detaches. */
static void attach_mount_compare(const char *scratch, const char *file, uint64_t size, const char *fstype,
                                 const char *src, bool xattrs) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ImageRange range = { .fd = fd, .offset = MB, .size = size, .what = fstype };
        GraftError e = {};
        LoopDevice *d = NULL;
        ASSERT_OK(loop_device_attach(&range, &d, &e));
        ASSERT_TRUE(d->fd >= 0 && d->nr >= 0);
        _cleanup_free_ char *node = pathf("/dev/loop%i", d->nr);
        ASSERT_STREQ(d->node, node);

        /* The kernel has our range, read-only, with autoclear. */
        _cleanup_free_ char *off = sysfs_read(d->nr, "loop/offset"), *lim = sysfs_read(d->nr, "loop/sizelimit"),
                            *ac = sysfs_read(d->nr, "loop/autoclear"), *ro = sysfs_read(d->nr, "ro"),
                            *backing = sysfs_read(d->nr, "loop/backing_file");
        _cleanup_free_ char *want_size = pathf("%" PRIu64, size);
        ASSERT_STREQ(off, "1048576");
        ASSERT_STREQ(lim, want_size);
        ASSERT_STREQ(ac, "1");
        ASSERT_STREQ(ro, "1");
        ASSERT_STREQ(backing, file);
        uint64_t dev_size = 0;
        ASSERT_OK(fd_get_size(d->fd, &dev_size));
        ASSERT_EQ(dev_size, size);

        _cleanup_free_ char *mnt = pathf("%s/mnt-%s", scratch, fstype);
        ASSERT_OK(mkdir(mnt, 0755));
        ASSERT_OK(mount_image_device(d->node, mnt, fstype, "nodev,nosuid", &e));
        _cleanup_free_ char *check = pathf("findmnt -n -o OPTIONS '%s' | grep -q '^ro,nosuid,nodev'", mnt);
        ASSERT_EQ(run("%s", check), 0);

        /* The kernel's view keeps everything the image holds. */
        CompareFlags f = { .owners = true, .times = true, .symlink_times = true, .xattrs = xattrs, .devices = true,
                           .sockets = true, .setid = true, .links = true, .exact = true };
        ASSERT_TRUE(compare_trees(src, mnt, &f) > 500);

        /* Closing our fd first: the mount alone keeps the device. */
        int nr = d->nr;
        d = loop_device_free(d);
        _cleanup_free_ char *still = sysfs_read(nr, "loop/backing_file");
        ASSERT_STREQ(still, file);

        ASSERT_OK(umount_image(mnt, &e));
        wait_detached(nr, file);
        ASSERT_OK(rmdir(mnt));
        close(fd);
}

TEST(squashfs_loop_mount) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/image.sqfs", scratch);
        ASSERT_OK(mkdir(src, 0755));
        make_tree(src);

        SquashfsWriteOptions o = { .compression = SQUASHFS_ZSTD, .n_threads = 2 };
        GraftError e = {};
        uint64_t size = 0;
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(squashfs_write_tree(src, fd, 0, &o, &size, &e));
        close(fd);

        _cleanup_free_ char *file = embed(scratch, img, &size);
        attach_mount_compare(scratch, file, size, "squashfs", src, xattrs_supported);
        scratch_remove(scratch);
}

TEST(erofs_loop_mount) {
        if (run("command -v mkfs.erofs >/dev/null") != 0) {
                fprintf(stderr, "skipped: mkfs.erofs missing (apt-get install erofs-utils)\n");
                return;
        }
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/image.erofs", scratch);
        ASSERT_OK(mkdir(src, 0755));
        make_tree(src);
        /* mkfs.erofs 1.5 fails (ENOENT) on the tree's 255-byte file name; the kernel side is what
         * this test is about, so that one entry goes. */
        ASSERT_EQ(run("rm -f '%s'/usr/long-n*", src), 0);
        ASSERT_EQ(run("mkfs.erofs --quiet '%s' '%s' >/dev/null 2>&1", img, src), 0);

        uint64_t size;
        _cleanup_free_ char *file = embed(scratch, img, &size);
        attach_mount_compare(scratch, file, size, "erofs", src, xattrs_supported);
        scratch_remove(scratch);
}

TEST(mount_errors) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/image.sqfs", scratch),
                            *mnt = pathf("%s/mnt", scratch);
        ASSERT_OK(mkdir(src, 0755));
        ASSERT_OK(mkdir(mnt, 0755));
        _cleanup_free_ char *f = pathf("%s/f", src);
        write_file(f, "x", 1, 0644);

        SquashfsWriteOptions o = { .compression = SQUASHFS_GZIP };
        GraftError e = {};
        uint64_t size = 0;
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(squashfs_write_tree(src, fd, 0, &o, &size, &e));

        /* A range past the end of the file is refused before any device is touched. */
        LoopDevice *d = NULL;
        ImageRange bad = { .fd = fd, .offset = 4096, .size = size, .what = "partition 2" };
        ASSERT_ERRNO(loop_device_attach(&bad, &d, &e), -EINVAL);
        _cleanup_free_ char *m0 = pathf("partition 2: range 4096+%" PRIu64 " lies outside its file (%" PRIu64 " bytes)",
                                        size, size);
        ASSERT_STREQ(e.message, m0);
        graft_error_done(&e);

        /* A squashfs is not an erofs: the message names device, type and target. */
        ImageRange range = { .fd = fd, .size = size, .what = "partition 1" };
        ASSERT_OK(loop_device_attach(&range, &d, &e));
        int k = mount_image_device(d->node, mnt, "erofs", NULL, &e);
        ASSERT_TRUE(k < 0);
        _cleanup_free_ char *m1 = pathf("mounting %s (erofs) on %s: ", d->node, mnt);
        ASSERT_MESSAGE_CONTAINS(&e, m1);
        ASSERT_MESSAGE_CONTAINS(&e, "wrong fs type");
        graft_error_done(&e);

        /* The device is read-only: a read-write mount is impossible, the mount is ro. */
        int ro = 0;
        ASSERT_OK(ioctl(d->fd, BLKROGET, &ro));
        ASSERT_EQ(ro, 1);
        ASSERT_OK(mount_image_device(d->node, mnt, "squashfs", NULL, &e));
        _cleanup_free_ char *fm = pathf("%s/f", mnt);
        ASSERT_TRUE(open(fm, O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);
        ASSERT_OK(umount_image(mnt, &e));

        /* Unmounting what is not mounted. */
        ASSERT_TRUE(umount_image(mnt, &e) < 0);
        _cleanup_free_ char *m2 = pathf("unmounting %s: ", mnt);
        ASSERT_MESSAGE_CONTAINS(&e, m2);
        ASSERT_MESSAGE_CONTAINS(&e, "not mounted");
        graft_error_done(&e);

        int nr = d->nr;
        loop_device_free(d);
        wait_detached(nr, img);
        close(fd);
        scratch_remove(scratch);
}

/* With no /dev/loopN nodes at all (a fresh tmpfs on /dev, in a child's own mount namespace),
 * attaching creates the node it is given. */
TEST(missing_node_created) {
        char *scratch = scratch_new();
        _cleanup_free_ char *src = pathf("%s/src", scratch), *img = pathf("%s/image.sqfs", scratch),
                            *mnt = pathf("%s/mnt", scratch), *f = pathf("%s/f", src);
        ASSERT_OK(mkdir(src, 0755));
        ASSERT_OK(mkdir(mnt, 0755));
        write_file(f, "from a created node\n", 20, 0644);
        SquashfsWriteOptions o = { .compression = SQUASHFS_LZ4 };
        GraftError e = {};
        uint64_t size = 0;
        int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        int k = squashfs_write_tree(src, fd, 0, &o, &size, &e);
        if (k == -EOPNOTSUPP) {
                graft_error_done(&e);
                o.compression = SQUASHFS_GZIP;
                k = squashfs_write_tree(src, fd, 0, &o, &size, &e);
        }
        ASSERT_OK(k);

        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0 ||
                    mknod("/dev/loop-control", S_IFCHR | 0600, makedev(10, 237)) < 0)
                        _exit(2);
                ImageRange range = { .fd = fd, .size = size, .what = "image" };
                LoopDevice *d = NULL;
                GraftError ce = {};
                if (loop_device_attach(&range, &d, &ce) < 0) {
                        fprintf(stderr, "attach: %s\n", strna(ce.message));
                        _exit(3);
                }
                struct stat st;
                char *data = NULL;
                if (stat(d->node, &st) < 0 || !S_ISBLK(st.st_mode) || minor(st.st_rdev) != (unsigned) d->nr)
                        _exit(4);
                if (mount_image_device(d->node, mnt, "squashfs", NULL, &ce) < 0) {
                        fprintf(stderr, "mount: %s\n", strna(ce.message));
                        _exit(5);
                }
                _cleanup_free_ char *fm = pathf("%s/f", mnt);
                if (read_full_file_at(AT_FDCWD, fm, 100, &data, NULL) < 0 || !streq(data, "from a created node\n"))
                        _exit(6);
                if (umount_image(mnt, &ce) < 0)
                        _exit(7);
                loop_device_free(d);
                _exit(0);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                ASSERT_FAIL_("child failed with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        close(fd);
        scratch_remove(scratch);
}

int main(int argc, char **argv) {
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root\n");
                return EXIT_TEST_SKIP;
        }
        if (access("/dev/loop-control", F_OK) < 0) {
                fprintf(stderr, "skipped: no /dev/loop-control\n");
                return EXIT_TEST_SKIP;
        }
        is_root = true; /* the tree gets device nodes and other owners too */
        return tests_run(argc, argv);
}
