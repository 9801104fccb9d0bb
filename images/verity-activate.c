/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel dm-verity devices through libcryptsetup: whether the kernel can have them, activating
 * one (shared by name when the same root hash is already active) and removing it. This is the
 * one place libcryptsetup's errors and log messages are translated. */
#include <fcntl.h>
#include <libcryptsetup.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "fileio.h"
#include "hex.h"
#include "verity.h"

/* The kernel limits device-mapper names to 127 characters. */
#define DM_NAME_MAX 127

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free);

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

/* Root hash signatures are checked by the kernel only when it was built with support for them,
 * which shows as this module parameter. */
static bool kernel_checks_signatures(bool *ret_required) {
        _cleanup_free_ char *value = NULL;
        if (read_full_file_at(AT_FDCWD, "/sys/module/dm_verity/parameters/require_signatures",
                              64, &value, NULL) < 0) {
                *ret_required = false;
                return false;
        }
        *ret_required = value[0] == 'Y' || value[0] == '1';
        return true;
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
        free(log->last_error);
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

/* An active device of our name: share it if it carries the same root hash. */
static int share_existing(const char *name, const VerityActivation *a, GraftError *err) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
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
        return r;
}

static int activate(struct crypt_device *cd, const char *name, const VerityActivation *a) {
        uint32_t flags = CRYPT_ACTIVATE_READONLY;
        bool required;

        if (a->signature && kernel_checks_signatures(&required)) {
                int r = crypt_activate_by_signed_key(cd, name, (const char *) a->root_hash,
                                                     a->root_hash_size,
                                                     (const char *) a->signature,
                                                     a->signature_size, flags);
                /* Userspace checked the signature already; the kernel's keyring may simply
                 * not hold the certificate. Without a signature the kernel still checks every
                 * block, so unless it insists on signatures that is good enough. */
                if (r >= 0 || r == -EEXIST || required)
                        return r;
        }
        return crypt_activate_by_volume_key(cd, name, (const char *) a->root_hash,
                                            a->root_hash_size, flags);
}

static int activate_new(const char *name, const VerityActivation *a, GraftError *err) {
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
                r = activate(cd, name, a);
                if (r == -EEXIST) /* someone else activated the same image just now */
                        r = share_existing(name, a, err);
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

int verity_activate(const VerityActivation *a, char **ret_device_path, GraftError *err) {
        _cleanup_free_ char *hex = NULL, *path = NULL;
        char name[DM_NAME_MAX + 1];
        int r;

        if (!a->root_hash || a->root_hash_size == 0 || a->root_hash_size > VERITY_MAX_DIGEST_SIZE)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "invalid dm-verity root hash size %zu",
                                       a->root_hash_size);
        if (!verity_kernel_available(NULL))
                return unavailable(err);
        quiet_libcryptsetup();

        hex = hexmem(a->root_hash, a->root_hash_size);
        if (!hex)
                return -ENOMEM;
        /* Long digests (sha512) are cut to the name limit; sharing compares the whole hash. */
        snprintf(name, sizeof(name), "graft-%s", hex);
        r = device_path(name, &path);
        if (r < 0)
                return r;

        crypt_status_info status = crypt_status(NULL, name);
        if (status == CRYPT_ACTIVE || status == CRYPT_BUSY)
                r = share_existing(name, a, err);
        else
                r = activate_new(name, a, err);
        if (r < 0)
                return r;

        if (ret_device_path)
                *ret_device_path = TAKE_PTR(path);
        return 0;
}

int verity_deactivate(const char *device_name, GraftError *err) {
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

        r = crypt_deactivate(cd, device_name);
        if (r == -EBUSY)
                r = graft_error_set(err, r, GRAFT_ERROR_IO,
                                    "dm-verity device %s is still in use", device_name);
        else if (r < 0)
                r = crypt_fail(err, r, &log, GRAFT_ERROR_IO, "remove dm-verity device",
                               device_name);
        crypt_log_done(&log);
        return r;
}
