/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a squashfs that lies in a byte range of an image, without mounting it: a sqfs_file_t
 * confined to the range, path lookup with symlinks resolved inside the image, whole-file reads,
 * directory listings, and a full-tree sanity walk (unsafe names, loops, absurd depths). */
#include <endian.h>
#include <inttypes.h>
#include <string.h>
#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

#include "escape.h"
#include "fileio.h"
#include "squashfs-internal.h"
#include "squashfs.h"

#define MAX_SYMLINKS 32u
#define MAX_DEPTH 512u
#define MAX_DIR_ENTRIES (1u << 20)

/* A read-only sqfs_file_t over (fd, offset, size). Reads outside the range are refused; the
 * reason is kept so that messages can say "truncated" instead of libsquashfs's generic code. */
typedef struct RangeFile {
        sqfs_file_t base;
        int fd;
        uint64_t offset;
        uint64_t size;
        int fault;         /* negative errno of the last refused or failed read, 0 if none */
        char fault_msg[160];
} RangeFile;

struct SquashfsReader {
        char *what;
        RangeFile *file;
        sqfs_super_t super;
        sqfs_compressor_t *cmp;
        sqfs_dir_reader_t *dir;
        sqfs_data_reader_t *data;
        sqfs_xattr_reader_t *xattr; /* loaded on first use */
};

static int range_file_read_at(sqfs_file_t *base, sqfs_u64 pos, void *buffer, size_t n) {
        RangeFile *f = (RangeFile *) base;

        if (pos > f->size || n > f->size - pos) {
                f->fault = -EBADMSG;
                snprintf(f->fault_msg, sizeof(f->fault_msg),
                         "squashfs is truncated: %zu bytes at offset %" PRIu64
                         " lie beyond its end (%" PRIu64 " bytes)", n, (uint64_t) pos, f->size);
                return SQFS_ERROR_OUT_OF_BOUNDS;
        }
        int r = pread_full(f->fd, buffer, n, f->offset + pos);
        if (r < 0) {
                f->fault = r;
                snprintf(f->fault_msg, sizeof(f->fault_msg), "reading %zu bytes at offset %" PRIu64 ": %s",
                         n, (uint64_t) pos, r == -EIO ? "file ends early" : strerror(-r));
                return SQFS_ERROR_IO;
        }
        return 0;
}

static int range_file_write_at(sqfs_file_t *base, sqfs_u64 pos, const void *buffer, size_t n) {
        return SQFS_ERROR_IO; /* read-only */
}

static sqfs_u64 range_file_get_size(const sqfs_file_t *base) {
        return ((const RangeFile *) base)->size;
}

static int range_file_truncate(sqfs_file_t *base, sqfs_u64 size) {
        return SQFS_ERROR_IO;
}

static RangeFile *range_file_new(int fd, uint64_t offset, uint64_t size);

static sqfs_object_t *range_file_copy(const sqfs_object_t *base) {
        const RangeFile *f = (const RangeFile *) base;
        return (sqfs_object_t *) range_file_new(f->fd, f->offset, f->size);
}

static void range_file_destroy(sqfs_object_t *base) {
        free(base);
}

static RangeFile *range_file_new(int fd, uint64_t offset, uint64_t size) {
        RangeFile *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->base.base.destroy = range_file_destroy;
        f->base.base.copy = range_file_copy;
        f->base.read_at = range_file_read_at;
        f->base.write_at = range_file_write_at;
        f->base.get_size = range_file_get_size;
        f->base.truncate = range_file_truncate;
        f->fd = fd;
        f->offset = offset;
        f->size = size;
        return f;
}

/* Sets err for a failed libsquashfs call: "<what>: <context>: <reason>". A refused or failed
 * read of our own file object explains itself better than the code libsquashfs passes up. */
