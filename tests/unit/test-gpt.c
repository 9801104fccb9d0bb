/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GPT write and read through libfdisk: round trips, determinism, what sfdisk and systemd-dissect
 * make of our tables, and hostile tables (overlaps, truncation, damaged headers). */
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <libfdisk/libfdisk.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "dps.h"
#include "fileio.h"
#include "gpt.h"
#include "tests.h"

#define MiB (UINT64_C(1) << 20)

static char scratch[] = "/tmp/test-gpt-XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p);
}

static void cleanup_scratch(void) {
        nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *scratch_path(const char *name) {
        static char buf[8][256];
        static unsigned i;
        char *p = buf[i++ % 8];
        snprintf(p, 256, "%s/%s", scratch, name);
        return p;
}

static bool have_tool(const char *name) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
        return system(cmd) == 0;
}

static int create_file(const char *path, uint64_t size) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(ftruncate(fd, (off_t) size), 0);
        return fd;
}

static Uuid uuid(const char *s) {
        Uuid u;
        ASSERT_OK(uuid_from_string(s, &u));
        return u;
}

static GptPartition part(PartitionDesignator d, const char *uuid_str, const char *label, uint64_t offset,
                         uint64_t size, uint64_t attrs) {
        GptPartition p = {
                .type = dps_type_find(d, ARCHITECTURE_X86_64)->uuid,
                .uuid = uuid(uuid_str),
                .offset = offset,
                .size = size,
                .attrs = attrs,
        };
        snprintf(p.label, sizeof(p.label), "%s", label);
        return p;
}

/* 36 characters each: ASCII (36 bytes), Latin-1 range (72 bytes), BMP (108 bytes UTF-8). */
#define LABEL_ASCII_36 "abcdefghijklmnopqrstuvwxyz_123456789"
#define E36 "éééééééééééééééééééééééééééééééééééé"
#define EURO36 "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"

static GptPartition standard_parts[3];

/* A DPS layout of 8 MiB: root (4 MiB), root-verity (1 MiB), root-verity-sig (16 KiB). */
static GptLayout standard_layout(void) {
        standard_parts[0] = part(PARTITION_ROOT, "11111111-2222-4333-8444-555555555555", LABEL_ASCII_36, MiB, 4 * MiB,
                                 GPT_FLAG_READ_ONLY | GPT_FLAG_GROWFS | (UINT64_C(1) << 48));
        standard_parts[1] = part(PARTITION_ROOT_VERITY, "66666666-7777-4888-9999-aaaaaaaaaaaa", E36, 5 * MiB, MiB,
                                 GPT_FLAG_READ_ONLY | GPT_FLAG_NO_AUTO);
        standard_parts[2] = part(PARTITION_ROOT_VERITY_SIG, "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff", EURO36, 6 * MiB,
                                 16384, GPT_FLAG_READ_ONLY | 1);
        return (GptLayout) {
                .device_size = 8 * MiB,
                .disk_uuid = uuid("01234567-89ab-4cde-8f01-23456789abcd"),
                .partitions = standard_parts,
                .n_partitions = 3,
        };
}

static void write_standard(const char *path) {
        GptLayout l = standard_layout();
        int fd = create_file(path, l.device_size);
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_write(fd, &l, &e));
        ASSERT_FALSE(graft_error_is_set(&e));
        close(fd);
}

static int read_path(const char *path, GptTable **ret, GraftError *e) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        int r = gpt_read(fd, path, ret, e);
        close(fd);
        return r;
}

static void assert_same_partition(const GptPartition *a, const GptPartition *b) {
        ASSERT_TRUE(uuid_equal(&a->type, &b->type));
        ASSERT_TRUE(uuid_equal(&a->uuid, &b->uuid));
        ASSERT_STREQ(a->label, b->label);
        ASSERT_EQ(a->offset, b->offset);
        ASSERT_EQ(a->size, b->size);
        ASSERT_EQ(a->attrs, b->attrs);
}

