/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what attach, reattach and detach tell about the images they put in (or out of) use. The
 * measurement: the portable image and then each of its extensions, in the order they are layered
 * (measure.h), once the plan is made and before it is carried out, so a required measurement that
 * cannot be made refuses the change before any file is written, and no unit can start from an
 * image the TPM was not told of. And the record of which trust root admitted each attached image
 * (devmode.h), after the change. */
#include <string.h>

#include "devmode.h"
#include "measure.h"
#include "path-util.h"
#include "portable-measure.h"
#include "portable-util.h"
#include "strv.h"

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

static int keep_others(char * const *old, const char *family, char ***triples) {
        for (size_t i = 0; old && old[i] && old[i + 1] && old[i + 2]; i += 3) {
                _cleanup_free_ char *f = portable_name_family(old[i]);
                if (!f)
                        return -ENOMEM;
                if (family && streq(f, family))
                        continue;
                for (size_t k = 0; k < 3; k++)
                        if (strv_extend(triples, old[i + k]) < 0)
                                return -ENOMEM;
        }
        return 0;
}

int portable_record_admissions(const char *root, const PortableImageSet *added, const char *removed,
                               GraftError *err) {
        _cleanup_strv_free_ char **old = NULL, **triples = NULL;
        int r = developer_admissions_read(root, IMAGE_CLASS_PORTABLE, &old, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *family = NULL;
        if (removed) {
                _cleanup_free_ char *base = path_basename(removed);
                _cleanup_free_ char *name = base ? strdup_strip_suffix(base, ".raw") : NULL;
                family = name ? portable_name_family(name) : NULL;
        } else if (added)
                family = portable_name_family(added->image->name);
        if (!family)
                return -ENOMEM;
        r = keep_others(old, family, &triples);
        if (r >= 0 && added) {
                /* One entry for the attachment, under the image's name: the weakest trust root of
                 * the image and its extensions is what admitted the whole. */
                const PortableImage *weakest = added->image;
                for (size_t i = 0; i < added->n_extensions; i++)
                        if (added->extensions[i]->trust_root == TRUST_ROOT_DEVELOPER ||
                            (added->extensions[i]->trust_root == TRUST_ROOT_NONE &&
                             weakest->trust_root == TRUST_ROOT_VENDOR))
                                weakest = added->extensions[i];
                if (strv_extend(&triples, added->image->name) < 0 ||
                    strv_extend(&triples, trust_root_to_string(weakest->trust_root)) < 0 ||
                    strv_extend(&triples, weakest->signer ?: "") < 0)
                        r = -ENOMEM;
        }
        return r < 0 ? r : developer_admissions_write(root, IMAGE_CLASS_PORTABLE, triples, err);
}
