/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the conversation with the TPM for measurements: connecting through the TCTI loader (so
 * any TCTI the TSS2 installation has works: the device, swtpm, mssim), reading which banks of the
 * PCR are active, and extending them all in one PCR_Extend. Digests are computed here with
 * OpenSSL (the TPM only receives them), bank by bank, as systemd does: every active bank is
 * extended, or a verifier reading an unextended bank would see nothing happened. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "hex.h"
#include "measure-tpm.h"
#include "measure.h"

struct MeasureTpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        unsigned pcr;
        TPMI_ALG_HASH banks[MEASURE_BANKS_MAX];
        size_t n_banks;
};

static const struct {
        TPMI_ALG_HASH alg;
        const char *name;
} bank_table[] = {
        { TPM2_ALG_SHA1, "sha1" },
        { TPM2_ALG_SHA256, "sha256" },
        { TPM2_ALG_SHA384, "sha384" },
        { TPM2_ALG_SHA512, "sha512" },
};

static const char *bank_name(TPMI_ALG_HASH alg) {
        for (size_t i = 0; i < sizeof(bank_table) / sizeof(bank_table[0]); i++)
                if (bank_table[i].alg == alg)
                        return bank_table[i].name;
        return NULL;
}

static TPMI_ALG_HASH bank_alg(const char *name) {
        for (size_t i = 0; i < sizeof(bank_table) / sizeof(bank_table[0]); i++)
                if (strcmp(bank_table[i].name, name) == 0)
                        return bank_table[i].alg;
        return TPM2_ALG_ERROR;
}

void measure_digests_done(MeasureDigests *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++)
                free(d->hex[i]);
        *d = (MeasureDigests) {};
}

MeasureTpm *measure_tpm_free(MeasureTpm *t) {
        if (!t)
                return NULL;
        if (t->esys)
                Esys_Finalize(&t->esys);
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
        return NULL;
}

static int tss2_error(GraftError *err, int r, const char *name, TSS2_RC rc, const char *what, const char *tcti) {
        return graft_error_set(err, r, name, "%s (TPM at %s): %s", what, tcti, Tss2_RC_Decode(rc));
}

static int read_banks(MeasureTpm *t, const char *tcti, GraftError *err) {
        TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more = TPM2_NO;
        TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1,
                                        &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return tss2_error(err, -EIO, GRAFT_ERROR_IO, rc, "cannot read the PCR banks", tcti);
        const TPML_PCR_SELECTION *sel = &cap->data.assignedPCR;
        for (size_t i = 0; i < sel->count && t->n_banks < MEASURE_BANKS_MAX; i++) {
                const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
                bool active = t->pcr / 8 < s->sizeofSelect && (s->pcrSelect[t->pcr / 8] & (1u << (t->pcr % 8)));
                if (active && bank_name(s->hash))
                        t->banks[t->n_banks++] = s->hash;
        }
        Esys_Free(cap);
        if (t->n_banks == 0)
                return graft_error_set(err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                                       "the TPM at %s has no active SHA bank for PCR %u", tcti, t->pcr);
        return 0;
}

int measure_tpm_open(const char *tcti, unsigned pcr, MeasureTpm **ret, GraftError *err) {
        /* A device TCTI naming a node that is not there is the common "no TPM" case: said here,
         * without the loader's own error lines on stderr. */
        if (strncmp(tcti, "device:", 7) == 0 && access(tcti + 7, F_OK) < 0)
                return graft_error_set(err, -ENODEV, GRAFT_ERROR_UNSUPPORTED, "no TPM: %s: %s", tcti + 7,
                                       strerror(errno));
        MeasureTpm *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        _cleanup_(measure_tpm_freep) MeasureTpm *owned = t;
        t->pcr = pcr;
        TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS)
                return tss2_error(err, -ENODEV, GRAFT_ERROR_UNSUPPORTED, rc, "no TPM", tcti);
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return tss2_error(err, -ENODEV, GRAFT_ERROR_UNSUPPORTED, rc, "no TPM", tcti);
        int r = read_banks(t, tcti, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(owned);
        return 0;
}

int measure_digest_hex(const char *bank, const char *event, char **ret) {
        const EVP_MD *md = bank_alg(bank) != TPM2_ALG_ERROR ? EVP_get_digestbyname(bank) : NULL;
        if (!md)
                return -EOPNOTSUPP;
        unsigned char buf[EVP_MAX_MD_SIZE];
        unsigned size = 0;
        if (EVP_Digest(event, strlen(event), buf, &size, md, NULL) != 1)
                return -EIO;
        char *hex = hexmem(buf, size);
        if (!hex)
                return -ENOMEM;
        *ret = hex;
        return 0;
}

int measure_tpm_digests(const MeasureTpm *t, const char *event, MeasureDigests *ret) {
        MeasureDigests d = {};
        for (size_t i = 0; i < t->n_banks; i++) {
                d.bank[d.n] = bank_name(t->banks[i]);
                int r = measure_digest_hex(d.bank[d.n], event, &d.hex[d.n]);
                if (r == -EOPNOTSUPP)
                        continue;
                if (r < 0) {
                        measure_digests_done(&d);
                        return r;
                }
                d.n++;
        }
        *ret = d;
        return 0;
}

int measure_tpm_extend(MeasureTpm *t, const MeasureDigests *d, GraftError *err) {
        TPML_DIGEST_VALUES values = {};
        for (size_t i = 0; i < d->n && i < TPM2_NUM_PCR_BANKS; i++) {
                _cleanup_free_ uint8_t *raw = NULL;
                size_t size = 0;
                if (unhexmem(d->hex[i], strlen(d->hex[i]), &raw, &size) < 0 || size > sizeof(TPMU_HA))
                        return -EINVAL;
                values.digests[values.count].hashAlg = bank_alg(d->bank[i]);
                memcpy(&values.digests[values.count].digest, raw, size);
                values.count++;
        }
        TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + t->pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                     &values);
        if (rc != TSS2_RC_SUCCESS)
                return graft_error_set(err, -EIO, GRAFT_ERROR_IO, "cannot extend PCR %u: %s", t->pcr,
                                       Tss2_RC_Decode(rc));
        return 0;
}
