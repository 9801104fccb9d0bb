/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to measure.c: the TPM side of a measurement (TSS2 ESAPI through the TCTI loader).
 * The one place where TSS2 return codes are translated into errno values and messages. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct MeasureTpm MeasureTpm;

#define MEASURE_BANKS_MAX 4

typedef struct MeasureDigests {
        const char *bank[MEASURE_BANKS_MAX]; /* "sha256"…, static */
        char *hex[MEASURE_BANKS_MAX];
        size_t n;
} MeasureDigests;

void measure_digests_done(MeasureDigests *d);

/* Connects through tcti ("device:/dev/tpmrm0", "swtpm:host=…,port=…", "mssim:…") and learns
 * which banks of pcr are active. -ENODEV with a record naming the TCTI when there is no TPM
 * behind it. */
int measure_tpm_open(const char *tcti, unsigned pcr, MeasureTpm **ret, GraftError *err);
MeasureTpm *measure_tpm_free(MeasureTpm *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(MeasureTpm *, measure_tpm_free);

/* The digests of event in every active bank the TPM has for the PCR (and OpenSSL knows). */
int measure_tpm_digests(const MeasureTpm *t, const char *event, MeasureDigests *ret);

/* One PCR_Extend with all of d. */
int measure_tpm_extend(MeasureTpm *t, const MeasureDigests *d, GraftError *err);