TEST(write_read_round_trip) {
        const char *path = scratch_path("round.raw");
        write_standard(path);
        GptLayout l = standard_layout();

        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_EQ(t->sector_size, 512);
        ASSERT_EQ(t->device_size, 8 * MiB);
        ASSERT_TRUE(uuid_equal(&t->disk_uuid, &l.disk_uuid));
        ASSERT_EQ(t->first_usable_offset, GPT_FIRST_USABLE_OFFSET);
        ASSERT_EQ(t->usable_end, 8 * MiB - GPT_BACKUP_SIZE);
        ASSERT_FALSE(t->primary_header_damaged);
        ASSERT_FALSE(t->backup_header_damaged);
        ASSERT_EQ(t->n_partitions, 3);
        for (size_t i = 0; i < 3; i++) {
                ASSERT_EQ(t->partitions[i].partno, i + 1);
                assert_same_partition(&t->partitions[i], &l.partitions[i]);
        }
        /* Labels of exactly 36 characters come back whole, whatever their UTF-8 length. */
        ASSERT_EQ(strlen(t->partitions[0].label), 36);
        ASSERT_EQ(strlen(t->partitions[1].label), 72);
        ASSERT_EQ(strlen(t->partitions[2].label), 108);
        gpt_table_free(t);
}

TEST(partno_order_and_sorting) {
        /* Written in the order given; read back sorted by offset with the numbers kept. */
        GptPartition p[2] = {
                part(PARTITION_USR, "11111111-2222-4333-8444-555555555555", "late", 4 * MiB, MiB, 0),
                part(PARTITION_ESP, "22222222-2222-4333-8444-555555555555", "", 2 * MiB, MiB, 0),
        };
        GptLayout l = { .device_size = 8 * MiB, .disk_uuid = uuid("01234567-89ab-4cde-8f01-23456789abcd"),
                        .partitions = p, .n_partitions = 2 };
        const char *path = scratch_path("order.raw");
        int fd = create_file(path, l.device_size);
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_write(fd, &l, &e));
        close(fd);
        GptTable *t = NULL;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_EQ(t->n_partitions, 2);
        ASSERT_EQ(t->partitions[0].partno, 2);
        ASSERT_STREQ(t->partitions[0].label, "");
        ASSERT_EQ(t->partitions[1].partno, 1);
        ASSERT_STREQ(t->partitions[1].label, "late");
        gpt_table_free(t);
}

TEST(smallest_and_large_images) {
        /* libfdisk's alignment must not move the usable area for tiny or big images. */
        const uint64_t sizes[] = { 1073152, UINT64_C(64) << 30 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                GptPartition p = part(PARTITION_USR, "11111111-2222-4333-8444-555555555555", "tiny", MiB, 4096, 0);
                if (i == 1)
                        p.offset = sizes[i] - GPT_BACKUP_SIZE - 4096 - 3 * 512, p.offset -= p.offset % 4096;
                GptLayout l = { .device_size = sizes[i], .disk_uuid = uuid("01234567-89ab-4cde-8f01-23456789abcd"),
                                .partitions = &p, .n_partitions = 1 };
                const char *path = scratch_path("size.raw");
                int fd = create_file(path, l.device_size);
                GraftError e = GRAFT_ERROR_INIT;
                ASSERT_OK(gpt_write(fd, &l, &e));
                close(fd);
                GptTable *t = NULL;
                ASSERT_OK(read_path(path, &t, &e));
                ASSERT_EQ(t->first_usable_offset, GPT_FIRST_USABLE_OFFSET);
                ASSERT_EQ(t->usable_end, sizes[i] - GPT_BACKUP_SIZE);
                ASSERT_EQ(t->n_partitions, 1);
                assert_same_partition(&t->partitions[0], &p);
                gpt_table_free(t);
                ASSERT_EQ(unlink(path), 0);
        }
}

static char *slurp(const char *path, size_t *ret_size) {
        char *buf = NULL;
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 64 * MiB, &buf, ret_size));
        return buf;
}

