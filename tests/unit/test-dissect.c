/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dissecting images: partition choice (architecture, root before usr, newest label, no-auto,
 * _empty), verity and signature partitions, bare file systems, directories, sidecar files, and
 * the refusals. Images are made with gpt_write() in a scratch directory. */
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

#include "dissect.h"
#include "fileio.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)

static char scratch[] = "/tmp/test-dissect-XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p);
}

static char *scratch_path(const char *name) {
        static char buf[8][256];
        static unsigned i;
        char *p = buf[i++ % 8];
        snprintf(p, 256, "%s/%s", scratch, name);
        return p;
}

typedef struct Spec {
        PartitionDesignator designator;
        Architecture arch;
        const char *label;
        uint64_t attrs;
        const char *magic; /* written at the start ("hsqs", verity superblock); NULL: zeros */
} Spec;

#define X86_64 ARCHITECTURE_X86_64
#define NOARCH _ARCHITECTURE_INVALID
#define SQUASHFS "hsqs"
#define VERITY "verity\0\0\1\0\0\0"

/* One 1 MiB partition per spec, in order, from 1 MiB on; partition UUIDs 1, 2, 3, … */
static void make_image(const char *path, const Spec *specs, size_t n) {
        GptPartition parts[16] = {};
        ASSERT_TRUE(n <= ELEMENTSOF(parts));
        uint64_t size = (n + 2) * MiB;
        for (size_t i = 0; i < n; i++) {
                if (specs[i].designator < 0) /* a type DPS does not know */
                        ASSERT_OK(uuid_from_string("deadbeef-0000-4000-8000-000000000000", &parts[i].type));
                else {
                        const DpsType *t = dps_type_find(specs[i].designator, specs[i].arch);
                        ASSERT_TRUE(t);
                        parts[i].type = t->uuid;
                }
                parts[i].uuid.bytes[15] = (uint8_t) (i + 1);
                parts[i].uuid.bytes[6] = 0x40;
                snprintf(parts[i].label, sizeof(parts[i].label), "%s", specs[i].label);
                parts[i].offset = (i + 1) * MiB;
                parts[i].size = MiB;
                parts[i].attrs = specs[i].attrs;
        }
        GptLayout l = { .device_size = size, .partitions = parts, .n_partitions = n };
        l.disk_uuid.bytes[0] = 0xd1;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(ftruncate(fd, (off_t) size), 0);
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_write(fd, &l, &e));
        for (size_t i = 0; i < n; i++)
                if (specs[i].magic)
                        ASSERT_OK(pwrite_full(fd, specs[i].magic, strlen(specs[i].magic) ?: 12, parts[i].offset));
        close(fd);
}

static void write_file(const char *path, const void *data, size_t n, uint64_t size) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(ftruncate(fd, (off_t) size), 0);
        if (n > 0)
                ASSERT_OK(pwrite_full(fd, data, n, 0));
        close(fd);
}

static DissectedImage *dissect_ok(const char *path, Architecture arch, bool usr_only) {
        DissectedImage *d = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        int r = dissect_image(path, &(DissectOptions) { .arch = arch, .usr_only = usr_only }, &d, &e);
        if (r < 0)
                ASSERT_FAIL_("dissecting %s: %s", path, e.message ?: strerror(-r));
        ASSERT_FALSE(graft_error_is_set(&e));
        return d;
}

static void expect_refused(const char *path, const DissectOptions *o, int error, const char *name, const char *needle) {
        DissectedImage *d = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(dissect_image(path, o, &d, &e), error);
        ASSERT_TRUE(d == NULL);
        ASSERT_STREQ(e.name, name);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        fprintf(stderr, "  refused: %s\n", e.message);
        graft_error_done(&e);
}

