/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graftd's org.freedesktop.portable1 face (graftd --portable1, see graftd(8)): the Manager
 * object and the Image objects with the methods and the signatures of systemd-portabled (v252),
 * so that systemd's own portablectl drives graftd unchanged. Each method parses systemd's
 * arguments here and becomes an operation (operation.c) whose worker calls the same portable
 * library function as org.graft.Manager1 does: the operation lock, the journal, the trust checks
 * and the authorization (org.graft.policy's actions) are graftd's own, unchanged. Only the shape
 * of the replies is systemd's: the change list a(sss) (type, path, source), the image list
 * a(ssbtttso), the metadata (path, os-release, unit files as bytes). */
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bus-portable.h"
#include "bus-util.h"
#include "daemon-log.h"
#include "operation.h"
#include "path-util.h"
#include "portable-wire.h"
#include "strv.h"

#define P1_NAME "org.freedesktop.portable1"
#define P1_PATH "/org/freedesktop/portable1"
#define P1_IMAGE_PREFIX "/org/freedesktop/portable1/image"
#define P1_MANAGER_INTERFACE "org.freedesktop.portable1.Manager"
#define P1_IMAGE_INTERFACE "org.freedesktop.portable1.Image"
#define P1_ERROR_NO_SUCH_IMAGE "org.freedesktop.portable1.NoSuchImage"
#define P1_POOL "/var/lib/portables"
/* The flags portabled 252 takes on its *WithExtensions methods: PORTABLE_RUNTIME alone. */
#define P1_FLAG_RUNTIME UINT64_C(1)

/* What ListImages says of an image besides graft's own listing: systemd's image fields. */
typedef struct P1ImageStat {
        const char *type;
        bool read_only;
        uint64_t crtime, mtime, usage;
} P1ImageStat;

/* The image a method is for: its first argument (Manager), or the object's name (Image). */
static int method_image(sd_bus_message *m, char **ret, sd_bus_error *error) {
        if (streq(sd_bus_message_get_interface(m), P1_IMAGE_INTERFACE)) {
                _cleanup_free_ char *name = NULL;
                int r = sd_bus_path_decode(sd_bus_message_get_path(m), P1_IMAGE_PREFIX, &name);
                if (r <= 0 || isempty(name))
                        return r < 0 ? r : sd_bus_error_setf(error, P1_ERROR_NO_SUCH_IMAGE, "No image object %s.",
                                                             sd_bus_message_get_path(m));
                *ret = TAKE_PTR(name);
                return 0;
        }
        _cleanup_free_ char *image = NULL;
        int r = bus_read_string(m, &image);
        if (r < 0)
                return r;
        if (!image)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "No image given.");
        *ret = TAKE_PTR(image);
        return 0;
}

static int dispatch(sd_bus_message *m, void *userdata, bool change, OperationRunFn run, OperationReplyFn reply,
                    OperationDoneFn done, PortableParseFn parse, sd_bus_error *error) {
        char *image = NULL;
        int r = method_image(m, &image, error);
        if (r < 0)
                return r;
        /* portablectl reloads, enables and starts itself, through systemd, as with portabled; graft's
         * own signal and journal entry go out as for org.graft.Manager1's changes (done). */
        return portable_request_start(m, userdata, image, change, run, reply, done, parse, error);
}

static bool with_extensions(sd_bus_message *m) {
        return endswith(sd_bus_message_get_member(m), "WithExtensions");
}

/* graft's flags for portabled's runtime choice; never a reload (portablectl asks systemd itself). */
static void set_runtime(PortableRequest *q, bool runtime) {
        q->flags = PORTABLE_BUS_NO_RELOAD | (runtime ? PORTABLE_BUS_RUNTIME : 0);
}

static int read_flags(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        uint64_t flags;
        int r = sd_bus_message_read(m, "t", &flags);
        if (r < 0)
                return r;
        if (flags & ~P1_FLAG_RUNTIME)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid 'flags' parameter '%" PRIu64 "'",
                                         flags);
        set_runtime(q, flags & P1_FLAG_RUNTIME);
        return 0;
}

static int read_runtime(sd_bus_message *m, PortableRequest *q) {
        int b = 0;
        int r = sd_bus_message_read(m, "b", &b);
        set_runtime(q, b);
        return r;
}

