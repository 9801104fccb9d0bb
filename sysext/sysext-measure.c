/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what a merge or refresh tells about the images it puts in use. The measurement: every
 * image the new overlays carry, in layer order, once per change (measure.h), when every overlay
 * is built and before the first mount move, so that nothing is visible that the TPM was not told
 * of, and a required measurement that cannot be made refuses the change while nothing has changed
 * yet. And the record of which trust root admitted each (devmode.h), after the change. */
#include "devmode.h"
#include "measure.h"
#include "strv.h"
#include "sysext-internal.h"

int sysext_measure_plan(const SysextOptions *o, const SysextPlan *p, char **ret_note, GraftError *err) {
        size_t n = sysext_plan_n_ready(p);
        if (n == 0)
                return 0; /* nothing comes into use: an unmerge in effect, never refused for want of a TPM */
        _cleanup_free_ MeasureItem *items = calloc(n, sizeof(MeasureItem));
        if (!items)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < p->n_images && k < n; i++)
                if (!p->images[i].skipped)
                        items[k++] = (MeasureItem) {
                                .class = o->class,
                                .name = p->images[i].name,
                                .version = p->images[i].version,
                                .root_hash = p->images[i].root_hash,
                        };
        return measure_images(sysext_root(o), items, k, ret_note, err);
}

int sysext_record_admissions(const SysextOptions *o, const SysextPlan *p, GraftError *err) {
        _cleanup_strv_free_ char **triples = NULL;
        for (size_t i = 0; p && i < p->n_images; i++) {
                const SysextImage *img = &p->images[i];
                if (img->skipped)
                        continue;
                if (strv_extend(&triples, img->name) < 0 ||
                    strv_extend(&triples, trust_root_to_string(img->trust_root)) < 0 ||
                    strv_extend(&triples, img->signer ?: "") < 0)
                        return -ENOMEM;
        }
        return developer_admissions_write(sysext_root(o), o->class, triples, err);
}