TEST(dps_image) {
        const char *path = scratch_path("foo.raw");
        const Spec s[] = {
                { PARTITION_ESP, NOARCH, "esp", 0, NULL },
                { PARTITION_ROOT, X86_64, "foo_1.2", GPT_FLAG_READ_ONLY, SQUASHFS },
                { PARTITION_ROOT_VERITY, X86_64, "foo_1.2", GPT_FLAG_READ_ONLY, VERITY },
                { PARTITION_ROOT_VERITY_SIG, X86_64, "foo_1.2", GPT_FLAG_READ_ONLY, "{\"rootHash\":" },
        };
        make_image(path, s, ELEMENTSOF(s));
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_EQ(d->kind, IMAGE_KIND_GPT);
        ASSERT_STREQ(d->path, path);
        ASSERT_STREQ(d->name, "foo");
        ASSERT_STREQ(d->version, "1.2");
        ASSERT_EQ(d->size, 6 * MiB);
        ASSERT_TRUE(d->table && d->table->n_partitions == 4);

        ASSERT_TRUE(d->data.found);
        ASSERT_EQ(d->data.partno, 2);
        ASSERT_EQ(d->data.designator, PARTITION_ROOT);
        ASSERT_EQ(d->data.arch, X86_64);
        ASSERT_EQ(d->data.fstype, FS_TYPE_SQUASHFS);
        ASSERT_STREQ(d->data.label, "foo_1.2");
        ASSERT_STREQ(d->data.version, "1.2");
        ASSERT_EQ(d->data.attrs, GPT_FLAG_READ_ONLY);
        ASSERT_EQ(d->data.uuid.bytes[15], 2);
        ASSERT_EQ(d->data.range.fd, d->fd);
        ASSERT_EQ(d->data.range.offset, 2 * MiB);
        ASSERT_EQ(d->data.range.size, MiB);
        ASSERT_STREQ(d->data.range.what, "partition 2");

        ASSERT_TRUE(d->verity.found);
        ASSERT_EQ(d->verity.partno, 3);
        ASSERT_EQ(d->verity.designator, PARTITION_ROOT_VERITY);
        ASSERT_EQ(d->verity.range.offset, 3 * MiB);
        ASSERT_STREQ(d->verity.range.what, "partition 3");
        ASSERT_TRUE(d->signature.found);
        ASSERT_EQ(d->signature.partno, 4);
        ASSERT_EQ(d->signature.designator, PARTITION_ROOT_VERITY_SIG);
        ASSERT_EQ(d->sidecar_verity_fd, -EBADF);
        ASSERT_TRUE(d->sidecar_root_hash == NULL && d->sidecar_p7s == NULL);
        dissected_image_free(d);
}

TEST(newest_version_wins) {
        const char *path = scratch_path("versions.raw");
        const Spec s[] = {
                { PARTITION_ROOT, X86_64, "foo_1.9", 0, SQUASHFS },
                { PARTITION_ROOT, X86_64, "foo_1.10", 0, SQUASHFS },
                { PARTITION_ROOT, X86_64, "foo_1.2", 0, SQUASHFS },
                { PARTITION_ROOT_VERITY, X86_64, "foo_1.9", 0, VERITY },
                { PARTITION_ROOT_VERITY, X86_64, "foo_1.10", 0, VERITY },
                { PARTITION_ROOT_VERITY_SIG, X86_64, "foo_1.9", 0, NULL },
                { PARTITION_ROOT_VERITY_SIG, X86_64, "foo_1.8", 0, NULL },
        };
        make_image(path, s, ELEMENTSOF(s));
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_EQ(d->data.partno, 2);
        ASSERT_STREQ(d->version, "1.10");
        ASSERT_EQ(d->verity.partno, 5); /* the one labelled like the data partition */
        ASSERT_EQ(d->signature.partno, 6); /* none matches: the first on disk */
        dissected_image_free(d);
}

TEST(root_before_usr) {
        const char *path = scratch_path("rootusr.raw");
        const Spec s[] = {
                { PARTITION_USR, X86_64, "u_2", 0, SQUASHFS },
                { PARTITION_USR_VERITY, X86_64, "u_2", 0, VERITY },
                { PARTITION_ROOT, X86_64, "r_1", 0, NULL },
        };
        make_image(path, s, ELEMENTSOF(s));
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_EQ(d->data.designator, PARTITION_ROOT);
        ASSERT_EQ(d->data.fstype, FS_TYPE_UNKNOWN);
        ASSERT_FALSE(d->verity.found); /* root has none; usr's does not count */
        ASSERT_EQ(d->verity.designator, _PARTITION_DESIGNATOR_INVALID);
        ASSERT_STREQ(d->name, "r");
        dissected_image_free(d);

        d = dissect_ok(path, X86_64, /* usr_only= */ true);
        ASSERT_EQ(d->data.designator, PARTITION_USR);
        ASSERT_EQ(d->data.partno, 1);
        ASSERT_EQ(d->verity.partno, 2);
        ASSERT_STREQ(d->name, "u");
        dissected_image_free(d);
}

