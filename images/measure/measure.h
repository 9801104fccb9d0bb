/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measurement of the images graft puts in place, for remote attestation: the event string that
 * stands for an image (class, name, version, root hash), its digest per PCR bank, the extend of
 * a TPM2 PCR through the TSS2 ESAPI, and the record appended to the userspace event log that
 * systemd keeps (/run/log/systemd/tpm2-measure.log, JSON-SEQ records close to TCG CEL-JSON), so
 * that a verifier replays graft's events with the same tools as systemd's. See graft-image(1),
 * MEASUREMENT. */
#pragma once

#include "discover.h"
#include "error.h"

/* systemd's registry gives PCR 13 to system extensions (sd-stub measures the sysext initrd
 * there before the OS runs, and nothing in userspace extends it afterwards): graft's run-time
 * merges and attachments are exactly what that register is for. */
#define MEASURE_PCR_DEFAULT 13
#define MEASURE_LOG_PATH "/run/log/systemd/tpm2-measure.log"
#define MEASURE_CONF_PATH "/etc/graft/measure.conf"
#define MEASURE_TCTI_DEFAULT "device:/dev/tpmrm0"

typedef struct MeasureConfig {
        unsigned pcr;  /* PCR= (0..23), default MEASURE_PCR_DEFAULT */
        bool required; /* Require=yes: no change without a measurement */
        char *tcti;    /* TCTI=, else $GRAFT_TPM2_TCTI, else the default device (the host only) */
        char *source;  /* the configuration file read, root-prefixed; NULL when there was none */
} MeasureConfig;

void measure_config_done(MeasureConfig *c);

/* Reads ROOT/etc/graft/measure.conf (KEY=VALUE lines; a missing file is the defaults). With a
 * root other than the host, the TPM is used only when a TCTI is named (TCTI= or
 * $GRAFT_TPM2_TCTI): the host's TPM attests the host, not a tree graft merges into elsewhere.
 * A bad value is -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT naming the file and the key. */
int measure_config_load(const char *root, MeasureConfig *ret, GraftError *err);

/* "graft-sysext:NAME:VERSION:ROOTHASH" (graft-confext, graft-portable): what is extended, as
 * systemd's userspace measurements do (UTF-8, no NUL). An empty field for a missing version or
 * root hash; ':' and '%' inside a field are written %3a and %25, so the fields stay apart. */
int measure_event_string(ImageClass class, const char *name, const char *version, const char *root_hash,
                         char **ret);

/* The digest (lowercase hex) of an event string in a bank ("sha1", "sha256", "sha384",
 * "sha512"): the value a PCR of that bank is extended with. -EOPNOTSUPP for another bank. */
int measure_digest_hex(const char *bank, const char *event, char **ret);

typedef struct MeasureItem {
        ImageClass class;
        const char *name;
        const char *version;   /* NULL: none */
        const char *root_hash; /* NULL: the image has no verity */
} MeasureItem;

/* Measures each item, in order: per item, one extend of the configured PCR in every active bank
 * and one record in ROOT/run/log/systemd/tpm2-measure.log (made sticky while an extend is not yet
 * recorded, as systemd does, so a verifier can tell an incomplete log). Called after everything
 * is verified and before the change becomes visible (measure before use). Without a reachable
 * TPM: with Require=yes, -ENODEV with GRAFT_ERROR_UNSUPPORTED naming the TCTI and the
 * configuration, before anything is extended; otherwise 0, and *ret_note (may be NULL) says,
 * once for the whole call, that nothing is measured and why (not for a root other than the host
 * that names no TCTI: measurement was not asked for there). 1 when measured. */
int measure_images(const char *root, const MeasureItem *items, size_t n_items, char **ret_note, GraftError *err);

