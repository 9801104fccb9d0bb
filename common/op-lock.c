/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the operation lock (see op-lock.h): the lock directory inside the root, flock() with a
 * deadline, and the holder's line. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "fault.h"
#include "fileio.h"
#include "op-lock.h"
#include "path-util.h"
#include "time-util.h"

#define LOCK_DIR "run/graft/locks"
#define POLL_USEC 10000u


static uint64_t timeout_from(const OpLockRequest *q) {
        if (q->timeout_usec > 0)
                return q->timeout_usec;
        const char *s = getenv("GRAFT_LOCK_TIMEOUT_SEC");
        char *end = NULL;
        unsigned long v = s ? strtoul(s, &end, 10) : 0;
        return s && end && *end == 0 ? (uint64_t) v * 1000000u : OP_LOCK_TIMEOUT_USEC;
}

/* One level of the lock directory: made if missing, and refused if anybody but us could write it
 * (they could then replace the lock file, or hold one of their own). */
static int open_level(int parent_fd, const char *name, bool create, const char *shown, GraftError *err) {
        if (create && mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create the lock directory %s: %m",
                                       shown);
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT && !create ? -ENOENT
                                                  : graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                                                    "cannot open the lock directory %s: %m", shown);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                safe_close(fd);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot stat %s: %s", shown, strerror(-r));
        }
        if (st.st_uid != geteuid() || (st.st_mode & 0022)) {
                safe_close(fd);
                return graft_error_set(err, -EPERM, GRAFT_ERROR_IO,
                                       "refusing the lock directory %s: owned by uid %u with mode %04o; it must be ours "
                                       "and writable by nobody else", shown, (unsigned) st.st_uid,
                                       (unsigned) (st.st_mode & 07777));
        }
        return fd;
}

/* ROOT/run/graft/locks, levels below an existing "run" made as needed. "run" itself is the
 * root's and is only opened (it may be a tmpfs mount); it is resolved inside the root. */
static int open_lock_dir(const char *root, bool create, GraftError *err) {
        _cleanup_close_ int root_fd = open(isempty(root) ? "/" : root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m",
                                       isempty(root) ? "/" : root);
        _cleanup_close_ int fd = open_in_root(root_fd, "run", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0 && fd == -ENOENT && create) {
                if (mkdirat(root_fd, "run", 0755) < 0 && errno != EEXIST)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s/run: %m",
                                               strempty(root));
                fd = open_in_root(root_fd, "run", O_RDONLY | O_DIRECTORY, 0);
        }
        if (fd < 0)
                return fd == -ENOENT && !create ? -ENOENT
                                                : graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s/run: %s",
                                                                  strempty(root), strerror(-fd));
        _cleanup_free_ char *shown = path_prefix_root(root, "/run/graft");
        if (!shown)
                return -ENOMEM;
        _cleanup_close_ int graft = open_level(fd, "graft", create, shown, err);
        if (graft < 0)
                return graft;
        _cleanup_free_ char *shown_locks = path_join(shown, "locks");
        if (!shown_locks)
                return -ENOMEM;
        return open_level(graft, "locks", create, shown_locks, err);
}

/* KEY.intent, or the temporary file it is written to. */
static char *intent_name(const char *key, bool tmp) {
        char *s;
        return asprintf(&s, "%s.intent%s", key, tmp ? ".tmp" : "") < 0 ? NULL : s;
}

static int read_holder(int fd, char **ret) {
        char buf[512];
        ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
        if (k <= 0)
                return (*ret = strdup("another process")) ? 0 : -ENOMEM;
        buf[k] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return (*ret = strdup(buf)) ? 0 : -ENOMEM;
}

static int write_holder(int fd, const OpLockRequest *q) {
        char comm[64] = "?", since[32] = "";
        _cleanup_free_ char *c = NULL;
        if (read_full_file_at(AT_FDCWD, "/proc/self/comm", 64, &c, NULL) >= 0) {
                c[strcspn(c, "\n")] = 0;
                snprintf(comm, sizeof comm, "%s", c);
        }
        time_t t = time(NULL);
        struct tm tm;
        if (localtime_r(&t, &tm))
                strftime(since, sizeof since, "%H:%M:%S", &tm);
        _cleanup_free_ char *line = NULL;
        int n = asprintf(&line, "pid %d (%s): %s, since %s\n", (int) getpid(), comm, strempty(q->what), since);
        if (n < 0)
                return -ENOMEM;
        if (ftruncate(fd, 0) < 0)
                return negative_errno();
        return pwrite_full(fd, line, (size_t) n, 0);
}

