/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the measurement of a merge or refresh: every image the new overlays carry, in layer
 * order, once per change (measure.h). Called when every overlay is built, before the first mount
 * move, so that nothing is visible that the TPM was not told of, and a required measurement that
 * cannot be made refuses the change while nothing has changed yet. */
#include "measure.h"
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
