/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the measurement of an attach or reattach: the portable image and then each of its
 * extensions, in the order they are layered (measure.h). Called once the plan is made and
 * before it is carried out, so a required measurement that cannot be made refuses the change
 * before any file is written, and no unit can start from an image the TPM was not told of. */
#include "measure.h"
#include "portable-measure.h"

int portable_measure_set(const char *root, const PortableImageSet *s, char **ret_note, GraftError *err) {
        _cleanup_free_ MeasureItem *items = calloc(s->n_extensions + 1, sizeof(MeasureItem));
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i <= s->n_extensions; i++) {
                const PortableImage *img = i == 0 ? s->image : s->extensions[i - 1];
                items[i] = (MeasureItem) {
                        .class = IMAGE_CLASS_PORTABLE,
                        .name = img->name,
                        .version = img->version,
                        .root_hash = img->root_hash,
                };
        }
        return measure_images(root, items, s->n_extensions + 1, ret_note, err);
}