_printf_(4, 5)
static int reader_error(SquashfsReader *r, int sqfs_err, GraftError *err, const char *format, ...) {
        _cleanup_free_ char *ctx = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&ctx, format, ap) < 0)
                ctx = NULL;
        va_end(ap);

        if (r->file->fault < 0) {
                int k = r->file->fault;
                r->file->fault = 0;
                return graft_error_set(err, k, k == -EBADMSG ? GRAFT_ERROR_BAD_IMAGE : GRAFT_ERROR_IO,
                                       "%s: %s: %s", r->what, strna(ctx), r->file->fault_msg);
        }
        int k = squashfs_error_set(err, sqfs_err, GRAFT_ERROR_BAD_IMAGE, "%s: %s", r->what, strna(ctx));
        /* Whatever libsquashfs could not read or decode is a broken image, not a missing file. */
        return k == -ENOMEM ? k : -EBADMSG;
}

SquashfsReader *squashfs_reader_free(SquashfsReader *r) {
        if (!r)
                return NULL;
        sqfs_destroy(r->xattr);
        sqfs_destroy(r->data);
        sqfs_destroy(r->dir);
        sqfs_destroy(r->cmp);
        if (r->file)
                sqfs_destroy(&r->file->base);
        free(r->what);
        free(r);
        return NULL;
}

static int reader_open_compressor(SquashfsReader *r, GraftError *err) {
        sqfs_compressor_config_t cfg;
        const char *name = sqfs_compressor_name_from_id(r->super.compression_id);

        int k = sqfs_compressor_config_init(&cfg, r->super.compression_id, r->super.block_size,
                                            SQFS_COMP_FLAG_UNCOMPRESS);
        if (k == 0)
                k = sqfs_compressor_create(&cfg, &r->cmp);
        if (k == SQFS_ERROR_UNSUPPORTED)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs compressor %s (%u) is not supported", r->what,
                                       name ?: "unknown", (unsigned) r->super.compression_id);
        if (k != 0)
                return reader_error(r, k, err, "setting up the squashfs decompressor");

        if (r->super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) {
                k = r->cmp->read_options(r->cmp, &r->file->base);
                if (k != 0)
                        return reader_error(r, k, err, "reading the squashfs compressor options");
        }
        return 0;
}

int squashfs_reader_open(const ImageRange *range, SquashfsReader **ret, GraftError *err) {
        const char *what = range->what ?: "image";

        if (range->size < sizeof(sqfs_super_t))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: too small for a squashfs (%" PRIu64 " bytes)", what, range->size);

        _cleanup_(squashfs_reader_freep) SquashfsReader *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->what = strdup(what);
        r->file = range_file_new(range->fd, range->offset, range->size);
        if (!r->what || !r->file)
                return -ENOMEM;

        int k = sqfs_super_read(&r->super, &r->file->base);
        if (k == SQFS_ERROR_UNSUPPORTED) {
                /* Most likely a compressor id from the future: name it. */
                uint16_t id = 0;
                if (pread_full(range->fd, &id, sizeof(id), range->offset + offsetof(sqfs_super_t, compression_id)) >= 0 &&
                    (le16toh(id) < SQFS_COMP_MIN || le16toh(id) > SQFS_COMP_MAX))
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: squashfs compressor %u is not supported", what, le16toh(id));
        }
        if (k != 0)
                return reader_error(r, k, err, "bad squashfs superblock");
        if (r->super.bytes_used > range->size)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs is truncated: it is %" PRIu64 " bytes long, but only %"
                                       PRIu64 " bytes are there", what, (uint64_t) r->super.bytes_used,
                                       range->size);
        /* Nothing past the file system's own end is ever read, however its tables point. */
        r->file->size = r->super.bytes_used;
        /* libsquashfs allocates the fragment table by the count the superblock claims before it
         * reads a byte of it: a forged count would be a multi-gigabyte allocation. Each entry
         * takes 16 bytes of the file system, so the size bounds the count. */
        if ((uint64_t) r->super.fragment_entry_count * 16 > r->super.bytes_used)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs superblock claims %" PRIu32 " fragments, more than its %" PRIu64
                                       " bytes can hold", what, r->super.fragment_entry_count,
                                       (uint64_t) r->super.bytes_used);

        k = reader_open_compressor(r, err);
        if (k < 0)
                return k;

        r->dir = sqfs_dir_reader_create(&r->super, r->cmp, &r->file->base, 0);
        r->data = sqfs_data_reader_create(&r->file->base, r->super.block_size, r->cmp, 0);
        if (!r->dir || !r->data)
                return -ENOMEM;

        k = sqfs_data_reader_load_fragment_table(r->data, &r->super);
        if (k != 0)
                return reader_error(r, k, err, "reading the squashfs fragment table");

        sqfs_inode_generic_t *root = NULL;
        k = sqfs_dir_reader_get_root_inode(r->dir, &root);
        if (k != 0)
                return reader_error(r, k, err, "reading the squashfs root inode");
        bool is_dir = root->base.type == SQFS_INODE_DIR || root->base.type == SQFS_INODE_EXT_DIR;
        sqfs_free(root);
        if (!is_dir)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs root inode is not a directory", what);

        *ret = TAKE_PTR(r);
        return 0;
}

