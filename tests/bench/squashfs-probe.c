/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where the squashfs writer's CPU goes, block by block: reads the files named on stdin (one path
 * a line), cuts them as the writer does (whole 128 KiB blocks; tails packed into fragment blocks
 * in the order given) and hands each block, in one thread, first to the plain libsquashfs
 * compressor and then to the probing one of squashfs-compressor.c. Each block's two timings are
 * taken back to back, so load from elsewhere on the machine hits both alike. Prints the CPU time
 * and output size of each, and what the probe did. Built and run by bench-build.sh:
 *   squashfs-probe [zstd|xz|gzip] <file-list */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqfs/compressor.h>

#include "squashfs-internal.h"

#define BLOCK (128u * 1024u)

typedef struct Totals {
        double cpu[2];          /* seconds: plain, probing */
        uint64_t out[2];        /* bytes stored */
        uint64_t in, blocks;
} Totals;

static double thread_cpu(void) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void compress_block(sqfs_compressor_t *c[2], const uint8_t *data, uint32_t n, uint8_t *scratch, Totals *t) {
        for (int i = 0; i < 2; i++) {
                double start = thread_cpu();
                sqfs_s32 k = c[i]->do_block(c[i], data, n, scratch, n);
                t->cpu[i] += thread_cpu() - start;
                if (k < 0) {
                        fprintf(stderr, "compressor error %i\n", (int) k);
                        exit(EXIT_FAILURE);
                }
                t->out[i] += k > 0 ? (uint64_t) k : n;
        }
        t->in += n;
        t->blocks++;
}

int main(int argc, char **argv) {
        static const struct { const char *name; SQFS_COMPRESSOR id; } ids[] = {
                { "zstd", SQFS_COMP_ZSTD }, { "xz", SQFS_COMP_XZ }, { "gzip", SQFS_COMP_GZIP },
        };
        const char *name = argc > 1 ? argv[1] : "zstd";
        SQFS_COMPRESSOR id = 0;
        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                if (streq(ids[i].name, name))
                        id = ids[i].id;
        sqfs_compressor_config_t cfg;
        sqfs_compressor_t *c[2] = {};
        SquashfsProbeStats st = {};
        if (id == 0 || sqfs_compressor_config_init(&cfg, id, BLOCK, 0) != 0 || sqfs_compressor_create(&cfg, &c[0]) != 0 ||
            squashfs_probe_compressor_new(c[0], BLOCK, &st, &c[1]) != 0) {
                fprintf(stderr, "cannot set up %s compression\n", name);
                return EXIT_FAILURE;
        }

        static uint8_t buf[BLOCK], frag[BLOCK], scratch[BLOCK];
        size_t frag_used = 0;
        Totals t = {};
        char *line = NULL;
        size_t line_size = 0;
        ssize_t l;
        while ((l = getline(&line, &line_size, stdin)) > 0) {
                line[strcspn(line, "\n")] = 0;
                FILE *f = fopen(line, "re");
                if (!f)
                        continue;
                for (;;) {
                        size_t n = fread(buf, 1, BLOCK, f); /* whole blocks but at the end */
                        if (n == 0)
                                break;
                        if (n == BLOCK) {
                                compress_block(c, buf, BLOCK, scratch, &t);
                                continue;
                        }
                        if (frag_used + n > BLOCK) {
                                compress_block(c, frag, (uint32_t) frag_used, scratch, &t);
                                frag_used = 0;
                        }
                        memcpy(frag + frag_used, buf, n);
                        frag_used += n;
                }
                fclose(f);
        }
        if (frag_used > 0)
                compress_block(c, frag, (uint32_t) frag_used, scratch, &t);
        free(line);

        printf("%s, one thread: %.1f MiB in %" PRIu64 " blocks\n", name, (double) t.in / (1 << 20), t.blocks);
        printf("  plain compressor:   %7.2f s CPU  %7.2f MiB out\n", t.cpu[0], (double) t.out[0] / (1 << 20));
        printf("  probing compressor: %7.2f s CPU  %7.2f MiB out  (%.1f%% less CPU, %+.2f%% size)\n", t.cpu[1],
               (double) t.out[1] / (1 << 20), 100.0 * (1.0 - t.cpu[1] / t.cpu[0]),
               100.0 * ((double) t.out[1] / (double) t.out[0] - 1.0));
        printf("  probe: %" PRIu64 " blocks looked random, %" PRIu64 " stored uncompressed (%.1f MiB)\n",
               (uint64_t) st.probed, (uint64_t) st.stored, (double) st.stored_bytes / (1 << 20));
        sqfs_destroy(c[1]);
        sqfs_destroy(c[0]);
        return 0;
}
