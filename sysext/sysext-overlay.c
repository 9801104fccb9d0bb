/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns assembling the new overlays, complete, before anything is replaced. The work runs in a
 * thread that has its own mount namespace (sysext_in_private_namespace()), so the staging tmpfs,
 * the image mounts and the host hierarchy as it is below an existing merge are never visible to
 * anybody else. Each overlay is created detached (fsopen/fsmount) and handed back as a file
 * descriptor; overlayfs keeps private clones of its layers, so everything stays alive after the
 * thread and its namespace are gone, and goes away with the overlay. A crash at any point here
 * leaves nothing: the namespace and its mounts go with the process, the loop devices are
 * autoclear, and the only thing on disk is the (empty) staging directory. */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>

#include "fileio.h"
#include "image-mount.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

typedef struct Build {
        const SysextOptions *o;
        SysextPlan *plan;
        char **resolved;   /* per hierarchy; NULL entries (as "") for missing ones */
        char *record;      /* what the merge is made of (sysext-unchanged.c) */
        char *staging;
        int *fds;
        GraftError *err;
} Build;

static bool noexec(const Build *b) {
        return sysext_noexec(b->o);
}

static bool nosuid(const Build *b) {
        return noexec(b) || b->o->class == IMAGE_CLASS_CONFEXT;
}

/* The options of an image's own mount (a layer nobody else sees): as the merge's. */
static const char *image_mount_options(const Build *b) {
        return noexec(b) ? "nosuid,noexec" : nosuid(b) ? "nosuid" : NULL;
}

/* A layer directory name that needs no escaping in an overlay option string. */
static char *layer_name(const SysextImage *img, size_t i) {
        bool plain = strlen(img->name) < 64;
        for (const char *p = img->name; plain && *p; p++)
                plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+", *p);
        char *s;
        if (plain)
                return strdup(img->name);
        return asprintf(&s, "#%zu", i) < 0 ? NULL : s;
}

/* The directory of hierarchy h inside a mounted image, resolved inside the image; NULL if the
 * image ships nothing there (or something that is not a directory). */