static bool inode_is_dir(const sqfs_inode_generic_t *i) {
        return i->base.type == SQFS_INODE_DIR || i->base.type == SQFS_INODE_EXT_DIR;
}

static bool inode_is_file(const sqfs_inode_generic_t *i) {
        return i->base.type == SQFS_INODE_FILE || i->base.type == SQFS_INODE_EXT_FILE;
}

static bool inode_is_symlink(const sqfs_inode_generic_t *i) {
        return i->base.type == SQFS_INODE_SLINK || i->base.type == SQFS_INODE_EXT_SLINK;
}

static mode_t inode_type_bits(const sqfs_inode_generic_t *i) {
        switch (i->base.type) {
        case SQFS_INODE_DIR: case SQFS_INODE_EXT_DIR: return S_IFDIR;
        case SQFS_INODE_FILE: case SQFS_INODE_EXT_FILE: return S_IFREG;
        case SQFS_INODE_SLINK: case SQFS_INODE_EXT_SLINK: return S_IFLNK;
        case SQFS_INODE_BDEV: case SQFS_INODE_EXT_BDEV: return S_IFBLK;
        case SQFS_INODE_CDEV: case SQFS_INODE_EXT_CDEV: return S_IFCHR;
        case SQFS_INODE_FIFO: case SQFS_INODE_EXT_FIFO: return S_IFIFO;
        case SQFS_INODE_SOCKET: case SQFS_INODE_EXT_SOCKET: return S_IFSOCK;
        }
        return 0;
}

/* The target of a symlink inode, NUL-terminated, malloc'd. */
static int symlink_target(SquashfsReader *r, const sqfs_inode_generic_t *i, const char *path, char **ret,
                          GraftError *err) {
        uint32_t n = i->data.slink.target_size;
        if (n == 0 || n > SQUASHFS_MAX_LINK_TARGET || n > i->payload_bytes_used)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs symlink %s has an invalid target length %" PRIu32,
                                       r->what, path, n);
        char *t = strndup((const char *) i->extra, n);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

/* The directories from the root down to where a path walk stands. */
typedef struct PathWalk {
        sqfs_inode_generic_t **stack;
        size_t depth, allocated;
} PathWalk;

static void path_walk_pop_to(PathWalk *w, size_t depth) {
        while (w->depth > depth)
                sqfs_free(w->stack[w->depth--]);
}

static void path_walk_done(PathWalk *w) {
        if (!w->stack)
                return;
        path_walk_pop_to(w, 0);
        sqfs_free(w->stack[0]);
        free(w->stack);
}

