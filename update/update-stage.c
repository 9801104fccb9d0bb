/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns staging and placement (see update-stage.h). */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fault.h"
#include "fileio.h"
#include "hex.h"
#include "path-util.h"
#include "strv.h"
#include "update-image.h"
#include "update-stage.h"

void staged_set_discard(StagedSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                Staged *x = &s->items[i];
                if (!x->tmp_name)
                        continue;
                _cleanup_free_ char *p = path_join(x->dir, x->tmp_name);
                if (p)
                        (void) unlink(p);
                x->tmp_name = (free(x->tmp_name), NULL);
        }
}

void staged_set_done(StagedSet *s) {
        staged_set_discard(s);
        for (size_t i = 0; i < s->n; i++) {
                free(s->items[i].dir);
                free(s->items[i].final_name);
        }
        free(s->items);
        *s = (StagedSet) {};
}

/* mkdir -p of the target directory (inside the root), 0755. */
static int make_dirs(const char *root, const char *path, GraftError *err) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                _cleanup_free_ char *full = path_prefix_root(root, p);
                if (!full)
                        return -ENOMEM;
                if (mkdir(full, 0755) < 0 && errno != EEXIST)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot create %s: %m", full);
                *s = c;
                if (!c)
                        return 0;
        }
}

/* The final name: the first target pattern filled with the source's fields. */
static int final_name(const Transfer *t, const Instance *src, const char *version, char **ret, GraftError *err) {
        PatternFields f = {};
        int r = 0;
        for (size_t i = 0; i < _PATTERN_FIELD_MAX && r >= 0; i++)
                r = pattern_fields_set(&f, i, src ? src->fields.value[i] : NULL);
        if (r >= 0)
                r = pattern_fields_set(&f, PATTERN_VERSION, version);
        if (r >= 0 && t->tries_left)
                r = pattern_fields_set(&f, PATTERN_TRIES_LEFT, t->tries_left);
        if (r >= 0 && t->tries_done)
                r = pattern_fields_set(&f, PATTERN_TRIES_DONE, t->tries_done);
        if (r >= 0 && src && src->sha256 && !f.value[PATTERN_SHA256])
                r = pattern_fields_set(&f, PATTERN_SHA256, src->sha256);
        if (r >= 0) {
                char mode[8];
                snprintf(mode, sizeof mode, "%04o", (unsigned) t->mode);
                if (!f.value[PATTERN_MODE])
                        r = pattern_fields_set(&f, PATTERN_MODE, mode);
        }
        if (r >= 0)
                r = pattern_format(t->target_patterns[0], &f, ret, err);
        pattern_fields_done(&f);
        return r;
}

/* Copies a local source into fd, hashing it. */
static int copy_local(const char *from, int fd, const char *shown, char sha256[static 65], uint64_t *ret_size,
                      GraftError *err) {
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return graft_error_set(err, -errno, errno == ENOENT ? GRAFT_ERROR_MISSING_FILE : GRAFT_ERROR_IO,
                                       "cannot open %s: %m", from);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        const size_t bufsize = 1 << 16;
        _cleanup_free_ char *buf = malloc(bufsize);
        uint64_t off = 0;
        int r = buf ? 0 : -ENOMEM;
        while (r >= 0) {
                ssize_t n = read(in, buf, bufsize);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot read %s: %m", from);
                        break;
                }
                if (n == 0)
                        break;
                r = pwrite_full(fd, buf, (size_t) n, off);
                if (r < 0) {
                        r = graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s (copying %s): %s", shown, from,
                                            strerror(-r));
                        break;
                }
                EVP_DigestUpdate(md, buf, (size_t) n);
                off += (uint64_t) n;
        }
        unsigned char d[32];
        unsigned len = 0;
        if (r >= 0 && EVP_DigestFinal_ex(md, d, &len) == 1) {
                _cleanup_free_ char *hex = hexmem(d, len);
                if (!hex)
                        r = -ENOMEM;
                else
                        memcpy(sha256, hex, 65);
        }
        EVP_MD_CTX_free(md);
        *ret_size = off;
        return r;
}

static void on_retry(void *userdata, const char *why, uint64_t delay_usec) {
        update_note(userdata, "%s; retrying in %.1f s", why, (double) delay_usec / 1e6);
}

/* Brings the source's bytes into the staging file fd and checks them against the expected hash. */
static int fill(UpdateContext *c, const Transfer *t, const Instance *src, int fd, Staged *s, const char *shown,
                GraftError *err) {
        char sha256[65] = "";
        int r;
        if (t->source_type == RESOURCE_URL_FILE) {
                FetchResult fr = {};
                FetchOptions fo = c->o.fetch;
                fo.on_retry = on_retry;
                fo.retry_userdata = c;
                update_note(c, "downloading %s", src->location);
                r = fetch_to_fd(src->location, fd, shown, &fo, &fr, err);
                s->fetched = fr.bytes_fetched;
                if (r < 0)
                        return r;
                if (fr.resumes > 0)
                        update_note(c, "%s: resumed %u time(s)", src->location, fr.resumes);
                memcpy(sha256, fr.sha256, sizeof sha256);
        } else {
                uint64_t size = 0;
                r = copy_local(src->location, fd, shown, sha256, &size, err);
                if (r < 0)
                        return r;
        }
        if (src->sha256 && strcasecmp(src->sha256, sha256) != 0)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "%s: SHA-256 %s does not match %s, which %s lists for it", shown, sha256,
                                       src->sha256,
                                       t->source_type == RESOURCE_URL_FILE ? "SHA256SUMS" : "the file name (@h)");
        return 0;
}

