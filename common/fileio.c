/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"

int pread_full(int fd, void *buf, size_t n, uint64_t offset) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pread(fd, p, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

int pwrite_full(int fd, const void *buf, size_t n, uint64_t offset) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
                offset += (uint64_t) k;
        }
        return 0;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        size_t allocated = 4096, n = 0;
        _cleanup_free_ char *buf = malloc(allocated + 1);
        if (!buf)
                return -ENOMEM;

        for (;;) {
                if (n == allocated) {
                        if (allocated > max)
                                return -EFBIG;
                        allocated *= 2;
                        char *b = realloc(buf, allocated + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                ssize_t k = read(fd, buf + n, allocated - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

const char *file_type_name(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFREG: return "a regular file";
        case S_IFDIR: return "a directory";
        case S_IFBLK: return "a block device";
        case S_IFCHR: return "a character device";
        case S_IFIFO: return "a FIFO";
        case S_IFSOCK: return "a socket";
        case S_IFLNK: return "a symbolic link";
        }
        return "a file of unknown type";
}

static const char *accepted_types(unsigned accept) {
        switch (accept & (FILE_ACCEPT_DIRECTORY | FILE_ACCEPT_BLOCK)) {
        case FILE_ACCEPT_DIRECTORY: return "a regular file or directory";
        case FILE_ACCEPT_BLOCK: return "a regular file or block device";
        case FILE_ACCEPT_DIRECTORY | FILE_ACCEPT_BLOCK: return "a regular file, block device or directory";
        }
        return "a regular file";
}

int stat_check_type(const struct stat *st, unsigned accept, const char *display, const char *error_name,
                    GraftError *err) {
        mode_t t = st->st_mode & S_IFMT;
        if (t == S_IFREG || (t == S_IFDIR && (accept & FILE_ACCEPT_DIRECTORY)) ||
            (t == S_IFBLK && (accept & FILE_ACCEPT_BLOCK)))
                return 0;
        int r = t == S_IFDIR ? -EISDIR : t == S_IFLNK ? -ELOOP : -EBADFD;
        return graft_error_set(err, r, error_name ?: GRAFT_ERROR_IO, "%s is %s, not %s", display, file_type_name(t),
                               accepted_types(accept));
}

int fd_reopen(int fd, int flags) {
        char proc[STRLEN("/proc/self/fd/") + 12];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%i", fd);
        /* O_NOFOLLOW would refuse the magic link itself. */
        int n = open(proc, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
        return n < 0 ? negative_errno() : n;
}

int file_open(const FileOpen *f, GraftError *err) {
        int pflags = O_PATH | O_CLOEXEC | (f->nofollow ? O_NOFOLLOW : 0);
        _cleanup_close_ int path_fd = f->in_root ? open_in_root(f->dir_fd, f->path, pflags, 0)
                                                 : openat(f->dir_fd, f->path, pflags);
        if (path_fd < 0)
                return f->in_root ? path_fd : negative_errno();
        struct stat st;
        if (fstat(path_fd, &st) < 0)
                return negative_errno();
        int r = stat_check_type(&st, f->accept, f->display ?: f->path, f->error_name, err);
        if (r < 0)
                return r;

        /* O_PATH did not open the file; this does, and only now that it is known to be one of ours. */
        _cleanup_close_ int fd = fd_reopen(path_fd, f->flags | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return fd;
        if (!(f->flags & O_NONBLOCK)) {
                int fl = fcntl(fd, F_GETFL);
                if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                        return negative_errno();
        }
        return TAKE_FD(fd);
}

int file_read(const FileOpen *f, size_t max, char **ret, size_t *ret_size, GraftError *err) {
        _cleanup_close_ int fd = file_open(f, err);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, max, ret, ret_size);
}

int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size) {
        return file_read(&(FileOpen) { .dir_fd = dir_fd, .path = path }, max, ret, ret_size, NULL);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        /* A fresh name each try: random() unseeded gives every process the same one, and a process
         * killed between open and rename leaves its file behind, which would then refuse every
         * later write to path. */
        for (unsigned i = 0; fd < 0 && i < 16; i++) {
                uint32_t n = 0;
                if (getrandom(&n, sizeof(n), GRND_NONBLOCK) != (ssize_t) sizeof(n))
                        n = (uint32_t) random() ^ (uint32_t) getpid() ^ i;
                tmp = mfree(tmp);
                if (asprintf(&tmp, "%s.#graft%08x", path, n) < 0)
                        return -ENOMEM;
                fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
                if (fd < 0 && errno != EEXIST)
                        return negative_errno();
        }
        if (fd < 0)
                return -EEXIST;

        int r = pwrite_full(fd, data, size, 0);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

int fd_get_size(int fd, uint64_t *ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t) st.st_size;
                return 0;
        }
        if (S_ISBLK(st.st_mode)) {
                uint64_t sz;
                if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
                        return negative_errno();
                *ret = sz;
                return 0;
        }
        return -EBADFD;
}

unsigned cpus_available(void) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0) {
                int n = CPU_COUNT(&set);
                if (n > 0)
                        return (unsigned) n;
        }
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}