static int path_walk_push(PathWalk *w, sqfs_inode_generic_t *i) {
        if (w->depth + 1 >= w->allocated) {
                size_t a = MAX(w->allocated * 2, (size_t) 16);
                sqfs_inode_generic_t **s = reallocarray(w->stack, a, sizeof(*s));
                if (!s) {
                        sqfs_free(i);
                        return -ENOMEM;
                }
                w->stack = s;
                w->allocated = a;
        }
        w->stack[++w->depth] = i;
        return 0;
}

/* The inode of entry name in directory dir; -ENOENT without an error record if missing. */
static int lookup_child(SquashfsReader *r, const sqfs_inode_generic_t *dir, const char *path, const char *name,
                        sqfs_inode_generic_t **ret, GraftError *err) {
        if (!inode_is_dir(dir))
                return graft_error_set(err, -ENOTDIR, GRAFT_ERROR_MISSING_FILE,
                                       "%s: squashfs path %s: a component before \"%s\" is not a directory",
                                       r->what, path, name);
        int k = sqfs_dir_reader_open_dir(r->dir, dir, 0);
        if (k == 0)
                k = sqfs_dir_reader_find(r->dir, name);
        if (k == SQFS_ERROR_NO_ENTRY)
                return -ENOENT;
        if (k == 0)
                k = sqfs_dir_reader_get_inode(r->dir, ret);
        if (k != 0)
                return reader_error(r, k, err, "looking up %s in squashfs", path);
        return 0;
}

/* Looks up path from the root, following every symlink inside the image: "/" is the image
 * root and ".." stops there. -ENOENT without an error record when something along the path
 * does not exist. */
static int resolve_path(SquashfsReader *r, const char *path, sqfs_inode_generic_t **ret, GraftError *err) {
        _cleanup_(path_walk_done) PathWalk w = {};
        unsigned links = 0;

        _cleanup_free_ char *todo = strdup(path);
        w.stack = calloc(w.allocated = 16, sizeof(*w.stack));
        if (!todo || !w.stack)
                return -ENOMEM;
        int k = sqfs_dir_reader_get_root_inode(r->dir, &w.stack[0]);
        if (k != 0)
                return reader_error(r, k, err, "reading the squashfs root inode");

        for (const char *p = todo;;) {
                p += strspn(p, "/");
                if (*p == 0)
                        break;
                size_t len = strcspn(p, "/");
                _cleanup_free_ char *comp = strndup(p, len);
                if (!comp)
                        return -ENOMEM;
                p += len;

                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..")) {
                        path_walk_pop_to(&w, w.depth > 0 ? w.depth - 1 : 0);
                        continue;
                }

                sqfs_inode_generic_t *child = NULL;
                k = lookup_child(r, w.stack[w.depth], path, comp, &child, err);
                if (k < 0)
                        return k;
                if (!inode_is_symlink(child)) {
                        k = path_walk_push(&w, child);
                        if (k < 0)
                                return k;
                        continue;
                }

                /* Splice the target in front of what is left to walk. */
                _cleanup_free_ char *target = NULL, *next = NULL;
                k = symlink_target(r, child, path, &target, err);
                sqfs_free(child);
                if (k < 0)
                        return k;
                if (++links > MAX_SYMLINKS)
                        return graft_error_set(err, -ELOOP, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: squashfs path %s: more than %u symbolic links", r->what, path,
                                               MAX_SYMLINKS);
                if (asprintf(&next, "%s/%s", target, p) < 0)
                        return -ENOMEM;
                if (target[0] == '/')
                        path_walk_pop_to(&w, 0);
                free(todo);
                todo = TAKE_PTR(next);
                p = todo;
        }

        *ret = TAKE_PTR(w.stack[w.depth]);
        if (w.depth > 0)
                w.depth--;
        return 0;
}

