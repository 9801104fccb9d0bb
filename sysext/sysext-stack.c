/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns looking below a merge. A mount point shows only its top mount, but a hierarchy may carry
 * merges on top of each other: for a moment during refresh (the new overlay beneath the old one),
 * after a crash at that moment, or when another tool merged over ours. What lies below is seen
 * from a thread with a mount namespace of its own (unshare(CLONE_NEWNS) applies to the calling
 * thread only), where the merges on top can be unmounted without anybody else noticing; the
 * overlay builder works in such a thread too. */
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>

#include "sysext-internal.h"

typedef struct PrivateWork {
        int (*fn)(void *userdata, GraftError *err);
        void *userdata;
        GraftError *err;
        int r;
} PrivateWork;

static void *private_thread(void *userdata) {
        PrivateWork *w = userdata;
        if (unshare(CLONE_NEWNS) < 0)
                w->r = graft_error_set(w->err, negative_errno(), GRAFT_ERROR_IO,
                                       "cannot create a private mount namespace: %m");
        /* Nothing done here may propagate back to the namespace we came from. */
        else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                w->r = graft_error_set(w->err, negative_errno(), GRAFT_ERROR_IO,
                                       "cannot make the mount namespace private: %m");
        else
                w->r = w->fn(w->userdata, w->err);
        return NULL;
}

int sysext_in_private_namespace(int (*fn)(void *userdata, GraftError *err), void *userdata, GraftError *err) {
        PrivateWork w = { .fn = fn, .userdata = userdata, .err = err };
        pthread_t t;
        if (pthread_create(&t, NULL, private_thread, &w) != 0)
                return graft_error_set(err, -EAGAIN, GRAFT_ERROR_IO, "cannot start a thread for a private mount namespace");
        pthread_join(t, NULL);
        return w.r;
}

int sysext_unstack_here(ImageClass class, const char *path, SysextStack *ret, GraftError *err) {
        SysextStack s = {};
        for (;;) {
                dev_t dev;
                int r = sysext_path_is_merged(class, path, &dev);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot tell whether %s is merged: %s", path,
                                               strerror(-r));
                if (r == 0)
                        break;
                if (s.n >= SYSEXT_STACK_MAX)
                        return graft_error_set(err, -ELOOP, GRAFT_ERROR_IO,
                                               "%s carries more than %d merges on top of each other", path,
                                               SYSEXT_STACK_MAX);
                s.dev[s.n++] = dev;
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO,
                                               "cannot look below the merge on %s: %m", path);
        }
        if (ret)
                *ret = s;
        return 0;
}

typedef struct StackRead {
        ImageClass class;
        const char *path;
        SysextStack stack;
} StackRead;

static int stack_read_here(void *userdata, GraftError *err) {
        StackRead *q = userdata;
        return sysext_unstack_here(q->class, q->path, &q->stack, err);
}

int sysext_stack_read(ImageClass class, const char *path, SysextStack *ret, GraftError *err) {
        StackRead q = { .class = class, .path = path };
        int r = sysext_in_private_namespace(stack_read_here, &q, err);
        if (r < 0)
                return r;
        *ret = q.stack;
        return 0;
}

int sysext_detach(const char *path, GraftError *err) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot unmount %s: %m", path);
        return 0;
}

int sysext_detach_all(ImageClass class, const char *path, const char *fault, GraftError *err) {
        for (unsigned k = 0;; k++) {
                int r = sysext_path_is_merged(class, path, NULL);
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot tell whether %s is merged: %s", path,
                                               strerror(-r));
                if (r == 0)
                        return 0;
                if (k >= SYSEXT_STACK_MAX)
                        return graft_error_set(err, -ELOOP, GRAFT_ERROR_IO,
                                               "%s carries more than %d merges on top of each other", path,
                                               SYSEXT_STACK_MAX);
                r = sysext_detach(path, err);
                if (r < 0)
                        return r;
                fault_point(fault);
        }
}
