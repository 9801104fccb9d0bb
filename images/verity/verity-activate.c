/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel dm-verity devices through libcryptsetup: whether the kernel can have them, activating
 * one (shared by name when the same root hash is already active), holding it open until it is
 * mounted, and removing it (now, or deferred to when its last user goes). This is the one place
 * libcryptsetup's errors and log messages are translated. */
#include <dirent.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "fault.h"
#include "fileio.h"
#include "hex.h"
#include "path-util.h"
#include "verity.h"

/* The kernel limits device-mapper names to 127 characters. */
#define DM_NAME_MAX 127

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

static bool path_exists(const char *path) {
        return access(path, F_OK) == 0;
}

/* Whether a line of a text file contains needle (files of /proc and /lib/modules are small). */
static bool file_contains(const char *path, const char *needle) {
        _cleanup_free_ char *text = NULL;
        if (read_full_file_at(AT_FDCWD, path, 64u * 1024u * 1024u, &text, NULL) < 0)
                return false;
        return strstr(text, needle);
}

/* Loaded, built in, or installed for modprobe to load. */
static bool kernel_module_available(const char *sysfs_name, const char *file_name) {
        char path[PATH_MAX], needle[64];
        struct utsname u;

        snprintf(path, sizeof(path), "/sys/module/%s", sysfs_name);
        if (path_exists(path))
                return true;
        if (uname(&u) < 0)
                return false;
        snprintf(needle, sizeof(needle), "/%s.ko", file_name);
        snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", u.release);
        if (file_contains(path, needle))
                return true;
        snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", u.release);
        return file_contains(path, needle);
}

bool verity_kernel_available(const char **ret_reason) {
        const char *reason = NULL;

        if (!path_exists("/dev/mapper/control") &&
            !file_contains("/proc/misc", " device-mapper\n") &&
            !kernel_module_available("dm_mod", "dm-mod"))
                reason = "the kernel has no device-mapper (/dev/mapper/control is missing)";
        else if (!kernel_module_available("dm_verity", "dm-verity"))
                reason = "the kernel has no dm-verity target (dm_verity is neither loaded nor "
                         "installed as a module)";

        if (ret_reason)
                *ret_reason = reason;
        return !reason;
}

/* Whether the kernel checks root hash signatures: 1 yes, 0 no, -1 unknown (dm_verity is not
 * loaded yet). dm-verity has the require_signatures parameter exactly when it was built with
 * CONFIG_DM_VERITY_VERIFY_ROOTHASH_SIG. */
static int kernel_signature_support(bool *ret_required) {
        _cleanup_free_ char *value = NULL;
        *ret_required = false;
        if (read_full_file_at(AT_FDCWD, "/sys/module/dm_verity/parameters/require_signatures",
                              64, &value, NULL) >= 0) {
                *ret_required = value[0] == 'Y' || value[0] == '1';
                return 1;
        }
        return path_exists("/sys/module/dm_verity") ? 0 : -1;
}

/* The last error libcryptsetup logged, to give the user its words rather than just an errno. */
typedef struct CryptLog {
        char *last_error;
} CryptLog;

static void crypt_log_cb(int level, const char *msg, void *userdata) {
        CryptLog *log = userdata;
        if (level != CRYPT_LOG_ERROR || !msg)
                return;
        char *m = strdup(msg);
        if (!m)
                return;
        size_t n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '.'))
                m[--n] = 0;
        free(log->last_error);
        log->last_error = m;
}

static void crypt_log_done(CryptLog *log) {
        log->last_error = mfree(log->last_error);
}

static void crypt_log_ignore(int level, const char *msg, void *userdata) {
}

static void quiet_default_log(void) {
        crypt_set_log_callback(NULL, crypt_log_ignore, NULL);
}

/* Library code does not print: without a callback libcryptsetup writes to stdout/stderr for
 * contexts that have none of their own (crypt_status(NULL, …), crypt_init_by_name()). */
static void quiet_libcryptsetup(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void) pthread_once(&once, quiet_default_log);
}

static int crypt_fail(GraftError *err, int r, const CryptLog *log, const char *name,
                      const char *what, const char *object) {
        return graft_error_set(err, r, name, "cannot %s %s: %s", what, object,
                               log && log->last_error ? log->last_error : strerror(-r));
}