int squashfs_read_file(SquashfsReader *r, const char *path, size_t max, char **ret, size_t *ret_size,
                       GraftError *err) {
        sqfs_inode_generic_t *inode = NULL;
        r->file->fault = 0;
        int k = resolve_path(r, path, &inode, err);
        if (k < 0)
                return k;

        if (inode_is_dir(inode))
                k = graft_error_set(err, -EISDIR, GRAFT_ERROR_INVALID_ARGUMENT,
                                    "%s: squashfs path %s is a directory", r->what, path);
        else if (!inode_is_file(inode))
                /* A FIFO or device node is only a name in a squashfs we read ourselves, but where a
                 * file is wanted it is a broken image, worded as for a directory image. */
                k = graft_error_set(err, -EBADFD, GRAFT_ERROR_BAD_IMAGE, "%s: squashfs path %s is %s, not a regular file",
                                    r->what, path, file_type_name(inode_type_bits(inode)));
        uint64_t size = 0;
        if (k >= 0 && sqfs_inode_get_file_size(inode, &size) == 0 && (size > max || size >= SIZE_MAX))
                k = graft_error_set(err, -EFBIG, GRAFT_ERROR_BAD_IMAGE,
                                    "%s: squashfs file %s is larger than %zu bytes", r->what, path, max);
        if (k < 0) {
                sqfs_free(inode);
                return k;
        }

        _cleanup_free_ char *buf = malloc(size + 1);
        if (!buf) {
                sqfs_free(inode);
                return -ENOMEM;
        }
        for (uint64_t done = 0; done < size;) {
                sqfs_u32 chunk = (sqfs_u32) MIN(size - done, (uint64_t) (1u << 30));
                sqfs_s32 n = sqfs_data_reader_read(r->data, inode, done, buf + done, chunk);
                if (n <= 0) {
                        k = reader_error(r, n < 0 ? n : SQFS_ERROR_CORRUPTED, err, "reading squashfs file %s", path);
                        sqfs_free(inode);
                        return k;
                }
                done += (uint64_t) n;
        }
        sqfs_free(inode);

        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* The xattr tables, bounded as the fragment table is: libsquashfs allocates by the id count the
 * table header claims, and each id takes 16 bytes of the file system. */
static int load_xattrs(SquashfsReader *r, GraftError *err) {
        if (r->xattr)
                return 0;
        sqfs_xattr_id_table_t head;
        uint64_t at = r->super.xattr_id_table_start;
        if (at != UINT64_MAX && !(r->super.flags & SQFS_FLAG_NO_XATTRS)) {
                int k = r->file->base.read_at(&r->file->base, at, &head, sizeof(head));
                if (k != 0)
                        return reader_error(r, k, err, "reading the squashfs xattr table");
                if ((uint64_t) le32toh(head.xattr_ids) * 16 > r->super.bytes_used)
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "%s: squashfs xattr table claims %" PRIu32 " entries, more than its %"
                                               PRIu64 " bytes can hold", r->what, le32toh(head.xattr_ids),
                                               (uint64_t) r->super.bytes_used);
        }
        r->xattr = sqfs_xattr_reader_create(0);
        if (!r->xattr)
                return -ENOMEM;
        int k = sqfs_xattr_reader_load(r->xattr, &r->super, &r->file->base, r->cmp);
        if (k != 0) {
                sqfs_destroy(r->xattr);
                r->xattr = NULL;
                return reader_error(r, k, err, "reading the squashfs xattr table");
        }
        return 0;
}

