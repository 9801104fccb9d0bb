/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The trust store: the PEM "*.crt" certificates in the verity.d directories under a root, with
 * systemd's conf-file rules (an earlier directory hides a later file of the same name, a symlink
 * to /dev/null masks it). Every file is opened inside the root, so a --root tree can never make
 * us trust a certificate of the host; a certificate or directory that anybody but root could
 * change is refused (fd_check_trusted()): whoever could, could sign images. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "file-trust.h"
#include "fileio.h"
#include "path-util.h"
#include "openssl-error.h"
#include "trust-store.h"
#include "strv.h"

/* Highest precedence first, as systemd looks for them. */
static const char * const verity_dirs[] = {
        "/etc/verity.d",
        "/run/verity.d",
        "/usr/local/lib/verity.d",
        "/usr/lib/verity.d",
};

/* A certificate file is a few KiB; anything far larger is not one. */
#define CERT_FILE_MAX (UINT64_C(1) * 1024 * 1024)

struct TrustStore {
        char *root;             /* NULL: the host */
        char **paths;           /* root-prefixed, parallel to certs */
        STACK_OF(X509) *certs;
};

TrustStore *trust_store_free(TrustStore *t) {
        if (!t)
                return NULL;
        free(t->root);
        strv_free(t->paths);
        sk_X509_pop_free(t->certs, X509_free);
        free(t);
        return NULL;
}

size_t trust_store_size(const TrustStore *t) {
        return t ? (size_t) sk_X509_num(t->certs) : 0;
}

char * const *trust_store_paths(const TrustStore *t) {
        return t ? t->paths : NULL;
}

struct stack_st_X509 *trust_store_certs(const TrustStore *t) {
        return t ? t->certs : NULL;
}

char *trust_store_describe_dirs(const TrustStore *t) {
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < ELEMENTSOF(verity_dirs); i++)
                if (strv_consume(&l, path_prefix_root(t ? t->root : NULL, verity_dirs[i])) < 0)
                        return NULL;
        return strv_join(l, ", ");
}

static bool is_dev_null(const struct stat *st) {
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

/* Masked like systemd masks a conf file: a symlink to /dev/null (taken literally, since under a
 * root /dev/null need not exist), the null device itself, or an empty file. */
static int is_masked(int dir_fd, const char *name, int fd) {
        struct stat st;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return negative_errno();
                target[n] = 0;
                if (streq(target, "/dev/null"))
                        return true;
        }
        if (fd < 0)
                return false;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        return is_dev_null(&st) || (S_ISREG(st.st_mode) && st.st_size == 0);
}

static int load_one(TrustStore *t, int root_fd, int dir_fd, const char *dir, const char *name,
                    GraftError *err) {
        _cleanup_free_ char *rel = NULL, *display = NULL, *data = NULL;
        size_t size;
        struct stat st;
        int r;

        rel = path_join(dir, name);
        if (!rel)
                return -ENOMEM;
        display = path_prefix_root(t->root, rel);
        if (!display)
                return -ENOMEM;

        r = is_masked(dir_fd, name, -EBADF);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot inspect trusted certificate %s: %s",
                                       display, strerror(-r));
        if (r > 0)
                return 0;

        /* O_PATH first: the null device masks, anything else but a regular file is refused, and
         * neither is ever opened (a FIFO would block us). */
        _cleanup_close_ int path_fd = open_in_root(root_fd, rel, O_PATH, 0);
        if (path_fd < 0)
                return graft_error_set(err, path_fd, GRAFT_ERROR_IO, "cannot open trusted certificate %s: %s",
                                       display, strerror(-path_fd));
        r = is_masked(dir_fd, name, path_fd);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot inspect trusted certificate %s: %s",
                                       display, strerror(-r));
        if (r > 0)
                return 0;
        if (fstat(path_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot inspect trusted certificate %s: %m",
                                       display);
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "trusted certificate %s", display) < 0)
                return -ENOMEM;
        r = stat_check_type(&st, 0, what, GRAFT_ERROR_UNTRUSTED, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = fd_reopen(path_fd, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open trusted certificate %s: %s",
                                       display, strerror(-fd));
        /* Whoever could change a certificate could sign images. */
        r = fd_check_trusted(fd, what, err);
        if (r < 0)
                return r;
        r = read_full_fd(fd, CERT_FILE_MAX, &data, &size);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read trusted certificate %s: %s",
                                       display, strerror(-r));

        BIO *bio = BIO_new_mem_buf(data, (int) size);
        if (!bio)
                return -ENOMEM;
        ERR_clear_error();
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!cert)
                return graft_error_set_openssl(err, -EBADMSG, GRAFT_ERROR_UNTRUSTED,
                                               "trusted certificate %s is not a PEM certificate",
                                               display);
        if (sk_X509_push(t->certs, cert) <= 0) {
                X509_free(cert);
                return -ENOMEM;
        }
        return strv_consume(&t->paths, TAKE_PTR(display));
}

static int sorted_crt_names(int dir_fd, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        /* fdopendir() takes the descriptor; keep ours for fstatat(). */
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        r = errno > 0 ? -errno : 0;
                        break;
                }
                /* Hidden files are editor and package-manager leftovers, as for systemd. */
                if (de->d_name[0] == '.' || !endswith(de->d_name, ".crt"))
                        continue;
                r = strv_extend(&names, de->d_name);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (names) /* strv_sort(NULL) hands NULL to qsort() */
                strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}

static int load_dir(TrustStore *t, int root_fd, const char *dir, char ***seen, GraftError *err) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *display = path_prefix_root(t->root, dir);
        int r;

        if (!display)
                return -ENOMEM;
        _cleanup_close_ int fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "cannot open trust store directory %s: %s",
                                       display, strerror(-fd));
        /* Whoever could add a file here could add a signer. */
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "trust store directory %s", display) < 0)
                return -ENOMEM;
        r = fd_check_trusted(fd, what, err);
        if (r < 0)
                return r;
        r = sorted_crt_names(fd, &names);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot list trust store directory %s: %s",
                                       display, strerror(-r));

        STRV_FOREACH(name, names) {
                /* The name is taken even when masked: a mask hides the later directories' file. */
                if (strv_contains(*seen, *name))
                        continue;
                r = strv_extend(seen, *name);
                if (r < 0)
                        return r;
                r = load_one(t, root_fd, fd, dir, *name, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int trust_store_load(const char *root, TrustStore **ret, GraftError *err) {
        _cleanup_(trust_store_freep) TrustStore *t = NULL;
        _cleanup_strv_free_ char **seen = NULL;
        int r;

        t = calloc(1, sizeof(TrustStore));
        if (!t)
                return -ENOMEM;
        t->certs = sk_X509_new_null();
        if (!t->certs)
                return -ENOMEM;
        if (!isempty(root) && !streq(root, "/")) {
                t->root = strdup(root);
                if (!t->root)
                        return -ENOMEM;
        }

        _cleanup_close_ int root_fd = open(t->root ?: "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                r = negative_errno();
                return graft_error_set(err, r, GRAFT_ERROR_MISSING_FILE, "cannot open root directory %s: %s",
                                       t->root ?: "/", strerror(-r));
        }

        for (size_t i = 0; i < ELEMENTSOF(verity_dirs); i++) {
                r = load_dir(t, root_fd, verity_dirs[i], &seen, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(t);
        return 0;
}
