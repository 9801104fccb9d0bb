/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns developer mode (see devmode.h): the mode file, the developer trust store and its use
 * after the vendor store refused a signer, and making and enrolling a developer key. The mode
 * file and the store live under /etc (where an administrator looks and where the mode survives a
 * reboot until switched off); nothing else of the mode is kept anywhere. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devmode.h"
#include "file-trust.h"
#include "fileio.h"
#include "path-util.h"

const char *trust_root_to_string(TrustRoot t) {
        static const char * const names[_TRUST_ROOT_MAX] = {
                [TRUST_ROOT_NONE] = "none",
                [TRUST_ROOT_VENDOR] = "vendor",
                [TRUST_ROOT_DEVELOPER] = "developer",
        };
        return t >= 0 && t < _TRUST_ROOT_MAX ? names[t] : NULL;
}

static int open_root(const char *root, GraftError *err) {
        const char *r_ = isempty(root) ? "/" : root;
        int fd = open(r_, O_DIRECTORY | O_PATH | O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m", r_);
        return fd;
}

int developer_mode_get(const char *root, GraftError *err) {
        _cleanup_close_ int root_fd = open_root(root, err);
        if (root_fd < 0)
                return root_fd;
        _cleanup_free_ char *shown = path_prefix_root(root, DEVELOPER_MODE_PATH);
        if (!shown)
                return -ENOMEM;
        _cleanup_close_ int fd = file_open(&(FileOpen) { .dir_fd = root_fd, .path = DEVELOPER_MODE_PATH, .in_root = true,
                                                         .display = shown, .error_name = GRAFT_ERROR_POLICY },
                                           err);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open %s: %s", shown, strerror(-fd));
        /* Anybody who could write the file could switch a second trust root on. */
        int r = fd_check_trusted(fd, shown, err);
        return r < 0 ? r : 1;
}

static int mkdir_in_root(int root_fd, const char *path) {
        _cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_free_ char *copy = strdup(path);
        if (fd < 0 || !copy)
                return fd < 0 ? negative_errno() : -ENOMEM;
        for (char *p = strtok(copy, "/"); p; p = strtok(NULL, "/")) {
                if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                int next = openat(fd, p, O_DIRECTORY | O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return negative_errno();
                safe_close(fd);
                fd = next;
        }
        return TAKE_FD(fd);
}

int developer_mode_set(const char *root, bool on, GraftError *err) {
        _cleanup_free_ char *full = path_prefix_root(root, DEVELOPER_MODE_PATH);
        if (!full)
                return -ENOMEM;
        if (!on) {
                if (unlink(full) < 0 && errno != ENOENT)
                        return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot remove %s: %m", full);
                return 0;
        }
        _cleanup_close_ int root_fd = open_root(root, err);
        if (root_fd < 0)
                return root_fd;
        _cleanup_close_ int dir_fd = mkdir_in_root(root_fd, "etc/graft");
        if (dir_fd < 0)
                return graft_error_set(err, dir_fd, GRAFT_ERROR_IO, "cannot create the directory of %s: %s", full,
                                       strerror(-dir_fd));
        _cleanup_free_ char *text = NULL;
        if (asprintf(&text, "# graft developer mode: local developer keys (%s) are trusted.\n"
                            "# Switch off with \"sextctl developer-mode off\" and \"pctl developer-mode off\".\n"
                            "enabled=%lld\n",
                     DEVELOPER_TRUST_DIR, (long long) time(NULL)) < 0)
                return -ENOMEM;
        int r = write_file_atomic(full, text, strlen(text), 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", full, strerror(-r));
        return 0;
}

int developer_trust_store_load(const char *root, TrustStore **ret, GraftError *err) {
        static const char * const dirs[] = { DEVELOPER_TRUST_DIR };
        return trust_store_load_dirs(root, dirs, ELEMENTSOF(dirs), ret, err);
}

int developer_signature_verify(const char *root, const VeritySignature *sig, const char *what, char **ret_signer,
                               char **ret_cert_path, GraftError *err) {
        _cleanup_(trust_store_freep) TrustStore *store = NULL;
        int r = developer_trust_store_load(root, &store, err);
        if (r < 0)
                return r;
        if (trust_store_size(store) == 0)
                return 0;
        _cleanup_free_ char *signer = NULL, *cert = NULL;
        _cleanup_graft_error_ GraftError dev_err = GRAFT_ERROR_INIT;
        r = verity_signature_verify(sig->pkcs7_der, sig->pkcs7_der_size, sig->root_hash_hex, store, what, &signer,
                                    &cert, &dev_err);
        if (r == -EKEYREJECTED)
                return 0; /* nobody of ours: the vendor store's refusal is the one to tell */
        if (r < 0) {
                if (err && !err->name) {
                        *err = dev_err;
                        dev_err = GRAFT_ERROR_INIT;
                }
                return r;
        }
        r = developer_mode_get(root, err);
        if (r < 0)
                return r;
        if (r == 0)
                return graft_error_set(err, -EKEYREJECTED, GRAFT_ERROR_UNTRUSTED,
                                       "%s: signed by %s, a local developer key (%s), which only developer mode "
                                       "trusts, and developer mode is off",
                                       what, signer, cert);
        *ret_signer = TAKE_PTR(signer);
        *ret_cert_path = TAKE_PTR(cert);
        return 1;
}