/* Looks for key (with its prefix) among the pairs of desc. */
static int find_xattr(SquashfsReader *r, const sqfs_xattr_id_t *desc, const char *key, char **ret, GraftError *err) {
        int k = sqfs_xattr_reader_seek_kv(r->xattr, desc);
        for (sqfs_u32 i = 0; k == 0 && i < desc->count; i++) {
                sqfs_xattr_entry_t *e = NULL;
                sqfs_xattr_value_t *v = NULL;
                if ((k = sqfs_xattr_reader_read_key(r->xattr, &e)) != 0)
                        break;
                k = sqfs_xattr_reader_read_value(r->xattr, e, &v);
                /* libsquashfs hands keys back with their prefix ("user.") put back in front of the
                 * e->size bytes stored. */
                const char *prefix = sqfs_get_xattr_prefix(e->type & SQFS_XATTR_PREFIX_MASK);
                size_t n = prefix ? strlen(prefix) + e->size : 0;
                bool hit = k == 0 && prefix && strlen(key) == n && memcmp(key, e->key, n) == 0;
                char *copy = hit ? strndup((const char *) v->value, v->size) : NULL;
                sqfs_free(e);
                sqfs_free(v);
                if (hit)
                        return copy ? (*ret = copy, 0) : -ENOMEM;
        }
        return k != 0 ? reader_error(r, k, err, "reading squashfs extended attributes") : -ENODATA;
}

int squashfs_get_xattr(SquashfsReader *r, const char *path, const char *key, char **ret, GraftError *err) {
        sqfs_inode_generic_t *inode = NULL;
        r->file->fault = 0;
        int k = resolve_path(r, path, &inode, err);
        if (k < 0)
                return k;
        sqfs_u32 idx = 0xFFFFFFFF;
        k = sqfs_inode_get_xattr_index(inode, &idx);
        sqfs_free(inode);
        if (k != 0)
                return reader_error(r, k, err, "reading the inode of %s", path);
        if (idx == 0xFFFFFFFF)
                return -ENODATA;
        k = load_xattrs(r, err);
        if (k < 0)
                return k;
        sqfs_xattr_id_t desc;
        k = sqfs_xattr_reader_get_desc(r->xattr, idx, &desc);
        if (k != 0)
                return reader_error(r, k, err, "reading the extended attributes of %s", path);
        return find_xattr(r, &desc, key, ret, err);
}

void squashfs_entries_free(SquashfsEntry *e, size_t n) {
        if (!e)
                return;
        for (size_t i = 0; i < n; i++) {
                free(e[i].name);
                free(e[i].link_target);
        }
        free(e);
}

/* "..", "a/b", an empty name or one with a NUL would let a name escape its directory when the
 * tree is extracted or compared, so it is a broken image whatever the kernel would make of it. */
static bool entry_name_is_safe(const uint8_t *name, size_t n) {
        if (n == 0 || memchr(name, '/', n) || memchr(name, 0, n))
                return false;
        return !(n == 1 && name[0] == '.') && !(n == 2 && name[0] == '.' && name[1] == '.');
}

typedef struct DirItem {
        char *name;
        sqfs_inode_generic_t *inode;
} DirItem;

static void dir_items_free(DirItem *items, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(items[i].name);
                sqfs_free(items[i].inode);
        }
        free(items);
}

static int dir_item_compare(const void *a, const void *b) {
        return strcmp(((const DirItem *) a)->name, ((const DirItem *) b)->name);
}

/* Reads all entries of directory inode dir (named dir_path in messages) with their inodes,
 * refusing unsafe names, sorted by name. */
