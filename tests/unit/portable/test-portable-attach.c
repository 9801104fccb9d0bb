/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* attach / detach / reattach / is-attached through the library on a scratch root with directory
 * images (no privileges needed): the exact files written, detach restoring the tree byte for byte,
 * and every refusal with its message and an unchanged tree. Raw images: tests/integration/portable. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "portable.h"
#include "portable-util.h"
#include "strv.h"
#include "tests.h"
#include "tree-state.h"

static char root[64];

static char *at(const char *rel) {
        char *p = path_join(root, rel);
        ASSERT_TRUE(p);
        return p;
}

static void sh(const char *format, ...) _printf_(1, 2);
static void sh(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(vasprintf(&cmd, format, ap) >= 0);
        va_end(ap);
        _cleanup_free_ char *full = NULL;
        ASSERT_TRUE(asprintf(&full, "set -e; cd '%s'; %s", root, cmd) >= 0);
        ASSERT_EQ(system(full), 0);
}

static char *get(const char *rel) {
        _cleanup_free_ char *p = at(rel);
        char *s = NULL;
        size_t n;
        return read_full_file_at(AT_FDCWD, p, 1 << 20, &s, &n) < 0 ? NULL : s;
}

static char *link_of(const char *rel) {
        _cleanup_free_ char *p = at(rel);
        char buf[4096];
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        return n < 0 ? NULL : strndup(buf, (size_t) n);
}

static bool exists(const char *rel) {
        _cleanup_free_ char *p = at(rel);
        struct stat st;
        return lstat(p, &st) >= 0;
}

/* A portable image tree at DIR (inside the root): os-release, NAME.service and NAME.socket. */
static void make_image(const char *dir, const char *name, const char *os_release, const char *exec) {
        sh("mkdir -p %s/usr/lib/systemd/system %s/etc && printf '%s' >%s/usr/lib/os-release && "
           "ln -s ../usr/lib/os-release %s/etc/os-release && "
           "printf '[Unit]\\nDescription=%s\\n[Service]\\nExecStart=%s\\n[Install]\\nWantedBy=multi-user.target\\n' "
           ">%s/usr/lib/systemd/system/%s.service && "
           "printf '[Socket]\\nListenStream=1234\\n' >%s/usr/lib/systemd/system/%s.socket && "
           "printf 'not a unit\\n' >%s/usr/lib/systemd/system/README",
           dir, dir, os_release, dir, dir, name, exec, dir, name, dir, name, dir);
}

static void make_extension(const char *dir, const char *name, const char *release) {
        sh("mkdir -p %s/usr/lib/extension-release.d %s/usr/lib/systemd/system && "
           "printf '%s' >%s/usr/lib/extension-release.d/extension-release.%s && "
           "printf '[Service]\\nExecStart=/usr/bin/%s\\n' >%s/usr/lib/systemd/system/%s.service",
           dir, dir, release, dir, name, name, dir, name);
}

#define DEMO_OS "ID=graft-test\\nVERSION_ID=1\\nPORTABLE_PREFIXES=\"demo demoext\"\\n"

static void cleanup(void) {
        char cmd[128];
        if (!root[0])
                return;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) system(cmd);
        root[0] = 0;
}

/* A fresh scratch root for each test. */
static void setup(void) {
        cleanup();
        strcpy(root, "/tmp/test-portable-attach-XXXXXX");
        ASSERT_TRUE(mkdtemp(root));
        const char *src = getenv("GRAFT_SOURCE_DIR");
        ASSERT_TRUE(src);
        /* graft's state directories exist, as on a host where it is installed. */
        sh("mkdir -p usr/lib/graft var/lib/portables var/lib/graft srv run/graft/locks && chmod 700 run/graft "
           "run/graft/locks var/lib/graft && cp -r '%s/profiles' usr/lib/graft/profiles && "
           "rm -f usr/lib/graft/profiles/meson.build && printf 'ID=debian\\nVERSION_ID=12\\n' >usr/lib/os-release", src);
        make_image("var/lib/portables/demo", "demo", DEMO_OS, "/usr/bin/demo");
        make_image("srv/demo_1", "demo", DEMO_OS, "/usr/bin/demo-one");
        make_image("srv/demo_2", "demo", DEMO_OS, "/usr/bin/demo-two");
        make_extension("var/lib/portables/demoext", "demoext", "ID=graft-test\\nVERSION_ID=1\\n");
        make_extension("srv/fedoraext", "fedoraext", "ID=fedora\\nVERSION_ID=39\\n");
}

