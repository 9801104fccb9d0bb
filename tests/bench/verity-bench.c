/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* verity_verify() against `veritysetup verify` on the same data and hash files, page cache
 * warm for both; prints the median of each and their ratio. Not built by default:
 *   cc -O2 -D_GNU_SOURCE -Icommon -Iimages tests/bench/verity-bench.c \
 *      BUILD/images/libgraft-images.a BUILD/common/libgraft-common.a -lcrypto -lcryptsetup \
 *      -lfdisk -lmount -lsquashfs -ljson-c -lpthread -o verity-bench
 *   ./verity-bench DATA HASH ROOTHASH [RUNS]
 * (make the input with `veritysetup format DATA HASH`). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "hex.h"
#include "verity.h"

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: %s DATA HASH ROOTHASH [RUNS]\n", argv[0]);
                return 2;
        }
        int runs = argc > 4 ? atoi(argv[4]) : 3;
        if (runs < 1 || runs > 100)
                return 2;

        int dfd = open(argv[1], O_RDONLY | O_CLOEXEC), hfd = open(argv[2], O_RDONLY | O_CLOEXEC);
        uint64_t dsize, hsize;
        uint8_t *root;
        size_t root_size;
        if (dfd < 0 || hfd < 0 || fd_get_size(dfd, &dsize) < 0 || fd_get_size(hfd, &hsize) < 0 ||
            unhexmem(argv[3], strlen(argv[3]), &root, &root_size) < 0) {
                fprintf(stderr, "cannot open the input\n");
                return 1;
        }

        char *cmd;
        if (asprintf(&cmd, "veritysetup verify %s %s %s", argv[1], argv[2], argv[3]) < 0)
                return 1;
        if (system(cmd) != 0) { /* also warms the page cache */
                fprintf(stderr, "veritysetup verify failed\n");
                return 1;
        }

        ImageRange dr = { dfd, 0, dsize, "data" }, hr = { hfd, 0, hsize, "hash" };
        VerityVerify v = {
                .data = &dr,
                .hash = &hr,
                .expected_root_hash = root,
                .expected_root_hash_size = root_size,
        };
        double ours[100], theirs[100];
        for (int i = 0; i < runs; i++) {
                GraftError e = GRAFT_ERROR_INIT;
                double t = now();
                if (verity_verify(&v, NULL, &e) < 0) {
                        fprintf(stderr, "verity_verify: %s\n", e.message);
                        return 1;
                }
                ours[i] = now() - t;
                t = now();
                if (system(cmd) != 0)
                        return 1;
                theirs[i] = now() - t;
                fprintf(stderr, "run %d: graft %.3f s, veritysetup %.3f s\n", i + 1, ours[i],
                        theirs[i]);
        }
        double a = median(ours, runs), b = median(theirs, runs);
        printf("graft %.3f s (%.2f GB/s), veritysetup %.3f s (%.2f GB/s), ratio %.3f\n", a,
               (double) dsize / a / 1e9, b, (double) dsize / b / 1e9, a / b);
        free(cmd);
        free(root);
        return 0;
}