static int unavailable(GraftError *err) {
        const char *reason = NULL;
        (void) verity_kernel_available(&reason);
        return graft_error_set(err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                               "dm-verity is not available: %s; the image was verified in "
                               "userspace instead", strna(reason));
}

static int device_path(const char *name, char **ret) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", crypt_get_dir(), name) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* What an activation (or the device it shares) did about the signature. */
typedef struct ActivationInfo {
        bool shared;
        bool kernel_signature;
        char *signature_note;
} ActivationInfo;

static void activation_info_done(ActivationInfo *i) {
        i->signature_note = mfree(i->signature_note);
}

static int note(ActivationInfo *info, const char *format, ...) _printf_(2, 3);
static int note(ActivationInfo *info, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        free(info->signature_note);
        int r = vasprintf(&info->signature_note, format, ap);
        va_end(ap);
        if (r < 0) {
                info->signature_note = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* An active device of our name: share it if it carries the same root hash. */
static int share_existing(const char *name, const VerityActivation *a, ActivationInfo *info,
                          GraftError *err) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct crypt_params_verity params = {};
        char key[VERITY_MAX_DIGEST_SIZE];
        size_t key_size = sizeof(key);
        CryptLog log = {};
        int r;

        r = crypt_init_by_name(&cd, name);
        if (r >= 0) {
                crypt_set_log_callback(cd, crypt_log_cb, &log);
                const char *type = crypt_get_type(cd);
                if (!type || !streq(type, CRYPT_VERITY))
                        r = -EEXIST;
                else
                        r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, key, &key_size, NULL, 0);
        }
        if (r >= 0 && (key_size != a->root_hash_size ||
                       memcmp(key, a->root_hash, key_size) != 0))
                r = -EEXIST;
        if (r == -EEXIST)
                r = graft_error_set(err, r, GRAFT_ERROR_IO,
                                    "device-mapper device %s exists already with another root "
                                    "hash", name);
        else if (r < 0)
                r = crypt_fail(err, r, &log, GRAFT_ERROR_IO, "inspect active device", name);
        crypt_log_done(&log);
        if (r < 0)
                return r;

        info->shared = true;
        info->kernel_signature = crypt_get_verity_info(cd, &params) >= 0 &&
                                 (params.flags & CRYPT_VERITY_ROOT_HASH_SIGNATURE);
        if (a->signature && !info->kernel_signature)
                return note(info, "the device was active already, set up without a signature "
                            "for the kernel to check");
        return 0;
}

static const char *kernel_words(const char *msg) {
        const char *colon = msg ? strrchr(msg, ':') : NULL;
        if (colon && colon[1] == ' ' && colon[2])
                return colon + 2;
        return msg;
}

/* With a signature the kernel can check, let it; the userspace check (done before we get here)
 * is what we rely on when the kernel cannot. */
static int activate(struct crypt_device *cd, const char *name, const VerityActivation *a,
                    CryptLog *log, ActivationInfo *info, GraftError *err) {
        const uint32_t flags = CRYPT_ACTIVATE_READONLY;
        bool required;
        int support = kernel_signature_support(&required), r;

        if (!a->signature && support > 0 && required)
                return graft_error_set(err, -EKEYREJECTED, GRAFT_ERROR_BAD_SIGNATURE,
                                       "the kernel requires signed dm-verity root hashes "
                                       "(dm_verity.require_signatures) and %s has no signature",
                                       name);
        if (a->signature && support != 0) {
                r = crypt_activate_by_signed_key(cd, name, (const char *) a->root_hash,
                                                 a->root_hash_size, (const char *) a->signature,
                                                 a->signature_size, flags);
                if (r >= 0) {
                        info->kernel_signature = true;
                        return r;
                }
                if (r == -EEXIST)
                        return r;
                /* "device-mapper: reload ioctl on NAME (254:0) failed: Required key not
                 * available": the last part is what the kernel said. */
                const char *why = kernel_words(log->last_error) ?: strerror(-r);
                if (kernel_signature_support(&required) > 0 && required)
                        return graft_error_set(err, r, GRAFT_ERROR_BAD_SIGNATURE,
                                               "the kernel requires signed dm-verity root hashes "
                                               "(dm_verity.require_signatures) and refused the "
                                               "signature for %s: %s", name, why);
                /* The module may have been loaded by this very attempt. */
                if (kernel_signature_support(&required) == 0)
                        r = note(info, "this kernel's dm-verity does not check root hash "
                                 "signatures");
                else
                        r = note(info, "the kernel refused the signature (%s): its trusted "
                                 "keyrings do not hold the signer's certificate", why);
                if (r < 0)
                        return r;
                crypt_log_done(log);
        } else if (a->signature) {
                r = note(info, "this kernel's dm-verity does not check root hash signatures");
                if (r < 0)
                        return r;
        }
        return crypt_activate_by_volume_key(cd, name, (const char *) a->root_hash,
                                            a->root_hash_size, flags);
}