static char *image_content_dir(const char *mnt, const char *h) {
        _cleanup_close_ int fd = open(mnt, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        _cleanup_close_ int d = open_in_root(fd, h, O_PATH | O_DIRECTORY, 0);
        if (d < 0)
                return NULL;
        return sysext_fd_path(d);
}

static void skip_image(SysextImage *img, int r, const GraftError *e) {
        img->skipped = true;
        graft_error_set(&img->error, r, e && e->name ? e->name : GRAFT_ERROR_IO, "%s: %s", img->name,
                        e && e->message ? e->message : strerror(-r));
}

static int mount_images(Build *b) {
        _cleanup_free_ char *edir = path_join(b->staging, "e");
        if (!edir)
                return -ENOMEM;
        if (mkdir(edir, 0755) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", edir);
        for (size_t i = 0; i < b->plan->n_images; i++) {
                SysextImage *img = &b->plan->images[i];
                if (img->skipped)
                        continue;
                _cleanup_free_ char *ln = layer_name(img, i);
                _cleanup_free_ char *target = ln ? path_join(edir, ln) : NULL;
                if (!target)
                        return -ENOMEM;
                if (mkdir(target, 0755) < 0)
                        return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", target);
                GraftError e = GRAFT_ERROR_INIT;
                ImageMount m = {};
                int r = image_mount(img->dissected, &img->verification, target, image_mount_options(b), &m, &e);
                /* The mount lives on as the overlay's layer; a dm-verity device is marked for
                 * deferred removal, so it goes with the overlay (unmerge, or refresh's old merge). */
                if (r >= 0) {
                        free(img->mounted_via);
                        img->mounted_via = TAKE_PTR(m.how);
                        fault_point("sysext-image-mounted");
                }
                image_mount_done(&m);
                if (r < 0) {
                        skip_image(img, r, &e);
                        graft_error_done(&e);
                        continue;
                }
                STRV_FOREACH(h, b->plan->hierarchies) {
                        _cleanup_free_ char *dir = image_content_dir(target, *h);
                        if (dir && strv_extend(&img->content, *h) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int dir_is_empty(const char *path) {
        DIR *d = opendir(path);
        if (!d)
                return negative_errno();
        int r = 1;
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        r = 0;
                        break;
                }
        closedir(d);
        return r;
}

/* The top layer: the merged tree's root directory takes its owner and mode from here, and its
 * metadata directory lists every merged extension (also those without content here, as
 * systemd-sysext does). */
static int make_meta(Build *b, size_t hi, const char *host, char **ret) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/meta/%zu", b->staging, hi) < 0)
                return -ENOMEM;
        struct stat st;
        if (stat(host, &st) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", host);
        if (mkdir(dir, 0755) < 0 || chown(dir, st.st_uid, st.st_gid) < 0 || chmod(dir, st.st_mode & 07777) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", dir);
        _cleanup_free_ char *md = path_join(dir, sysext_metadata_dir(b->o->class));
        _cleanup_free_ char *list = NULL;
        for (size_t i = 0; i < b->plan->n_images; i++) {
                const SysextImage *img = &b->plan->images[i];
                if (img->skipped)
                        continue;
                char *n = NULL;
                if (asprintf(&n, "%s%s\n", strempty(list), img->name) < 0)
                        return -ENOMEM;
                free(list);
                list = n;
        }
        _cleanup_free_ char *f = md ? path_join(md, "extensions") : NULL;
        if (!f)
                return -ENOMEM;
        if (mkdir(md, 0755) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", md);
        int r = write_file_atomic(f, strempty(list), strlen(strempty(list)), 0644);
        if (r < 0)
                return graft_error_set(b->err, r, GRAFT_ERROR_IO, "cannot write %s: %s", f, strerror(-r));
        if (b->record) {
                _cleanup_free_ char *rf = path_join(md, "graft-merge");
                if (!rf)
                        return -ENOMEM;
                r = write_file_atomic(rf, b->record, strlen(b->record), 0644);
                if (r < 0)
                        return graft_error_set(b->err, r, GRAFT_ERROR_IO, "cannot write %s: %s", rf, strerror(-r));
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

static int write_dev(Build *b, const char *meta, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        char buf[64];
        snprintf(buf, sizeof buf, "%u:%u\n", major(st.st_dev), minor(st.st_dev));
        _cleanup_free_ char *f = path_join(meta, sysext_metadata_dir(b->o->class), "dev");
        if (!f)
                return -ENOMEM;
        int r = write_file_atomic(f, buf, strlen(buf), 0644);
        return r < 0 ? graft_error_set(b->err, r, GRAFT_ERROR_IO, "cannot write %s: %s", f, strerror(-r)) : 0;
}

static unsigned mount_attrs(const Build *b, const SysextMutableLayout *m) {
        unsigned a = (m->upper ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NODEV;
        if (noexec(b))
                a |= MOUNT_ATTR_NOEXEC;
        if (nosuid(b))
                a |= MOUNT_ATTR_NOSUID;
        return a;
}

/* Before Linux 6.8 there is no "lowerdir+": mount the classic way (one option string, at most a
 * page) on a staging directory and take a detached clone of it. */
static int overlay_legacy(Build *b, size_t hi, char * const *layers, const SysextMutableLayout *m, int *ret) {
        _cleanup_free_ char *opts = NULL, *target = NULL, *joined = strv_join(layers, ":");
        if (!joined)
                return -ENOMEM;
        if (asprintf(&opts, "lowerdir=%s%s%s%s%s", joined, m->upper ? ",upperdir=" : "", strempty(m->upper),
                     m->upper ? ",workdir=" : "", strempty(m->work)) < 0 ||
            asprintf(&target, "%s/o%zu", b->staging, hi) < 0)
                return -ENOMEM;
        if (strlen(opts) >= 4096)
                return graft_error_set(b->err, -E2BIG, GRAFT_ERROR_UNSUPPORTED,
                                       "%zu layers do not fit in one overlay option string on this kernel "
                                       "(Linux 6.8 takes any number)", strv_length(layers));
        if (mkdir(target, 0755) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", target);
        unsigned long flags = (m->upper ? 0 : MS_RDONLY) | MS_NODEV | (noexec(b) ? MS_NOEXEC : 0) | (nosuid(b) ? MS_NOSUID : 0);
        if (mount(b->o->class == IMAGE_CLASS_CONFEXT ? "confext" : "sysext", target, "overlay", flags, opts) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot mount the overlay for %s: %m",
                                       b->plan->hierarchies[hi]);
        int fd = (int) syscall(SYS_open_tree, AT_FDCWD, target, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot detach the overlay for %s: %m",
                                       b->plan->hierarchies[hi]);
        *ret = fd;
        return 0;
}

static int overlay_create(Build *b, size_t hi, char * const *layers, const SysextMutableLayout *m, int *ret) {
        const char *h = b->plan->hierarchies[hi];
        if (sysext_compat("no-lowerdir-plus"))
                return overlay_legacy(b, hi, layers, m, ret);
        _cleanup_close_ int fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_UNSUPPORTED,
                                       "the kernel offers no overlay file system: %m");
        if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "source", b->o->class == IMAGE_CLASS_CONFEXT ? "confext" : "sysext", 0) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "overlay source: %m");
        STRV_FOREACH(l, layers)
                if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", *l, 0) < 0) {
                        if (errno == EINVAL && l == layers) /* no "lowerdir+" before Linux 6.8 */
                                return overlay_legacy(b, hi, layers, m, ret);
                        return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO,
                                               "overlay for %s: cannot add layer %s: %m", h, *l);
                }
        if (m->upper && (sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", m->upper, 0) < 0 ||
                         sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", m->work, 0) < 0))
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO,
                                       "overlay for %s: cannot take %s as its upper directory: %m", h, m->upper);
        if (!m->upper && sys_fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create the overlay for %s: %m", h);
        if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                /* Before Linux 6.5 overlayfs takes the new mount API through the legacy shim, which
                 * accepts any key and leaves the parsing (and the refusal of "lowerdir+") to here. */
                if (errno == EINVAL)
                        return overlay_legacy(b, hi, layers, m, ret);
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create the overlay for %s: %m", h);
        }
        int fd = sys_fsmount(fs, FSMOUNT_CLOEXEC, mount_attrs(b, m));
        if (fd < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot mount the overlay for %s: %m", h);
        *ret = fd;
        return 0;
}

/* Under the new overlay (a detached mount) puts the clones of what was mounted below the hierarchy:
 * the overlay is attached in this private namespace, the clones go on it, and the whole tree is
 * cloned back into a detached one, which *fd then is. */
static int attach_submounts(Build *b, size_t hi, int *fd, SysextSubmounts *subs) {
        _cleanup_free_ char *target = NULL;
        if (asprintf(&target, "%s/s%zu", b->staging, hi) < 0)
                return -ENOMEM;
        if (mkdir(target, 0755) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", target);
        if (sys_move_mount(*fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot stage the overlay for %s: %m",
                                       b->plan->hierarchies[hi]);
        _cleanup_close_ int dfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m", target);
        int r = sysext_submounts_put(subs, dfd, b->resolved[hi], b->err);
        if (r < 0)
                return r;
        int tree = (int) syscall(SYS_open_tree, AT_FDCWD, target, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot detach the overlay for %s: %m",
                                       b->plan->hierarchies[hi]);
        safe_close(*fd);
        *fd = tree;
        return 0;
}

/* The layers of hierarchy hi, top first: the content directories of the images that ship some. */
static int content_layers(Build *b, size_t hi, char ***ret) {
        const char *h = b->plan->hierarchies[hi];
        _cleanup_strv_free_ char **layers = NULL;
        for (size_t i = b->plan->n_images; i > 0; i--) { /* the last image is the top layer */
                const SysextImage *img = &b->plan->images[i - 1];
                if (img->skipped || !strv_contains(img->content, h))
                        continue;
                _cleanup_free_ char *ln = layer_name(img, i - 1), *mnt = NULL;
                if (!ln || asprintf(&mnt, "%s/e/%s", b->staging, ln) < 0)
                        return -ENOMEM;
                char *dir = image_content_dir(mnt, h);
                if (!dir || strv_consume(&layers, dir) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(layers);
        return 0;
}

/* A hierarchy the root lacks, for which an image ships content: created (as systemd does),
 * rather than the content dropped. */
static int create_hierarchy(Build *b, size_t hi) {
        char *p = NULL;
        int r = sysext_hierarchy_create(b->plan->root, b->plan->hierarchies[hi], &p, b->err);
        if (r < 0)
                return r;
        fault_point("sysext-hierarchy-created");
        free(b->resolved[hi]);
        b->resolved[hi] = p;
        return 0;
}

static int mutable_layout(Build *b, size_t hi, const char *host, SysextMutableLayout *ret) {
        struct stat st;
        if (stat(host, &st) < 0)
                return graft_error_set(b->err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", host);
        SysextMutableRequest q = {
                .mode_wanted = b->o->mutable,
                .root = b->plan->root,
                .hierarchy = b->plan->hierarchies[hi],
                .staging = b->staging,
                .index = hi,
                .dry_run = b->o->dry_run,
                .mode = st.st_mode,
                .uid = st.st_uid,
                .gid = st.st_gid,
        };
        return sysext_mutable_layout(&q, ret, b->err);
}

static int build_hierarchy(Build *b, size_t hi) {
        _cleanup_strv_free_ char **layers = NULL;
        int r = content_layers(b, hi, &layers);
        if (r < 0)
                return r;
        if (!layers)
                return 0; /* no image ships anything here */
        if (isempty(b->resolved[hi]) && b->o->dry_run) {
                b->fds[hi] = -ENOENT; /* would be created and merged */
                return 0;
        }
        if (isempty(b->resolved[hi])) {
                r = create_hierarchy(b, hi);
                if (r < 0)
                        return r;
        }
        const char *host = b->resolved[hi];
        /* What is mounted below the hierarchy as everybody sees it now (on the merge, if there is
         * one) stays visible over the new merge. */
        _cleanup_(sysext_submounts_done) SysextSubmounts subs = {};
        r = sysext_submounts_take(b->o->class, host, &subs, b->err);
        if (r < 0)
                return r;
        /* The host's hierarchy as it is below any merge: in this private namespace we may unmount
         * the merges (ours or systemd's) without anybody else noticing. */
        r = sysext_unstack_here(b->o->class, host, NULL, b->err);
        if (r < 0)
                return r;

        _cleanup_free_ char *meta = NULL;
        r = make_meta(b, hi, host, &meta);
        if (r < 0)
                return r;
        _cleanup_(sysext_mutable_layout_done) SysextMutableLayout m = {};
        r = mutable_layout(b, hi, host, &m);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **all = NULL;
        if (strv_extend(&all, meta) < 0 || (m.import && strv_extend(&all, m.import) < 0))
                return -ENOMEM;
        STRV_FOREACH(l, layers)
                if (strv_extend(&all, *l) < 0)
                        return -ENOMEM;
        /* An empty host directory adds nothing, and systemd-sysext leaves it out too; nor does a
         * host directory that is the upper one itself (writes routed back to the host's /usr). */
        r = dir_is_empty(host);
        if (r == 0 && !(m.upper && streq(m.upper, host)) && strv_extend(&all, host) < 0)
                return -ENOMEM;

        _cleanup_close_ int fd = -EBADF;
        r = overlay_create(b, hi, all, &m, &fd);
        if (r < 0)
                return r;
        r = write_dev(b, meta, fd);
        if (r >= 0 && subs.n > 0)
                r = attach_submounts(b, hi, &fd, &subs);
        if (r < 0)
                return r;
        b->fds[hi] = TAKE_FD(fd);
        fault_point("sysext-overlay-created");
        return 0;
}

/* Once the images are mounted (their content known): the record every merged hierarchy carries. */
static int make_record(Build *b) {
        _cleanup_strv_free_ char **with_content = NULL;
        STRV_FOREACH(h, b->plan->hierarchies)
                for (size_t i = 0; i < b->plan->n_images; i++)
                        if (!b->plan->images[i].skipped && strv_contains(b->plan->images[i].content, *h)) {
                                if (strv_extend(&with_content, *h) < 0)
                                        return -ENOMEM;
                                break;
                        }
        return sysext_merge_record(b->o, b->plan, with_content, &b->record);
}

static int build_here(void *userdata, GraftError *err) {
        Build *b = userdata;
        if (mount("tmpfs", b->staging, "tmpfs", MS_NODEV | MS_NOSUID, "mode=0755") < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot mount a staging tmpfs on %s: %m",
                                       b->staging);
        fault_point("sysext-staging-mounted");
        _cleanup_free_ char *meta = path_join(b->staging, "meta");
        if (!meta)
                return -ENOMEM;
        if (mkdir(meta, 0755) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", meta);
        int r = mount_images(b);
        if (r >= 0)
                r = make_record(b);
        for (size_t hi = 0; r >= 0 && b->plan->hierarchies[hi]; hi++)
                r = build_hierarchy(b, hi);
        return r;
}

int sysext_overlays_build(const SysextOptions *o, SysextPlan *plan, int **ret_fds, GraftError *err) {
        size_t n = strv_length(plan->hierarchies);
        Build b = { .o = o, .plan = plan, .err = err };
        _cleanup_strv_free_ char **resolved = calloc(n + 1, sizeof(char *));
        int *fds = calloc(n + 1, sizeof(int));
        if (!resolved || !fds) {
                free(fds);
                return -ENOMEM;
        }
        for (size_t i = 0; i <= n; i++)
                fds[i] = -EBADF;
        b.resolved = resolved;
        b.fds = fds;

        int r = 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                SysextHierarchy h = {};
                r = sysext_hierarchy_read(o->class, plan->root, plan->hierarchies[i], &h, err);
                resolved[i] = r >= 0 ? strdup(h.resolved ?: "") : NULL;
                if (r >= 0 && !resolved[i])
                        r = -ENOMEM;
                sysext_hierarchy_done(&h);
        }
        if (r >= 0)
                r = sysext_staging_dir(o->class, plan->root, &b.staging, err);
        if (r >= 0)
                r = sysext_in_private_namespace(build_here, &b, err);
        free(b.staging);
        free(b.record);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
                free(fds);
                return r;
        }
        *ret_fds = fds;
        return 0;
}
