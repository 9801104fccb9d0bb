/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan on a scratch root with directory images (nothing is mounted): which images are ready,
 * which are skipped and the one-line reason for each, layer order, --force, and failures that
 * concern every image. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"
#include "tests.h"

static char root[] = "/tmp/test-sysext-plan-XXXXXX";

static void mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);
        ASSERT_TRUE(p);
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                (void) mkdir(p, 0755);
                *s = '/';
        }
        (void) mkdir(p, 0755);
}

static void write_at(const char *rel, const char *text) {
        _cleanup_free_ char *p = path_join(root, rel);
        _cleanup_free_ char *dir = strndup(p, strrchr(p, '/') - p);
        mkdir_p(dir);
        ASSERT_OK(write_file_atomic(p, text, strlen(text), 0644));
}

/* An extension directory NAME in var/lib/extensions whose release file is for RELNAME. */
static void ext(const char *name, const char *relname, const char *release) {
        char rel[512];
        snprintf(rel, sizeof rel, "var/lib/extensions/%s/usr/lib/extension-release.d/extension-release.%s", name, relname);
        write_at(rel, release);
        snprintf(rel, sizeof rel, "var/lib/extensions/%s/usr/share/%s", name, name);
        write_at(rel, name);
}

static const SysextImage *find(const SysextPlan *p, const char *name) {
        for (size_t i = 0; i < p->n_images; i++)
                if (streq(p->images[i].name, name))
                        return &p->images[i];
        ASSERT_FAIL_("no image %s in the plan", name);
}

static void cleanup(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) system(cmd);
}

/* The test cases may run in any order: each asks for the scratch root. */
static void setup(void) {
        static bool done = false;
        if (done)
                return;
        done = true;
        unsetenv("GRAFT_SYSEXT_HIERARCHIES");
        unsetenv("SYSTEMD_SYSEXT_HIERARCHIES");
        ASSERT_TRUE(mkdtemp(root));
        atexit(cleanup);
        write_at("usr/lib/os-release", "ID=debian\nVERSION_ID=12\n");
        _cleanup_free_ char *opt = path_join(root, "opt");
        mkdir_p(opt);
        ext("good", "good", "ID=debian\nVERSION_ID=12\n");
        ext("a10", "a10", "ID=_any\n");
        ext("a9", "a9", "ID=_any\nEXTENSION_RELOAD_MANAGER=1\n");
        ext("fedora", "fedora", "ID=fedora\nVERSION_ID=38\n");
        ext("oldver", "oldver", "ID=debian\nVERSION_ID=11\n");
        ext("arm", "arm", "ID=_any\nARCHITECTURE=arm64\n");
        ext("portable", "portable", "ID=debian\nVERSION_ID=12\nSYSEXT_SCOPE=portable\n");
        ext("impostor", "good", "ID=debian\nVERSION_ID=12\n");
        write_at("var/lib/extensions/noid/usr/lib/extension-release.d/extension-release.noid", "VERSION_ID=12\n");
        write_at("var/lib/extensions/notraw.img", "x");
}

TEST(plan) {
        setup();
        ImagePolicy any;
        ASSERT_OK(image_policy_parse("*", &any, NULL));
        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .root = root, .policy = &any };
        _cleanup_(sysext_plan_freep) SysextPlan *p = NULL;
        ASSERT_OK(sysext_plan_build(&o, &p, NULL));

        /* Version order of names: a9 below a10. */
        ASSERT_STREQ(p->images[0].name, "a9");
        ASSERT_STREQ(p->images[1].name, "a10");
        ASSERT_EQ(sysext_plan_n_ready(p), 3);
        ASSERT_FALSE(find(p, "good")->skipped);
        ASSERT_TRUE(find(p, "a9")->reload_manager);
        ASSERT_FALSE(find(p, "a10")->reload_manager);
        ASSERT_EQ(find(p, "good")->kind, IMAGE_KIND_DIRECTORY);

        static const struct {
                const char *name, *message;
        } refused[] = {
                { "fedora", "fedora: extension-release ID=fedora does not match the host's ID=debian" },
                { "oldver", "oldver: extension-release VERSION_ID=11 does not match the host's VERSION_ID=12" },
                { "arm", "arm: extension-release ARCHITECTURE=arm64 does not match the host's architecture" },
                { "portable", "portable: extension-release SYSEXT_SCOPE=portable does not include \"system\"" },
                { "impostor", "impostor: has no /usr/lib/extension-release.d/extension-release.impostor, only "
                              "extension-release.good" },
                { "noid", "noid: extension-release has no ID" },
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                const SysextImage *img = find(p, refused[i].name);
                ASSERT_TRUE(img->skipped);
                ASSERT_MESSAGE_CONTAINS(&img->error, refused[i].message);
                ASSERT_STREQ(img->error.name, GRAFT_ERROR_INCOMPATIBLE);
        }
        /* notraw.img cannot be an image by its name: ignored, not skipped (no exit status 9). */
        ASSERT_EQ(strv_length(p->discovery_skipped), 0);
        ASSERT_EQ(sysext_plan_n_skipped(p), ELEMENTSOF(refused));
}

TEST(force) {
        setup();
        ImagePolicy any;
        ASSERT_OK(image_policy_parse("*", &any, NULL));
        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .root = root, .policy = &any, .force = true };
        _cleanup_(sysext_plan_freep) SysextPlan *p = NULL;
        ASSERT_OK(sysext_plan_build(&o, &p, NULL));
        /* --force skips the compatibility checks, never the need for a release file of its name. */
        ASSERT_FALSE(find(p, "fedora")->skipped);
        ASSERT_FALSE(find(p, "arm")->skipped);
        ASSERT_TRUE(find(p, "impostor")->skipped);
}

TEST(policy) {
        setup();
        /* Directory images carry no verity: a policy that wants signatures refuses all of them. */
        ImagePolicy signed_only;
        ASSERT_OK(image_policy_parse("root=signed+absent:usr=signed+absent", &signed_only, NULL));
        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .root = root, .policy = &signed_only };
        _cleanup_(sysext_plan_freep) SysextPlan *p = NULL;
        ASSERT_OK(sysext_plan_build(&o, &p, NULL));
        ASSERT_EQ(sysext_plan_n_ready(p), 0);
        const SysextImage *img = find(p, "good");
        ASSERT_STREQ(img->error.name, GRAFT_ERROR_POLICY);
        ASSERT_MESSAGE_CONTAINS(&img->error, "image policy requires the root partition to be signed");
        ASSERT_MESSAGE_CONTAINS(&img->error, "/var/lib/extensions/good");
}

TEST(no_host_release) {
        char other[] = "/tmp/test-sysext-plan-XXXXXX";
        ASSERT_TRUE(mkdtemp(other));
        GraftError e = GRAFT_ERROR_INIT;
        SysextPlan *p = NULL;
        SysextOptions o = { .class = IMAGE_CLASS_SYSEXT, .root = other };
        ASSERT_ERRNO(sysext_plan_build(&o, &p, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "the host has no os-release");
        ASSERT_TRUE(p == NULL);
        graft_error_done(&e);
        rmdir(other);
}

TESTS_MAIN
