/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* file_open()/file_read(): whatever a path names, opening it never blocks and never opens what
 * is not a file of the expected type, and the refusal names the path and what it is. An alarm
 * turns a regression (an open that blocks on a FIFO) into a failure instead of a hang. */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "file-trust.h"
#include "fileio.h"
#include "path-util.h"
#include "tests.h"

static char dir[] = "/tmp/test-fileio-XXXXXX";

static const char *at(const char *name) {
        static char buf[4][256];
        static unsigned i;
        char *b = buf[i++ % 4];
        snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
        return b;
}

static void on_alarm(int sig) {
        static const char msg[] = "file_open() blocked\n";
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(1);
}

static void remove_dir(void) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

static void setup(void) {
        /* Once: mkdtemp() may well end the name in an 'X' of its own. */
        static bool done = false;
        if (done)
                return;
        done = true;
        ASSERT_TRUE(mkdtemp(dir));
        atexit(remove_dir);
        signal(SIGALRM, on_alarm);

        int fd = open(at("file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "content\n", 8), 8);
        close(fd);
        ASSERT_OK(mkfifo(at("fifo"), 0644));
        ASSERT_OK(mkdir(at("dir"), 0755));
        ASSERT_OK(symlink("/dev/zero", at("zero")));
        ASSERT_OK(symlink("file", at("link")));

        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_TRUE(s >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at("socket"));
        ASSERT_OK(bind(s, (struct sockaddr *) &sa, sizeof(sa)));
        close(s);
}

/* file_open(f) fails with want_r, a record named want_name whose message is want_msg. */
static void expect_refused(const FileOpen *f, int want_r, const char *want_name, const char *want_msg) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        alarm(5);
        int fd = file_open(f, &e);
        alarm(0);
        fprintf(stderr, "  %s: %s\n", f->path, e.message ?: "(no record)");
        if (fd >= 0)
                close(fd);
        ASSERT_ERRNO(fd, want_r);
        ASSERT_STREQ(e.name, want_name);
        ASSERT_STREQ(e.message, want_msg);

        /* The plain reader (which follows symlinks) refuses it the same way, without a record. */
        if (f->nofollow)
                return;
        char *text = NULL;
        alarm(5);
        ASSERT_ERRNO(read_full_file_at(f->dir_fd, f->path, 4096, &text, NULL), want_r);
        alarm(0);
        ASSERT_TRUE(text == NULL);
}

TEST(refuses_what_is_not_a_file) {
        setup();
        char want[512];

        snprintf(want, sizeof(want), "%s is a FIFO, not a regular file", at("fifo"));
        expect_refused(&(FileOpen) { .dir_fd = AT_FDCWD, .path = at("fifo") }, -EBADFD, GRAFT_ERROR_IO, want);

        snprintf(want, sizeof(want), "%s is a socket, not a regular file", at("socket"));
        expect_refused(&(FileOpen) { .dir_fd = AT_FDCWD, .path = at("socket"), .error_name = GRAFT_ERROR_BAD_IMAGE },
                       -EBADFD, GRAFT_ERROR_BAD_IMAGE, want);

        expect_refused(&(FileOpen) { .dir_fd = AT_FDCWD, .path = "/dev/null", .accept = FILE_ACCEPT_DIRECTORY },
                       -EBADFD, GRAFT_ERROR_IO, "/dev/null is a character device, not a regular file or directory");

        /* A symlink is followed (unless nofollow), and what it leads to is checked, never opened. */
        snprintf(want, sizeof(want), "%s is a character device, not a regular file", at("zero"));
        expect_refused(&(FileOpen) { .dir_fd = AT_FDCWD, .path = at("zero") }, -EBADFD, GRAFT_ERROR_IO, want);

        snprintf(want, sizeof(want), "%s is a directory, not a regular file or block device", at("dir"));
        expect_refused(&(FileOpen) { .dir_fd = AT_FDCWD, .path = at("dir"), .accept = FILE_ACCEPT_BLOCK }, -EISDIR,
                       GRAFT_ERROR_IO, want);

        _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        expect_refused(&(FileOpen) { .dir_fd = dfd, .path = "link", .nofollow = true, .display = "the link" }, -ELOOP,
                       GRAFT_ERROR_IO, "the link is a symbolic link, not a regular file");
}

TEST(opens_files) {
        setup();
        _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;

        /* A regular file: readable, blocking again, the same inode. */
        _cleanup_close_ int fd = file_open(&(FileOpen) { .dir_fd = dfd, .path = "link" }, &e);
        ASSERT_OK(fd);
        ASSERT_FALSE(graft_error_is_set(&e));
        int fl = fcntl(fd, F_GETFL);
        ASSERT_TRUE(fl >= 0 && !(fl & O_NONBLOCK) && (fl & O_ACCMODE) == O_RDONLY);
        ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        struct stat a, b;
        ASSERT_OK(fstat(fd, &a));
        ASSERT_OK(stat(at("file"), &b));
        ASSERT_TRUE(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        char buf[16] = {};
        ASSERT_EQ(read(fd, buf, sizeof(buf) - 1), 8);
        ASSERT_STREQ(buf, "content\n");

        /* Write access when asked for. */
        _cleanup_close_ int wfd = file_open(&(FileOpen) { .dir_fd = dfd, .path = "file", .flags = O_RDWR }, &e);
        ASSERT_OK(wfd);
        ASSERT_EQ(fcntl(wfd, F_GETFL) & O_ACCMODE, O_RDWR);

        /* A directory where one is accepted. */
        _cleanup_close_ int ddfd = file_open(&(FileOpen) { .dir_fd = dfd, .path = "dir", .accept = FILE_ACCEPT_DIRECTORY },
                                             &e);
        ASSERT_OK(ddfd);
        ASSERT_OK(fstat(ddfd, &a));
        ASSERT_TRUE(S_ISDIR(a.st_mode));

        /* Missing: an errno for the caller to word, no record. */
        ASSERT_ERRNO(file_open(&(FileOpen) { .dir_fd = dfd, .path = "missing" }, &e), -ENOENT);
        ASSERT_FALSE(graft_error_is_set(&e));

        _cleanup_free_ char *text = NULL;
        size_t n;
        ASSERT_OK(file_read(&(FileOpen) { .dir_fd = dfd, .path = "file" }, 64, &text, &n, &e));
        ASSERT_EQ(n, 8);
        ASSERT_STREQ(text, "content\n");
}

TEST(in_root) {
        setup();
        _cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(dfd >= 0);
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        /* Inside the root, /dev/zero is the root's, which does not exist. */
        ASSERT_ERRNO(file_open(&(FileOpen) { .dir_fd = dfd, .path = "/zero", .in_root = true }, &e), -ENOENT);
        ASSERT_FALSE(graft_error_is_set(&e));
        alarm(5);
        ASSERT_ERRNO(file_open(&(FileOpen) { .dir_fd = dfd, .path = "/fifo", .in_root = true, .display = "/fifo" }, &e),
                     -EBADFD);
        alarm(0);
        ASSERT_STREQ(e.message, "/fifo is a FIFO, not a regular file");
        graft_error_done(&e);
        _cleanup_close_ int fd = file_open(&(FileOpen) { .dir_fd = dfd, .path = "/dir/../link", .in_root = true }, &e);
        ASSERT_OK(fd);
}

/* The trust check of a path opens the file at its end only once it is known to be no FIFO or
 * device. */
TEST(trust_check_refuses_devices) {
        setup();
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        alarm(5);
        ASSERT_ERRNO(path_check_trusted("/dev/null", "profile", &e), -EBADFD);
        alarm(0);
        ASSERT_STREQ(e.message, "profile /dev/null is a character device, not a regular file, block device or directory");
        graft_error_done(&e);
        if (geteuid() != 0)
                return; /* the scratch directory is not root's: refused for that first */
        alarm(5);
        ASSERT_ERRNO(path_check_trusted(at("fifo"), "profile", &e), -EBADFD);
        alarm(0);
        ASSERT_MESSAGE_CONTAINS(&e, "fifo is a FIFO, not a regular file, block device or directory");
}

/* A write lease held by another process makes a plain open wait (up to lease-break-time, 45 s by
 * default) until the holder lets go; ours says -EAGAIN at once. */
TEST(lease_does_not_block) {
        setup();
        int ready[2];
        ASSERT_OK(pipe(ready));
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                int fd = open(at("file"), O_RDONLY | O_CLOEXEC);
                char c = fd >= 0 && fcntl(fd, F_SETLEASE, F_RDLCK) == 0 ? '1' : '0';
                if (c == '1') {
                        /* A read lease does not stop readers; a write lease needs a writable fd. */
                        close(fd);
                        fd = open(at("file"), O_RDWR | O_CLOEXEC);
                        c = fd >= 0 && fcntl(fd, F_SETLEASE, F_WRLCK) == 0 ? '1' : '0';
                }
                (void) !write(ready[1], &c, 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        char c = 0;
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        if (c == '1') {
                alarm(5);
                ASSERT_ERRNO(file_open(&(FileOpen) { .dir_fd = AT_FDCWD, .path = at("file") }, NULL), -EAGAIN);
                alarm(0);
                fprintf(stderr, "  a write lease held by another process: -EAGAIN at once\n");
        } else
                fprintf(stderr, "  (no lease on this file system; skipped)\n");
        kill(pid, SIGKILL);
        ASSERT_EQ(waitpid(pid, NULL, 0), pid);
}

TEST(atomic_write_survives_leftovers) {
        setup();
        /* What a process killed between open and rename left, under the name an unseeded random()
         * gives every process first: it must not refuse later writes. */
        _cleanup_free_ char *left = NULL, *text = NULL;
        ASSERT_TRUE(asprintf(&left, "%s.#graft%08x", at("atomic"), 0x6b8b4567u) > 0);
        int fd = open(left, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        for (int i = 0; i < 3; i++)
                ASSERT_OK(write_file_atomic(at("atomic"), "new\n", 4, 0644));
        size_t size = 0;
        ASSERT_OK(read_full_file_at(AT_FDCWD, at("atomic"), 64, &text, &size));
        ASSERT_STREQ(text, "new\n");
}

TESTS_MAIN
