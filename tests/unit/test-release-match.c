/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Extension-release matching, in systemd's order, with the message of every refusal. */
#include <fcntl.h>
#include <sys/stat.h>

#include "env-file.h"
#include "release-match.h"
#include "strv.h"
#include "tests.h"

static char **env(const char *text) {
        char **l = NULL;
        ASSERT_OK(env_file_parse(text, strlen(text), "test", &l, NULL));
        return l;
}

/* Runs one check; needle NULL means it must pass. */
static void check(ExtensionKind k, const char *ext_text, const char *host_text, const char *scope, const char *needle) {
        _cleanup_strv_free_ char **ext = env(ext_text), **host = env(host_text);
        GraftError e = GRAFT_ERROR_INIT;
        int r = extension_release_check(k, "ext", ext, host, scope, "x86-64", &e);
        if (!needle) {
                if (r < 0)
                        ASSERT_FAIL_("'%s' on '%s' refused: %s", ext_text, host_text, e.message);
        } else {
                ASSERT_ERRNO(r, -EBADR);
                ASSERT_STREQ(e.name, GRAFT_ERROR_INCOMPATIBLE);
                ASSERT_MESSAGE_CONTAINS(&e, needle);
        }
        graft_error_done(&e);
}

#define DEBIAN "ID=debian\nVERSION_ID=12\n"

TEST(id_and_version) {
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=12\n", DEBIAN, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=fedora\nVERSION_ID=12\n", DEBIAN, "system",
              "ext: extension-release ID=fedora does not match the host's ID=debian");
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=11\n", DEBIAN, "system",
              "ext: extension-release VERSION_ID=11 does not match the host's VERSION_ID=12");
        check(EXTENSION_SYSEXT, "ID=debian\n", DEBIAN, "system", "has no VERSION_ID (nor SYSEXT_LEVEL)");
        check(EXTENSION_SYSEXT, "VERSION_ID=12\n", DEBIAN, "system", "has no ID (use ID=_any");
        check(EXTENSION_SYSEXT, "ID=_any\n", DEBIAN, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=_any\nVERSION_ID=1\n", DEBIAN, "system", NULL);
        check(EXTENSION_SYSEXT, "", DEBIAN, "system", "has no extension-release file");
}

TEST(id_like) {
        const char *host = "ID=ubuntu\nID_LIKE=\"debian foo\"\nVERSION_ID=12\n";
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=12\n", host, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=arch\nVERSION_ID=12\n", host, "system",
              "ID=arch does not match the host's ID=ubuntu (nor its ID_LIKE=debian foo)");
}

TEST(levels) {
        const char *host = "ID=debian\nVERSION_ID=12\nSYSEXT_LEVEL=1.2\n";
        check(EXTENSION_SYSEXT, "ID=debian\nSYSEXT_LEVEL=1.2\nVERSION_ID=11\n", host, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=debian\nSYSEXT_LEVEL=1.3\n", host, "system",
              "SYSEXT_LEVEL=1.3 does not match the host's SYSEXT_LEVEL=1.2");
        /* Without a level on the extension side, VERSION_ID decides. */
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=12\n", host, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=13\n", host, "system", "VERSION_ID=13 does not match");
        /* A host with a level but no VERSION_ID accepts an extension without a level. */
        check(EXTENSION_SYSEXT, "ID=debian\n", "ID=debian\nSYSEXT_LEVEL=3\n", "system", NULL);
        /* Rolling host: neither. */
        check(EXTENSION_SYSEXT, "ID=arch\nVERSION_ID=7\n", "ID=arch\n", "system", NULL);
        /* confext looks at CONFEXT_LEVEL, not SYSEXT_LEVEL. */
        check(EXTENSION_CONFEXT, "ID=debian\nCONFEXT_LEVEL=2\n", "ID=debian\nCONFEXT_LEVEL=2\nVERSION_ID=12\n", "system", NULL);
        check(EXTENSION_CONFEXT, "ID=debian\nSYSEXT_LEVEL=2\n", "ID=debian\nSYSEXT_LEVEL=2\nVERSION_ID=12\n", "system",
              "has no VERSION_ID (nor CONFEXT_LEVEL)");
}

TEST(scope_and_architecture) {
        check(EXTENSION_SYSEXT, "ID=_any\n", DEBIAN, "portable", NULL);
        check(EXTENSION_SYSEXT, "ID=_any\n", DEBIAN, "initrd",
              "SYSEXT_SCOPE=n/a does not include \"initrd\" (the default is \"system portable\")");
        check(EXTENSION_SYSEXT, "ID=_any\nSYSEXT_SCOPE=\"initrd portable\"\n", DEBIAN, "system",
              "SYSEXT_SCOPE=initrd portable does not include \"system\"");
        check(EXTENSION_CONFEXT, "ID=_any\nCONFEXT_SCOPE=initrd\n", DEBIAN, "system", "CONFEXT_SCOPE=initrd");
        /* The scope is checked before the ID. */
        check(EXTENSION_SYSEXT, "ID=fedora\nSYSEXT_SCOPE=portable\n", DEBIAN, "system", "SYSEXT_SCOPE");
        check(EXTENSION_SYSEXT, "ID=_any\nARCHITECTURE=arm64\n", DEBIAN, "system",
              "ARCHITECTURE=arm64 does not match the host's architecture x86-64");
        check(EXTENSION_SYSEXT, "ID=_any\nARCHITECTURE=_any\n", DEBIAN, "system", NULL);
        check(EXTENSION_SYSEXT, "ID=debian\nVERSION_ID=12\nARCHITECTURE=x86-64\n", DEBIAN, NULL, NULL);
}

TEST(host_without_id) {
        _cleanup_strv_free_ char **ext = env("ID=_any\n"), **host = env("VERSION_ID=1\n");
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(extension_release_check(EXTENSION_SYSEXT, "ext", ext, host, "system", "x86-64", &e), -EBADR);
        ASSERT_MESSAGE_CONTAINS(&e, "the host's os-release has no ID");
        graft_error_done(&e);
}

TEST(host_os_release_under_root) {
        char dir[] = "/tmp/test-release-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir));
        char p[256];
        snprintf(p, sizeof p, "%s/usr", dir);
        ASSERT_OK(mkdir(p, 0755));
        snprintf(p, sizeof p, "%s/usr/lib", dir);
        ASSERT_OK(mkdir(p, 0755));
        snprintf(p, sizeof p, "%s/etc", dir);
        ASSERT_OK(mkdir(p, 0755));
        GraftError e = GRAFT_ERROR_INIT;
        char **l = NULL;
        ASSERT_ERRNO(host_os_release_read(dir, &l, &e), -ENOENT);
        ASSERT_MESSAGE_CONTAINS(&e, "the host has no os-release");
        graft_error_done(&e);

        /* /etc/os-release is a symlink that must resolve inside the root, not on the host. */
        snprintf(p, sizeof p, "%s/usr/lib/os-release", dir);
        FILE *f = fopen(p, "w");
        ASSERT_TRUE(f);
        fputs("ID=scratch\n", f);
        fclose(f);
        snprintf(p, sizeof p, "%s/etc/os-release", dir);
        ASSERT_OK(symlink("/usr/lib/os-release", p));
        ASSERT_OK(host_os_release_read(dir, &l, &e));
        ASSERT_STREQ(strv_env_get(l, "ID"), "scratch");
        strv_free(l);

        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TESTS_MAIN
