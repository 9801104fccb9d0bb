/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verification cache (images/verify-cache.h): a hit only for files in the state they were
 * verified in and for the root hash verified; any change (size, mtime, ctime, another file at the
 * same path) is a miss and drops the entry; files changed within the last second and anything but
 * regular files are not remembered; the oldest entry makes room; concurrent use is safe. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "tests.h"
#include "verify-cache.h"

static char dir[] = "/tmp/graft-verify-cache.XXXXXX";

/* A file old enough to be remembered: its times set back, then one second waited out for ctime. */
static int make_file(const char *name, const char *content, ImageRange *ret) {
        if (strstr(dir, "XXXXXX"))
                ASSERT_TRUE(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(write(fd, content, strlen(content)) == (ssize_t) strlen(content));
        *ret = (ImageRange) { .fd = fd, .offset = 0, .size = strlen(content), .what = name };
        return fd;
}

static void wait_out_a_second(void) {
        struct timespec ts = { .tv_sec = 1, .tv_nsec = 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
}

static VerityResult result(uint8_t b) {
        VerityResult r = { .root_hash_size = 32 };
        memset(r.root_hash, b, 32);
        r.params.data_block_size = 4096;
        return r;
}

static void store(VerifyCache *c, const ImageRange *d, const ImageRange *h, const VerityResult *r, int want) {
        VerifyCacheKey *k = NULL;
        ASSERT_OK(verify_cache_key(d, h, &k));
        ASSERT_EQ(verify_cache_store(c, d, h, k, r), want);
        verify_cache_key_free(k);
}

TEST(hit_miss_and_changes) {
        ImageRange data, hash;
        make_file("img", "data data data", &data);
        make_file("img.verity", "hash", &hash);
        VerifyCache *c = verify_cache_new(0);
        VerityResult r = result(0xab), got;

        /* Just written: verified, but not remembered. */
        store(c, &data, &hash, &r, 0);
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, NULL, &got), 0);
        wait_out_a_second();
        store(c, &data, &hash, &r, 1);
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, NULL, &got), 1);
        ASSERT_TRUE(memcmp(got.root_hash, r.root_hash, 32) == 0 && got.params.data_block_size == 4096);
        /* The root hash asked for must be the one verified (any case). */
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02X", 0xab);
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, hex, &got), 1);
        hex[0] = '0';
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, hex, &got), 0);
        /* Another range of the same files is another entry. */
        ImageRange part = data;
        part.size = 4;
        ASSERT_EQ(verify_cache_lookup(c, &part, &hash, NULL, &got), 0);

        /* A write (same size, mtime put back): the ctime moved, the entry goes. */
        struct stat st;
        ASSERT_TRUE(fstat(data.fd, &st) == 0);
        ASSERT_TRUE(pwrite(data.fd, "X", 1, 0) == 1);
        struct timespec times[2] = { st.st_atim, st.st_mtim };
        ASSERT_TRUE(futimens(data.fd, times) == 0);
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, NULL, &got), 0);
        VerifyCacheStats s;
        verify_cache_stats(c, &s);
        ASSERT_EQ(s.entries, 0u);
        ASSERT_EQ(s.invalidated, 1u);
        ASSERT_EQ(s.hits, 2u);

        /* A change of the hash file counts as much. */
        wait_out_a_second();
        store(c, &data, &hash, &r, 1);
        ASSERT_TRUE(ftruncate(hash.fd, 2) == 0);
        ASSERT_EQ(verify_cache_lookup(c, &data, &hash, NULL, &got), 0);

        /* Changed while it was hashed: the key taken before does not match any more. */
        wait_out_a_second();
        VerifyCacheKey *before = NULL;
        ASSERT_OK(verify_cache_key(&data, &hash, &before));
        ASSERT_TRUE(pwrite(data.fd, "Y", 1, 1) == 1);
        ASSERT_EQ(verify_cache_store(c, &data, &hash, before, &r), 0);
        verify_cache_key_free(before);
        verify_cache_free(c);
        close(data.fd);
        close(hash.fd);
}

TEST(not_regular_files) {
        ImageRange data = { .fd = open("/dev/null", O_RDONLY | O_CLOEXEC), .size = 0, .what = "null" };
        VerifyCacheKey *k = NULL;
        ASSERT_ERRNO(verify_cache_key(&data, &data, &k), -EMEDIUMTYPE);
        VerifyCache *c = verify_cache_new(0);
        VerityResult got;
        ASSERT_EQ(verify_cache_lookup(c, &data, &data, NULL, &got), 0);
        ASSERT_EQ(verify_cache_lookup(NULL, &data, &data, NULL, &got), 0);
        verify_cache_free(c);
        close(data.fd);
}

TEST(eviction) {
        VerifyCache *c = verify_cache_new(2);
        ImageRange f[3], h;
        make_file("h", "hash", &h);
        make_file("a", "a", &f[0]);
        make_file("b", "b", &f[1]);
        make_file("c", "c", &f[2]);
        wait_out_a_second();
        VerityResult r = result(1), got;
        store(c, &f[0], &h, &r, 1);
        store(c, &f[1], &h, &r, 1);
        ASSERT_EQ(verify_cache_lookup(c, &f[0], &h, NULL, &got), 1); /* a is now the newer one */
        store(c, &f[2], &h, &r, 1);                                    /* b makes room */
        ASSERT_EQ(verify_cache_lookup(c, &f[0], &h, NULL, &got), 1);
        ASSERT_EQ(verify_cache_lookup(c, &f[1], &h, NULL, &got), 0);
        ASSERT_EQ(verify_cache_lookup(c, &f[2], &h, NULL, &got), 1);
        verify_cache_free(c);
        for (int i = 0; i < 3; i++)
                close(f[i].fd);
        close(h.fd);
}

typedef struct Shared {
        VerifyCache *c;
        ImageRange data, hash;
        int hits;
} Shared;

static void *hammer(void *p) {
        Shared *s = p;
        VerityResult r = result(7), got;
        for (int i = 0; i < 2000; i++) {
                if (i % 10 == 0) {
                        VerifyCacheKey *k = NULL;
                        if (verify_cache_key(&s->data, &s->hash, &k) >= 0)
                                (void) verify_cache_store(s->c, &s->data, &s->hash, k, &r);
                        verify_cache_key_free(k);
                }
                if (verify_cache_lookup(s->c, &s->data, &s->hash, NULL, &got) > 0 && got.root_hash[0] == 7)
                        __atomic_fetch_add(&s->hits, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

TEST(threads) {
        Shared s = { .c = verify_cache_new(0) };
        make_file("t", "threads", &s.data);
        make_file("t.verity", "hash", &s.hash);
        wait_out_a_second();
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
                ASSERT_TRUE(pthread_create(&t[i], NULL, hammer, &s) == 0);
        for (int i = 0; i < 8; i++)
                pthread_join(t[i], NULL);
        VerifyCacheStats st;
        verify_cache_stats(s.c, &st);
        ASSERT_EQ(st.entries, 1u);
        ASSERT_EQ(st.hits, (uint64_t) s.hits);
        ASSERT_EQ(st.hits + st.misses, 8u * 2000u);
        verify_cache_free(s.c);
        close(s.data.fd);
        close(s.hash.fd);
}

int main(int argc, char **argv) {
        int r = tests_run(argc, argv);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (!strstr(dir, "XXXXXX") && system(cmd) != 0)
                return 1;
        return r;
}