static int read_copy_mode(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        _cleanup_free_ char *copy = NULL;
        int r = bus_read_string(m, &copy);
        if (r < 0)
                return r;
        q->copy_mode = copy ? portable_copy_mode_from_string(copy) : PORTABLE_COPY_AUTO;
        if (q->copy_mode < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown copy mode '%s'", copy);
        return 0;
}

/* [as extensions,] as matches, s profile, then b runtime, s copy_mode or s copy_mode, t flags:
 * AttachImage(WithExtensions), ReattachImage(WithExtensions). */
static int parse_attach(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        bool ext = with_extensions(m);
        int r = ext ? bus_read_strv(m, &q->extensions) : 0;
        if (r >= 0)
                r = bus_read_strv(m, &q->prefixes);
        if (r >= 0)
                r = bus_read_string(m, &q->profile);
        if (r >= 0 && !ext)
                r = read_runtime(m, q);
        if (r >= 0)
                r = read_copy_mode(m, q, error);
        if (r >= 0 && ext)
                r = read_flags(m, q, error);
        return r;
}

/* b runtime, or as extensions, t flags: DetachImage(WithExtensions). */
static int parse_detach(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        if (!with_extensions(m))
                return read_runtime(m, q);
        int r = bus_read_strv(m, &q->extensions);
        return r < 0 ? r : read_flags(m, q, error);
}

/* [as extensions,] as matches[, t flags]: GetImageMetadata(WithExtensions). */
static int parse_metadata(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        bool ext = with_extensions(m);
        int r = ext ? bus_read_strv(m, &q->extensions) : 0;
        if (r >= 0)
                r = bus_read_strv(m, &q->prefixes);
        if (r >= 0 && ext)
                r = read_flags(m, q, error);
        return r;
}

/* as extensions, t flags: GetImageStateWithExtensions. */
static int parse_state(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        return with_extensions(m) ? parse_detach(m, q, error) : 0;
}

static int parse_read_only(sd_bus_message *m, PortableRequest *q, sd_bus_error *error) {
        int b = 0;
        int r = sd_bus_message_read(m, "b", &b);
        q->read_only = b;
        return r;
}

static const char *file_name(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* Whether the change list puts a file of the same name back where x removed one (reattach). */
static bool put_back(const PortableChanges *c, const PortableChange *x) {
        for (size_t j = 0; j < c->n; j++) {
                const PortableChange *y = &c->items[j];
                if (y->type != PORTABLE_CHANGE_UNLINK && streq(file_name(y->path), file_name(x->path)))
                        return true;
        }
        return false;
}

/* The change list as portabled sends it: a(sss) type, path, source. portabled copies unit files
 * out of the image through a file descriptor and names no source for them: neither does this
 * (pctl and org.graft.Manager1 do). Which: ALL; ADDED, the changes but the unlinks; GONE, the
 * unlinks of files the list does not put back (reattach: portabled's "units gone"). */
typedef enum { CHANGES_ALL, CHANGES_ADDED, CHANGES_GONE } ChangesWhich;

static int append_changes(sd_bus_message *reply, const PortableResult *res, ChangesWhich which) {
        const PortableChanges *c = &res->changes;
        size_t n_image = strlen(strempty(res->image));
        int r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (size_t i = 0; r >= 0 && i < c->n; i++) {
                const PortableChange *x = &c->items[i];
                bool unlink = x->type == PORTABLE_CHANGE_UNLINK;
                if ((which == CHANGES_ADDED && unlink) || (which == CHANGES_GONE && (!unlink || put_back(c, x))))
                        continue;
                const char *source = strempty(x->source);
                if (x->type == PORTABLE_CHANGE_COPY && n_image > 0 && strneq(source, res->image, n_image) &&
                    source[n_image] == '/')
                        source = "";
                r = sd_bus_message_append(reply, "(sss)", portable_change_type_to_string(x->type), x->path, source);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* ListImages, GetImage: graft's listing, with what systemd says of each image file. What cannot be
 * looked at (attached from an image gone from the search directories) has no times and an unknown
 * usage, as portabled says of what it cannot measure. */
static void stat_image(const char *root, const char *path, P1ImageStat *ret) {
        _cleanup_free_ char *full = path_join(root ?: "/", path);
        struct statx sx;
        *ret = (P1ImageStat) { .type = "raw", .usage = UINT64_MAX };
        if (!full || statx(AT_FDCWD, full, 0, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
                return;
        struct statvfs sv;
        ret->read_only = statvfs(full, &sv) >= 0 && (sv.f_flag & ST_RDONLY);
        ret->mtime = (uint64_t) sx.stx_mtime.tv_sec * 1000000u + sx.stx_mtime.tv_nsec / 1000u;
        if (sx.stx_mask & STATX_BTIME)
                ret->crtime = (uint64_t) sx.stx_btime.tv_sec * 1000000u + sx.stx_btime.tv_nsec / 1000u;
        if (S_ISDIR(sx.stx_mode)) {
                /* A directory is read-only by its immutable attribute (portable_set_read_only()). */
                ret->type = "directory";
                int fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
                unsigned attr = 0;
                if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &attr) >= 0 && (attr & FS_IMMUTABLE_FL))
                        ret->read_only = true;
                if (fd >= 0)
                        close(fd);
        } else if (S_ISBLK(sx.stx_mode))
                ret->type = "block";
        else {
                ret->read_only = ret->read_only || (sx.stx_mode & 0222) == 0;
                ret->usage = sx.stx_blocks * 512u;
        }
}

static int run_list(Operation *op) {
        PortableRequest *q = op->data;
        int r = portable_run_list(op);
        if (r < 0)
                return r;
        P1ImageStat *stats = calloc(q->n_infos + 1, sizeof(P1ImageStat));
        if (!stats)
                return -ENOMEM;
        for (size_t i = 0; i < q->n_infos; i++)
                stat_image(op->manager->root, q->infos[i].path, &stats[i]);
        q->extra = stats;
        return 0;
}

static int append_image_path(sd_bus_message *reply, const char *name) {
        _cleanup_free_ char *path = NULL;
        int r = sd_bus_path_encode(P1_IMAGE_PREFIX, name, &path);
        return r < 0 ? r : sd_bus_message_append(reply, "o", path);
}

static int reply_list(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        int r = sd_bus_message_open_container(reply, 'a', "(ssbtttso)");
        for (size_t i = 0; r >= 0 && i < q->n_infos; i++) {
                const P1ImageStat *s = (const P1ImageStat *) q->extra + i;
                r = sd_bus_message_open_container(reply, 'r', "ssbtttso");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "ssbttts", q->infos[i].name, s->type, s->read_only, s->crtime,
                                                  s->mtime, s->usage, portable_state_to_string(q->infos[i].state));
                if (r >= 0)
                        r = append_image_path(reply, q->infos[i].name);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_list_images(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return portable_request_start(m, userdata, NULL, false, run_list, reply_list, NULL, NULL, error);
}

static int run_get_image(Operation *op) {
        PortableRequest *q = op->data;
        int r = run_list(op);
        for (size_t i = 0; r >= 0 && i < q->n_infos; i++)
                if (streq(q->infos[i].name, q->image) || streq(q->infos[i].path, q->image)) {
                        free(q->image);
                        q->image = TAKE_PTR(q->infos[i].name);
                        return 0;
                }
        return r < 0 ? r
                     : graft_error_set(&op->error, -ENOENT, P1_ERROR_NO_SUCH_IMAGE, "No image '%s' found.", q->image);
}

static int reply_get_image(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return append_image_path(reply, q->image);
}

static int method_get_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, false, run_get_image, reply_get_image, NULL, NULL, error);
}

/* GetImageState(WithExtensions), Image.GetState */
static int reply_state(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return sd_bus_message_append(reply, "s", portable_state_to_string(q->state));
}

static int method_get_state(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, false, portable_run_state, reply_state, NULL, parse_state, error);
}

/* GetImageMetadata(WithExtensions), GetImageOSRelease and the Image methods of the same names.
 * The os-release file again, from graft's key/value pairs: quoted, so that every reader of
 * os-release (portablectl parses it as an environment file) reads the same values. */
static int append_os_release(sd_bus_message *reply, char **pairs) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &n);
        if (!f)
                return -ENOMEM;
        for (char **p = pairs; p && p[0] && p[1]; p += 2) {
                fprintf(f, "%s=\"", p[0]);
                for (const char *c = p[1]; *c; c++)
                        fprintf(f, strchr("\\\"$`", *c) ? "\\%c" : "%c", *c);
                fputs("\"\n", f);
        }
        if (fflush(f) != 0)
                return -ENOMEM;
        return sd_bus_message_append_array(reply, 'y', buf, n);
}