static int read_dir_items(SquashfsReader *r, const sqfs_inode_generic_t *dir, const char *dir_path,
                          DirItem **ret, size_t *ret_n, GraftError *err) {
        DirItem *items = NULL;
        size_t n = 0, allocated = 0;

        int k = sqfs_dir_reader_open_dir(r->dir, dir, 0);
        if (k != 0)
                return reader_error(r, k, err, "opening squashfs directory %s", dir_path);

        for (;;) {
                sqfs_dir_entry_t *ent = NULL;
                k = sqfs_dir_reader_read(r->dir, &ent);
                if (k > 0)
                        break;
                if (k < 0) {
                        k = reader_error(r, k, err, "reading squashfs directory %s", dir_path);
                        goto fail;
                }
                size_t len = (size_t) ent->size + 1; /* stored off by one */
                if (!entry_name_is_safe(ent->name, len)) {
                        _cleanup_free_ char *esc = escape_bytes(ent->name, len);
                        sqfs_free(ent);
                        k = graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                            "%s: squashfs directory %s has an entry with an unsafe name \"%s\"",
                                            r->what, dir_path, strna(esc));
                        goto fail;
                }
                if (n >= MAX_DIR_ENTRIES) {
                        sqfs_free(ent);
                        k = graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                            "%s: squashfs directory %s has more than %u entries",
                                            r->what, dir_path, MAX_DIR_ENTRIES);
                        goto fail;
                }
                if (n == allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 16);
                        DirItem *p = reallocarray(items, a, sizeof(*items));
                        if (!p) {
                                sqfs_free(ent);
                                k = -ENOMEM;
                                goto fail;
                        }
                        items = p;
                        allocated = a;
                }
                items[n] = (DirItem) { .name = strndup((const char *) ent->name, len) };
                sqfs_free(ent);
                if (!items[n].name) {
                        k = -ENOMEM;
                        goto fail;
                }
                n++;
                k = sqfs_dir_reader_get_inode(r->dir, &items[n - 1].inode);
                if (k != 0) {
                        k = reader_error(r, k, err, "reading the inode of %s%s%s in squashfs", dir_path,
                                         streq(dir_path, "/") ? "" : "/", items[n - 1].name);
                        goto fail;
                }
        }

        if (n > 0)
                qsort(items, n, sizeof(*items), dir_item_compare);
        *ret = items;
        *ret_n = n;
        return 0;
fail:
        dir_items_free(items, n);
        return k;
}

