/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The squashfs writer's first phase: walking the source directory into an in-memory tree
 * (sorted entries, stat data, symlink targets, extended attributes, hard links recognised by
 * device and inode number). Everything is opened relative to the parent directory's fd and no
 * symlink is ever followed, so nothing outside the source tree is read. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <sqfs/predef.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_writer.h>

#include "squashfs-internal.h"
#include "strv.h"

/* (st_dev, st_ino) → SourceInode, for non-directories with more than one link. */
typedef struct LinkMap {
        SourceInode **slots;
        size_t n, allocated;
} LinkMap;

typedef struct Scanner {
        const SourceScanOptions *o;
        SourceTree *tree;
        LinkMap links;
        GraftError *err;
} Scanner;

static size_t link_hash(dev_t dev, ino_t ino, size_t allocated) {
        uint64_t h = ((uint64_t) dev * 0x9E3779B97F4A7C15ull) ^ ((uint64_t) ino * 0xC2B2AE3D27D4EB4Full);
        return (size_t) (h ^ (h >> 29)) & (allocated - 1);
}

static SourceInode *link_map_get(LinkMap *m, dev_t dev, ino_t ino) {
        if (m->allocated == 0)
                return NULL;
        for (size_t j = link_hash(dev, ino, m->allocated); m->slots[j]; j = (j + 1) & (m->allocated - 1))
                if (m->slots[j]->dev == dev && m->slots[j]->ino == ino)
                        return m->slots[j];
        return NULL;
}

static int link_map_put(LinkMap *m, SourceInode *inode) {
        if ((m->n + 1) * 2 > m->allocated) {
                size_t a = MAX(m->allocated * 2, (size_t) 64);
                SourceInode **slots = calloc(a, sizeof(*slots));
                if (!slots)
                        return -ENOMEM;
                for (size_t i = 0; i < m->allocated; i++)
                        if (m->slots[i]) {
                                size_t j = link_hash(m->slots[i]->dev, m->slots[i]->ino, a);
                                while (slots[j])
                                        j = (j + 1) & (a - 1);
                                slots[j] = m->slots[i];
                        }
                free(m->slots);
                m->slots = slots;
                m->allocated = a;
        }
        size_t j = link_hash(inode->dev, inode->ino, m->allocated);
        while (m->slots[j])
                j = (j + 1) & (m->allocated - 1);
        m->slots[j] = inode;
        m->n++;
        return 0;
}

static uint32_t clamp_mtime(const Scanner *s, const struct stat *st) {
        int64_t t = st->st_mtim.tv_sec;
        if (s->o->have_epoch && (uint64_t) MAX(t, (int64_t) 0) > s->o->epoch)
                t = (int64_t) s->o->epoch;
        return (uint32_t) MIN(MAX(t, (int64_t) 0), (int64_t) UINT32_MAX);
}

/* NUL-separated names → sorted vector. */
static char **xattr_names_split(const char *list, size_t n) {
        _cleanup_strv_free_ char **names = NULL;
        for (size_t i = 0; i < n;) {
                size_t len = strnlen(list + i, n - i);
                if (len > 0 && strv_consume(&names, strndup(list + i, len)) < 0)
                        return NULL;
                i += len + 1;
        }
        if (!names)
                names = calloc(1, sizeof(char *));
        if (names)
                strv_sort(names);
        return TAKE_PTR(names);
}

/* Where the xattrs come from: a /proc/self/fd/N/name path whose last component is not followed
 * (any entry, symlinks included), or, for the root, its open fd. */
typedef struct XattrSource {
        const char *path;
        int fd;
} XattrSource;

static ssize_t source_listxattr(const XattrSource *x, char *list, size_t size) {
        return x->path ? llistxattr(x->path, list, size) : flistxattr(x->fd, list, size);
}

static ssize_t source_getxattr(const XattrSource *x, const char *key, void *value, size_t size) {
        return x->path ? lgetxattr(x->path, key, value, size) : fgetxattr(x->fd, key, value, size);
}

/* Reads the extended attributes of an entry into the xattr writer. Keys squashfs cannot store (only user., trusted. and
 * security. exist in the format; POSIX ACLs live in system.) are left out. */