TEST(deterministic) {
        const char *a = scratch_path("det-a.raw"), *b = scratch_path("det-b.raw");
        write_standard(a);

        /* The second file starts out full of garbage where the GPT goes, and already has data
         * in a partition: the GPT areas come out the same, the data stays. */
        GptLayout l = standard_layout();
        int fd = create_file(b, l.device_size);
        uint8_t junk[65536];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 7 + 3);
        ASSERT_OK(pwrite_full(fd, junk, sizeof(junk), 0));
        ASSERT_OK(pwrite_full(fd, junk, sizeof(junk), l.device_size - sizeof(junk)));
        ASSERT_OK(pwrite_full(fd, "DATA", 4, MiB));
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_write(fd, &l, &e));
        close(fd);

        size_t na, nb;
        char *x = slurp(a, &na), *y = slurp(b, &nb);
        ASSERT_EQ(na, nb);
        ASSERT_TRUE(memcmp(x, y, 34 * 512) == 0);
        ASSERT_TRUE(memcmp(x + na - GPT_BACKUP_SIZE, y + nb - GPT_BACKUP_SIZE, GPT_BACKUP_SIZE) == 0);
        ASSERT_TRUE(memcmp(y + MiB, "DATA", 4) == 0);

        /* And the same layout twice gives the same file. */
        write_standard(b);
        free(y);
        y = slurp(b, &nb);
        ASSERT_TRUE(na == nb && memcmp(x, y, na) == 0);
        free(x);
        free(y);
}

static void expect_write_refused(GptLayout *l, const char *needle) {
        const char *path = scratch_path("refused.raw");
        int fd = create_file(path, 8 * MiB);
        ASSERT_OK(pwrite_full(fd, "untouched", 9, 0));
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(gpt_write(fd, l, &e), -EINVAL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_INVALID_ARGUMENT);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        fprintf(stderr, "  refused: %s\n", e.message);
        graft_error_done(&e);
        /* Nothing written. */
        char buf[16] = {};
        ASSERT_OK(pread_full(fd, buf, 9, 0));
        ASSERT_STREQ(buf, "untouched");
        close(fd);
}

