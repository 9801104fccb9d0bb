/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Building the plans: what attach writes for an image set, and what detach removes for attached
 * units. Both only look at the tree (inside the root); nothing is written here. */
#pragma once

#include "plan.h"
#include "portable-image.h"
#include "profile.h"
#include "state.h"

typedef struct AttachPlanInput {
        const char *root;                 /* canonical, NULL for the host */
        int root_fd;
        const PortableImageSet *set;
        const Profile *profile;
        PortableCopyMode copy_mode;
        bool runtime;
        bool enable;                      /* --enable: write the [Install] links (the plan makes them, so
                                           * they come and go with the units, all or nothing) */
        char **inherited_created;         /* directories other attachments recorded as created */
        char **replaceable;               /* reattach: files of the old attachment that may be replaced */
} AttachPlanInput;

/* Directories first (each missing ancestor of the attached and portables directories, recorded
 * in the marker), the image and extension links when they lie outside the search directories,
 * then per unit (sorted): UNIT.d/, 10-profile.conf, 20-portable.conf, and the unit file last. */
int attach_plan_build(const AttachPlanInput *in, PortablePlan *ret, PortableMarker *ret_marker, GraftError *err);

/* Removal of attached units: [Install] links, the unit file, our two drop-ins, UNIT.d/ and the
 * install link directories if emptied, the links attach made (unless an attachment that stays
 * still uses the image), the directories attach created if emptied (deepest first). keep: paths a
 * reattach writes anew (not removed); keep_units: units a reattach keeps (their [Install] links
 * stay). detaching[i] tells which of all->units go. */
int detach_plan_build(const char *root, int root_fd, const PortableAttachments *all, const bool *detaching,
                      const PortablePlan *keep, char * const *keep_units, PortablePlan *ret, GraftError *err);