static int activate_new(const char *name, const VerityActivation *a, ActivationInfo *info,
                        GraftError *err) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        CryptLog log = {};
        int r;

        r = crypt_init(&cd, a->hash_device);
        if (r < 0)
                return crypt_fail(err, r, NULL, GRAFT_ERROR_IO, "open dm-verity hash device",
                                  a->hash_device);
        crypt_set_log_callback(cd, crypt_log_cb, &log);

        struct crypt_params_verity params = { .hash_area_offset = a->hash_offset };
        r = crypt_load(cd, CRYPT_VERITY, &params);
        if (r < 0)
                r = crypt_fail(err, r, &log, GRAFT_ERROR_BAD_IMAGE,
                               "load the dm-verity superblock of", a->hash_device);
        else {
                r = crypt_set_data_device(cd, a->data_device);
                if (r < 0)
                        r = crypt_fail(err, r, &log, GRAFT_ERROR_IO, "use dm-verity data device",
                                       a->data_device);
        }
        if (r >= 0) {
                r = activate(cd, name, a, &log, info, err);
                if (r == -EEXIST) /* someone else activated the same image just now */
                        r = share_existing(name, a, info, err);
                else if (r == -EKEYREJECTED || r == -ENOKEY)
                        r = crypt_fail(err, r, &log, GRAFT_ERROR_BAD_SIGNATURE,
                                       "activate dm-verity device", name);
                else if (r < 0)
                        r = crypt_fail(err, r, &log, GRAFT_ERROR_IO, "activate dm-verity device",
                                       name);
        }
        crypt_log_done(&log);
        return r;
}

char *verity_device_name(const uint8_t *root_hash, size_t root_hash_size) {
        _cleanup_free_ char *hex = hexmem(root_hash, root_hash_size);
        char *name = NULL;
        if (!hex)
                return NULL;
        /* Long digests (sha512) are cut to the name limit; sharing compares the whole hash. */
        if (asprintf(&name, "graft-%.*s", DM_NAME_MAX - 6, hex) < 0)
                return NULL;
        return name;
}

static int activate_or_share(const VerityActivation *a, char **ret_name, ActivationInfo *info,
                             GraftError *err) {
        if (!a->root_hash || a->root_hash_size == 0 || a->root_hash_size > VERITY_MAX_DIGEST_SIZE)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "invalid dm-verity root hash size %zu",
                                       a->root_hash_size);
        if (!verity_kernel_available(NULL))
                return unavailable(err);
        quiet_libcryptsetup();

        _cleanup_free_ char *name = verity_device_name(a->root_hash, a->root_hash_size);
        if (!name)
                return -ENOMEM;
        crypt_status_info status = crypt_status(NULL, name);
        int r = status == CRYPT_ACTIVE || status == CRYPT_BUSY ? share_existing(name, a, info, err)
                                                               : activate_new(name, a, info, err);
        if (r < 0)
                return r;
        *ret_name = TAKE_PTR(name);
        return 0;
}

int verity_activate(const VerityActivation *a, char **ret_device_path, GraftError *err) {
        _cleanup_(activation_info_done) ActivationInfo info = {};
        _cleanup_free_ char *name = NULL, *path = NULL;
        int r = activate_or_share(a, &name, &info, err);
        if (r < 0)
                return r;
        r = device_path(name, &path);
        if (r < 0)
                return r;
        if (ret_device_path)
                *ret_device_path = TAKE_PTR(path);
        return 0;
}