TEST(write_refusals) {
        GptLayout l = standard_layout();

        snprintf(standard_parts[0].label, sizeof(standard_parts[0].label), "%s", LABEL_ASCII_36 "x");
        expect_write_refused(&l, "is 37 characters long, a GPT label holds at most 36");
        l = standard_layout();
        snprintf(standard_parts[1].label, sizeof(standard_parts[1].label), "%s", E36 "é");
        expect_write_refused(&l, "partition 2: label");
        l = standard_layout();
        /* 34 + one character that needs a surrogate pair = 36 UTF-16 units, but libfdisk cannot. */
        snprintf(standard_parts[0].label, sizeof(standard_parts[0].label), "%s", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx😀");
        expect_write_refused(&l, "beyond U+FFFF");
        l = standard_layout();
        snprintf(standard_parts[0].label, sizeof(standard_parts[0].label), "%s", "bad\xff");
        expect_write_refused(&l, "partition 1: label is not valid UTF-8 (at byte 3)");
        l = standard_layout();
        snprintf(standard_parts[0].label, sizeof(standard_parts[0].label), "%s", "overlong\xc0\xaf");
        expect_write_refused(&l, "partition 1: label is not valid UTF-8 (at byte 8)");

        l = standard_layout();
        standard_parts[1].offset = 5 * MiB + 512;
        expect_write_refused(&l, "partition 2: offset 5243392 and size 1048576 must be non-zero multiples of 4096");
        l = standard_layout();
        standard_parts[2].size = 0;
        expect_write_refused(&l, "must be non-zero multiples of 4096");
        l = standard_layout();
        standard_parts[1].offset = 4 * MiB;
        expect_write_refused(&l, "partitions 1 and 2 overlap");
        l = standard_layout();
        standard_parts[0].offset = 4096;
        expect_write_refused(&l, "partition 1: bytes 4096+4194304 lie outside the usable area");
        l = standard_layout();
        standard_parts[2].offset = 8 * MiB - 16384;
        expect_write_refused(&l, "partition 3: bytes 8372224+16384 lie outside the usable area");
        l = standard_layout();
        standard_parts[2].size = UINT64_MAX - 4095;
        expect_write_refused(&l, "lie outside the usable area");
        l = standard_layout();
        standard_parts[2].type = (Uuid) {};
        expect_write_refused(&l, "partition 3: the null type GUID marks an unused entry");
        l = standard_layout();
        standard_parts[0].uuid = (Uuid) {};
        expect_write_refused(&l, "partition 1: needs a partition GUID");
        l = standard_layout();
        l.disk_uuid = (Uuid) {};
        expect_write_refused(&l, "needs a disk GUID");
        l = standard_layout();
        l.device_size = 16 * MiB;
        expect_write_refused(&l, "the image file has 8388608 bytes but the layout is for 16777216");
        l = standard_layout();
        l.device_size = 8 * MiB + 512;
        expect_write_refused(&l, "cannot hold a GPT");
        l = standard_layout();
        l.n_partitions = 129;
        expect_write_refused(&l, "129 partitions, a GPT holds at most 128");
}

TEST(sfdisk_recognises) {
        if (!have_tool("sfdisk")) {
                fprintf(stderr, "sfdisk not installed, skipping\n");
                return;
        }
        const char *path = scratch_path("sfdisk.raw");
        write_standard(path);
        GptLayout l = standard_layout();

        char cmd[512];
        snprintf(cmd, sizeof(cmd), "sfdisk --json '%s'", path);
        FILE *f = popen(cmd, "r");
        ASSERT_TRUE(f);
        char *out = NULL;
        size_t n = 0;
        ASSERT_OK(read_full_fd(fileno(f), MiB, &out, &n));
        ASSERT_EQ(pclose(f), 0);

        json_object *root = json_tokener_parse(out), *pt, *v, *parts;
        ASSERT_TRUE(root && json_object_object_get_ex(root, "partitiontable", &pt));
        ASSERT_TRUE(json_object_object_get_ex(pt, "label", &v));
        ASSERT_STREQ(json_object_get_string(v), "gpt");
        ASSERT_TRUE(json_object_object_get_ex(pt, "id", &v));
        ASSERT_TRUE(strcasecmp(json_object_get_string(v), UUID_TO_STRING(&l.disk_uuid)) == 0);
        ASSERT_TRUE(json_object_object_get_ex(pt, "firstlba", &v));
        ASSERT_EQ(json_object_get_int64(v), 2048);
        ASSERT_TRUE(json_object_object_get_ex(pt, "partitions", &parts));
        ASSERT_EQ(json_object_array_length(parts), 3);
        for (size_t i = 0; i < 3; i++) {
                json_object *p = json_object_array_get_idx(parts, i);
                const GptPartition *want = &l.partitions[i];
                ASSERT_TRUE(json_object_object_get_ex(p, "start", &v));
                ASSERT_EQ(json_object_get_int64(v), (int64_t) (want->offset / 512));
                ASSERT_TRUE(json_object_object_get_ex(p, "size", &v));
                ASSERT_EQ(json_object_get_int64(v), (int64_t) (want->size / 512));
                ASSERT_TRUE(json_object_object_get_ex(p, "type", &v));
                ASSERT_TRUE(strcasecmp(json_object_get_string(v), UUID_TO_STRING(&want->type)) == 0);
                ASSERT_TRUE(json_object_object_get_ex(p, "uuid", &v));
                ASSERT_TRUE(strcasecmp(json_object_get_string(v), UUID_TO_STRING(&want->uuid)) == 0);
                ASSERT_TRUE(json_object_object_get_ex(p, "name", &v));
                ASSERT_STREQ(json_object_get_string(v), want->label);
        }
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(parts, 0), "attrs", &v));
        ASSERT_STREQ(json_object_get_string(v), "GUID:48,59,60");
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(parts, 1), "attrs", &v));
        ASSERT_STREQ(json_object_get_string(v), "GUID:60,63");
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(parts, 2), "attrs", &v));
        ASSERT_STREQ(json_object_get_string(v), "RequiredPartition GUID:60");
        json_object_put(root);
        free(out);
}