static PortableOptions options(void) {
        return (PortableOptions) { .root = root };
}

static void attach_ok(const PortableOptions *o, const char *image, char **prefixes, PortableResult *res) {
        GraftError e = GRAFT_ERROR_INIT;
        int r = portable_attach(o, image, prefixes, res, &e);
        if (r < 0)
                fprintf(stderr, "attach %s: %s\n", image, strna(e.message));
        ASSERT_OK(r);
        graft_error_done(&e);
}

static void detach_ok(const PortableOptions *o, const char *image) {
        _cleanup_(portable_result_done) PortableResult res = {};
        GraftError e = GRAFT_ERROR_INIT;
        int r = portable_detach(o, image, NULL, &res, &e);
        if (r < 0)
                fprintf(stderr, "detach %s: %s\n", image, strna(e.message));
        ASSERT_OK(r);
}

static const char demo_dropin[] =
        "# Drop-in created for image '/var/lib/portables/demo', do not edit.\n"
        "# graft-portable: name=demo root-hash=- profile=default created=/etc,/etc/systemd,"
        "/etc/systemd/system.attached\n"
        "\n"
        "[Service]\n"
        "RootDirectory=/var/lib/portables/demo\n"
        "Environment=PORTABLE=demo\n"
        "BindReadOnlyPaths=/etc/os-release:/run/host/os-release\n"
        "LogExtraFields=PORTABLE=demo\n";

TEST(attach_default_and_detach) {
        setup();
        _cleanup_free_ char *before = tree_state(root);
        PortableOptions o = options();
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", NULL, &res);

        static const char * const expected[][3] = {
                { "mkdir", "/etc", NULL },
                { "mkdir", "/etc/systemd", NULL },
                { "mkdir", "/etc/systemd/system.attached", NULL },
                { "mkdir", "/etc/systemd/system.attached/demo.service.d", NULL },
                { "symlink", "/etc/systemd/system.attached/demo.service.d/10-profile.conf",
                  "/usr/lib/graft/profiles/default/service.conf" },
                { "write", "/etc/systemd/system.attached/demo.service.d/20-portable.conf", NULL },
                { "copy", "/etc/systemd/system.attached/demo.service",
                  "/var/lib/portables/demo/usr/lib/systemd/system/demo.service" },
                { "mkdir", "/etc/systemd/system.attached/demo.socket.d", NULL },
                { "write", "/etc/systemd/system.attached/demo.socket.d/20-portable.conf", NULL },
                { "copy", "/etc/systemd/system.attached/demo.socket",
                  "/var/lib/portables/demo/usr/lib/systemd/system/demo.socket" },
        };
        ASSERT_EQ(res.changes.n, ELEMENTSOF(expected));
        for (size_t i = 0; i < res.changes.n; i++) {
                ASSERT_STREQ(portable_change_type_to_string(res.changes.items[i].type), expected[i][0]);
                ASSERT_STREQ(res.changes.items[i].path, expected[i][1]);
                if (expected[i][2])
                        ASSERT_STREQ(res.changes.items[i].source, expected[i][2]);
        }
        ASSERT_STREQ(res.image, "/var/lib/portables/demo");
        ASSERT_EQ(strv_length(res.units), 2);
        ASSERT_FALSE(res.reloaded);

        _cleanup_free_ char *dropin = get("etc/systemd/system.attached/demo.service.d/20-portable.conf");
        ASSERT_STREQ(dropin, demo_dropin);
        _cleanup_free_ char *sock = get("etc/systemd/system.attached/demo.socket.d/20-portable.conf");
        ASSERT_TRUE(sock && !strstr(sock, "[Service]") && startswith(sock, "# Drop-in created for image "));
        _cleanup_free_ char *unit = get("etc/systemd/system.attached/demo.service");
        _cleanup_free_ char *orig = get("var/lib/portables/demo/usr/lib/systemd/system/demo.service");
        ASSERT_STREQ(unit, orig);
        ASSERT_FALSE(exists("etc/systemd/system.attached/demo.socket.d/10-profile.conf")); /* no socket.conf */
        _cleanup_free_ char *unit_path = at("etc/systemd/system.attached/demo.service");
        struct stat st;
        ASSERT_OK(lstat(unit_path, &st));
        ASSERT_EQ(st.st_mode & 07777, 0644);

        PortableState s;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_is_attached(&o, "demo", &s, &e));
        ASSERT_STREQ(portable_state_to_string(s), "attached");

        detach_ok(&o, "demo");
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
        ASSERT_OK(portable_is_attached(&o, "demo", &s, &e));
        ASSERT_EQ(s, PORTABLE_DETACHED);
}