static int reply_metadata(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        const PortableInspection *in = &q->inspection;
        int r = sd_bus_message_append(reply, "s", in->image);
        if (r >= 0)
                r = append_os_release(reply, in->os_release);
        if (r >= 0 && with_extensions(op->call)) {
                /* graft keeps no extension-release content in its inspection: the paths, empty. */
                r = sd_bus_message_open_container(reply, 'a', "{say}");
                for (char **e = in->extensions; r >= 0 && e && *e; e++)
                        r = sd_bus_message_append(reply, "{say}", *e, 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{say}");
        for (size_t i = 0; r >= 0 && i < in->n_units; i++) {
                const char *content = strempty(in->units[i].content);
                r = sd_bus_message_open_container(reply, 'e', "say");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", in->units[i].name);
                if (r >= 0)
                        r = sd_bus_message_append_array(reply, 'y', content, strlen(content));
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_get_metadata(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, false, portable_run_metadata, reply_metadata, NULL, parse_metadata, error);
}

static int reply_os_release(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        char **p = q->inspection.os_release;
        int r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (; r >= 0 && p && p[0] && p[1]; p += 2)
                r = sd_bus_message_append(reply, "{ss}", p[0], p[1]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int method_get_os_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, false, portable_run_metadata, reply_os_release, NULL, NULL, error);
}

/* AttachImage, ReattachImage, DetachImage (and WithExtensions, and the Image methods) */
static int reply_changes(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        return append_changes(reply, &q->result, CHANGES_ALL);
}

/* Reattach: the files gone, then the files put in place (portablectl stops what is gone). */
static int reply_reattach(Operation *op, sd_bus_message *reply) {
        PortableRequest *q = op->data;
        int r = append_changes(reply, &q->result, CHANGES_GONE);
        return r < 0 ? r : append_changes(reply, &q->result, CHANGES_ADDED);
}

static int method_attach(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, true, portable_run_attach, reply_changes, portable_done_attach, parse_attach, error);
}

static int method_reattach(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, true, portable_run_reattach, reply_reattach, portable_done_reattach, parse_attach, error);
}

static int method_detach(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, true, portable_run_detach, reply_changes, portable_done_detach, parse_detach, error);
}