static int run(const char *cmd) {
        int r = system(cmd);
        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

TEST(systemd_dissect_recognises) {
        if (geteuid() != 0 || access("/dev/loop-control", W_OK) < 0 || !have_tool("systemd-dissect") ||
            !have_tool("mksquashfs")) {
                fprintf(stderr, "needs root, loop devices, systemd-dissect and mksquashfs; skipping\n");
                return;
        }
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "set -e; mkdir -p '%1$s/tree/usr/lib' '%1$s/tree/etc'; "
                 "printf 'ID=graft-test\\nVERSION_ID=1\\n' > '%1$s/tree/usr/lib/os-release'; "
                 "mksquashfs '%1$s/tree' '%1$s/root.sqfs' -quiet -noappend -all-root >/dev/null",
                 scratch);
        ASSERT_EQ(run(cmd), 0);
        size_t n;
        char *sqfs = slurp(scratch_path("root.sqfs"), &n);
        ASSERT_TRUE(n <= MiB);

        GptPartition p = part(PARTITION_ROOT, "5a5a5a5a-1111-4222-8333-444444444444", "graft-test_1.2", MiB, MiB,
                              GPT_FLAG_READ_ONLY);
        p.type = dps_type_find(PARTITION_ROOT, architecture_native())->uuid;
        GptLayout l = { .device_size = 4 * MiB, .disk_uuid = uuid("01234567-89ab-4cde-8f01-23456789abcd"),
                        .partitions = &p, .n_partitions = 1 };
        const char *path = scratch_path("dissect.raw");
        int fd = create_file(path, l.device_size);
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_write(fd, &l, &e));
        ASSERT_OK(pwrite_full(fd, sqfs, n, MiB));
        close(fd);
        free(sqfs);

        snprintf(cmd, sizeof(cmd), "systemd-dissect --json=short '%s' > '%s/dissect.json'", path, scratch);
        ASSERT_EQ(run(cmd), 0);
        char *out = slurp(scratch_path("dissect.json"), &n);
        fprintf(stderr, "  %s", out);
        json_object *root = json_tokener_parse(out), *mounts, *m, *v;
        ASSERT_TRUE(root && json_object_object_get_ex(root, "mounts", &mounts));
        ASSERT_EQ(json_object_array_length(mounts), 1);
        m = json_object_array_get_idx(mounts, 0);
        ASSERT_TRUE(json_object_object_get_ex(m, "designator", &v));
        ASSERT_STREQ(json_object_get_string(v), "root");
        ASSERT_TRUE(json_object_object_get_ex(m, "fstype", &v));
        ASSERT_STREQ(json_object_get_string(v), "squashfs");
        ASSERT_TRUE(json_object_object_get_ex(m, "partition_label", &v));
        ASSERT_STREQ(json_object_get_string(v), "graft-test_1.2");
        ASSERT_TRUE(json_object_object_get_ex(m, "partition_uuid", &v));
        ASSERT_STREQ(json_object_get_string(v), "5a5a5a5a-1111-4222-8333-444444444444");
        ASSERT_TRUE(json_object_object_get_ex(m, "architecture", &v));
        ASSERT_STREQ(json_object_get_string(v), architecture_to_string(architecture_native()));
        ASSERT_TRUE(json_object_object_get_ex(m, "rw", &v));
        ASSERT_STREQ(json_object_get_string(v), "ro"); /* bit 60 */
        ASSERT_TRUE(json_object_object_get_ex(root, "osRelease", &v));
        ASSERT_TRUE(strstr(json_object_to_json_string(v), "ID=graft-test"));
        json_object_put(root);
        free(out);
}

/* --- hostile tables --------------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
        return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}
static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
        put32(p, (uint32_t) v);
        put32(p + 4, (uint32_t) (v >> 32));
}

/* Rewrites the entry array of the header at lba with edit() applied, fixing both CRCs, as a
 * careful attacker (or a broken tool) would. */