static void round_trip(PortableOptions *o, const char *image, char **prefixes, const char *check_path,
                       const char *check_link) {
        _cleanup_free_ char *before = tree_state(root);
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(o, image, prefixes, &res);
        if (check_link) {
                _cleanup_free_ char *l = link_of(check_path);
                ASSERT_STREQ(l, check_link);
        } else
                ASSERT_TRUE(exists(check_path));
        detach_ok(o, image);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
}

TEST(copy_modes_and_runtime) {
        setup();
        PortableOptions o = options();
        o.copy_mode = PORTABLE_COPY_COPY;
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/demo.service.d/10-profile.conf", NULL);
        o.copy_mode = PORTABLE_COPY_SYMLINK;
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/demo.service",
                   "/var/lib/portables/demo/usr/lib/systemd/system/demo.service");
        o.copy_mode = PORTABLE_COPY_MIXED;
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/demo.service.d/10-profile.conf",
                   "/usr/lib/graft/profiles/default/service.conf");
        o.copy_mode = PORTABLE_COPY_AUTO;
        o.runtime = true;
        round_trip(&o, "demo", NULL, "run/systemd/system.attached/demo.service", NULL);
        o.profile = "strict";
        round_trip(&o, "demo", NULL, "run/systemd/system.attached/demo.service.d/10-profile.conf",
                   "/usr/lib/graft/profiles/strict/service.conf");

        /* A copied profile is the profile's text. */
        o = options();
        o.copy_mode = PORTABLE_COPY_COPY;
        o.profile = "nonetwork";
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", NULL, &res);
        _cleanup_free_ char *a = get("etc/systemd/system.attached/demo.service.d/10-profile.conf");
        _cleanup_free_ char *b = get("usr/lib/graft/profiles/nonetwork/service.conf");
        ASSERT_STREQ(a, b);
        ASSERT_TRUE(strstr(a, "PrivateNetwork=yes"));
        detach_ok(&o, "demo");
}

TEST(profile_by_path_and_override) {
        setup();
        PortableOptions o = options();
        sh("printf '[Service]\\nUser=nobody\\n' >srv/p.conf");
        _cleanup_free_ char *host_profile = at("srv/p.conf");
        o.profile = host_profile; /* a path outside the profile directories: copied, never linked */
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/demo.service.d/10-profile.conf", NULL);

        /* /etc/graft/profiles/NAME overrides what is installed. */
        sh("mkdir -p etc/graft/profiles/default && printf '[Service]\\nUser=override\\n' "
           ">etc/graft/profiles/default/service.conf");
        o.profile = NULL;
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/demo.service.d/10-profile.conf",
                   "/etc/graft/profiles/default/service.conf");
        sh("rm -r etc/graft");

        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_result_done) PortableResult res = {};
        o.profile = "nosuch";
        ASSERT_ERRNO(portable_attach(&o, "demo", NULL, &res, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "no profile \"nosuch\" in /etc/graft/profiles");
        graft_error_done(&e);
        o.profile = "../default";
        ASSERT_TRUE(portable_attach(&o, "demo", NULL, &res, &e) < 0);
        graft_error_done(&e);
}