static int scan_xattrs(Scanner *s, const XattrSource *x, const char *display, uint32_t *ret_idx) {
        _cleanup_free_ char *list = NULL;
        ssize_t n;

        *ret_idx = SQUASHFS_NO_XATTRS;
        for (;;) {
                n = source_listxattr(x, NULL, 0);
                if (n < 0 && (errno == ENOTSUP || errno == ENODATA))
                        return 0;
                if (n < 0)
                        return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: listing extended attributes: %m", display);
                if (n == 0)
                        return 0;
                free(list);
                list = malloc((size_t) n);
                if (!list)
                        return -ENOMEM;
                n = source_listxattr(x, list, (size_t) n);
                if (n >= 0)
                        break;
                if (errno != ERANGE)
                        return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: listing extended attributes: %m", display);
        }

        _cleanup_strv_free_ char **names = xattr_names_split(list, (size_t) n);
        if (!names)
                return -ENOMEM;

        bool begun = false;
        STRV_FOREACH(key, names) {
                if (sqfs_get_xattr_prefix_id(*key) < 0)
                        continue;

                _cleanup_free_ char *value = NULL;
                ssize_t m;
                for (;;) {
                        m = source_getxattr(x, *key, NULL, 0);
                        if (m >= 0) {
                                free(value);
                                value = malloc((size_t) m + 1);
                                if (!value)
                                        return -ENOMEM;
                                m = source_getxattr(x, *key, value, (size_t) m);
                        }
                        if (m >= 0 || errno != ERANGE)
                                break;
                }
                if (m < 0 && errno == ENODATA)
                        continue; /* removed meanwhile */
                if (m < 0)
                        return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO,
                                               "%s: reading extended attribute %s: %m", display, *key);

                int k = 0;
                if (!begun)
                        k = sqfs_xattr_writer_begin(s->o->xattrs, 0);
                begun = true;
                if (k == 0)
                        k = sqfs_xattr_writer_add(s->o->xattrs, *key, value ?: "", (size_t) m);
                if (k != 0)
                        return squashfs_error_set(s->err, k, GRAFT_ERROR_IO, "%s: storing extended attribute %s",
                                                  display, *key);
        }
        if (begun) {
                int k = sqfs_xattr_writer_end(s->o->xattrs, ret_idx);
                if (k != 0)
                        return squashfs_error_set(s->err, k, GRAFT_ERROR_IO, "%s: storing extended attributes", display);
        }
        return 0;
}

static int read_link_target(Scanner *s, int dir_fd, const char *name, const char *display, char **ret) {
        char buf[SQUASHFS_MAX_LINK_TARGET + 2];
        ssize_t n = readlinkat(dir_fd, name, buf, sizeof(buf));
        if (n < 0)
                return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
        if ((size_t) n > SQUASHFS_MAX_LINK_TARGET)
                return graft_error_set(s->err, -ENAMETOOLONG, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: symlink target is longer than %u bytes", display, SQUASHFS_MAX_LINK_TARGET);
        if (n == 0)
                return graft_error_set(s->err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s: empty symlink target", display);
        *ret = strndup(buf, (size_t) n);
        return *ret ? 0 : -ENOMEM;
}

/* A new inode for st, with its symlink target and extended attributes. */
static int scan_inode(Scanner *s, const struct stat *st, int dir_fd, const char *name, const XattrSource *x,
                      const char *display, SourceInode **ret) {
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode) && !S_ISCHR(st->st_mode) &&
            !S_ISBLK(st->st_mode) && !S_ISFIFO(st->st_mode) && !S_ISSOCK(st->st_mode))
                return graft_error_set(s->err, -EBADF, GRAFT_ERROR_INVALID_ARGUMENT, "%s: unknown file type", display);

        SourceInode *in = calloc(1, sizeof(*in));
        if (!in)
                return -ENOMEM;
        *in = (SourceInode) {
                .mode = st->st_mode,
                .uid = st->st_uid,
                .gid = st->st_gid,
                .mtime = clamp_mtime(s, st),
                .size = S_ISREG(st->st_mode) ? (uint64_t) st->st_size : 0,
                .rdev = st->st_rdev,
                .dev = st->st_dev,
                .ino = st->st_ino,
                .xattr_idx = SQUASHFS_NO_XATTRS,
                .nlink = 1,
        };
        *ret = in; /* owned by the tree from here on, freed with it */
        s->tree->n_inodes++;
        s->tree->total_bytes += in->size;

        if (S_ISLNK(st->st_mode)) {
                int k = read_link_target(s, dir_fd, name, display, &in->link_target);
                if (k < 0)
                        return k;
        }
        return scan_xattrs(s, x, display, &in->xattr_idx);
}