static void edit_entries_at(int fd, uint64_t lba, void (*edit)(uint8_t *entries)) {
        uint8_t h[512], e[128 * 128];
        ASSERT_OK(pread_full(fd, h, sizeof(h), lba * 512));
        ASSERT_TRUE(memcmp(h, "EFI PART", 8) == 0);
        uint64_t elba = get64(h + 72);
        ASSERT_EQ(get32(h + 80) * get32(h + 84), sizeof(e));
        ASSERT_OK(pread_full(fd, e, sizeof(e), elba * 512));
        edit(e);
        ASSERT_OK(pwrite_full(fd, e, sizeof(e), elba * 512));
        put32(h + 88, gpt_crc32(e, sizeof(e)));
        put32(h + 16, 0);
        put32(h + 16, gpt_crc32(h, get32(h + 12)));
        ASSERT_OK(pwrite_full(fd, h, sizeof(h), lba * 512));
}

static void edit_entries(const char *path, void (*edit)(uint8_t *entries)) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        uint64_t size;
        ASSERT_OK(fd_get_size(fd, &size));
        edit_entries_at(fd, 1, edit);
        edit_entries_at(fd, size / 512 - 1, edit);
        close(fd);
}

static void expect_bad(const char *path, int error, const char *needle) {
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(read_path(path, &t, &e), error);
        ASSERT_TRUE(t == NULL);
        ASSERT_STREQ(e.name, GRAFT_ERROR_BAD_IMAGE);
        ASSERT_MESSAGE_CONTAINS(&e, needle);
        fprintf(stderr, "  refused: %s\n", e.message);
        graft_error_done(&e);
}

static void move_second_into_first(uint8_t *e) {
        put64(e + 128 + 32, 4 * 2048);           /* partition 2 starts at 4 MiB, inside 1 (1-5 MiB) */
}

TEST(overlapping_partitions) {
        const char *path = scratch_path("overlap.raw");
        write_standard(path);
        edit_entries(path, move_second_into_first);
        char want[256];
        snprintf(want, sizeof(want), "%s: partitions 1 and 2 overlap (bytes 4194304-5242879)", path);
        expect_bad(path, -EBADMSG, want);
}

static void third_past_usable(uint8_t *e) {
        put64(e + 2 * 128 + 40, 16383 - 10);     /* into the backup entry array */
}
static void first_before_usable(uint8_t *e) {
        put64(e + 32, 40);
}

TEST(partition_outside_usable_area) {
        const char *path = scratch_path("outside.raw");
        write_standard(path);
        edit_entries(path, third_past_usable);
        expect_bad(path, -EBADMSG, "partition 3 (bytes 6291456-8383487) lies outside the usable area of the partition table (bytes 1048576-8371711)");

        write_standard(path);
        edit_entries(path, first_before_usable);
        expect_bad(path, -EBADMSG, "partition 1 (bytes 20480-5242879) lies outside the usable area");
}

static void third_ends_before_start(uint8_t *e) {
        put64(e + 2 * 128 + 40, 100);
}

TEST(partition_ending_before_start) {
        const char *path = scratch_path("backwards.raw");
        write_standard(path);
        edit_entries(path, third_ends_before_start);
        expect_bad(path, -EBADMSG, "partition 3 ends before it starts (at sector 12288)");
}

TEST(truncated_image) {
        const char *path = scratch_path("foo.raw");
        write_standard(path);
        /* The file ends inside partition 3 (6 MiB + 16 KiB): libfdisk sees no valid header at
         * all, gpt-diagnose.c says why. */
        ASSERT_EQ(truncate(path, 6 * MiB + 4096), 0);
        char want[256];
        snprintf(want, sizeof(want), "%1$s: partition 3 ends at byte 6307840 but %1$s has only 6295552 bytes: truncated image?", path);
        expect_bad(path, -EBADMSG, want);

        /* Cut inside partition 1: that is the one named. */
        ASSERT_EQ(truncate(path, 2 * MiB), 0);
        expect_bad(path, -EBADMSG, "partition 1 ends at byte 5242880 but");

        /* Cut inside the entry array. */
        ASSERT_EQ(truncate(path, 4096), 0);
        expect_bad(path, -EBADMSG, "the GPT partition entries end at byte 17408 but");
}