TEST(image_outside_search_path_is_linked) {
        setup();
        PortableOptions o = options();
        _cleanup_free_ char *img = at("srv/demo_1");
        round_trip(&o, img, NULL, "etc/portables/demo_1", "/srv/demo_1");
        o.runtime = true;
        round_trip(&o, img, NULL, "run/portables/demo_1", "/srv/demo_1");

        /* With --root, an image outside the root cannot be named from inside it. */
        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_result_done) PortableResult res = {};
        ASSERT_ERRNO(portable_attach(&o, "/tmp", NULL, &res, &e), -EXDEV);
        ASSERT_MESSAGE_CONTAINS(&e, "lies outside the root directory");
        graft_error_done(&e);
}

TEST(extensions) {
        setup();
        PortableOptions o = options();
        char *ext[] = { (char *) "demoext", NULL }, *prefixes[] = { (char *) "demo", (char *) "demoext", NULL };
        o.extensions = ext;
        _cleanup_free_ char *before = tree_state(root);
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", prefixes, &res);
        ASSERT_EQ(strv_length(res.units), 3);
        _cleanup_free_ char *d = get("etc/systemd/system.attached/demoext.service.d/20-portable.conf");
        ASSERT_TRUE(startswith(d, "# Drop-in created for image '/var/lib/portables/demo:/var/lib/portables/demoext', "
                                  "do not edit.\n"));
        ASSERT_TRUE(strstr(d, "\nExtensionDirectories=/var/lib/portables/demoext\n"));
        ASSERT_TRUE(strstr(d, "\nEnvironment=PORTABLE=demoext\n"));
        ASSERT_TRUE(strstr(d, "\nRootDirectory=/var/lib/portables/demo\n"));
        _cleanup_free_ char *d2 = get("etc/systemd/system.attached/demo.service.d/20-portable.conf");
        ASSERT_TRUE(strstr(d2, "\nExtensionDirectories=/var/lib/portables/demoext\n")); /* one root for all */
        detach_ok(&o, "demo");
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);

        /* An extension for another OS. */
        char *bad[] = { (char *) "/srv/fedoraext", NULL };
        _cleanup_free_ char *badpath = at("srv/fedoraext");
        bad[0] = badpath;
        o.extensions = bad;
        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_result_done) PortableResult r2 = {};
        ASSERT_ERRNO(portable_attach(&o, "demo", NULL, &r2, &e), -EBADR);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INCOMPATIBLE);
        ASSERT_MESSAGE_CONTAINS(&e, "extension /srv/fedoraext for image /var/lib/portables/demo");
        ASSERT_MESSAGE_CONTAINS(&e, "ID=fedora");
        graft_error_done(&e);
        _cleanup_free_ char *after2 = tree_state(root);
        ASSERT_STREQ(after2, before);
}

TEST(enable_offline) {
        setup();
        PortableOptions o = options();
        o.enable = true;
        round_trip(&o, "demo", NULL, "etc/systemd/system.attached/multi-user.target.wants/demo.service",
                   "/etc/systemd/system.attached/demo.service");
        PortableState s;
        GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", NULL, &res);
        ASSERT_OK(portable_is_attached(&o, "demo", &s, &e));
        ASSERT_STREQ(portable_state_to_string(s), "enabled");
        detach_ok(&o, "demo");
}