TEST(architecture_order) {
        Architecture native = architecture_native(), secondary = architecture_secondary(native);
        Architecture foreign = native == ARCHITECTURE_RISCV64 ? ARCHITECTURE_S390X : ARCHITECTURE_RISCV64;

        /* A foreign root loses against a native usr. */
        const char *path = scratch_path("arch.raw");
        const Spec s[] = {
                { PARTITION_ROOT, foreign, "f_1", 0, SQUASHFS },
                { PARTITION_ROOT_VERITY, native, "f_1", 0, VERITY },
                { PARTITION_USR, native, "n_1", 0, SQUASHFS },
        };
        make_image(path, s, ELEMENTSOF(s));
        DissectedImage *d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
        ASSERT_EQ(d->data.designator, PARTITION_USR);
        ASSERT_EQ(d->data.arch, native);
        ASSERT_FALSE(d->verity.found);
        dissected_image_free(d);

        /* Asked for the foreign one: its root, and no verity (that one is native). */
        d = dissect_ok(path, foreign, false);
        ASSERT_EQ(d->data.designator, PARTITION_ROOT);
        ASSERT_EQ(d->data.arch, foreign);
        ASSERT_FALSE(d->verity.found);
        dissected_image_free(d);

        /* Only foreign partitions: taken when no architecture is asked for. */
        const Spec f[] = { { PARTITION_USR, foreign, "f_1", 0, SQUASHFS } };
        make_image(path, f, 1);
        d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
        ASSERT_EQ(d->data.arch, foreign);
        dissected_image_free(d);

        /* The secondary architecture comes before other ones. */
        if (secondary >= 0) {
                const Spec t[] = {
                        { PARTITION_ROOT, foreign, "f_1", 0, SQUASHFS },
                        { PARTITION_ROOT, secondary, "s_1", 0, SQUASHFS },
                };
                make_image(path, t, 2);
                d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
                ASSERT_EQ(d->data.arch, secondary);
                dissected_image_free(d);
        }
}

TEST(skipped_partitions) {
        const char *path = scratch_path("skip.raw");
        const Spec s[] = {
                { PARTITION_ROOT, X86_64, "foo_1", 0, SQUASHFS },
                { PARTITION_ROOT, X86_64, "foo_3", GPT_FLAG_NO_AUTO, SQUASHFS },
                { PARTITION_ROOT, X86_64, "_empty", 0, NULL },
                { PARTITION_ROOT_VERITY, X86_64, "foo_1", GPT_FLAG_NO_AUTO, VERITY },
        };
        make_image(path, s, ELEMENTSOF(s));
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_EQ(d->data.partno, 1);
        ASSERT_FALSE(d->verity.found);
        dissected_image_free(d);

        const Spec t[] = {
                { PARTITION_ROOT, X86_64, "foo_3", GPT_FLAG_NO_AUTO, SQUASHFS },
                { PARTITION_USR, X86_64, "_empty", 0, NULL },
        };
        make_image(path, t, 2);
        char want[512];
        snprintf(want, sizeof(want), "%s: no root or usr partition for x86-64 (found: root-x86-64 (no-auto), usr-x86-64 (_empty))", path);
        expect_refused(path, &(DissectOptions) { .arch = X86_64 }, -ENXIO, GRAFT_ERROR_BAD_IMAGE, want);
}

