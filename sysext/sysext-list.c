/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns list: the discovered images of a class and their times, for sextctl and graftd alike. */
#include <sys/stat.h>

#include "sysext-internal.h"

void sysext_listing_done(SysextListing *l) {
        if (!l)
                return;
        discovery_done(&l->discovery);
        free(l->mtime_usec);
        *l = (SysextListing) {};
}

int sysext_list(const SysextOptions *o, SysextListing *ret, GraftError *err) {
        _cleanup_(sysext_listing_done) SysextListing l = {};
        int r = image_discover(sysext_root(o), o->class, architecture_native(), &l.discovery, err);
        if (r < 0)
                return r;
        l.mtime_usec = calloc(l.discovery.n_images + 1, sizeof(uint64_t));
        if (!l.mtime_usec)
                return -ENOMEM;
        for (size_t i = 0; i < l.discovery.n_images; i++) {
                struct stat st;
                if (stat(l.discovery.images[i].path, &st) >= 0)
                        l.mtime_usec[i] = (uint64_t) st.st_mtim.tv_sec * 1000000u + (uint64_t) st.st_mtim.tv_nsec / 1000u;
        }
        *ret = l;
        l = (SysextListing) {};
        return 0;
}
