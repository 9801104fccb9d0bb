/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the sidecar files next to an image: NAME.roothash (hex root hash), NAME.roothash.p7s
 * (PKCS#7 signature of it) and NAME.verity (the hash tree, starting with its superblock), for
 * "DIR/NAME.raw" or "DIR/NAME". Only their shape is checked here; what they claim is checked by
 * verification. */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "dissect.h"
#include "file-trust.h"
#include "fileio.h"
#include "hex.h"
#include "path-util.h"

#define ROOT_HASH_MIN_BYTES 32
#define ROOT_HASH_MAX_BYTES 64
#define P7S_MAX_SIZE (UINT64_C(4) << 20)

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A sidecar is part of the image: a FIFO, socket or device in its place is a broken image, refused
 * without being opened (a FIFO would block us forever). */
static int open_sidecar(const char *path, GraftError *err) {
        return file_open(&(FileOpen) { .dir_fd = AT_FDCWD, .path = path, .error_name = GRAFT_ERROR_BAD_IMAGE }, err);
}

static int read_sidecar(const char *path, size_t max, char **ret, size_t *ret_size, GraftError *err) {
        _cleanup_close_ int fd = open_sidecar(path, err);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, max, ret, ret_size);
}

static int load_root_hash(DissectedImage *d, const char *base, GraftError *err) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t n;
        if (asprintf(&path, "%s.roothash", base) < 0)
                return -ENOMEM;
        /* Room for the longest hash and generous whitespace; anything bigger is not a root hash. */
        int r = read_sidecar(path, 4096, &buf, &n, err);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: not a root hash (the file is larger than 4 KiB)", path);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read: %s", path, strerror(-r));

        size_t start = 0;
        while (start < n && is_space(buf[start]))
                start++;
        while (n > start && is_space(buf[n - 1]))
                n--;
        size_t len = n - start;
        bool hex = len % 2 == 0;
        for (size_t i = start; hex && i < n; i++)
                hex = unhexchar(buf[i]) >= 0;
        if (!hex || len < 2 * ROOT_HASH_MIN_BYTES || len > 2 * ROOT_HASH_MAX_BYTES)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: not a valid root hash (expected %d to %d hex digits, found %zu characters%s)",
                                       path, 2 * ROOT_HASH_MIN_BYTES, 2 * ROOT_HASH_MAX_BYTES, len,
                                       hex || len % 2 != 0 ? "" : " with non-hex ones");
        char *h = strndup(buf + start, len);
        if (!h)
                return -ENOMEM;
        for (char *p = h; *p; p++)
                if (*p >= 'A' && *p <= 'F')
                        *p = (char) (*p - 'A' + 'a');
        free(d->sidecar_root_hash);
        d->sidecar_root_hash = h;
        return 0;
}

static int load_p7s(DissectedImage *d, const char *base, GraftError *err) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t n;
        if (asprintf(&path, "%s.roothash.p7s", base) < 0)
                return -ENOMEM;
        int r = read_sidecar(path, (size_t) P7S_MAX_SIZE, &buf, &n, err);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG)
                return graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: larger than 4 MiB, refusing to load it as a signature", path);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "%s: cannot read: %s", path, strerror(-r));
        if (n == 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE, "%s: the signature file is empty", path);
        free(d->sidecar_p7s);
        d->sidecar_p7s = (uint8_t *) TAKE_PTR(buf);
        d->sidecar_p7s_size = n;
        return 0;
}

static int load_verity(DissectedImage *d, const char *base, GraftError *err) {
        _cleanup_free_ char *path = NULL, *name = NULL;
        if (asprintf(&path, "%s.verity", base) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open_sidecar(path, err);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_IO, "%s: cannot open: %s", path, strerror(-fd));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: cannot stat: %m", path);
        int r = d->untrusted_ok ? 0 : fd_check_trusted(fd, path, err);
        if (r < 0)
                return r;

        char magic[8] = {};
        if (st.st_size < 512 || pread_full(fd, magic, sizeof(magic), 0) < 0 || memcmp(magic, "verity\0\0", 8) != 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: not a verity hash area (it does not start with a verity superblock)", path);

        name = path_basename(path);
        if (!name)
                return -ENOMEM;
        d->sidecar_verity_fd = TAKE_FD(fd);
        if (d->verity.found || !d->data.found)
                return 0; /* the image's own verity partition wins */

        DissectedPartition *v = &d->verity;
        *v = (DissectedPartition) {
                .found = true,
                .designator = partition_verity_of(d->data.designator),
                .arch = d->data.arch,
        };
        snprintf(v->what, sizeof(v->what), "file %s", name);
        v->range = (ImageRange) { .fd = d->sidecar_verity_fd, .offset = 0, .size = (uint64_t) st.st_size, .what = v->what };
        return 0;
}

int dissect_load_sidecars(DissectedImage *d, GraftError *err) {
        if (d->kind == IMAGE_KIND_DIRECTORY)
                return 0;
        _cleanup_free_ char *base = strdup_strip_suffix(d->path, ".raw");
        if (!base)
                return -ENOMEM;
        int r = load_root_hash(d, base, err);
        if (r >= 0)
                r = load_p7s(d, base, err);
        if (r >= 0)
                r = load_verity(d, base, err);
        return r;
}