TEST(no_data_partition) {
        const char *path = scratch_path("foo.raw");
        const Spec s[] = {
                { PARTITION_ESP, NOARCH, "", 0, NULL },
                { PARTITION_USR, ARCHITECTURE_ARM64, "foo_1", 0, SQUASHFS },
                { PARTITION_LINUX_GENERIC, NOARCH, "data", 0, NULL },
        };
        make_image(path, s, ELEMENTSOF(s));
        char want[512];
        snprintf(want, sizeof(want), "%s: no root or usr partition for x86-64 (found: esp, usr-arm64, linux-generic)", path);
        expect_refused(path, &(DissectOptions) { .arch = X86_64 }, -ENXIO, GRAFT_ERROR_BAD_IMAGE, want);
        DissectedImage *d = dissect_ok(path, ARCHITECTURE_ARM64, false);
        ASSERT_EQ(d->data.partno, 2);
        dissected_image_free(d);

        const Spec t[] = {
                { PARTITION_ROOT, X86_64, "r_1", 0, SQUASHFS },
                { _PARTITION_DESIGNATOR_INVALID, NOARCH, "odd", 0, NULL },
        };
        make_image(path, t, ELEMENTSOF(t));
        snprintf(want, sizeof(want), "%s: no usr partition for any architecture (found: root-x86-64)", path);
        expect_refused(path, &(DissectOptions) { .arch = _ARCHITECTURE_INVALID, .usr_only = true }, -ENXIO,
                       GRAFT_ERROR_BAD_IMAGE, want);

        const Spec u[] = { { _PARTITION_DESIGNATOR_INVALID, NOARCH, "odd", 0, NULL } };
        make_image(path, u, 1);
        snprintf(want, sizeof(want), "%s: no root or usr partition for any architecture (found: nothing DPS knows)", path);
        expect_refused(path, NULL, -ENXIO, GRAFT_ERROR_BAD_IMAGE, want);
}

TEST(truncated_gpt_image) {
        const char *path = scratch_path("foo.raw");
        const Spec s[] = {
                { PARTITION_ROOT, X86_64, "foo_1", 0, SQUASHFS },
                { PARTITION_ROOT_VERITY, X86_64, "foo_1", 0, VERITY },
        };
        make_image(path, s, ELEMENTSOF(s));
        ASSERT_EQ(truncate(path, 2 * MiB + 8192), 0);
        char want[512];
        snprintf(want, sizeof(want), "%1$s: partition 2 ends at byte 3145728 but %1$s has only 2105344 bytes: truncated image?", path);
        expect_refused(path, NULL, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, want);
}

TEST(label_without_name) {
        const char *path = scratch_path("plain.raw");
        const Spec s[] = { { PARTITION_ROOT, X86_64, "", 0, SQUASHFS } };
        make_image(path, s, 1);
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_STREQ(d->name, "plain");
        ASSERT_TRUE(d->version == NULL);
        ASSERT_TRUE(d->data.version == NULL);
        ASSERT_STREQ(d->data.label, "");
        dissected_image_free(d);
}

TEST(bare_file_systems) {
        uint8_t buf[4096] = {};
        memcpy(buf, "hsqs", 4);
        const char *path = scratch_path("bar_2.raw");
        write_file(path, buf, sizeof(buf), 64 * 1024);
        DissectedImage *d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
        ASSERT_EQ(d->kind, IMAGE_KIND_FILE_SYSTEM);
        ASSERT_STREQ(d->name, "bar_2");
        ASSERT_TRUE(d->version == NULL);
        ASSERT_TRUE(d->table == NULL);
        ASSERT_TRUE(d->data.found);
        ASSERT_EQ(d->data.partno, 0);
        ASSERT_EQ(d->data.designator, PARTITION_ROOT);
        ASSERT_EQ(d->data.arch, _ARCHITECTURE_INVALID);
        ASSERT_EQ(d->data.fstype, FS_TYPE_SQUASHFS);
        ASSERT_EQ(d->data.range.offset, 0);
        ASSERT_EQ(d->data.range.size, 64 * 1024);
        ASSERT_STREQ(d->data.range.what, "file bar_2.raw");
        ASSERT_FALSE(d->verity.found);
        dissected_image_free(d);

        memset(buf, 0, sizeof(buf));
        memcpy(buf + 1024, "\xe2\xe1\xf5\xe0", 4);
        path = scratch_path("ero"); /* no .raw: the name is the file name */
        write_file(path, buf, sizeof(buf), 8192);
        d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
        ASSERT_EQ(d->data.fstype, FS_TYPE_EROFS);
        ASSERT_STREQ(d->name, "ero");
        dissected_image_free(d);
}