static int compare_strp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* The names in a directory, sorted as squashfs wants them (plain byte order). */
static int read_names(Scanner *s, int dir_fd, const char *display, char ***ret, size_t *ret_n) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
        DIR *d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -ENOMEM;
        }

        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        int k = 0;
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                k = graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = strv_extend(&names, de->d_name);
                if (k < 0)
                        break;
                n++;
        }
        closedir(d);
        if (k < 0)
                return k;
        if (n > 0)
                qsort(names, n, sizeof(char *), compare_strp);
        *ret = TAKE_PTR(names);
        *ret_n = n;
        return 0;
}

static int scan_dir(Scanner *s, int dir_fd, SourceNode *node, const char *display);

static int scan_child(Scanner *s, int dir_fd, SourceNode *parent, SourceNode *child, const char *display) {
        struct stat st;
        if (fstatat(dir_fd, child->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);

        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                SourceInode *in = link_map_get(&s->links, st.st_dev, st.st_ino);
                if (in) {
                        in->nlink++;
                        child->inode = in;
                        return 0;
                }
        }

        char fd_path[STRLEN("/proc/self/fd/") + 12 + 1 + 256];
        snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%i/%s", dir_fd, child->name);
        int k = scan_inode(s, &st, dir_fd, child->name, &(XattrSource) { .path = fd_path }, display, &child->inode);
        if (k < 0)
                return k;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                k = link_map_put(&s->links, child->inode);
                if (k < 0)
                        return k;
        }
        if (!S_ISDIR(st.st_mode))
                return 0;

        parent->n_subdirs++;
        _cleanup_close_ int fd = openat(dir_fd, child->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
        struct stat st2;
        if (fstat(fd, &st2) < 0)
                return graft_error_set(s->err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", display);
        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
                return graft_error_set(s->err, -EBUSY, GRAFT_ERROR_IO, "%s: directory was replaced during the scan", display);
        return scan_dir(s, fd, child, display);
}

static int scan_dir(Scanner *s, int dir_fd, SourceNode *node, const char *display) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n = 0;
        int k = read_names(s, dir_fd, display, &names, &n);
        if (k < 0)
                return k;
        if (n == 0)
                return 0;

        node->children = calloc(n, sizeof(SourceNode));
        if (!node->children)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                node->children[i].name = TAKE_PTR(names[i]);
        node->n_children = n;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *child_display = NULL;
                if (asprintf(&child_display, "%s/%s", display, node->children[i].name) < 0)
                        return -ENOMEM;
                k = scan_child(s, dir_fd, node, &node->children[i], child_display);
                if (k < 0)
                        return k;
        }
        return 0;
}

int source_tree_scan(int src_fd, const char *src_path, const SourceScanOptions *o, SourceTree *ret,
                     GraftError *err) {
        Scanner s = { .o = o, .tree = ret, .err = err };
        *ret = (SourceTree) {};

        struct stat st;
        if (fstat(src_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "%s: %m", src_path);
        if (!S_ISDIR(st.st_mode))
                return graft_error_set(err, -ENOTDIR, GRAFT_ERROR_INVALID_ARGUMENT, "%s: not a directory", src_path);

        int k = scan_inode(&s, &st, src_fd, ".", &(XattrSource) { .fd = src_fd }, src_path, &ret->root.inode);
        /* The display path of children: "/src" + "/usr", without doubling a trailing slash. */
        _cleanup_free_ char *base = strdup(src_path);
        if (k >= 0 && !base)
                k = -ENOMEM;
        if (k >= 0) {
                size_t l = strlen(base);
                while (l > 1 && base[l - 1] == '/')
                        base[--l] = 0;
                k = scan_dir(&s, src_fd, &ret->root, streq(base, "/") ? "" : base);
        }
        free(s.links.slots);
        if (k < 0)
                source_tree_done(ret);
        return k;
}

static void source_node_done(SourceNode *n) {
        for (size_t i = 0; i < n->n_children; i++)
                source_node_done(&n->children[i]);
        free(n->children);
        free(n->name);
        if (n->inode && --n->inode->nlink == 0) {
                free(n->inode->link_target);
                sqfs_free(n->inode->file_inode);
                free(n->inode);
        }
}

void source_tree_done(SourceTree *t) {
        if (!t)
                return;
        source_node_done(&t->root);
        *t = (SourceTree) {};
}