int op_lock_take(const OpLockRequest *q, OpLock *ret, GraftError *err) {
        _cleanup_close_ int dir = open_lock_dir(q->root, true, err);
        if (dir < 0)
                return dir;
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s.lock", q->key) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = openat(dir, file, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open the %s lock: %m", q->key);

        uint64_t deadline = now_usec() + timeout_from(q);
        bool told = false;
        for (;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot lock %s: %m", file);
                _cleanup_free_ char *holder = NULL;
                if (read_holder(fd, &holder) < 0)
                        return -ENOMEM;
                if (q->no_wait || now_usec() >= deadline) {
                        return graft_error_set(err, -EBUSY, GRAFT_ERROR_CONFLICT,
                                               "another %s operation on %s is still running (%s); gave up waiting "
                                               "after %" PRIu64 " s", q->key, isempty(q->root) ? "/" : q->root, holder,
                                               q->no_wait ? 0 : timeout_from(q) / 1000000u);
                }
                if (!told && q->on_wait)
                        q->on_wait(holder, q->userdata);
                told = true;
                (void) usleep(POLL_USEC);
        }
        int r = write_holder(fd, q);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write to the %s lock: %s", q->key, strerror(-r));
        char *key = strdup(q->key);
        if (!key)
                return -ENOMEM;
        /* Half a record of a holder that died while writing it: the whole one, if any, is intact. */
        _cleanup_free_ char *tmp = intent_name(key, true);
        if (tmp)
                (void) unlinkat(dir, tmp, 0);
        *ret = (OpLock) { .fd = TAKE_FD(fd), .dir_fd = TAKE_FD(dir), .key = key };
        return 0;
}

void op_lock_release(OpLock *l) {
        if (!l || l->fd < 0)
                return;
        /* Emptied first: a waiter that reads the file after we let go must not name us. */
        (void) ftruncate(l->fd, 0);
        l->fd = safe_close(l->fd);
        l->dir_fd = safe_close(l->dir_fd);
        l->key = mfree(l->key);
}

int op_lock_holder(const char *root, const char *key, char **ret) {
        _cleanup_close_ int dir = open_lock_dir(root, false, NULL);
        if (dir < 0)
                return dir == -ENOENT ? 0 : dir;
        _cleanup_free_ char *file = NULL;
        if (asprintf(&file, "%s.lock", key) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        /* A lock we can take is a lock nobody holds (a shared probe does not disturb a holder). */
        if (flock(fd, LOCK_SH | LOCK_NB) >= 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return negative_errno();
        int r = read_holder(fd, ret);
        return r < 0 ? r : 1;
}

int op_lock_intent_write(const OpLock *l, const char *text, GraftError *err) {
        _cleanup_free_ char *name = intent_name(l->key, false), *tmp = intent_name(l->key, true);
        if (!name || !tmp)
                return -ENOMEM;
        /* A fixed temporary name: only the holder writes here, and a stale one is ours to replace. */
        _cleanup_close_ int fd = openat(l->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create the %s intent record: %m",
                                       l->key);
        fault_point("op-lock-intent-created");
        /* Renamed whole into place, never synced: the record describes mounts of this boot, which a
         * power cut takes along (and a record of an earlier boot is dropped), while a process that
         * dies leaves the page cache, and so the record, intact. An fsync would only cost every
         * change milliseconds on a disk-backed run/. */
        int r = pwrite_full(fd, text, strlen(text), 0);
        if (r >= 0)
                fault_point("op-lock-intent-written");
        if (r >= 0 && renameat(l->dir_fd, tmp, l->dir_fd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(l->dir_fd, tmp, 0);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write the %s intent record: %s", l->key,
                                       strerror(-r));
        }
        return 0;
}

int op_lock_intent_read(const OpLock *l, char **ret, GraftError *err) {
        _cleanup_free_ char *name = intent_name(l->key, false);
        if (!name)
                return -ENOMEM;
        _cleanup_close_ int fd = openat(l->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                *ret = NULL;
                return 0;
        }
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open the %s intent record: %m",
                                       l->key);
        if (!S_ISREG(st.st_mode))
                return graft_error_set(err, -EBADF, GRAFT_ERROR_IO, "the %s intent record is not a regular file",
                                       l->key);
        int r = read_full_fd(fd, 64 * 1024, ret, NULL);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read the %s intent record: %s", l->key,
                                       strerror(-r));
        return 1;
}

int op_lock_intent_remove(const OpLock *l, GraftError *err) {
        _cleanup_free_ char *name = intent_name(l->key, false);
        if (!name)
                return -ENOMEM;
        if (unlinkat(l->dir_fd, name, 0) < 0 && errno != ENOENT)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot remove the %s intent record: %m",
                                       l->key);
        return 0;
}

bool op_lock_intent_exists(const char *root, const char *key) {
        _cleanup_close_ int dir = open_lock_dir(root, false, NULL);
        if (dir < 0)
                return false;
        /* Half a record counts: taking the lock removes it. */
        for (int tmp = 0; tmp <= 1; tmp++) {
                _cleanup_free_ char *name = intent_name(key, tmp);
                struct stat st;
                if (name && fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                        return true;
        }
        return false;
}