static bool have_tool(const char *name) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
        return system(cmd) == 0;
}

TEST(real_file_systems) {
        /* What the tools write, not just the magic numbers. */
        char cmd[1024];
        if (have_tool("mksquashfs")) {
                snprintf(cmd, sizeof(cmd), "mkdir -p '%1$s/t/usr' && mksquashfs '%1$s/t' '%1$s/real.raw' -quiet -noappend >/dev/null", scratch);
                ASSERT_EQ(system(cmd), 0);
                DissectedImage *d = dissect_ok(scratch_path("real.raw"), _ARCHITECTURE_INVALID, false);
                ASSERT_EQ(d->data.fstype, FS_TYPE_SQUASHFS);
                dissected_image_free(d);
        }
        if (have_tool("mkfs.erofs")) {
                snprintf(cmd, sizeof(cmd), "mkdir -p '%1$s/t/usr' && mkfs.erofs --quiet '%1$s/real-erofs.raw' '%1$s/t' >/dev/null 2>&1", scratch);
                ASSERT_EQ(system(cmd), 0);
                DissectedImage *d = dissect_ok(scratch_path("real-erofs.raw"), _ARCHITECTURE_INVALID, false);
                ASSERT_EQ(d->data.fstype, FS_TYPE_EROFS);
                dissected_image_free(d);
        }
        if (have_tool("mkfs.ext4")) {
                snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F '%s' 4M >/dev/null 2>&1", scratch_path("real-ext4.raw"));
                ASSERT_EQ(system(cmd), 0);
                expect_refused(scratch_path("real-ext4.raw"), NULL, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                               "not a GPT image, squashfs or erofs file, or directory (found an ext4 file system)");
        }
}

TEST(not_an_image) {
        char want[512];
        const char *path = scratch_path("zero.raw");
        write_file(path, NULL, 0, 8 * MiB);
        snprintf(want, sizeof(want), "%s: not a GPT image, squashfs or erofs file, or directory", path);
        expect_refused(path, NULL, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE, want);

        path = scratch_path("empty.raw");
        write_file(path, NULL, 0, 0);
        expect_refused(path, NULL, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE,
                       "not a GPT image, squashfs or erofs file, or directory (the file is empty)");

        uint8_t *buf = malloc(MiB);
        ASSERT_TRUE(buf);
        uint64_t x = 88172645463325252ULL;
        for (size_t i = 0; i < MiB; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (uint8_t) x;
        }
        path = scratch_path("random.raw");
        write_file(path, buf, MiB, MiB);
        free(buf);
        expect_refused(path, NULL, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE, "not a GPT image, squashfs or erofs file");

        uint8_t sb[512] = "verity\0\0";
        path = scratch_path("hash.raw");
        write_file(path, sb, sizeof(sb), 4096);
        expect_refused(path, NULL, -EMEDIUMTYPE, GRAFT_ERROR_BAD_IMAGE, "(found a verity hash area)");

        expect_refused("/dev/null", NULL, -EBADFD, GRAFT_ERROR_BAD_IMAGE,
                       "/dev/null is a character device, not a regular file, block device or directory");
}

TEST(missing) {
        char want[512];
        const char *path = scratch_path("foo.raw");
        (void) unlink(path);
        snprintf(want, sizeof(want), "%s: no such file", path);
        expect_refused(path, NULL, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, want);
        expect_refused("", NULL, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "no image path given");
}

TEST(directory) {
        const char *path = scratch_path("tree");
        ASSERT_EQ(mkdir(path, 0755), 0);
        DissectedImage *d = dissect_ok(path, _ARCHITECTURE_INVALID, false);
        ASSERT_EQ(d->kind, IMAGE_KIND_DIRECTORY);
        ASSERT_STREQ(d->name, "tree");
        ASSERT_TRUE(d->fd >= 0);
        ASSERT_FALSE(d->data.found);
        ASSERT_EQ(d->data.designator, PARTITION_ROOT);
        ASSERT_FALSE(d->verity.found);
        dissected_image_free(d);

        char slash[300];
        snprintf(slash, sizeof(slash), "%s/", path);
        d = dissect_ok(slash, _ARCHITECTURE_INVALID, false);
        ASSERT_STREQ(d->name, "tree");
        dissected_image_free(d);
}