TEST(reattach_new_version) {
        setup();
        _cleanup_free_ char *before = tree_state(root);
        PortableOptions o = options();
        _cleanup_free_ char *v1 = at("srv/demo_1"), *v2 = at("srv/demo_2");
        _cleanup_(portable_result_done) PortableResult a = {}, b = {};
        attach_ok(&o, v1, NULL, &a);

        /* foo_1 and foo_2 are never confused. */
        PortableState s;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_is_attached(&o, v2, &s, &e));
        ASSERT_EQ(s, PORTABLE_DETACHED);
        ASSERT_OK(portable_is_attached(&o, v1, &s, &e));
        ASSERT_EQ(s, PORTABLE_ATTACHED);
        _cleanup_(portable_result_done) PortableResult d = {};
        ASSERT_ERRNO(portable_detach(&o, v2, NULL, &d, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "image /srv/demo_2 is not attached (attached: /srv/demo_1)");
        graft_error_done(&e);
        ASSERT_ERRNO(portable_attach(&o, v2, NULL, &d, &e), -EEXIST);
        ASSERT_MESSAGE_CONTAINS(&e, "unit demo.service is attached already from image /srv/demo_1");
        graft_error_done(&e);

        GraftError e2 = GRAFT_ERROR_INIT;
        int r = portable_reattach(&o, v2, NULL, &b, &e2);
        if (r < 0)
                fprintf(stderr, "%s\n", e2.message);
        ASSERT_OK(r);
        _cleanup_free_ char *unit = get("etc/systemd/system.attached/demo.service");
        ASSERT_TRUE(strstr(unit, "ExecStart=/usr/bin/demo-two"));
        _cleanup_free_ char *dropin = get("etc/systemd/system.attached/demo.service.d/20-portable.conf");
        ASSERT_TRUE(startswith(dropin, "# Drop-in created for image '/srv/demo_2', do not edit.\n"));
        ASSERT_TRUE(strstr(dropin, " link=/etc/portables/demo_2 "));
        _cleanup_free_ char *l2 = link_of("etc/portables/demo_2");
        ASSERT_STREQ(l2, "/srv/demo_2");
        ASSERT_FALSE(exists("etc/portables/demo_1"));
        _cleanup_free_ char *state = tree_state(root);
        ASSERT_TRUE(strstr(state, ".#pctl") == NULL);
        ASSERT_OK(portable_is_attached(&o, v1, &s, &e));
        ASSERT_EQ(s, PORTABLE_DETACHED);

        detach_ok(&o, v2);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);

        _cleanup_(portable_result_done) PortableResult c = {};
        ASSERT_ERRNO(portable_reattach(&o, v2, NULL, &c, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "no version of image demo_2 is attached; use attach");
        graft_error_done(&e);
}

TEST(reattach_keeps_enabled_units_enabled) {
        setup();
        _cleanup_free_ char *before = tree_state(root);
        PortableOptions o = options();
        o.enable = true;
        _cleanup_free_ char *v1 = at("srv/demo_1"), *v2 = at("srv/demo_2");
        _cleanup_(portable_result_done) PortableResult a = {}, b = {};
        attach_ok(&o, v1, NULL, &a);
        o.enable = false;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_reattach(&o, v2, NULL, &b, &e));
        _cleanup_free_ char *l = link_of("etc/systemd/system.attached/multi-user.target.wants/demo.service");
        ASSERT_STREQ(l, "/etc/systemd/system.attached/demo.service");
        PortableState s;
        ASSERT_OK(portable_is_attached(&o, v2, &s, &e));
        ASSERT_EQ(s, PORTABLE_ENABLED);
        detach_ok(&o, v2);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
}

static void refused(const PortableOptions *o, const char *image, char **prefixes, int code, const char *name,
                    const char *needle) {
        _cleanup_free_ char *before = tree_state(root);
        _cleanup_(portable_result_done) PortableResult res = {};
        GraftError e = GRAFT_ERROR_INIT;
        int r = portable_attach(o, image, prefixes, &res, &e);
        if (r != code || !e.message || !strstr(e.message, needle))
                fprintf(stderr, "attach %s: %d %s\n", image, r, strna(e.message));
        ASSERT_ERRNO(r, code);
        ASSERT_STREQ(e.name, name);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        graft_error_done(&e);
        _cleanup_free_ char *after = tree_state(root);
        ASSERT_STREQ(after, before);
}