/* Makes the file what graft will trust: root's, not writable by others, on disk. */
static int seal(const Transfer *t, int fd, const char *shown, GraftError *err) {
        mode_t mode = t->mode & (t->read_only > 0 ? ~(mode_t) 0222 : ~(mode_t) 0) & ~(mode_t) 022;
        if (fchown(fd, 0, 0) < 0 && geteuid() == 0)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot chown %s: %m", shown);
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot write %s: %m", shown);
        return 0;
}

int update_stage_one(UpdateContext *c, size_t i, const char *version, char * const *host_release, Staged *s,
                     GraftError *err) {
        const Transfer *t = c->set.transfers[i];
        const Instance *src = resource_find(&c->sources[i], version);
        const Instance *installed = resource_find(&c->targets[i], version);
        s->t = t;
        s->dir = path_prefix_root(c->o.root, t->target_path);
        if (!s->dir)
                return -ENOMEM;
        if (installed) {
                s->already = true;
                return (s->final_name = strdup(installed->name)) ? 0 : -ENOMEM;
        }
        if (!src)
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_NO_SUCH_IMAGE, "%s: version %s is not available from %s",
                                       t->id, version, t->source_path);
        int r = final_name(t, src, version, &s->final_name, err);
        if (r < 0)
                return graft_error_prefix(err, r, "%s", t->path);
        r = make_dirs(c->o.root, t->target_path, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s/" STAGING_PREFIX "%s.XXXXXX", s->dir, s->final_name) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot create a staging file in %s: %m", s->dir);
        s->tmp_name = path_basename(tmp);
        if (!s->tmp_name) {
                (void) unlink(tmp);
                return -ENOMEM;
        }
        _cleanup_free_ char *shown = path_join(s->dir, s->final_name);
        if (!shown)
                return -ENOMEM;
        r = fill(c, t, src, fd, s, shown, err);
        if (r >= 0)
                r = seal(t, fd, shown, err);
        if (r < 0)
                return r;
        fd = safe_close(fd); /* no writer may be left when graft checks it */
        _cleanup_free_ char *name = update_image_name(t, s->final_name);
        if (!name)
                return -ENOMEM;
        ImageCheck ic = { .root = c->o.root, .host_release = host_release, .n_threads = c->o.n_threads,
                          .cache = c->o.verify_cache };
        update_note(c, "checking %s", shown);
        return update_image_check(t, &ic, tmp, name, s->final_name, err);
}

int update_stage(UpdateContext *c, const char *version, char * const *host_release, StagedSet *ret,
                 GraftError *err) {
        StagedSet s = { .items = calloc(c->set.n + 1, sizeof(Staged)), .n = c->set.n };
        if (!s.items)
                return -ENOMEM;
        for (size_t i = 0; i < c->set.n; i++) {
                int r = update_stage_one(c, i, version, host_release, &s.items[i], err);
                if (r < 0) {
                        staged_set_done(&s);
                        return r;
                }
        }
        fault_point("update-staged");
        *ret = s;
        return 0;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static int remove_symlink(const char *link, GraftError *err) {
        if (unlink(link) < 0 && errno != ENOENT)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot remove %s: %m", link);
        _cleanup_free_ char *dir = strndup(link, (size_t) (strrchr(link, '/') - link));
        if (!dir)
                return -ENOMEM;
        (void) fsync_dir(dir);
        fault_point("update-symlink");
        return 0;
}

/* CurrentSymlink= → the file (by name when both are in one directory, else by its path inside the
 * root, which discovery resolves inside the root too), replaced atomically. */
int update_symlink_set(UpdateContext *c, const Transfer *t, const char *file_name, GraftError *err) {
        const char *cs = t->current_symlink;
        _cleanup_free_ char *link = path_prefix_root(c->o.root, cs);
        if (!link)
                return -ENOMEM;
        if (!file_name)
                return remove_symlink(link, err);
        _cleanup_free_ char *parent = strndup(cs, (size_t) (strrchr(cs, '/') - cs));
        _cleanup_free_ char *target = parent && streq(parent, t->target_path) ? strdup(file_name)
                                                                             : path_join(t->target_path, file_name);
        if (!parent || !target)
                return -ENOMEM;
        int r = isempty(parent) ? 0 : make_dirs(c->o.root, parent, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *ldir = strndup(link, (size_t) (strrchr(link, '/') - link)), *tmp = NULL;
        if (!ldir)
                return -ENOMEM;
        for (unsigned attempt = 0;; attempt++) {
                free(tmp);
                if (asprintf(&tmp, "%s/" STAGING_PREFIX "link.%08x", ldir, (unsigned) random()) < 0)
                        return -ENOMEM;
                if (symlink(target, tmp) >= 0)
                        break;
                if (errno != EEXIST || attempt > 100)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot create a symlink in %s: %m", ldir);
        }
        if (rename(tmp, link) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot replace %s: %s", link, strerror(-r));
        }
        (void) fsync_dir(ldir);
        fault_point("update-symlink");
        return 0;
}

int update_commit_staged(UpdateContext *c, StagedSet *s, bool switch_links, char ***placed, GraftError *err) {
        for (size_t i = 0; i < s->n; i++) {
                Staged *x = &s->items[i];
                if (x->already || !x->tmp_name)
                        continue;
                _cleanup_free_ char *from = path_join(x->dir, x->tmp_name), *to = path_join(x->dir, x->final_name);
                if (!from || !to)
                        return -ENOMEM;
                if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot place %s: %m", to);
                x->tmp_name = (free(x->tmp_name), NULL);
                (void) fsync_dir(x->dir);
                fault_point("update-place");
                if (placed && strv_extend(placed, to) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; switch_links && i < s->n; i++)
                if (s->items[i].t->current_symlink) {
                        int r = update_symlink_set(c, s->items[i].t, s->items[i].final_name, err);
                        if (r < 0)
                                return r;
                }
        return 0;
}
