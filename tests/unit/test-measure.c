/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* images/measure.c without a TPM: the event string (fields, escaping), the digests per bank, the
 * configuration file's keys and refusals, and developer-mode records (devmode-record.c). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devmode.h"
#include "measure.h"
#include "strv.h"
#include "tests.h"

TEST(event_string) {
        _cleanup_free_ char *s = NULL, *t = NULL, *u = NULL;
        ASSERT_OK(measure_event_string(IMAGE_CLASS_SYSEXT, "foo", "1.2", "abcd", &s));
        ASSERT_STREQ(s, "graft-sysext:foo:1.2:abcd");
        ASSERT_OK(measure_event_string(IMAGE_CLASS_PORTABLE, "a:b%c", NULL, NULL, &t));
        ASSERT_STREQ(t, "graft-portable:a%3ab%25c::");
        ASSERT_OK(measure_event_string(IMAGE_CLASS_CONFEXT, "x", "", "ff", &u));
        ASSERT_STREQ(u, "graft-confext:x::ff");
        char *v = NULL;
        ASSERT_ERRNO(measure_event_string(IMAGE_CLASS_SYSEXT, "", NULL, NULL, &v), -EINVAL);
        ASSERT_TRUE(v == NULL);
}

TEST(digest) {
        _cleanup_free_ char *d = NULL, *e = NULL;
        /* sha256("abc") and sha1("abc"), the FIPS 180 examples */
        ASSERT_OK(measure_digest_hex("sha256", "abc", &d));
        ASSERT_STREQ(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        ASSERT_OK(measure_digest_hex("sha1", "abc", &e));
        ASSERT_STREQ(e, "a9993e364706816aba3e25717850c26c9cd0d89d");
        char *f = NULL;
        ASSERT_ERRNO(measure_digest_hex("md5", "abc", &f), -EOPNOTSUPP);
}

static char *scratch_root(const char *conf) {
        char tmpl[] = "/tmp/graft-measure-XXXXXX";
        char *root = strdup(mkdtemp(tmpl));
        _cleanup_free_ char *etc = NULL, *dir = NULL, *file = NULL;
        ASSERT_TRUE(root && asprintf(&etc, "%s/etc", root) > 0 && asprintf(&dir, "%s/etc/graft", root) > 0 &&
                    asprintf(&file, "%s/etc/graft/measure.conf", root) > 0);
        ASSERT_OK(mkdir(etc, 0755));
        ASSERT_OK(mkdir(dir, 0755));
        if (conf) {
                FILE *f = fopen(file, "we");
                ASSERT_TRUE(f && fputs(conf, f) >= 0 && fclose(f) == 0);
        }
        return root;
}

static void remove_root(const char *root) {
        _cleanup_free_ char *cmd = NULL;
        ASSERT_TRUE(asprintf(&cmd, "rm -rf '%s'", root) > 0);
        ASSERT_EQ(system(cmd), 0);
}

TEST(config) {
        unsetenv("GRAFT_TPM2_TCTI");
        _cleanup_free_ char *root = scratch_root("PCR=15\nRequire=yes\nTCTI=mssim:port=1\n");
        MeasureConfig c = {};
        ASSERT_OK(measure_config_load(root, &c, NULL));
        ASSERT_EQ(c.pcr, 15);
        ASSERT_TRUE(c.required);
        ASSERT_STREQ(c.tcti, "mssim:port=1");
        measure_config_done(&c);
        remove_root(root);

        /* A root without a TCTI uses no TPM; the host uses the device. */
        _cleanup_free_ char *empty = scratch_root(NULL);
        ASSERT_OK(measure_config_load(empty, &c, NULL));
        ASSERT_EQ(c.pcr, MEASURE_PCR_DEFAULT);
        ASSERT_TRUE(!c.required && !c.tcti && !c.source);
        measure_config_done(&c);
        remove_root(empty);

        static const char * const bad[][2] = {
                { "PCR=24\n", "PCR=24 is no PCR number" },
                { "Require=perhaps\n", "Require=perhaps is neither yes nor no" },
                { "Bank=sha1\n", "unknown setting Bank=" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *r = scratch_root(bad[i][0]);
                GraftError e = GRAFT_ERROR_INIT;
                MeasureConfig d = { .pcr = 99 };
                ASSERT_ERRNO(measure_config_load(r, &d, &e), -EINVAL);
                ASSERT_MESSAGE_CONTAINS(&e, bad[i][1]);
                ASSERT_MESSAGE_CONTAINS(&e, "/etc/graft/measure.conf");
                ASSERT_EQ(d.pcr, 99); /* untouched on failure */
                graft_error_done(&e);
                remove_root(r);
        }
}

TEST(admissions) {
        _cleanup_free_ char *root = scratch_root(NULL);
        char *triples[] = { "alpha", "vendor", "CN=pk", "dev", "developer", "CN=dev", "plain", "none", "", NULL };
        ASSERT_OK(developer_admissions_write(root, IMAGE_CLASS_SYSEXT, triples, NULL));
        _cleanup_strv_free_ char **read = NULL, **dev = NULL;
        ASSERT_OK(developer_admissions_read(root, IMAGE_CLASS_SYSEXT, &read, NULL));
        ASSERT_EQ(strv_length(read), 9);
        const char *signer = NULL;
        ASSERT_STREQ(developer_admission_find(read, "dev", &signer), "developer");
        ASSERT_STREQ(signer, "CN=dev");
        ASSERT_TRUE(developer_admission_find(read, "gone", NULL) == NULL);
        ASSERT_OK(developer_admitted(root, IMAGE_CLASS_SYSEXT, &dev, NULL));
        ASSERT_EQ(strv_length(dev), 1);
        ASSERT_STREQ(dev[0], "dev (CN=dev)");
        GraftError e = GRAFT_ERROR_INIT;
        static const ImageClass none[] = { IMAGE_CLASS_PORTABLE };
        ASSERT_ERRNO(developer_mode_leave_check(root, none, 1, &e), -EBUSY);
        ASSERT_MESSAGE_CONTAINS(&e, "system extension dev (CN=dev) is merged; sextctl developer-mode off unmerges it");
        graft_error_done(&e);
        static const ImageClass ext[] = { IMAGE_CLASS_SYSEXT };
        ASSERT_OK(developer_mode_leave_check(root, ext, 1, NULL));
        ASSERT_OK(developer_admissions_write(root, IMAGE_CLASS_SYSEXT, NULL, NULL));
        _cleanup_strv_free_ char **after = NULL;
        ASSERT_OK(developer_admissions_read(root, IMAGE_CLASS_SYSEXT, &after, NULL));
        ASSERT_TRUE(after == NULL);
        remove_root(root);
}

TESTS_MAIN
