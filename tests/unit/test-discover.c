/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image discovery in a scratch root: precedence, .v/ versions, symlink names, bad entries. */
#include <fcntl.h>
#include <sys/stat.h>

#include "discover.h"
#include "strv.h"
#include "tests.h"

static char root[] = "/tmp/test-discover-XXXXXX";

static void touch(const char *rel) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT_TRUE(fd >= 0);
        close(fd);
}

static void mkdirs(const char *rel) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", root, rel);
        ASSERT_EQ(system(cmd), 0);
}

static void link_(const char *target, const char *rel) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        ASSERT_OK(symlink(target, p));
}

static const DiscoveredImage *find(const Discovery *d, const char *name) {
        for (size_t i = 0; i < d->n_images; i++)
                if (streq(d->images[i].name, name))
                        return &d->images[i];
        return NULL;
}

static void setup(void) {
        ASSERT_TRUE(mkdtemp(root));
        mkdirs("etc/extensions");
        mkdirs("run/extensions");
        mkdirs("var/lib/extensions/dirimage/usr");
        mkdirs("var/lib/images");
        mkdirs("var/lib/extensions/baz.raw.v");
        mkdirs("var/lib/extensions/qux.v/qux_1");
        mkdirs("var/lib/extensions/qux.v/qux_2");
        mkdirs("var/lib/extensions/empty.raw.v");
        touch("var/lib/extensions/foo.raw");
        touch("run/extensions/foo.raw");                 /* wins over /var/lib */
        touch("var/lib/images/real_7.raw");
        link_("/var/lib/images/real_7.raw", "etc/extensions/alias.raw"); /* absolute: inside root */
        touch("var/lib/extensions/baz.raw.v/baz_1.raw");
        touch("var/lib/extensions/baz.raw.v/baz_2.raw");
        touch("var/lib/extensions/baz.raw.v/baz_3_x86-64.raw");
        touch("var/lib/extensions/baz.raw.v/baz_10_arm64.raw");
        touch("var/lib/extensions/baz.raw.v/other_99.raw");
        touch("var/lib/extensions/...raw");              /* hidden: not even looked at */
        touch("var/lib/extensions/bad\x1b[31mname.raw");  /* a terminal escape in a name */
        touch("var/lib/extensions/notes.txt");           /* no image by its name: ignored */
        touch("var/lib/extensions/README");
        touch("var/lib/extensions/foo.roothash");
        /* An absolute symlink inside a .v/ directory leads inside the root, at every level: the
         * .v/ directory itself is a symlink, and so is its entry. Only the root has /srv/abs. */
        mkdirs("srv/abs/abs_5/usr");
        mkdirs("srv/absv");
        link_("/srv/abs/abs_5", "srv/absv/abs_5");
        link_("/srv/absv", "var/lib/extensions/abs.v");
        touch("var/lib/extensions/.hidden.raw");
        link_("/nonexistent.raw", "var/lib/extensions/dangling.raw");
        char p[512];
        snprintf(p, sizeof p, "%s/var/lib/extensions/fifo.raw", root);
        ASSERT_OK(mkfifo(p, 0644));
}

TEST(discover) {
        setup();
        Discovery d = {};
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(image_discover(root, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, &d, &e));

        char p[512];
        const DiscoveredImage *i = find(&d, "foo");
        ASSERT_TRUE(i);
        snprintf(p, sizeof p, "%s/run/extensions/foo.raw", root);
        ASSERT_STREQ(i->path, p);

        i = find(&d, "alias"); /* the symlink's own name */
        ASSERT_TRUE(i);
        snprintf(p, sizeof p, "%s/var/lib/images/real_7.raw", root);
        ASSERT_STREQ(i->path, p);
        ASSERT_STREQ(i->found_as, "/etc/extensions/alias.raw");

        i = find(&d, "baz");
        ASSERT_TRUE(i);
        ASSERT_STREQ(i->version, "3"); /* 10 is for arm64, 3 for us beats 2 and 1 */
        ASSERT_TRUE(strstr(i->path, "baz_3_x86-64.raw"));

        i = find(&d, "qux");
        ASSERT_TRUE(i && i->type == S_IFDIR);
        ASSERT_STREQ(i->version, "2");

        i = find(&d, "dirimage");
        ASSERT_TRUE(i && i->type == S_IFDIR && !i->version);

        i = find(&d, "abs");
        ASSERT_TRUE(i && i->type == S_IFDIR);
        ASSERT_STREQ(i->version, "5");
        snprintf(p, sizeof p, "%s/srv/abs/abs_5", root);
        ASSERT_STREQ(i->path, p);

        ASSERT_TRUE(!find(&d, "..") && !find(&d, ".hidden") && !find(&d, "notes") && !find(&d, "fifo"));
        ASSERT_EQ(d.n_images, 6);

        _cleanup_free_ char *skipped = strv_join(d.skipped, "\n");
        fprintf(stderr, "skipped:\n%s\n", skipped);
        ASSERT_TRUE(strstr(skipped, "/var/lib/extensions/bad\\x1b[31mname.raw: \"bad\\x1b[31mname\" is not a valid image name"));
        ASSERT_TRUE(!strstr(skipped, "notes.txt") && !strstr(skipped, "README") && !strstr(skipped, "roothash"));
        ASSERT_TRUE(strstr(skipped, "/var/lib/extensions/empty.raw.v: "));
        ASSERT_TRUE(strstr(skipped, "holds no empty_VERSION[_x86-64][.raw] entry"));
        ASSERT_TRUE(strstr(skipped, "/var/lib/extensions/fifo.raw: neither a .raw file"));
        ASSERT_TRUE(strstr(skipped, "/var/lib/extensions/dangling.raw: cannot be opened"));
        ASSERT_TRUE(!strstr(skipped, "hidden"));
        discovery_done(&d);

        /* By name and by path. */
        DiscoveredImage one = {};
        ASSERT_OK(image_find(root, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, "baz", &one, &e));
        ASSERT_STREQ(one.version, "3");
        discovered_image_done(&one);
        ASSERT_ERRNO(image_find(root, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, "nope", &one, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "no image \"nope\" in /etc/extensions, /run/extensions, /var/lib/extensions under ");
        graft_error_done(&e);
        ASSERT_ERRNO(image_find(root, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, "..", &one, &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "\"..\" is not a valid image name");
        graft_error_done(&e);

        /* A path is followed as on the host: an absolute symlink under a scratch root points at
         * the host's /var/lib/images, where nothing is; a relative one works. */
        snprintf(p, sizeof p, "%s/etc/extensions/alias.raw", root);
        ASSERT_ERRNO(image_find(NULL, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, p, &one, &e), -ENOENT);
        graft_error_done(&e);
        link_("../../var/lib/images/real_7.raw", "etc/extensions/rel.raw");
        snprintf(p, sizeof p, "%s/etc/extensions/rel.raw", root);
        ASSERT_OK(image_find(NULL, IMAGE_CLASS_SYSEXT, ARCHITECTURE_X86_64, p, &one, &e));
        ASSERT_STREQ(one.name, "rel");
        discovered_image_done(&one);
        snprintf(p, sizeof p, "%s/var/lib/extensions/baz.raw.v", root);
        ASSERT_OK(image_find(NULL, IMAGE_CLASS_SYSEXT, ARCHITECTURE_ARM64, p, &one, &e));
        ASSERT_STREQ(one.name, "baz");
        ASSERT_STREQ(one.version, "10");
        discovered_image_done(&one);

        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        ASSERT_EQ(system(cmd), 0);
}

TESTS_MAIN