/* RemoveImage, MarkImageReadOnly */
static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, true, portable_run_remove, NULL, portable_done_remove, NULL, error);
}

static int method_mark_read_only(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return dispatch(m, userdata, true, portable_run_read_only, NULL, NULL, parse_read_only, error);
}

/* SetImageLimit, SetPoolLimit: portabled sets btrfs quotas; graft's pools have none. */
static int method_set_limit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                 "graftd sets no size limits: its image pools are plain directories without quota.");
}

static int property_pool_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", P1_POOL);
}

/* As portabled's on a file system without quota. */
static int property_unlimited(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", UINT64_MAX);
}

static int property_image_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        int r = sd_bus_path_decode(path, P1_IMAGE_PREFIX, &name);
        return r < 0 ? r : sd_bus_message_append(reply, "s", strempty(name));
}

#define CHANGES SD_BUS_RESULT("a(sss)", changes)
#define REATTACH_CHANGES SD_BUS_RESULT("a(sss)", changes_removed, "a(sss)", changes_updated)
#define METADATA SD_BUS_RESULT("s", image, "ay", os_release, "a{say}", units)
#define METADATA_EXT SD_BUS_RESULT("s", image, "ay", os_release, "a{say}", extensions, "a{say}", units)
#define ATTACH_ARGS "as", matches, "s", profile, "b", runtime, "s", copy_mode
#define ATTACH_EXT_ARGS "as", extensions, "as", matches, "s", profile, "s", copy_mode, "t", flags
#define UNPRIV SD_BUS_VTABLE_UNPRIVILEGED

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PoolPath", "s", property_pool_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PoolUsage", "t", property_unlimited, 0, 0),
        SD_BUS_PROPERTY("PoolLimit", "t", property_unlimited, 0, 0),
        SD_BUS_PROPERTY("Profiles", "as", portable_property_profiles, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("GetImage", SD_BUS_ARGS("s", image), SD_BUS_RESULT("o", object), method_get_image,
                                UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("ListImages", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssbtttso)", images),
                                method_list_images, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetImageOSRelease", SD_BUS_ARGS("s", image), SD_BUS_RESULT("a{ss}", os_release),
                                method_get_os_release, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetImageMetadata", SD_BUS_ARGS("s", image, "as", matches), METADATA,
                                method_get_metadata, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetImageMetadataWithExtensions",
                                SD_BUS_ARGS("s", image, "as", extensions, "as", matches, "t", flags), METADATA_EXT,
                                method_get_metadata, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetImageState", SD_BUS_ARGS("s", image), SD_BUS_RESULT("s", state),
                                method_get_state, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetImageStateWithExtensions", SD_BUS_ARGS("s", image, "as", extensions, "t", flags),
                                SD_BUS_RESULT("s", state), method_get_state, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("AttachImage", SD_BUS_ARGS("s", image, ATTACH_ARGS), CHANGES, method_attach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("AttachImageWithExtensions", SD_BUS_ARGS("s", image, ATTACH_EXT_ARGS), CHANGES,
                                method_attach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("DetachImage", SD_BUS_ARGS("s", image, "b", runtime), CHANGES, method_detach,
                                UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("DetachImageWithExtensions", SD_BUS_ARGS("s", image, "as", extensions, "t", flags),
                                CHANGES, method_detach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("ReattachImage", SD_BUS_ARGS("s", image, ATTACH_ARGS), REATTACH_CHANGES,
                                method_reattach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("ReattachImageWithExtensions", SD_BUS_ARGS("s", image, ATTACH_EXT_ARGS),
                                REATTACH_CHANGES, method_reattach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", image), SD_BUS_NO_RESULT, method_remove, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("MarkImageReadOnly", SD_BUS_ARGS("s", image, "b", read_only), SD_BUS_NO_RESULT,
                                method_mark_read_only, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("SetImageLimit", SD_BUS_ARGS("s", image, "t", limit), SD_BUS_NO_RESULT,
                                method_set_limit, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("SetPoolLimit", SD_BUS_ARGS("t", limit), SD_BUS_NO_RESULT, method_set_limit, UNPRIV),
        SD_BUS_VTABLE_END,
};

/* The Image objects: the same methods, the image named by the object path. Of the properties only
 * Name: the others would need the image looked at in the main loop, which graftd never does. */
static const sd_bus_vtable image_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_image_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("GetOSRelease", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", os_release),
                                method_get_os_release, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetMetadata", SD_BUS_ARGS("as", matches), METADATA, method_get_metadata, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetMetadataWithExtensions", SD_BUS_ARGS("as", extensions, "as", matches, "t", flags),
                                METADATA_EXT, method_get_metadata, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("GetState", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", state), method_get_state, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("Attach", SD_BUS_ARGS(ATTACH_ARGS), CHANGES, method_attach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("AttachWithExtensions", SD_BUS_ARGS(ATTACH_EXT_ARGS), CHANGES, method_attach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("b", runtime), CHANGES, method_detach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("DetachWithExtensions", SD_BUS_ARGS("as", extensions, "t", flags), CHANGES,
                                method_detach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("Reattach", SD_BUS_ARGS(ATTACH_ARGS), REATTACH_CHANGES, method_reattach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("ReattachWithExtensions", SD_BUS_ARGS(ATTACH_EXT_ARGS), REATTACH_CHANGES,
                                method_reattach, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("Remove", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_remove, UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("MarkReadOnly", SD_BUS_ARGS("b", read_only), SD_BUS_NO_RESULT, method_mark_read_only,
                                UNPRIV),
        SD_BUS_METHOD_WITH_ARGS("SetLimit", SD_BUS_ARGS("t", limit), SD_BUS_NO_RESULT, method_set_limit, UNPRIV),
        SD_BUS_VTABLE_END,
};

/* Whose org.freedesktop.portable1 is on this bus: systemd-portabled's where it is installed (the
 * name is activatable) or someone owns the name. NULL: nobody's. */
static const char *portable1_taken(sd_bus *bus) {
        _cleanup_strv_free_ char **owned = NULL, **activatable = NULL;
        if (sd_bus_list_names(bus, &owned, &activatable) < 0)
                return "the bus cannot list its names";
        if (strv_contains(activatable, P1_NAME))
                return "systemd-portabled is installed for this bus";
        return strv_contains(owned, P1_NAME) ? "another program owns the name" : NULL;
}

void manager_portable1_start(Manager *m) {
        const char *why = portable1_taken(m->bus);
        if (why) {
                daemon_log(LOG_NOTICE, "Not serving %s: %s.", P1_NAME, why);
                return;
        }
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *manager = NULL, *images = NULL;
        int r = sd_bus_add_object_vtable(m->bus, &manager, P1_PATH, P1_MANAGER_INTERFACE, manager_vtable, m);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(m->bus, &images, P1_IMAGE_PREFIX, P1_IMAGE_INTERFACE, image_vtable,
                                               NULL, m);
        if (r >= 0)
                r = sd_bus_request_name(m->bus, P1_NAME, 0);
        if (r < 0) {
                /* The objects go with the slots: nothing of the face stays half served. */
                daemon_log(LOG_WARNING, "Not serving %s: %s", P1_NAME, strerror(-r));
                return;
        }
        /* They live as long as the connection, which holds them from now on (ours are dropped). */
        (void) sd_bus_slot_set_floating(manager, 1);
        (void) sd_bus_slot_set_floating(images, 1);
        daemon_log(LOG_INFO, "Serving %s too.", P1_NAME);
}
