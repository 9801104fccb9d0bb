/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writing a squashfs from a directory tree with libsquashfs: the output file object (at an
 * offset of a caller's fd), file data through the multi-threaded block processor (whose
 * compressor skips data that is already compressed: squashfs-compressor.c), then inodes
 * and directory listings (children before parents, so each directory knows its entries' inode
 * references), the fragment, export, id and xattr tables, and finally the superblock. The
 * source walk lives in squashfs-tree.c. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "fileio.h"
#include "squashfs-internal.h"
#include "squashfs.h"

#define DEFAULT_BLOCK_SIZE (128u * 1024u)
#define DEVICE_BLOCK_SIZE 4096u
#define READ_CHUNK (1024u * 1024u)
#define BACKLOG_PER_WORKER 16u

/* Levels as libsquashfs takes them; lz4 has none (0, 0). */
static const struct {
        const char *name;
        SQFS_COMPRESSOR id;
        unsigned min_level, max_level, default_level;
} compressions[_SQUASHFS_COMPRESSION_MAX] = {
        [SQUASHFS_ZSTD] = { "zstd", SQFS_COMP_ZSTD, SQFS_ZSTD_MIN_LEVEL, SQFS_ZSTD_MAX_LEVEL, SQFS_ZSTD_DEFAULT_LEVEL },
        [SQUASHFS_XZ] = { "xz", SQFS_COMP_XZ, SQFS_XZ_MIN_LEVEL, SQFS_XZ_MAX_LEVEL, SQFS_XZ_DEFAULT_LEVEL },
        [SQUASHFS_GZIP] = { "gzip", SQFS_COMP_GZIP, SQFS_GZIP_MIN_LEVEL, SQFS_GZIP_MAX_LEVEL, SQFS_GZIP_DEFAULT_LEVEL },
        [SQUASHFS_LZ4] = { "lz4", SQFS_COMP_LZ4, 0, 0, 0 },
};

const char *squashfs_compression_to_string(SquashfsCompression c) {
        if (c < 0 || c >= _SQUASHFS_COMPRESSION_MAX)
                return NULL;
        return compressions[c].name;
}

SquashfsCompression squashfs_compression_from_string(const char *s) {
        for (int i = 0; s && i < _SQUASHFS_COMPRESSION_MAX; i++)
                if (streq(compressions[i].name, s))
                        return (SquashfsCompression) i;
        return _SQUASHFS_COMPRESSION_INVALID;
}

int squashfs_compression_levels(SquashfsCompression c, unsigned *ret_min, unsigned *ret_max, unsigned *ret_default) {
        if (c < 0 || c >= _SQUASHFS_COMPRESSION_MAX)
                return -EINVAL;
        if (compressions[c].max_level == 0)
                return -EOPNOTSUPP;
        *ret_min = compressions[c].min_level;
        *ret_max = compressions[c].max_level;
        *ret_default = compressions[c].default_level;
        return 0;
}

/* A writable sqfs_file_t: position pos of the file system is byte out_offset + pos of fd. The
 * logical size is ours to track, since the fd may hold more than this file system (e.g. the
 * rest of a disk image) and the block writer shrinks it again after dropping a duplicate. */
typedef struct OutFile {
        sqfs_file_t base;
        int fd;
        uint64_t offset;
        uint64_t size;     /* logical size of the file system written so far */
        uint64_t high;     /* highest end ever written */
        int error;         /* negative errno of the last failed I/O, 0 if none */
} OutFile;

static int out_file_write_at(sqfs_file_t *base, sqfs_u64 pos, const void *buffer, size_t n) {
        OutFile *f = (OutFile *) base;
        int r = pwrite_full(f->fd, buffer, n, f->offset + pos);
        if (r < 0) {
                f->error = r;
                return SQFS_ERROR_IO;
        }
        f->size = MAX(f->size, pos + n);
        f->high = MAX(f->high, f->size);
        return 0;
}

static int out_file_read_at(sqfs_file_t *base, sqfs_u64 pos, void *buffer, size_t n) {
        OutFile *f = (OutFile *) base;
        if (pos > f->size || n > f->size - pos)
                return SQFS_ERROR_OUT_OF_BOUNDS;
        int r = pread_full(f->fd, buffer, n, f->offset + pos);
        if (r < 0) {
                f->error = r;
                return SQFS_ERROR_IO;
        }
        return 0;
}