TEST(refusals) {
        setup();
        PortableOptions o = options();
        char *up[] = { (char *) "../etc", NULL }, *slash[] = { (char *) "demo/x", NULL };
        char *other[] = { (char *) "other", NULL }, *demox[] = { (char *) "demo-x", NULL };
        refused(&o, "demo", up, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"../etc\" is not a valid unit name prefix");
        refused(&o, "demo", slash, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"demo/x\" is not a valid unit name prefix");
        refused(&o, "demo", other, -EPERM, GRAFT_ERROR_POLICY,
                "prefix \"other\" is not allowed by image /var/lib/portables/demo: its PORTABLE_PREFIXES= allows demo, demoext");
        refused(&o, "demo", demox, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                "no unit in image /var/lib/portables/demo matches the prefix 'demo-x'");
        refused(&o, "..", NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"..\" is not a valid image name");
        refused(&o, ".hidden", NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\".hidden\" is not a valid image name");
        refused(&o, "a\x1b[31m", NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "\"a\\x1b[31m\" is not a valid image name");
        refused(&o, "nosuch", NULL, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, "no image \"nosuch\" in /etc/portables");

        make_image("var/lib/portables/noid", "noid", "NAME=x\\nPORTABLE_PREFIXES=noid\\n", "/x");
        refused(&o, "noid", NULL, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                "image /var/lib/portables/noid: /etc/os-release has no ID=");
        make_image("var/lib/portables/norel", "norel", "ID=x\\n", "/x");
        sh("rm var/lib/portables/norel/usr/lib/os-release");
        refused(&o, "norel", NULL, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                "image /var/lib/portables/norel has no os-release");

        /* Unit names the image should not have, and a unit that points out of the image. */
        make_image("var/lib/portables/odd", "odd", "ID=x\\n", "/x");
        sh("printf x >'var/lib/portables/odd/usr/lib/systemd/system/odd\x1b.service'");
        refused(&o, "odd", NULL, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                "image /var/lib/portables/odd: /usr/lib/systemd/system/odd\\x1b.service is not a valid unit name");
        make_image("var/lib/portables/esc", "esc", "ID=x\\n", "/x");
        sh("rm var/lib/portables/esc/usr/lib/systemd/system/esc.service && "
           "ln -s /etc/shadow var/lib/portables/esc/usr/lib/systemd/system/esc.service && "
           "ln -s ../../../../../../../../etc/passwd var/lib/portables/esc/usr/lib/systemd/system/esc-up.service");
        refused(&o, "esc", NULL, -ENOENT, GRAFT_ERROR_BAD_IMAGE,
                "unit esc-up.service in image /var/lib/portables/esc is a symlink to nothing inside the image");
        sh("rm var/lib/portables/esc/usr/lib/systemd/system/esc-up.service");
        refused(&o, "esc", NULL, -ENOENT, GRAFT_ERROR_BAD_IMAGE,
                "unit esc.service in image /var/lib/portables/esc is a symlink to nothing inside the image");

        /* Paths that cannot go into a unit file. */
        sh("cp -r srv/demo_1 'srv/demo%%i' && cp -r srv/demo_1 'srv/demo:1'");
        _cleanup_free_ char *percent = at("srv/demo%i"), *colon = at("srv/demo:1");
        refused(&o, percent, NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                "image path \"/srv/demo%i\" contains '%', which cannot be written into a unit file");
        refused(&o, colon, NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "image path \"/srv/demo:1\" contains ':'");

        /* The unit exists on the host already. */
        sh("mkdir -p etc/systemd/system && printf '[Service]\\n' >etc/systemd/system/demo.socket");
        refused(&o, "demo", NULL, -EEXIST, GRAFT_ERROR_CONFLICT,
                "unit demo.socket exists on the host already");
        sh("rm -r etc");
}

