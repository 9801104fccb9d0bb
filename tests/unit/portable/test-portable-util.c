/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small rules of portable services (unit names, prefixes, paths written into unit files,
 * marker values) and the 20-portable.conf text: what is written and what is read back. */
#include <string.h>

#include "dropin.h"
#include "portable-util.h"
#include "strv.h"
#include "tests.h"

TEST(unit_names) {
        ASSERT_TRUE(portable_unit_name_is_valid("foo.service"));
        ASSERT_TRUE(portable_unit_name_is_valid("foo-bar.socket"));
        ASSERT_TRUE(portable_unit_name_is_valid("foo@.service"));
        ASSERT_TRUE(portable_unit_name_is_valid("foo@inst.timer"));
        ASSERT_TRUE(portable_unit_name_is_valid("a:b_c\\x2d.path"));
        ASSERT_FALSE(portable_unit_name_is_valid("foo.mount"));
        ASSERT_FALSE(portable_unit_name_is_valid(".service"));
        ASSERT_FALSE(portable_unit_name_is_valid(".foo.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("-foo.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("@foo.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("foo@@.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("foo bar.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("../foo.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("a/b.service"));
        ASSERT_FALSE(portable_unit_name_is_valid("foo\n.service"));
        ASSERT_FALSE(portable_unit_name_is_valid(""));
}

TEST(prefixes) {
        ASSERT_TRUE(portable_prefix_is_valid("foo"));
        ASSERT_TRUE(portable_prefix_is_valid("foo.service"));
        ASSERT_FALSE(portable_prefix_is_valid("../etc"));
        ASSERT_FALSE(portable_prefix_is_valid("a/b"));
        ASSERT_FALSE(portable_prefix_is_valid(".."));
        ASSERT_FALSE(portable_prefix_is_valid(""));
        ASSERT_FALSE(portable_prefix_is_valid("a b"));

        ASSERT_TRUE(portable_unit_matches_prefix("foo.service", "foo"));
        ASSERT_TRUE(portable_unit_matches_prefix("foo-bar.service", "foo"));
        ASSERT_TRUE(portable_unit_matches_prefix("foo@.service", "foo"));
        ASSERT_TRUE(portable_unit_matches_prefix("foo.service", "foo.service"));
        ASSERT_FALSE(portable_unit_matches_prefix("foobar.service", "foo"));
        ASSERT_FALSE(portable_unit_matches_prefix("fo.service", "foo"));

        _cleanup_free_ char *a = portable_name_family("foo_1.2");
        _cleanup_free_ char *b = portable_name_family("foo");
        ASSERT_STREQ(a, "foo");
        ASSERT_STREQ(b, "foo");
        ASSERT_STREQ(portable_unit_type("x.socket"), "socket");
        ASSERT_TRUE(portable_unit_type("x.mount") == NULL);
}

TEST(paths_in_unit_files) {
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_check_unit_file_path("/var/lib/portables/foo_1.2.raw", "image", &e));
        static const char * const bad[] = {
                "/srv/a b.raw", "/srv/a%n.raw", "/srv/a:b.raw", "/srv/a'b.raw", "/srv/a\"b.raw",
                "/srv/a\\b.raw", "/srv/a\nExecStartPre=/bin/sh.raw", "/srv/a;b.raw",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ASSERT_ERRNO(portable_check_unit_file_path(bad[i], "image", &e), -EINVAL);
                ASSERT_MESSAGE_CONTAINS(&e, "cannot be written into a unit file");
                ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
                graft_error_done(&e);
        }
        ASSERT_ERRNO(portable_check_unit_file_path("/srv/x\ny.raw", "extension", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "extension path \"/srv/x\\x0ay.raw\" contains '\\x0a'");
        graft_error_done(&e);
}

TEST(value_encoding) {
        static const char * const values[] = { "/srv/plain_1.raw", "a b,c=d\\e", "x\x01y", "" };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                _cleanup_free_ char *enc = portable_value_encode(values[i]), *dec = NULL;
                ASSERT_TRUE(enc && !strpbrk(enc, " ,="));
                ASSERT_OK(portable_value_decode(enc, strlen(enc), &dec));
                ASSERT_STREQ(dec, values[i]);
        }
        char *d = NULL;
        ASSERT_ERRNO(portable_value_decode("a\\x4", 4, &d), -EBADMSG);
        ASSERT_ERRNO(portable_value_decode("a\\y41", 5, &d), -EBADMSG);
        ASSERT_ERRNO(portable_value_decode("a\\x00", 5, &d), -EBADMSG);
        ASSERT_ERRNO(portable_value_decode("a\\xzz", 5, &d), -EBADMSG);
}

TEST(path_strip_root) {
        _cleanup_free_ char *a = path_strip_root("/tmp/r", "/tmp/r/srv/x.raw");
        _cleanup_free_ char *b = path_strip_root("/tmp/r", "/tmp/rx/srv/x.raw");
        _cleanup_free_ char *c = path_strip_root(NULL, "/srv/x.raw");
        _cleanup_free_ char *d = path_strip_root("/tmp/r", "/tmp/r");
        ASSERT_STREQ(a, "/srv/x.raw");
        ASSERT_TRUE(b == NULL);
        ASSERT_STREQ(c, "/srv/x.raw");
        ASSERT_STREQ(d, "/");
}

static const char expected_service[] =
        "# Drop-in created for image '/var/lib/portables/foo_1.raw:/srv/ext.raw:/srv/extdir', do not edit.\n"
        "# graft-portable: name=foo_1 version=1 root-hash=abcd extension-root-hashes=12ef,- profile=/srv/my\\x20profile"
        " link=/etc/portables/foo_1.raw extension-links=-,/etc/portables/extdir created=/etc/portables\n"
        "\n"
        "[Service]\n"
        "RootImage=/var/lib/portables/foo_1.raw\n"
        "Environment=PORTABLE=ext.raw\n"
        "BindReadOnlyPaths=/etc/os-release:/run/host/os-release\n"
        "LogExtraFields=PORTABLE=ext.raw\n"
        "ExtensionImages=/srv/ext.raw\n"
        "ExtensionDirectories=/srv/extdir\n";

static void make_marker(PortableMarker *m) {
        *m = (PortableMarker) {
                .graft = true,
                .image = strdup("/var/lib/portables/foo_1.raw"),
                .name = strdup("foo_1"),
                .version = strdup("1"),
                .root_hash = strdup("abcd"),
                .profile = strdup("/srv/my profile"),
                .link = strdup("/etc/portables/foo_1.raw"),
        };
        ASSERT_OK(strv_extend(&m->extensions, "/srv/ext.raw"));
        ASSERT_OK(strv_extend(&m->extensions, "/srv/extdir"));
        ASSERT_OK(strv_extend(&m->extension_root_hashes, "12ef"));
        ASSERT_OK(strv_extend(&m->extension_root_hashes, "-"));
        ASSERT_OK(strv_extend(&m->extension_links, "-"));
        ASSERT_OK(strv_extend(&m->extension_links, "/etc/portables/extdir"));
        ASSERT_OK(strv_extend(&m->created, "/etc/portables"));
}

TEST(dropin_round_trip) {
        _cleanup_(portable_marker_done) PortableMarker m = {}, back = {}, copy = {};
        make_marker(&m);
        bool ext_dirs[] = { false, true };
        _cleanup_free_ char *service = NULL, *socket = NULL;
        ASSERT_OK(portable_dropin_format(&m, false, ext_dirs, "foo.service", "ext.raw", &service));
        ASSERT_STREQ(service, expected_service);
        ASSERT_OK(portable_dropin_format(&m, false, ext_dirs, "foo.socket", "foo_1.raw", &socket));
        ASSERT_TRUE(strstr(socket, "[Service]") == NULL);
        ASSERT_TRUE(strncmp(socket, expected_service, strlen(socket)) == 0);

        ASSERT_OK(portable_marker_parse(service, strlen(service), &back));
        ASSERT_TRUE(back.graft);
        ASSERT_STREQ(back.image, m.image);
        ASSERT_STREQ(back.name, "foo_1");
        ASSERT_STREQ(back.version, "1");
        ASSERT_STREQ(back.root_hash, "abcd");
        ASSERT_STREQ(back.profile, "/srv/my profile");
        ASSERT_STREQ(back.link, m.link);
        ASSERT_EQ(strv_length(back.extensions), 2);
        ASSERT_STREQ(back.extensions[1], "/srv/extdir");
        ASSERT_STREQ(back.extension_root_hashes[1], "-");
        ASSERT_STREQ(back.extension_links[1], "/etc/portables/extdir");
        ASSERT_STREQ(back.created[0], "/etc/portables");
        ASSERT_OK(portable_marker_copy(&back, &copy));
        ASSERT_STREQ(copy.extension_links[0], "-");
}

TEST(dropin_from_portabled) {
        /* What systemd-portabled 252 writes: the marker alone identifies the image. */
        static const char text[] = "# Drop-in created for image '/srv/webdemo.raw', do not edit.\n\n[Service]\n"
                                   "RootImage=/srv/webdemo.raw\n";
        _cleanup_(portable_marker_done) PortableMarker m = {};
        ASSERT_OK(portable_marker_parse(text, strlen(text), &m));
        ASSERT_FALSE(m.graft);
        ASSERT_STREQ(m.image, "/srv/webdemo.raw");
        ASSERT_TRUE(m.root_hash == NULL && m.name == NULL && m.extensions == NULL);
}

TEST(dropin_not_a_marker) {
        static const char * const bad[] = {
                "[Service]\nRootImage=/x\n",
                "# Drop-in created for image 'relative.raw', do not edit.\n",
                "# Drop-in created for image '/x.raw', please edit.\n",
                "",
                "# Drop-in created for image '/x.raw', do not edit.\n# graft-portable: name=a\\x0\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                PortableMarker m = {};
                ASSERT_ERRNO(portable_marker_parse(bad[i], strlen(bad[i]), &m), -EBADMSG);
        }
}

TESTS_MAIN