#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void put_sidecar(const char *name, const void *data, size_t n) {
        write_file(scratch_path(name), data, n, n);
}

static void make_squashfs(const char *name) {
        uint8_t buf[4096] = "hsqs";
        write_file(scratch_path(name), buf, sizeof(buf), 64 * 1024);
}

TEST(sidecars_of_bare_file) {
        make_squashfs("side.raw");
        put_sidecar("side.roothash", "  " "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef" "\n\n", 68);
        put_sidecar("side.roothash.p7s", "\x30\x82\x00\x01\x00", 5);
        uint8_t sb[4096] = "verity\0\0";
        put_sidecar("side.verity", sb, sizeof(sb));

        DissectedImage *d = dissect_ok(scratch_path("side.raw"), _ARCHITECTURE_INVALID, false);
        ASSERT_STREQ(d->sidecar_root_hash, HASH64); /* trimmed and lowercased */
        ASSERT_EQ(d->sidecar_p7s_size, 5);
        ASSERT_TRUE(memcmp(d->sidecar_p7s, "\x30\x82\x00\x01\x00", 5) == 0);
        ASSERT_TRUE(d->sidecar_verity_fd >= 0);
        ASSERT_TRUE(d->verity.found);
        ASSERT_EQ(d->verity.partno, 0);
        ASSERT_EQ(d->verity.designator, PARTITION_ROOT_VERITY);
        ASSERT_EQ(d->verity.range.fd, d->sidecar_verity_fd);
        ASSERT_EQ(d->verity.range.offset, 0);
        ASSERT_EQ(d->verity.range.size, 4096);
        ASSERT_STREQ(d->verity.range.what, "file side.verity");
        ASSERT_FALSE(d->signature.found);
        dissected_image_free(d);

        /* A 64-byte (sha512) root hash is fine too. */
        put_sidecar("side.roothash", HASH64 HASH64, 128);
        d = dissect_ok(scratch_path("side.raw"), _ARCHITECTURE_INVALID, false);
        ASSERT_STREQ(d->sidecar_root_hash, HASH64 HASH64);
        dissected_image_free(d);
}

TEST(sidecars_of_gpt_image) {
        const char *path = scratch_path("gptside.raw");
        const Spec s[] = { { PARTITION_USR, X86_64, "gs_1", 0, SQUASHFS } };
        make_image(path, s, 1);
        uint8_t sb[4096] = "verity\0\0";
        put_sidecar("gptside.verity", sb, sizeof(sb));
        put_sidecar("gptside.roothash", HASH64, 64);
        DissectedImage *d = dissect_ok(path, X86_64, false);
        ASSERT_TRUE(d->verity.found);
        ASSERT_EQ(d->verity.designator, PARTITION_USR_VERITY);
        ASSERT_EQ(d->verity.arch, X86_64);
        ASSERT_STREQ(d->verity.what, "file gptside.verity");
        ASSERT_STREQ(d->sidecar_root_hash, HASH64);
        dissected_image_free(d);

        /* The image's own verity partition wins over the sidecar. */
        const Spec t[] = {
                { PARTITION_USR, X86_64, "gs_1", 0, SQUASHFS },
                { PARTITION_USR_VERITY, X86_64, "gs_1", 0, VERITY },
        };
        make_image(path, t, 2);
        d = dissect_ok(path, X86_64, false);
        ASSERT_EQ(d->verity.partno, 2);
        ASSERT_TRUE(d->sidecar_verity_fd >= 0);
        dissected_image_free(d);
}