int squashfs_list_dir(SquashfsReader *r, const char *path, SquashfsEntry **ret, size_t *ret_n,
                      GraftError *err) {
        sqfs_inode_generic_t *dir = NULL;
        r->file->fault = 0;
        int k = resolve_path(r, path, &dir, err);
        if (k < 0)
                return k;
        if (!inode_is_dir(dir)) {
                sqfs_free(dir);
                return graft_error_set(err, -ENOTDIR, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: squashfs path %s is not a directory", r->what, path);
        }

        DirItem *items = NULL;
        size_t n = 0;
        k = read_dir_items(r, dir, path, &items, &n, err);
        sqfs_free(dir);
        if (k < 0)
                return k;

        SquashfsEntry *entries = calloc(MAX(n, (size_t) 1), sizeof(*entries));
        if (!entries) {
                dir_items_free(items, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const sqfs_inode_generic_t *in = items[i].inode;
                SquashfsEntry *e = &entries[i];

                e->name = TAKE_PTR(items[i].name);
                e->mode = inode_type_bits(in) | (in->base.mode & 07777);
                if (inode_is_file(in))
                        (void) sqfs_inode_get_file_size(in, &e->size);
                else if (inode_is_symlink(in)) {
                        k = symlink_target(r, in, e->name, &e->link_target, err);
                        if (k < 0)
                                break;
                        e->size = strlen(e->link_target);
                }
        }
        dir_items_free(items, n);
        if (k < 0) {
                squashfs_entries_free(entries, n);
                return k;
        }

        *ret = entries;
        *ret_n = n;
        return 0;
}

/* Inode numbers of the directories seen so far: reaching one twice means a loop (or a
 * hard-linked directory), which a hostile image could use to make a walk endless. */
typedef struct InodeSet {
        uint64_t *slots; /* number + 1; 0 is free */
        size_t n, allocated;
} InodeSet;

static int inode_set_add(InodeSet *s, uint32_t number) {
        if ((s->n + 1) * 2 > s->allocated) {
                size_t a = MAX(s->allocated * 2, (size_t) 64);
                uint64_t *slots = calloc(a, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                for (size_t i = 0; i < s->allocated; i++)
                        if (s->slots[i] != 0) {
                                size_t j = (size_t) (s->slots[i] * 0x9E3779B97F4A7C15ull) & (a - 1);
                                while (slots[j] != 0)
                                        j = (j + 1) & (a - 1);
                                slots[j] = s->slots[i];
                        }
                free(s->slots);
                s->slots = slots;
                s->allocated = a;
        }
        uint64_t key = (uint64_t) number + 1;
        size_t j = (size_t) (key * 0x9E3779B97F4A7C15ull) & (s->allocated - 1);
        for (; s->slots[j] != 0; j = (j + 1) & (s->allocated - 1))
                if (s->slots[j] == key)
                        return 0;
        s->slots[j] = key;
        s->n++;
        return 1;
}

typedef struct TreeWalk {
        SquashfsReader *r;
        InodeSet dirs;
        uint64_t count;
        GraftError *err;
} TreeWalk;

static int check_file_extent(TreeWalk *w, const sqfs_inode_generic_t *in, const char *path) {
        uint64_t start = 0, sum = 0, end = w->r->super.bytes_used;
        (void) sqfs_inode_get_file_block_start(in, &start);
        size_t nb = sqfs_inode_get_file_block_count(in);
        for (size_t j = 0; j < nb; j++)
                sum += SQFS_ON_DISK_BLOCK_SIZE(in->extra[j]);
        if (nb > 0 && (start > end || sum > end - start))
                return graft_error_set(w->err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "%s: squashfs file %s claims %" PRIu64 " bytes of data at offset %"
                                       PRIu64 ", beyond the end of the file system (%" PRIu64 " bytes)",
                                       w->r->what, path, sum, start, end);
        return 0;
}

static int walk_dir(TreeWalk *w, const sqfs_inode_generic_t *dir, const char *path, unsigned depth) {
        DirItem *items = NULL;
        size_t n = 0;
        int k = read_dir_items(w->r, dir, path, &items, &n, w->err);
        if (k < 0)
                return k;

        for (size_t i = 0; i < n && k >= 0; i++) {
                const sqfs_inode_generic_t *in = items[i].inode;
                _cleanup_free_ char *child = NULL, *target = NULL;

                if (asprintf(&child, "%s/%s", streq(path, "/") ? "" : path, items[i].name) < 0) {
                        k = -ENOMEM;
                        break;
                }
                w->count++;

                if (inode_is_file(in))
                        k = check_file_extent(w, in, child);
                else if (inode_is_symlink(in))
                        k = symlink_target(w->r, in, child, &target, w->err);
                else if (inode_is_dir(in)) {
                        if (depth + 1 > MAX_DEPTH)
                                k = graft_error_set(w->err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                                    "%s: squashfs directory tree is deeper than %u levels at %s",
                                                    w->r->what, MAX_DEPTH, child);
                        else {
                                k = inode_set_add(&w->dirs, in->base.inode_number);
                                if (k == 0)
                                        k = graft_error_set(w->err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                                            "%s: squashfs directory %s appears twice in the tree "
                                                            "(directory loop)", w->r->what, child);
                                if (k > 0)
                                        k = walk_dir(w, in, child, depth + 1);
                        }
                } else if (inode_type_bits(in) == 0)
                        k = graft_error_set(w->err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                            "%s: squashfs entry %s has an unknown inode type %u",
                                            w->r->what, child, (unsigned) in->base.type);
        }
        dir_items_free(items, n);
        return k < 0 ? k : 0;
}

int squashfs_check_tree(SquashfsReader *r, uint64_t *ret_inodes, GraftError *err) {
        TreeWalk w = { .r = r, .err = err };
        sqfs_inode_generic_t *root = NULL;
        r->file->fault = 0;

        int k = sqfs_dir_reader_get_root_inode(r->dir, &root);
        if (k != 0)
                return reader_error(r, k, err, "reading the squashfs root inode");

        k = inode_set_add(&w.dirs, root->base.inode_number);
        if (k >= 0)
                k = walk_dir(&w, root, "/", 0);
        sqfs_free(root);
        free(w.dirs.slots);
        if (k < 0)
                return k;

        if (ret_inodes)
                *ret_inodes = w.count + 1;
        return 0;
}