static sqfs_u64 out_file_get_size(const sqfs_file_t *base) {
        return ((const OutFile *) base)->size;
}

static int out_file_truncate(sqfs_file_t *base, sqfs_u64 size) {
        OutFile *f = (OutFile *) base;
        static const uint8_t zeros[4096];

        /* Growing reads back as zeros, whatever an earlier, dropped write left there. */
        while (f->size < size) {
                size_t n = (size_t) MIN(size - f->size, (uint64_t) sizeof(zeros));
                int k = out_file_write_at(base, f->size, zeros, n);
                if (k != 0)
                        return k;
        }
        f->size = size;
        return 0;
}

static void out_file_destroy(sqfs_object_t *base) {
        free(base);
}

static OutFile *out_file_new(int fd, uint64_t offset) {
        OutFile *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->base.base.destroy = out_file_destroy;
        f->base.base.copy = NULL; /* writable files are not copyable, as libsquashfs expects */
        f->base.read_at = out_file_read_at;
        f->base.write_at = out_file_write_at;
        f->base.get_size = out_file_get_size;
        f->base.truncate = out_file_truncate;
        f->fd = fd;
        f->offset = offset;
        return f;
}

typedef struct Writer {
        const SquashfsWriteOptions *o;
        GraftError *err;
        OutFile *file;
        sqfs_super_t super;
        sqfs_compressor_t *cmp, *uncmp;
        sqfs_compressor_t *data_cmp;    /* cmp behind the incompressibility probe, for file data */
        SquashfsProbeStats probe_stats;
        sqfs_block_writer_t *blkwr;
        sqfs_frag_table_t *frag;
        sqfs_block_processor_t *proc;
        sqfs_id_table_t *ids;
        sqfs_xattr_writer_t *xattrs;
        sqfs_meta_writer_t *im, *dm;
        sqfs_dir_writer_t *dirwr;
        SourceTree tree;
        uint8_t *buf;
        uint64_t done;
        bool finished;  /* the block processor was drained */
} Writer;

static void writer_done(Writer *w) {
        /* libsquashfs 1.2 leaks the blocks still queued when a block processor is destroyed, so
         * after a failure it is drained first. */
        if (w->proc && !w->finished)
                (void) sqfs_block_processor_finish(w->proc);
        /* The block processor first: its threads use the compressor, writer and table. */
        sqfs_destroy(w->proc);
        sqfs_destroy(w->dirwr);
        sqfs_destroy(w->dm);
        sqfs_destroy(w->im);
        sqfs_destroy(w->blkwr);
        sqfs_destroy(w->frag);
        sqfs_destroy(w->ids);
        sqfs_destroy(w->xattrs);
        sqfs_destroy(w->data_cmp);
        sqfs_destroy(w->uncmp);
        sqfs_destroy(w->cmp);
        if (w->file)
                sqfs_destroy(&w->file->base);
        source_tree_done(&w->tree);
        free(w->buf);
}

/* "<context>: <reason>"; an errno from our own output file says more than SQFS_ERROR_IO. */
_printf_(3, 4)
static int writer_error(Writer *w, int sqfs_err, const char *format, ...) {
        _cleanup_free_ char *ctx = NULL;
        va_list ap;
        va_start(ap, format);
        if (vasprintf(&ctx, format, ap) < 0)
                ctx = NULL;
        va_end(ap);

        if (w->file && w->file->error < 0)
                return graft_error_set(w->err, w->file->error, GRAFT_ERROR_IO, "%s: %s", strna(ctx),
                                       strerror(-w->file->error));
        return squashfs_error_set(w->err, sqfs_err, GRAFT_ERROR_IO, "%s", strna(ctx));
}

static int make_compressor(Writer *w, SQFS_COMPRESSOR id, uint32_t block_size, const char *name) {
        sqfs_compressor_config_t cfg;

        int k = sqfs_compressor_config_init(&cfg, id, block_size, 0);
        if (k == 0 && w->o->have_level)
                cfg.level = w->o->level;
        if (k == 0)
                k = sqfs_compressor_create(&cfg, &w->cmp);
        if (k == SQFS_ERROR_UNSUPPORTED)
                return graft_error_set(w->err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                                       "squashfs compression %s is not supported by this libsquashfs", name);
        if (k != 0)
                return squashfs_error_set(w->err, k, GRAFT_ERROR_UNSUPPORTED, "setting up %s compression", name);

        /* A decompressor lets the block processor compare a duplicate-looking fragment byte by
         * byte instead of trusting a 32-bit hash. */
        k = sqfs_compressor_config_init(&cfg, id, block_size, SQFS_COMP_FLAG_UNCOMPRESS);
        if (k == 0)
                k = sqfs_compressor_create(&cfg, &w->uncmp);
        if (k != 0)
                return squashfs_error_set(w->err, k, GRAFT_ERROR_UNSUPPORTED, "setting up %s decompression", name);

        /* File data only: metadata blocks are small and always compress. */
        k = squashfs_probe_compressor_new(w->cmp, block_size, &w->probe_stats, &w->data_cmp);
        if (k != 0)
                return squashfs_error_set(w->err, k, GRAFT_ERROR_UNSUPPORTED, "setting up %s compression", name);
        return 0;
}

