/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A reader for the refresh tests and benchmarks: stats and reads FILE in a loop until it gets
 * SIGTERM or SIGINT, and reports how often the file was missing (or unreadable) and the longest
 * stretch of time it stayed missing: "reads=N misses=M max_gap_us=G". Writes READY-FILE (if given)
 * once the first read succeeded, so a test knows the loop runs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int read_once(const char *path) {
        struct stat st;
        char buf[4096];
        if (stat(path, &st) < 0)
                return -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        return n > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE [READY-FILE]\n", argv[0]);
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        uint64_t reads = 0, misses = 0, max_gap = 0, gap_start = 0;
        int ready = argc < 3;
        while (!stop) {
                int r = read_once(argv[1]);
                uint64_t t = now_usec();
                reads++;
                if (r < 0) {
                        misses++;
                        if (!gap_start)
                                gap_start = t;
                } else {
                        if (gap_start && t - gap_start > max_gap)
                                max_gap = t - gap_start;
                        gap_start = 0;
                        if (!ready) {
                                FILE *f = fopen(argv[2], "we");
                                if (f)
                                        fclose(f);
                                ready = 1;
                        }
                }
        }
        if (gap_start && now_usec() - gap_start > max_gap)
                max_gap = now_usec() - gap_start;
        printf("reads=%llu misses=%llu max_gap_us=%llu\n", (unsigned long long) reads, (unsigned long long) misses,
               (unsigned long long) max_gap);
        return 0;
}
