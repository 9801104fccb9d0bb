/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measuring what attach and reattach put in use (portable-measure.c). */
#pragma once

#include "portable-image.h"

/* Measures s->image, then s->extensions in order; see measure_images(). root: canonical, NULL
 * for the host. */
int portable_measure_set(const char *root, const PortableImageSet *s, char **ret_note, GraftError *err);

/* Updates the record of which trust root admitted each attached image (one entry per attachment,
 * under the image's name, with the weakest trust root of the image and its extensions): after an
 * attach or a reattach (added), every version of the image's family is replaced by added; after a
 * detach of the image at path removed, its family's entry goes. */
int portable_record_admissions(const char *root, const PortableImageSet *added, const char *removed,
                               GraftError *err);