static int writer_setup(Writer *w, int out_fd, uint64_t out_offset) {
        const SquashfsWriteOptions *o = w->o;
        uint32_t block_size = o->block_size ?: DEFAULT_BLOCK_SIZE;
        const char *name = squashfs_compression_to_string(o->compression);

        if (!name)
                return graft_error_set(w->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "unknown squashfs compression %i", (int) o->compression);
        if (!IS_POWER_OF_2(block_size) || block_size < SQFS_MIN_BLOCK_SIZE || block_size > SQFS_MAX_BLOCK_SIZE)
                return graft_error_set(w->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "squashfs block size %" PRIu32 " is not a power of two between 4 KiB and 1 MiB",
                                       block_size);

        if (o->have_level && (compressions[o->compression].max_level == 0 || o->level < compressions[o->compression].min_level ||
                              o->level > compressions[o->compression].max_level))
                return graft_error_set(w->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s compression has no level %u", name, o->level);

        int k = make_compressor(w, compressions[o->compression].id, block_size, name);
        if (k < 0)
                return k;

        w->file = out_file_new(out_fd, out_offset);
        w->buf = malloc(READ_CHUNK);
        w->ids = sqfs_id_table_create(0);
        w->xattrs = sqfs_xattr_writer_create(0);
        w->frag = sqfs_frag_table_create(0);
        if (!w->file || !w->buf || !w->ids || !w->xattrs || !w->frag)
                return -ENOMEM;
        w->blkwr = sqfs_block_writer_create(&w->file->base, DEVICE_BLOCK_SIZE, 0);
        w->im = sqfs_meta_writer_create(&w->file->base, w->cmp, 0);
        /* Directory listings follow the inode table on disk but are produced alongside it. */
        w->dm = sqfs_meta_writer_create(&w->file->base, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
        if (!w->blkwr || !w->im || !w->dm)
                return -ENOMEM;
        w->dirwr = sqfs_dir_writer_create(w->dm, SQFS_DIR_WRITER_CREATE_EXPORT_TABLE);
        if (!w->dirwr)
                return -ENOMEM;

        uint64_t mkfs_time = o->have_epoch ? o->epoch : (uint64_t) time(NULL);
        k = sqfs_super_init(&w->super, block_size, (sqfs_u32) MIN(mkfs_time, (uint64_t) UINT32_MAX),
                            compressions[o->compression].id);
        if (k == 0)
                k = sqfs_super_write(&w->super, &w->file->base);
        if (k != 0)
                return writer_error(w, k, "writing squashfs superblock");
        k = w->cmp->write_options(w->cmp, &w->file->base);
        if (k < 0)
                return writer_error(w, k, "writing squashfs compressor options");
        if (k > 0)
                w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

        unsigned workers = o->n_threads ?: cpus_available();
        sqfs_block_processor_desc_t desc = {
                .size = sizeof(desc),
                .max_block_size = block_size,
                .num_workers = workers,
                .max_backlog = workers * BACKLOG_PER_WORKER,
                .cmp = w->data_cmp,
                .wr = w->blkwr,
                .tbl = w->frag,
                .file = &w->file->base,
                .uncmp = w->uncmp,
        };
        k = sqfs_block_processor_create_ex(&desc, &w->proc);
        if (k != 0)
                return squashfs_error_set(w->err, k, GRAFT_ERROR_IO, "starting %u squashfs compression threads", workers);
        return 0;
}

/* Reads exactly the size the scan saw, in large reads, into the block processor's open file. */
static int feed_file_data(Writer *w, int fd, SourceInode *in, const char *display) {
        for (uint64_t left = in->size; left > 0;) {
                ssize_t n = read(fd, w->buf, (size_t) MIN(left, (uint64_t) READ_CHUNK));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return graft_error_set(w->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
                if (n == 0)
                        return graft_error_set(w->err, -EBUSY, GRAFT_ERROR_IO,
                                               "%s: file shrank while the image was being built", display);
                int k = sqfs_block_processor_append(w->proc, w->buf, (size_t) n);
                if (k != 0)
                        return writer_error(w, k, "%s: adding its data to the image", display);
                left -= (uint64_t) n;
                w->done += (uint64_t) n;
                if (w->o->progress)
                        w->o->progress(w->o->progress_userdata, w->done, w->tree.total_bytes);
        }
        return 0;
}

static int feed_file(Writer *w, int dir_fd, const char *name, SourceInode *in, const char *display) {
        /* The walk saw a regular file here; should a FIFO or device have taken its place since, it
         * is refused unopened. */
        FileOpen f = { .dir_fd = dir_fd, .path = name, .nofollow = true, .flags = O_NOATIME, .display = display };
        _cleanup_close_ int fd = file_open(&f, w->err);
        if (fd == -EPERM) { /* O_NOATIME needs ownership or CAP_FOWNER */
                f.flags = 0;
                fd = file_open(&f, w->err);
        }
        if (fd < 0)
                return graft_error_set(w->err, fd, GRAFT_ERROR_IO, "%s: %s", display, strerror(-fd));

        struct stat st;
        if (fstat(fd, &st) < 0)
                return graft_error_set(w->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
        if (!S_ISREG(st.st_mode) || st.st_dev != in->dev || st.st_ino != in->ino)
                return graft_error_set(w->err, -EBUSY, GRAFT_ERROR_IO,
                                       "%s: file was replaced while the image was being built", display);
        if (in->size > READ_CHUNK)
                (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        int k = sqfs_block_processor_begin_file(w->proc, &in->file_inode, NULL, 0);
        if (k != 0)
                return writer_error(w, k, "%s: adding its data to the image", display);
        k = feed_file_data(w, fd, in, display);
        if (k < 0) {
                /* closed, so that writer_done() can drain (and free) its blocks */
                (void) sqfs_block_processor_end_file(w->proc);
                return k;
        }
        k = sqfs_block_processor_end_file(w->proc);
        if (k != 0)
                return writer_error(w, k, "%s: adding its data to the image", display);
        return 0;
}

/* Hands every regular file's data to the block processor, in tree order, each hard-linked
 * inode once. Opens everything relative to its parent, never following symlinks. */
static int feed_dir(Writer *w, int dir_fd, SourceNode *dir, const char *display) {
        for (size_t i = 0; i < dir->n_children; i++) {
                SourceNode *c = &dir->children[i];
                SourceInode *in = c->inode;
                if (!S_ISDIR(in->mode) && (!S_ISREG(in->mode) || in->fed))
                        continue;

                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", display, c->name) < 0)
                        return -ENOMEM;

                int k;
                if (S_ISREG(in->mode)) {
                        in->fed = true;
                        k = feed_file(w, dir_fd, c->name, in, path);
                } else {
                        _cleanup_close_ int fd = openat(dir_fd, c->name,
                                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return graft_error_set(w->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", path);
                        k = feed_dir(w, fd, c, path);
                }
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Inode numbers in the order the inodes are written: children before their directory, the
 * root last. */
static void number_inodes(SourceNode *dir, uint32_t *next) {
        for (size_t i = 0; i < dir->n_children; i++) {
                SourceNode *c = &dir->children[i];
                if (S_ISDIR(c->inode->mode))
                        number_inodes(c, next);
                else if (c->inode->number == 0)
                        c->inode->number = (*next)++;
        }
        dir->inode->number = (*next)++;
}

/* The squashfs (and Linux "new") device number encoding. */
static uint32_t encode_devno(dev_t d) {
        uint32_t maj = major(d), min = minor(d);
        return (min & 0xffu) | ((maj & 0xfffu) << 8) | ((min & ~0xffu) << 12);
}

static int write_inode(Writer *w, sqfs_inode_generic_t *i, SourceInode *in) {
        i->base.mode = (sqfs_u16) in->mode;
        i->base.mod_time = in->mtime;
        i->base.inode_number = in->number;

        int k = sqfs_id_table_id_to_index(w->ids, in->uid, &i->base.uid_idx);
        if (k == 0)
                k = sqfs_id_table_id_to_index(w->ids, in->gid, &i->base.gid_idx);
        if (k != 0)
                return squashfs_error_set(w->err, k, GRAFT_ERROR_INVALID_ARGUMENT,
                                          "recording owner %u:%u (squashfs holds at most 65536 distinct ids)",
                                          (unsigned) in->uid, (unsigned) in->gid);

        sqfs_u64 block;
        sqfs_u32 offset;
        sqfs_meta_writer_get_position(w->im, &block, &offset);
        in->ref = (block << 16) | offset;
        k = sqfs_meta_writer_write_inode(w->im, i);
        if (k != 0)
                return writer_error(w, k, "writing squashfs inode table");
        in->written = true;
        return 0;
}

static sqfs_inode_generic_t *special_inode_new(const SourceInode *in) {
        size_t extra = in->link_target ? strlen(in->link_target) : 0;
        sqfs_inode_generic_t *i = calloc(1, sizeof(*i) + extra);
        if (!i)
                return NULL;

        switch (in->mode & S_IFMT) {
        case S_IFLNK:
                i->base.type = SQFS_INODE_SLINK;
                i->data.slink.nlink = in->nlink;
                i->data.slink.target_size = (sqfs_u32) extra;
                i->payload_bytes_available = i->payload_bytes_used = (sqfs_u32) extra;
                memcpy(i->extra, in->link_target, extra);
                break;
        case S_IFBLK:
        case S_IFCHR:
                i->base.type = S_ISBLK(in->mode) ? SQFS_INODE_BDEV : SQFS_INODE_CDEV;
                i->data.dev.nlink = in->nlink;
                i->data.dev.devno = encode_devno(in->rdev);
                break;
        default: /* fifo, socket */
                i->base.type = S_ISFIFO(in->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
                i->data.ipc.nlink = in->nlink;
                break;
        }
        return i;
}

static int write_leaf(Writer *w, SourceInode *in) {
        if (!S_ISREG(in->mode)) {
                sqfs_inode_generic_t *i = special_inode_new(in);
                if (!i)
                        return -ENOMEM;
                int k = sqfs_inode_set_xattr_index(i, in->xattr_idx);
                if (k == 0)
                        k = write_inode(w, i, in);
                else
                        k = writer_error(w, k, "setting extended attributes");
                free(i);
                return k;
        }

        sqfs_inode_generic_t *i = in->file_inode;
        if (!i)
                return graft_error_set(w->err, -EPROTO, GRAFT_ERROR_IO, "internal error: file inode missing");
        int k = sqfs_inode_set_xattr_index(i, in->xattr_idx);
        if (k == 0 && in->nlink > 1)
                k = sqfs_inode_make_extended(i); /* a basic file inode has no link count */
        if (k != 0)
                return writer_error(w, k, "setting up a file inode");
        if (i->base.type == SQFS_INODE_EXT_FILE)
                i->data.file_ext.nlink = in->nlink;
        return write_inode(w, i, in);
}

/* Writes the inodes below dir, then dir's listing and inode. */
static int write_dir(Writer *w, SourceNode *dir, uint32_t parent_ino) {
        for (size_t i = 0; i < dir->n_children; i++) {
                SourceNode *c = &dir->children[i];
                int k = 0;
                if (S_ISDIR(c->inode->mode))
                        k = write_dir(w, c, dir->inode->number);
                else if (!c->inode->written)
                        k = write_leaf(w, c->inode);
                if (k < 0)
                        return k;
        }

        int k = sqfs_dir_writer_begin(w->dirwr, 0);
        for (size_t i = 0; k == 0 && i < dir->n_children; i++) {
                const SourceInode *in = dir->children[i].inode;
                k = sqfs_dir_writer_add_entry(w->dirwr, dir->children[i].name, in->number, in->ref,
                                              (sqfs_u16) in->mode);
        }
        if (k == 0)
                k = sqfs_dir_writer_end(w->dirwr);
        if (k != 0)
                return writer_error(w, k, "writing squashfs directory table");

        sqfs_inode_generic_t *i = sqfs_dir_writer_create_inode(w->dirwr, 0, dir->inode->xattr_idx, parent_ino);
        if (!i)
                return -ENOMEM;
        uint32_t nlink = 2 + (uint32_t) dir->n_subdirs;
        if (i->base.type == SQFS_INODE_DIR)
                i->data.dir.nlink = nlink;
        else
                i->data.dir_ext.nlink = nlink;
        k = write_inode(w, i, dir->inode);
        sqfs_free(i);
        return k;
}

static int write_tables(Writer *w) {
        SourceNode *root = &w->tree.root;
        uint32_t next = 1;

        number_inodes(root, &next);
        w->super.inode_count = w->tree.n_inodes;
        w->super.inode_table_start = w->file->size;

        /* The root's parent number points one past the last inode, as mksquashfs does. */
        int k = write_dir(w, root, w->tree.n_inodes + 1);
        if (k < 0)
                return k;
        w->super.root_inode_ref = root->inode->ref;

        k = sqfs_meta_writer_flush(w->im);
        if (k == 0)
                k = sqfs_meta_writer_flush(w->dm);
        if (k != 0)
                return writer_error(w, k, "writing squashfs inode table");
        w->super.directory_table_start = w->file->size;
        k = sqfs_meta_write_write_to_file(w->dm);
        if (k != 0)
                return writer_error(w, k, "writing squashfs directory table");

        k = sqfs_frag_table_write(w->frag, &w->file->base, &w->super, w->cmp);
        if (k != 0)
                return writer_error(w, k, "writing squashfs fragment table");
        k = sqfs_dir_writer_write_export_table(w->dirwr, &w->file->base, w->cmp, root->inode->number,
                                               root->inode->ref, &w->super);
        if (k != 0)
                return writer_error(w, k, "writing squashfs export table");
        k = sqfs_id_table_write(w->ids, &w->file->base, &w->super, w->cmp);
        if (k != 0)
                return writer_error(w, k, "writing squashfs id table");
        k = sqfs_xattr_writer_flush(w->xattrs, &w->file->base, &w->super, w->cmp);
        if (k != 0)
                return writer_error(w, k, "writing squashfs extended attribute table");

        w->super.bytes_used = w->file->size;
        k = sqfs_super_write(&w->super, &w->file->base);
        if (k != 0)
                return writer_error(w, k, "writing squashfs superblock");

        /* Padding to whole 4 KiB blocks, as loop devices and dm-verity want. */
        static const uint8_t zeros[DEVICE_BLOCK_SIZE];
        size_t pad = (size_t) (ALIGN_TO(w->file->size, (uint64_t) DEVICE_BLOCK_SIZE) - w->file->size);
        if (pad > 0) {
                k = w->file->base.write_at(&w->file->base, w->file->size, zeros, pad);
                if (k != 0)
                        return writer_error(w, k, "padding squashfs");
        }
        return 0;
}

int squashfs_write_tree(const char *src_dir, int out_fd, uint64_t out_offset, const SquashfsWriteOptions *o,
                        uint64_t *ret_size, GraftError *err) {
        _cleanup_(writer_done) Writer w = { .o = o, .err = err };
        struct stat out_st;

        if (fstat(out_fd, &out_st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "output file: %m");

        int k = writer_setup(&w, out_fd, out_offset);
        if (k < 0)
                return k;

        _cleanup_close_ int src_fd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", src_dir);

        SourceScanOptions so = { .have_epoch = o->have_epoch, .epoch = o->epoch, .xattrs = w.xattrs };
        k = source_tree_scan(src_fd, src_dir, &so, &w.tree, err);
        if (k < 0)
                return k;
        if (o->progress)
                o->progress(o->progress_userdata, 0, w.tree.total_bytes);

        _cleanup_free_ char *base = strdup(src_dir);
        if (!base)
                return -ENOMEM;
        for (size_t l = strlen(base); l > 1 && base[l - 1] == '/';)
                base[--l] = 0;
        k = feed_dir(&w, src_fd, &w.tree.root, streq(base, "/") ? "" : base);
        if (k < 0)
                return k;
        k = sqfs_block_processor_finish(w.proc);
        w.finished = true;
        if (k != 0)
                return writer_error(&w, k, "writing the last data blocks");

        k = write_tables(&w);
        if (k < 0)
                return k;

        /* Drop what a discarded duplicate block left past our end, if the file grew for it. */
        uint64_t end = out_offset + w.file->size;
        if (S_ISREG(out_st.st_mode) && out_offset + w.file->high > end &&
            (uint64_t) out_st.st_size < out_offset + w.file->high)
                (void) ftruncate(out_fd, (off_t) MAX(end, (uint64_t) out_st.st_size));

        *ret_size = w.file->size;
        return 0;
}
