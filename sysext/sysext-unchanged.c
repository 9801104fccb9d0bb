/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns telling whether a refresh would change anything. Each merge of ours records in its
 * metadata directory (.systemd-sysext/graft-merge, next to "extensions" and "dev") what it was made
 * of: whether an extension asks systemd to reload (so that unmerge need not read every release
 * file through the merged tree), the mount options, every merged image by an identity that
 * changes whenever its content can (the verified root hash; for an image without verity its
 * device, inode, size and times), and the hierarchies that got an overlay. A refresh whose plan gives the same record as every merged
 * hierarchy carries, on the same hierarchies, has nothing to do. A directory image has no such
 * identity (its files can change one by one), so a plan with one is always merged anew, as is a
 * merge without a record (systemd's, or an older graft's). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

#define RECORD_MAX (1024 * 1024)
#define NOT_COMPARABLE "images not-comparable"

static int image_identity(const SysextImage *img, FILE *f) {
        if (img->root_hash) {
                fprintf(f, "image %s verity %s\n", img->name, img->root_hash);
                return 1;
        }
        struct stat st;
        if (img->type == S_IFDIR || stat(img->path, &st) < 0)
                return 0;
        fprintf(f, "image %s file %llu %llu %lld %lld.%09ld %lld.%09ld\n", img->name, (unsigned long long) st.st_dev,
                (unsigned long long) st.st_ino, (long long) st.st_size, (long long) st.st_mtim.tv_sec,
                st.st_mtim.tv_nsec, (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        return 1;
}

bool sysext_plan_wants_reload(const SysextPlan *plan) {
        for (size_t i = 0; i < plan->n_images; i++)
                if (!plan->images[i].skipped && plan->images[i].reload_manager)
                        return true;
        return false;
}

int sysext_merge_record(const SysextOptions *o, const SysextPlan *plan, char * const *merged_hierarchies, char **ret) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        bool comparable = true;
        fprintf(f, "graft-merge 1\nreload-manager %d\noptions noexec=%d mutable=%s\n", sysext_plan_wants_reload(plan),
                sysext_noexec(o),
                sysext_mutable_to_string(o->mutable > SYSEXT_MUTABLE_NO ? o->mutable : SYSEXT_MUTABLE_NO));
        for (size_t i = 0; i < plan->n_images; i++)
                if (!plan->images[i].skipped && image_identity(&plan->images[i], f) == 0)
                        comparable = false;
        if (!comparable)
                fputs(NOT_COMPARABLE "\n", f);
        STRV_FOREACH(h, merged_hierarchies)
                fprintf(f, "hierarchy %s\n", *h);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

/* The record a merged hierarchy carries; NULL (0) without one (systemd's merge, an older graft's). */
static int read_record(ImageClass class, const SysextHierarchy *h, char **ret) {
        _cleanup_free_ char *f = path_join(h->resolved, sysext_metadata_dir(class), "graft-merge");
        if (!f)
                return -ENOMEM;
        int r = read_full_file_at(AT_FDCWD, f, RECORD_MAX, ret, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

bool sysext_merge_unchanged(const SysextOptions *o, const SysextPlan *plan, const SysextStatus *st) {
        _cleanup_strv_free_ char **merged = NULL;
        for (size_t i = 0; i < st->n_hierarchies; i++)
                if (st->hierarchies[i].merged && strv_extend(&merged, st->hierarchies[i].path) < 0)
                        return false;
        if (!merged || sysext_plan_n_ready(plan) == 0)
                return false;
        _cleanup_free_ char *want = NULL;
        if (sysext_merge_record(o, plan, merged, &want) < 0 || strstr(want, NOT_COMPARABLE))
                return false;
        for (size_t i = 0; i < st->n_hierarchies; i++) {
                _cleanup_free_ char *have = NULL;
                if (st->hierarchies[i].merged &&
                    (read_record(o->class, &st->hierarchies[i], &have) < 0 || !have || !streq(have, want)))
                        return false;
        }
        return true;
}

int sysext_record_wants_reload(ImageClass class, const SysextHierarchy *h) {
        _cleanup_free_ char *have = NULL;
        int r = h->merged && h->resolved ? read_record(class, h, &have) : 0;
        if (r < 0 || !have)
                return -ENOENT;
        return strstr(have, "\nreload-manager 1\n") ? 1 : 0;
}