/* The device number of the active dm device called name, from sysfs (the kernel's view, not
 * whatever node may linger in /dev/mapper). -ENODEV if there is none. */
static int dm_devnum(const char *name, dev_t *ret, char **ret_kernel_name) {
        _cleanup_(closedirp) DIR *d = opendir("/sys/block");
        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                if (!startswith(de->d_name, "dm-"))
                        continue;
                char path[PATH_MAX];
                _cleanup_free_ char *n = NULL, *dev = NULL;
                snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
                if (read_full_file_at(AT_FDCWD, path, 4096, &n, NULL) < 0)
                        continue;
                n[strcspn(n, "\n")] = 0;
                if (!streq(n, name))
                        continue;
                unsigned maj, min;
                snprintf(path, sizeof(path), "/sys/block/%s/dev", de->d_name);
                if (read_full_file_at(AT_FDCWD, path, 64, &dev, NULL) < 0 ||
                    sscanf(dev, "%u:%u", &maj, &min) != 2)
                        return -EIO;
                *ret_kernel_name = strdup(de->d_name);
                if (!*ret_kernel_name)
                        return -ENOMEM;
                *ret = makedev(maj, min);
                return 0;
        }
        return -ENODEV;
}

/* A node that is the device (devnum): /dev/mapper/NAME (what udev or libdevmapper made) if it
 * is, else the kernel's own /dev/dm-N. fd >= 0: check that node only by stat (the device is held
 * by fd, so its number cannot go to another device meanwhile); else open it and return the fd.
 * -ENODEV when the device went away meanwhile, -ENOENT when no node is it. */
static int node_of(const char *name, dev_t devnum, const char *kname, int fd, char **ret_node) {
        _cleanup_free_ char *mapper = NULL, *dmnode = NULL;
        if (device_path(name, &mapper) < 0 || asprintf(&dmnode, "/dev/%s", kname) < 0)
                return -ENOMEM;
        char *nodes[] = { mapper, dmnode };
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                _cleanup_close_ int nfd = -EBADF;
                struct stat st;
                if (fd >= 0) {
                        if (stat(nodes[i], &st) < 0)
                                continue;
                } else {
                        nfd = open(nodes[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
                        if (nfd < 0 && errno == ENXIO)
                                return -ENODEV; /* the minor is gone: the device was just removed */
                        if (nfd < 0 || fstat(nfd, &st) < 0)
                                continue;
                }
                if (!S_ISBLK(st.st_mode) || st.st_rdev != devnum)
                        continue;
                *ret_node = strdup(nodes[i]);
                if (!*ret_node)
                        return -ENOMEM;
                return fd >= 0 ? 0 : TAKE_FD(nfd);
        }
        return -ENOENT;
}

static int no_node(GraftError *err, const char *name, dev_t devnum, const char *kname) {
        return graft_error_set(err, -ENOENT, GRAFT_ERROR_IO, "device-mapper device %s (%u:%u) has no device "
                               "node: neither %s/%s nor /dev/%s is it", name, major(devnum), minor(devnum),
                               crypt_get_dir(), name, kname);
}

/* Opens the active device called name. -ENODEV when it went away meanwhile. */
static int open_active(const char *name, dev_t *ret_devnum, char **ret_kname, GraftError *err) {
        _cleanup_free_ char *kname = NULL, *node = NULL;
        dev_t devnum;
        int r = dm_devnum(name, &devnum, &kname);
        if (r == -ENODEV)
                return r;
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot find device-mapper device "
                                       "%s in /sys/block: %s", name, strerror(-r));
        int fd = node_of(name, devnum, kname, -EBADF, &node);
        if (fd == -ENOENT)
                return no_node(err, name, devnum, kname);
        if (fd < 0)
                return fd;
        *ret_devnum = devnum;
        *ret_kname = TAKE_PTR(kname);
        return fd;
}