TEST(truncated_tail_only) {
        /* Losing less than the backup GPT keeps every partition: libfdisk uses the primary
         * header and says the backup is damaged, which is recorded. */
        const char *path = scratch_path("tail.raw");
        write_standard(path);
        ASSERT_EQ(truncate(path, 8 * MiB - 4096), 0);
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_EQ(t->n_partitions, 3);
        ASSERT_FALSE(t->primary_header_damaged);
        ASSERT_TRUE(t->backup_header_damaged);
        gpt_table_free(t);
}

static void flip(const char *path, uint64_t offset) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        uint8_t b;
        ASSERT_OK(pread_full(fd, &b, 1, offset));
        b ^= 0x40;
        ASSERT_OK(pwrite_full(fd, &b, 1, offset));
        close(fd);
}

TEST(damaged_primary_header_falls_back_to_backup) {
        /* libfdisk quietly uses the backup copy when the primary's CRC is wrong: accepted, same
         * table, and recorded so that inspect can say so. */
        const char *path = scratch_path("crc.raw");
        write_standard(path);
        flip(path, 512 + 40); /* first usable LBA, inside the header CRC */
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_TRUE(t->primary_header_damaged);
        ASSERT_FALSE(t->backup_header_damaged);
        GptLayout l = standard_layout();
        ASSERT_EQ(t->n_partitions, 3);
        for (size_t i = 0; i < 3; i++)
                assert_same_partition(&t->partitions[i], &l.partitions[i]);
        gpt_table_free(t);

        /* The same for a damaged primary entry array. */
        write_standard(path);
        flip(path, 2 * 512 + 56); /* first character of partition 1's label */
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_TRUE(t->primary_header_damaged);
        ASSERT_STREQ(t->partitions[0].label, LABEL_ASCII_36);
        gpt_table_free(t);
}

TEST(both_headers_damaged) {
        const char *path = scratch_path("crc2.raw");
        write_standard(path);
        flip(path, 512 + 40);
        flip(path, 8 * MiB - 512 + 40);
        expect_bad(path, -EBADMSG, "the primary GPT header is damaged (CRC mismatch) and there is no valid backup header");

        write_standard(path);
        flip(path, 2 * 512 + 56);
        flip(path, 8 * MiB - 33 * 512 + 56);
        expect_bad(path, -EBADMSG, "the GPT partition entries are damaged (CRC mismatch) and there is no valid backup copy");
}

TEST(no_protective_mbr) {
        const char *path = scratch_path("nopmbr.raw");
        write_standard(path);
        flip(path, 510);
        expect_bad(path, -EBADMSG, "has a GPT header but no protective MBR");
}

static void expect_no_gpt(const char *path) {
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_ERRNO(read_path(path, &t, &e), -ENOMSG);
        ASSERT_FALSE(graft_error_is_set(&e));
        ASSERT_TRUE(t == NULL);
}

TEST(not_a_gpt) {
        const char *path = scratch_path("empty.raw");
        close(create_file(path, 0));
        expect_no_gpt(path);
        close(create_file(path, 1000));
        expect_no_gpt(path);
        close(create_file(path, 8 * MiB)); /* zeros */
        expect_no_gpt(path);

        /* Random bytes (a fixed sequence, so that a failure can be reproduced). */
        int fd = create_file(path, 4 * MiB);
        uint64_t x = 0x9E3779B97F4A7C15;
        uint8_t *buf = malloc(4 * MiB);
        ASSERT_TRUE(buf);
        for (size_t i = 0; i < 4 * MiB; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[i] = (uint8_t) x;
        }
        ASSERT_OK(pwrite_full(fd, buf, 4 * MiB, 0));
        close(fd);
        free(buf);
        expect_no_gpt(path);

        if (have_tool("sfdisk")) {
                /* An MBR partition table is a partition table, but not a GPT. */
                char cmd[512];
                close(create_file(path, 8 * MiB));
                snprintf(cmd, sizeof(cmd), "printf 'label: dos\\nstart=2048, size=4096, type=83\\n' | sfdisk -q '%s'", path);
                ASSERT_EQ(run(cmd), 0);
                expect_no_gpt(path);
        }
}

