/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measuring what attach and reattach put in use (portable-measure.c). */
#pragma once

#include "portable-image.h"

/* Measures s->image, then s->extensions in order; see measure_images(). root: canonical, NULL
 * for the host. */
int portable_measure_set(const char *root, const PortableImageSet *s, char **ret_note, GraftError *err);