static int deactivate(const char *device_name, uint32_t flags, GraftError *err) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        CryptLog log = {};
        int r;

        if (!verity_kernel_available(NULL))
                return unavailable(err);
        quiet_libcryptsetup();

        crypt_status_info status = crypt_status(NULL, device_name);
        if (status == CRYPT_INACTIVE)
                return graft_error_set(err, -ENODEV, GRAFT_ERROR_NO_SUCH_IMAGE,
                                       "no device-mapper device %s is active", device_name);

        r = crypt_init_by_name(&cd, device_name);
        if (r < 0)
                return crypt_fail(err, r, NULL, GRAFT_ERROR_IO, "inspect active device",
                                  device_name);
        crypt_set_log_callback(cd, crypt_log_cb, &log);

        r = crypt_deactivate_by_name(cd, device_name, flags);
        if (r == -EBUSY)
                r = graft_error_set(err, r, GRAFT_ERROR_IO,
                                    "dm-verity device %s is still in use", device_name);
        else if (r < 0)
                r = crypt_fail(err, r, &log, GRAFT_ERROR_IO, "remove dm-verity device",
                               device_name);
        crypt_log_done(&log);
        return r;
}

int verity_deactivate(const char *device_name, GraftError *err) {
        return deactivate(device_name, 0, err);
}

int verity_release(const char *device_name, GraftError *err) {
        return deactivate(device_name, CRYPT_DEACTIVATE_DEFERRED, err);
}

void verity_device_done(VerityDevice *d) {
        if (!d)
                return;
        free(d->name);
        free(d->node);
        safe_close(d->fd);
        free(d->signature_note);
        *d = (VerityDevice) { .fd = -EBADF };
}

#define OPEN_ATTEMPTS 3

int verity_device_open(const VerityActivation *a, VerityDevice *ret, GraftError *err) {
        for (unsigned attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
                _cleanup_(activation_info_done) ActivationInfo info = {};
                _cleanup_free_ char *name = NULL, *kname = NULL, *node = NULL;
                dev_t devnum = 0;
                int r = activate_or_share(a, &name, &info, err);
                if (r < 0)
                        return r;
                fault_point("verity-activated"); /* active, not yet marked: verity_remove_unused() */
                _cleanup_close_ int fd = open_active(name, &devnum, &kname, err);
                if (fd == -ENODEV)
                        continue; /* its last user let go of it just now: activate it again */
                if (fd < 0)
                        return fd;
                /* Held by fd, so this only marks it: it goes with its last user from now on. */
                r = verity_release(name, err);
                if (r < 0)
                        return graft_error_prefix(err, r, "cannot schedule the removal of %s",
                                                  name);
                /* Without udev, libdevmapper removes the /dev/mapper node right away even though
                 * the removal is deferred: then the kernel's /dev/dm-N is the node to use. */
                r = node_of(name, devnum, kname, fd, &node);
                if (r == -ENOENT)
                        return no_node(err, name, devnum, kname);
                if (r < 0)
                        return r;
                *ret = (VerityDevice) {
                        .name = TAKE_PTR(name),
                        .node = TAKE_PTR(node),
                        .fd = TAKE_FD(fd),
                        .shared = info.shared,
                        .kernel_signature = info.kernel_signature,
                        .signature_note = TAKE_PTR(info.signature_note),
                };
                return 0;
        }
        return graft_error_set(err, -EBUSY, GRAFT_ERROR_IO, "the dm-verity device for this image "
                               "disappeared %u times while it was being opened", OPEN_ATTEMPTS);
}

int verity_remove_unused(GraftError *err) {
        if (!verity_kernel_available(NULL))
                return 0;
        quiet_libcryptsetup();
        _cleanup_(closedirp) DIR *d = opendir("/sys/block");
        if (!d)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot read /sys/block: %m");
        int n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (!startswith(de->d_name, "dm-"))
                        continue;
                char path[PATH_MAX];
                _cleanup_free_ char *name = NULL;
                snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
                if (read_full_file_at(AT_FDCWD, path, 4096, &name, NULL) < 0)
                        continue;
                name[strcspn(name, "\n")] = 0;
                /* CRYPT_BUSY: open (mounted, or held by its owner's fd): in use. */
                if (!startswith(name, "graft-") || crypt_status(NULL, name) != CRYPT_ACTIVE)
                        continue;
                if (deactivate(name, 0, NULL) >= 0)
                        n++;
        }
        return n;
}