TEST(attached_twice_and_partial_failure) {
        setup();
        PortableOptions o = options();
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", NULL, &res);
        refused(&o, "demo", NULL, -EEXIST, GRAFT_ERROR_CONFLICT,
                "image /var/lib/portables/demo is attached already (unit demo.service); use reattach to update it");
        detach_ok(&o, "demo");
        sh("rm -rf etc");

        /* The second unit cannot be written: the first must not stay behind. */
        sh("mkdir -p etc/systemd/system.attached/demo.socket.d/20-portable.conf");
        refused(&o, "demo", NULL, -EEXIST, GRAFT_ERROR_IO,
                "/etc/systemd/system.attached/demo.socket.d/20-portable.conf: File exists");
        ASSERT_FALSE(exists("etc/systemd/system.attached/demo.service"));
        sh("rm -rf etc");

        /* A planted symlink cannot lead the attach out of the root. */
        sh("mkdir -p etc/systemd && ln -s /tmp etc/systemd/system.attached");
        refused(&o, "demo", NULL, -ENOTDIR, GRAFT_ERROR_IO, "/etc/systemd/system.attached exists and is not a directory");
        sh("rm -rf etc");
}

TEST(detach_leaves_what_is_not_ours) {
        setup();
        PortableOptions o = options();
        _cleanup_(portable_result_done) PortableResult res = {};
        attach_ok(&o, "demo", NULL, &res);
        /* An administrator's drop-in next to ours stays, and so does its directory. */
        sh("printf '[Service]\\nNice=5\\n' >etc/systemd/system.attached/demo.service.d/50-local.conf");
        detach_ok(&o, "demo");
        ASSERT_TRUE(exists("etc/systemd/system.attached/demo.service.d/50-local.conf"));
        ASSERT_FALSE(exists("etc/systemd/system.attached/demo.service.d/20-portable.conf"));
        ASSERT_FALSE(exists("etc/systemd/system.attached/demo.service"));
        ASSERT_FALSE(exists("etc/systemd/system.attached/demo.socket.d"));
        sh("rm -rf etc");

        /* What systemd-portabled attached is recognised and removed, link included. */
        sh("mkdir -p etc/systemd/system.attached/demo.service.d etc/portables && "
           "printf '[Service]\\n' >etc/systemd/system.attached/demo.service && "
           "ln -s /usr/lib/systemd/portable/profile/default/service.conf "
           "etc/systemd/system.attached/demo.service.d/10-profile.conf && "
           "printf \"# Drop-in created for image '/srv/demo_1', do not edit.\\n\\n[Service]\\nRootDirectory=/srv/demo_1\\n\" "
           ">etc/systemd/system.attached/demo.service.d/20-portable.conf && ln -s /srv/demo_1 etc/portables/demo_1");
        PortableState s;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_is_attached(&o, "demo_1", &s, &e));
        ASSERT_EQ(s, PORTABLE_ATTACHED);
        detach_ok(&o, "demo_1");
        /* As portabled's own detach: the emptied attached directory goes, /etc/portables stays. */
        ASSERT_FALSE(exists("etc/systemd/system.attached"));
        ASSERT_FALSE(exists("etc/portables/demo_1"));
        ASSERT_TRUE(exists("etc/portables"));
        sh("rm -rf etc");
}

TEST(list) {
        setup();
        PortableOptions o = options();
        _cleanup_(portable_result_done) PortableResult res = {};
        _cleanup_free_ char *v1 = at("srv/demo_1");
        attach_ok(&o, v1, NULL, &res);
        PortableImageInfo *l = NULL;
        size_t n = 0;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(portable_list(&o, &l, &n, &e));
        /* demo, demo_1 (linked into /etc/portables), demoext. */
        ASSERT_EQ(n, 3);
        ASSERT_STREQ(l[0].name, "demo");
        ASSERT_EQ(l[0].state, PORTABLE_DETACHED);
        ASSERT_STREQ(l[1].name, "demo_1");
        ASSERT_STREQ(l[1].path, "/srv/demo_1");
        ASSERT_EQ(l[1].state, PORTABLE_ATTACHED);
        ASSERT_EQ(strv_length(l[1].units), 2);
        portable_image_infos_free(l, n);
        detach_ok(&o, v1);
}

int main(int argc, char **argv) {
        int r = tests_run(argc, argv);
        cleanup();
        return r;
}
