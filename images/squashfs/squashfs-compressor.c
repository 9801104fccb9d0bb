/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compressor the block processor runs on file data: the configured libsquashfs compressor
 * behind an incompressibility probe, so that data which is already compressed (.gz, .png, .xz,
 * .jar, compressed firmware, …) is not put through the slow, strong compressor only to be stored
 * uncompressed anyway.
 *
 * Why this is safe: squashfs marks each data and fragment block as stored compressed or not
 * (bit 24 of its size word), and a reader copies an uncompressed block as it is. Answering 0
 * ("keep it uncompressed") from do_block is what every libsquashfs compressor does already when
 * its output would not be smaller than the input, so the block processor, the block writer and
 * every reader handle it; the file contents a reader gets are the same bytes either way. The
 * only cost is a block a few percent larger than the strong compressor might have made it.
 * The decision depends on the block's bytes alone (and on the zstd library, as the compressed
 * bytes themselves do), so the image stays reproducible whatever the number of threads.
 *
 * The probe, per block: first a collision-entropy estimate over every 7th byte, which costs a
 * twentieth of even zstd level 1 and lets ordinary (compressible) data straight through to the
 * real compressor; only a block that looks random is then tried with zstd level 1 into a buffer
 * 1/32 smaller than the block. If even that does not fit, the block is stored uncompressed. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sqfs/compressor.h>
#include <sqfs/error.h>

#include "macro.h"
#include "squashfs-internal.h"

/* Smaller blocks are not worth a probe (and sample too few bytes to judge). */
#define PROBE_MIN_SIZE 4096u
/* Every 7th byte: odd, so records of 2^k bytes do not alias onto one field. */
#define SAMPLE_STRIDE 7u

typedef struct ProbeCompressor {
        sqfs_compressor_t base;
        sqfs_compressor_t *real;        /* this copy's own instance of the configured compressor */
        sqfs_compressor_t *fast;        /* zstd level 1; NULL when this libsquashfs has no zstd */
        SquashfsProbeStats *stats;      /* shared by all copies, may be NULL */
} ProbeCompressor;

/* True if the sampled bytes have a collision entropy (Rényi order 2) of at least 7 bits per
 * byte, i.e. Σ count² ≤ n²/128. It never exceeds the Shannon entropy, so a sample judged random
 * here cannot be squeezed by more than 1/8 through byte statistics alone; repeats are what the
 * zstd trial then looks for. Integer only, no libm. */
bool squashfs_block_looks_random(const uint8_t *data, size_t size) {
        uint32_t counts[256] = {};
        uint64_t n = 0;

        for (size_t i = 0; i < size; i += SAMPLE_STRIDE, n++)
                counts[data[i]]++;
        uint64_t sum = 0;
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                sum += (uint64_t) counts[i] * counts[i];
        return sum * 128 <= n * n;
}

#define PROBE_COUNT(p, field, n)                                                                   \
        do {                                                                                       \
                if ((p)->stats)                                                                    \
                        atomic_fetch_add_explicit(&(p)->stats->field, (n), memory_order_relaxed); \
        } while (0)

static sqfs_s32 probe_do_block(sqfs_compressor_t *base, const sqfs_u8 *in, sqfs_u32 size, sqfs_u8 *out,
                               sqfs_u32 outsize) {
        ProbeCompressor *p = (ProbeCompressor *) base;

        PROBE_COUNT(p, blocks, 1);
        if (p->fast && size >= PROBE_MIN_SIZE && squashfs_block_looks_random(in, size)) {
                PROBE_COUNT(p, probed, 1);
                /* Fits in size - size/32 only if zstd -1 saves at least ~3%. libsquashfs answers
                 * 0 when the output does not fit; an error here only means "no verdict", so the
                 * real compressor decides as it would without a probe. */
                sqfs_s32 k = p->fast->do_block(p->fast, in, size, out, MIN(outsize, size - size / 32));
                if (k == 0) {
                        PROBE_COUNT(p, stored, 1);
                        PROBE_COUNT(p, stored_bytes, size);
                        return 0;
                }
        }
        return p->real->do_block(p->real, in, size, out, outsize);
}

static void probe_get_configuration(const sqfs_compressor_t *base, sqfs_compressor_config_t *cfg) {
        const ProbeCompressor *p = (const ProbeCompressor *) base;
        p->real->get_configuration(p->real, cfg);
}

static int probe_write_options(sqfs_compressor_t *base, sqfs_file_t *file) {
        ProbeCompressor *p = (ProbeCompressor *) base;
        return p->real->write_options(p->real, file);
}

static int probe_read_options(sqfs_compressor_t *base, sqfs_file_t *file) {
        ProbeCompressor *p = (ProbeCompressor *) base;
        return p->real->read_options(p->real, file);
}

static void probe_destroy(sqfs_object_t *base) {
        ProbeCompressor *p = (ProbeCompressor *) base;
        sqfs_destroy(p->real);
        sqfs_destroy(p->fast);
        free(p);
}

static sqfs_object_t *probe_copy(const sqfs_object_t *base);

static ProbeCompressor *probe_new(sqfs_compressor_t *real, sqfs_compressor_t *fast, SquashfsProbeStats *stats) {
        ProbeCompressor *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->base.base.destroy = probe_destroy;
        p->base.base.copy = probe_copy;
        p->base.get_configuration = probe_get_configuration;
        p->base.write_options = probe_write_options;
        p->base.read_options = probe_read_options;
        p->base.do_block = probe_do_block;
        p->real = real;
        p->fast = fast;
        p->stats = stats;
        return p;
}

/* Each block processor worker gets a copy, with compressors of its own (they hold per-thread
 * state such as a zstd context); the statistics stay shared. */
static sqfs_object_t *probe_copy(const sqfs_object_t *base) {
        const ProbeCompressor *p = (const ProbeCompressor *) base;
        sqfs_compressor_t *real = sqfs_copy(p->real), *fast = p->fast ? sqfs_copy(p->fast) : NULL;
        ProbeCompressor *c = real && (fast || !p->fast) ? probe_new(real, fast, p->stats) : NULL;
        if (!c) {
                sqfs_destroy(real);
                sqfs_destroy(fast);
                return NULL;
        }
        return &c->base.base;
}

int squashfs_probe_compressor_new(const sqfs_compressor_t *real, uint32_t block_size, SquashfsProbeStats *stats,
                                  sqfs_compressor_t **ret) {
        sqfs_compressor_config_t cfg;
        sqfs_compressor_t *fast = NULL;

        real->get_configuration(real, &cfg);
        /* LZ4 is as fast as the probe itself: nothing to save there. */
        if (cfg.id != SQFS_COMP_LZ4 && sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, block_size, 0) == 0) {
                cfg.level = SQFS_ZSTD_MIN_LEVEL;
                if (sqfs_compressor_create(&cfg, &fast) != 0)
                        fast = NULL; /* no zstd in this libsquashfs: no probe, nothing else changes */
        }

        sqfs_compressor_t *own = sqfs_copy(real);
        ProbeCompressor *p = own ? probe_new(own, fast, stats) : NULL;
        if (!p) {
                sqfs_destroy(own);
                sqfs_destroy(fast);
                return SQFS_ERROR_ALLOC;
        }
        *ret = &p->base;
        return 0;
}