static void expect_sidecar_refused(const char *name, const void *data, size_t n, int error, const char *needle) {
        make_squashfs("bad.raw");
        (void) unlink(scratch_path("bad.roothash"));
        (void) unlink(scratch_path("bad.roothash.p7s"));
        (void) unlink(scratch_path("bad.verity"));
        put_sidecar(name, data, n);
        DissectedImage *d = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        char prefix[512];
        snprintf(prefix, sizeof(prefix), "%s: ", scratch_path(name));
        ASSERT_ERRNO(dissect_image(scratch_path("bad.raw"), NULL, &d, &e), error);
        ASSERT_TRUE(d == NULL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_TRUE(e.message && strncmp(e.message, prefix, strlen(prefix)) == 0); /* names the sidecar */
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        fprintf(stderr, "  refused: %s\n", e.message);
        graft_error_done(&e);
}

TEST(bad_sidecars) {
        expect_sidecar_refused("bad.roothash", "xyz", 3, -EBADMSG,
                               "not a valid root hash (expected 64 to 128 hex digits, found 3 characters)");
        expect_sidecar_refused("bad.roothash", HASH64 "0", 65, -EBADMSG, "found 65 characters)");
        expect_sidecar_refused("bad.roothash", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd", 62,
                               -EBADMSG, "not a valid root hash (expected 64 to 128 hex digits, found 62 characters)");
        expect_sidecar_refused("bad.roothash", HASH64 HASH64 "00", 130, -EBADMSG, "found 130 characters)");
        expect_sidecar_refused("bad.roothash", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", 64,
                               -EBADMSG, "found 64 characters with non-hex ones)");
        expect_sidecar_refused("bad.roothash", "0123456789abcdef0123456789abcdef 0123456789abcdef0123456789abcde", 64,
                               -EBADMSG, "with non-hex ones");
        expect_sidecar_refused("bad.roothash", HASH64 "\0", 65, -EBADMSG, "not a valid root hash");
        expect_sidecar_refused("bad.roothash", "", 0, -EBADMSG, "found 0 characters");
        char *big = calloc(1, 5000);
        ASSERT_TRUE(big);
        memset(big, '0', 5000);
        expect_sidecar_refused("bad.roothash", big, 5000, -EBADMSG, "not a root hash (the file is larger than 4 KiB)");
        free(big);

        expect_sidecar_refused("bad.roothash.p7s", "", 0, -EBADMSG, "the signature file is empty");
        big = calloc(1, 4 * MiB + 1);
        ASSERT_TRUE(big);
        expect_sidecar_refused("bad.roothash.p7s", big, 4 * MiB + 1, -EFBIG, "larger than 4 MiB");
        free(big);

        uint8_t sb[4096] = "notverity";
        expect_sidecar_refused("bad.verity", sb, sizeof(sb), -EBADMSG,
                               "not a verity hash area (it does not start with a verity superblock)");
        expect_sidecar_refused("bad.verity", "verity\0\0", 8, -EBADMSG, "not a verity hash area");
        (void) unlink(scratch_path("bad.verity"));
}

/* A file of size bytes with magic at offset, probed over its first range_size bytes. */
static FsType probe_range(size_t offset, const void *magic, size_t n, uint64_t size, uint64_t range_size) {
        const char *path = scratch_path("probe");
        uint8_t *buf = calloc(1, size);
        ASSERT_TRUE(buf);
        memcpy(buf + offset, magic, n);
        write_file(path, buf, size, size);
        free(buf);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        FsType t = 99;
        ASSERT_OK(fs_type_probe(&(ImageRange) { .fd = fd, .offset = 0, .size = range_size }, &t));
        close(fd);
        return t;
}

static FsType probe_bytes(size_t offset, const void *magic, size_t n, uint64_t size) {
        return probe_range(offset, magic, n, size, size);
}

TEST(fs_type_probe) {
        ASSERT_EQ(probe_bytes(0, "hsqs", 4, 4096), FS_TYPE_SQUASHFS);
        ASSERT_EQ(probe_bytes(1024, "\xe2\xe1\xf5\xe0", 4, 4096), FS_TYPE_EROFS);
        ASSERT_EQ(probe_bytes(1080, "\x53\xef", 2, 4096), FS_TYPE_EXT4);
        ASSERT_EQ(probe_bytes(65600, "_BHRfS_M", 8, 128 * 1024), FS_TYPE_BTRFS);
        ASSERT_EQ(probe_bytes(0, "XFSB", 4, 4096), FS_TYPE_XFS);
        ASSERT_EQ(probe_bytes(0, "verity\0\0", 8, 4096), FS_TYPE_VERITY);
        ASSERT_EQ(probe_bytes(0, "verity\0\1", 8, 4096), FS_TYPE_UNKNOWN);
        ASSERT_EQ(probe_bytes(0, "", 0, 4096), FS_TYPE_UNKNOWN);
        /* A range too short for a magic's offset cannot have it. */
        ASSERT_EQ(probe_range(1080, "\x53\xef", 2, 4096, 1081), FS_TYPE_UNKNOWN);
        ASSERT_EQ(probe_range(65600, "_BHRfS_M", 8, 128 * 1024, 65607), FS_TYPE_UNKNOWN);
        ASSERT_EQ(probe_bytes(0, "hsqs", 4, 4), FS_TYPE_SQUASHFS);

        uint8_t fat[512] = { 0xEB, 0x58, 0x90 };
        memcpy(fat + 82, "FAT32   ", 8);
        fat[510] = 0x55, fat[511] = 0xAA;
        ASSERT_EQ(probe_bytes(0, fat, sizeof(fat), 4096), FS_TYPE_VFAT);
        memset(fat + 82, 0, 8);
        memcpy(fat + 54, "FAT16   ", 8);
        ASSERT_EQ(probe_bytes(0, fat, sizeof(fat), 4096), FS_TYPE_VFAT);
        fat[510] = 0;
        ASSERT_EQ(probe_bytes(0, fat, sizeof(fat), 4096), FS_TYPE_UNKNOWN);

        /* At an offset, and past the end of the file. */
        int fd = open(scratch_path("probe"), O_RDONLY | O_CLOEXEC);
        FsType t;
        ASSERT_ERRNO(fs_type_probe(&(ImageRange) { .fd = fd, .offset = 4000, .size = 4096 }, &t), -EIO);
        close(fd);
}

TEST(names) {
        ASSERT_STREQ(image_kind_to_string(IMAGE_KIND_GPT), "gpt");
        ASSERT_STREQ(image_kind_to_string(IMAGE_KIND_FILE_SYSTEM), "file-system");
        ASSERT_STREQ(image_kind_to_string(IMAGE_KIND_DIRECTORY), "directory");
        ASSERT_TRUE(image_kind_to_string((ImageKind) 7) == NULL);
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_UNKNOWN), "unknown");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_SQUASHFS), "squashfs");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_EROFS), "erofs");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_EXT4), "ext4");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_BTRFS), "btrfs");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_XFS), "xfs");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_VFAT), "vfat");
        ASSERT_STREQ(fs_type_to_string(FS_TYPE_VERITY), "verity");
        ASSERT_TRUE(fs_type_to_string((FsType) 42) == NULL);
}

TEST(label_split) {
        char *name = NULL, *version = NULL;
        ASSERT_OK(label_split("foo_1.2", &name, &version));
        ASSERT_STREQ(name, "foo");
        ASSERT_STREQ(version, "1.2");
        free(name), free(version);
        ASSERT_OK(label_split("foo", &name, &version));
        ASSERT_STREQ(name, "foo");
        ASSERT_TRUE(version == NULL);
        free(name);
        ASSERT_OK(label_split("a_b_c", &name, &version));
        ASSERT_STREQ(name, "a");
        ASSERT_STREQ(version, "b_c");
        free(name), free(version);
        ASSERT_OK(label_split("_empty", &name, &version));
        ASSERT_STREQ(name, "");
        ASSERT_STREQ(version, "empty");
        free(name), free(version);
        ASSERT_OK(label_split("x_", NULL, &version));
        ASSERT_STREQ(version, "");
        free(version);
        ASSERT_OK(label_split("x_1", &name, NULL));
        ASSERT_STREQ(name, "x");
        free(name);
}

int main(int argc, char **argv) {
        if (!mkdtemp(scratch)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        int r = tests_run(argc, argv);
        nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}