static void emoji_label(uint8_t *e) {
        /* "x" * 34 + U+1F600 as a surrogate pair: 36 UTF-16 units, the maximum. */
        for (int i = 0; i < 34; i++)
                e[56 + 2 * i] = 'x', e[56 + 2 * i + 1] = 0;
        e[56 + 68] = 0x3D, e[56 + 69] = 0xD8, e[56 + 70] = 0x00, e[56 + 71] = 0xDE;
}

TEST(label_with_surrogate_pair) {
        const char *path = scratch_path("emoji.raw");
        write_standard(path);
        edit_entries(path, emoji_label);
        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_STREQ(t->partitions[0].label, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx😀");
        gpt_table_free(t);
}

TEST(sector_size_4096) {
        /* An image made for a 4K-sector disk: the header is at byte 4096. */
        const char *path = scratch_path("4k.raw");
        int fd = create_file(path, 16 * MiB);
        struct fdisk_context *cxt = NULL;
        ASSERT_OK(gpt_fdisk_context_new(4096, &cxt));
        ASSERT_OK(fdisk_assign_device_by_fd(cxt, fd, path, 0));
        ASSERT_OK(fdisk_create_disklabel(cxt, "gpt"));
        struct fdisk_partition *pa = fdisk_new_partition();
        ASSERT_OK(fdisk_partition_set_partno(pa, 0));
        ASSERT_OK(fdisk_partition_set_start(pa, 256));
        ASSERT_OK(fdisk_partition_set_size(pa, 512));
        ASSERT_OK(fdisk_partition_set_name(pa, "four-k"));
        ASSERT_OK(fdisk_add_partition(cxt, pa, NULL));
        ASSERT_OK(fdisk_write_disklabel(cxt));
        fdisk_unref_partition(pa);
        fdisk_unref_context(cxt);
        close(fd);

        GptTable *t = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(read_path(path, &t, &e));
        ASSERT_EQ(t->sector_size, 4096);
        ASSERT_EQ(t->n_partitions, 1);
        ASSERT_EQ(t->partitions[0].offset, MiB);
        ASSERT_EQ(t->partitions[0].size, 2 * MiB);
        ASSERT_STREQ(t->partitions[0].label, "four-k");
        gpt_table_free(t);
}

TEST(label_check) {
        GraftError e = GRAFT_ERROR_INIT;
        ASSERT_OK(gpt_label_check("", NULL, &e));
        ASSERT_OK(gpt_label_check(NULL, NULL, &e));
        ASSERT_OK(gpt_label_check(LABEL_ASCII_36, NULL, &e));
        ASSERT_OK(gpt_label_check(EURO36, NULL, &e));
        ASSERT_ERRNO(gpt_label_check(EURO36 "€", "usr", &e), -EINVAL);
        ASSERT_MESSAGE_CONTAINS(&e, "usr: label");
        graft_error_done(&e);
        ASSERT_ERRNO(gpt_label_check("\xed\xa0\x80", NULL, &e), -EINVAL); /* an encoded surrogate */
        ASSERT_MESSAGE_CONTAINS(&e, "not valid UTF-8");
        graft_error_done(&e);
        ASSERT_ERRNO(gpt_label_check("ab\xe2\x82", NULL, &e), -EINVAL); /* truncated sequence */
        graft_error_done(&e);
}

TEST(crc32) {
        ASSERT_EQ(gpt_crc32("123456789", 9), 0xCBF43926); /* the standard check value */
        ASSERT_EQ(gpt_crc32("", 0), 0);
}

int main(int argc, char **argv) {
        if (!mkdtemp(scratch)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        int r = tests_run(argc, argv);
        cleanup_scratch();
        return r;
}
