/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "path-util.h"
#include "tests.h"
#include "uuid.h"
#include "hex.h"

TEST(filename) {
        ASSERT_TRUE(filename_is_valid("foo.raw"));
        ASSERT_FALSE(filename_is_valid(""));
        ASSERT_FALSE(filename_is_valid("."));
        ASSERT_FALSE(filename_is_valid(".."));
        ASSERT_FALSE(filename_is_valid("a/b"));
        ASSERT_FALSE(filename_is_valid("a\nb"));
        ASSERT_TRUE(path_is_safe_relative("usr/lib/foo"));
        ASSERT_FALSE(path_is_safe_relative("/usr"));
        ASSERT_FALSE(path_is_safe_relative("usr/../etc"));
}

TEST(join_and_names) {
        _cleanup_free_ char *a = path_join("/a/", "/b", "c"), *b = path_basename("/x/y.raw/"),
                            *c = strdup_strip_suffix("foo.raw", ".raw"), *d = path_prefix_root("/", "/etc"),
                            *e = path_prefix_root("/tmp/r", "/etc");
        ASSERT_STREQ(a, "/a/b/c");
        ASSERT_STREQ(b, "y.raw");
        ASSERT_STREQ(c, "foo");
        ASSERT_STREQ(d, "/etc");
        ASSERT_STREQ(e, "/tmp/r/etc");
}

TEST(open_in_root_stays_inside) {
        char dir[] = "/tmp/test-path-util-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        _cleanup_close_ int root = open(dir, O_DIRECTORY | O_RDONLY);
        ASSERT_TRUE(root >= 0);
        ASSERT_OK(mkdirat(root, "etc", 0755));
        ASSERT_OK(symlinkat("/etc/hostname", root, "link"));
        ASSERT_OK(symlinkat("../../../../etc/hostname", root, "etc/rel"));
        int fd = openat(root, "etc/hostname", O_CREAT | O_WRONLY, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "inside", 6), 6);
        close(fd);

        char buf[16] = {};
        _cleanup_close_ int a = open_in_root(root, "/link", O_RDONLY, 0);
        ASSERT_OK(a);
        ASSERT_EQ(read(a, buf, sizeof buf - 1), 6);
        ASSERT_STREQ(buf, "inside");
        _cleanup_close_ int b = open_in_root(root, "etc/rel", O_RDONLY, 0);
        ASSERT_OK(b);

        /* A rename anywhere makes the kernel's ".." resolution ask for a retry (EAGAIN, a few
         * percent of lookups while a renamer runs): open_in_root() must retry, not fail. */
        _cleanup_free_ char *spin = path_join(dir, "spin"), *spun = path_join(dir, "spun");
        fd = open(spin, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        pid_t renamer = fork();
        ASSERT_TRUE(renamer >= 0);
        if (renamer == 0)
                for (;;) {
                        (void) rename(spin, spun);
                        (void) rename(spun, spin);
                }
        for (unsigned i = 0; i < 100000; i++) {
                int c = open_in_root(root, "etc/rel", O_RDONLY, 0);
                if (c < 0) {
                        kill(renamer, SIGKILL);
                        ASSERT_FAIL_("open_in_root of a path with \"..\" failed during renames: %s", strerror(-c));
                }
                close(c);
        }
        kill(renamer, SIGKILL);
        ASSERT_TRUE(waitpid(renamer, NULL, 0) == renamer);
        unlink(spin);
        unlink(spun);

        unlinkat(root, "etc/rel", 0);
        unlinkat(root, "etc/hostname", 0);
        unlinkat(root, "etc", AT_REMOVEDIR);
        unlinkat(root, "link", 0);
        rmdir(dir);
}

TEST(uuid_and_hex) {
        Uuid u;
        ASSERT_OK(uuid_from_string("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", &u));
        ASSERT_STREQ(UUID_TO_STRING(&u), "4f68bce3-e8cd-4db1-96e7-fbcaf984b709");
        uint8_t g[16];
        uuid_to_gpt_bytes(&u, g);
        ASSERT_EQ(g[0], 0xe3);
        ASSERT_EQ(g[4], 0xcd);
        ASSERT_EQ(g[8], 0x96);
        Uuid back;
        uuid_from_gpt_bytes(g, &back);
        ASSERT_TRUE(uuid_equal(&u, &back));
        ASSERT_ERRNO(uuid_from_string("4f68bce3-e8cd-4db1-96e7-fbcaf984b70", &u), -EINVAL);

        _cleanup_free_ uint8_t *b = NULL;
        size_t n;
        ASSERT_ERRNO(unhexmem("abc", 3, &b, &n), -EINVAL);
        ASSERT_OK(unhexmem("00fF", 4, &b, &n));
        ASSERT_EQ(n, 2);
        _cleanup_free_ char *h = hexmem(b, n);
        ASSERT_STREQ(h, "00ff");
}

TESTS_MAIN
