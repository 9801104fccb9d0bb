/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what attach learns from an image before it writes anything: the image found and verified,
 * its extensions matched against it, and the unit files selected by prefix (see portable-image.h). */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "discover.h"
#include "escape.h"
#include "file-trust.h"
#include "fileio.h"
#include "metadata.h"
#include "path-util.h"
#include "portable-image.h"
#include "portable-util.h"
#include "release-match.h"
#include "strv.h"

#define UNIT_FILE_MAX (1024 * 1024)

PortableImage *portable_image_free(PortableImage *i) {
        if (!i)
                return NULL;
        free(i->name);
        free(i->version);
        free(i->path);
        free(i->given);
        free(i->root_hash);
        free(i->signer);
        strv_free(i->release);
        free(i->release_path);
        image_fs_free(i->fs);
        dissected_image_free(i->dissected);
        free(i->open_path);
        free(i);
        return NULL;
}

void portable_image_set_done(PortableImageSet *s) {
        if (!s)
                return;
        portable_image_free(s->image);
        for (size_t i = 0; i < s->n_extensions; i++)
                portable_image_free(s->extensions[i]);
        free(s->extensions);
        for (size_t i = 0; i < s->n_units; i++) {
                free(s->units[i].name);
                free(s->units[i].image_path);
                free(s->units[i].content);
        }
        free(s->units);
        strv_free(s->prefixes);
        *s = (PortableImageSet) {};
}

static bool in_search_dir(const char *path) {
        for (const char * const *d = image_class_search_dirs(IMAGE_CLASS_PORTABLE); *d; d++) {
                size_t n = strlen(*d);
                if (strncmp(path, *d, n) != 0 || path[n] != '/')
                        continue;
                /* Directly in it, or a version inside a NAME.v/ directory in it. */
                const char *rest = path + n + 1, *slash = strchr(rest, '/');
                if (!slash)
                        return true;
                size_t m = (size_t) (slash - rest);
                if (m > 2 && strncmp(slash - 2, ".v", 2) == 0 && !strchr(slash + 1, '/'))
                        return true;
        }
        return false;
}

/* Where the image lies as seen inside the root, and whether it needs a link in /etc/portables. */
static int locate(const char *root, const DiscoveredImage *d, const char *name_or_path, PortableImage *img,
                  GraftError *err) {
        img->open_path = strdup(d->path);
        img->path = path_strip_root(root, d->path);
        if (!img->open_path)
                return -ENOMEM;
        if (!img->path)
                return graft_error_set(err, -EXDEV, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s lies outside the root directory %s: with --root, images must be inside it",
                                       name_or_path, root);
        img->by_path = strchr(name_or_path, '/');
        if (d->found_as) {
                /* Names come back as search directory entries inside the root; paths as given. */
                img->given = img->by_path ? path_strip_root(root, d->found_as) : strdup(d->found_as);
                if (img->by_path && !img->given && d->found_as[0] != '/') {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);
                        _cleanup_free_ char *abs = cwd ? path_join(cwd, d->found_as) : NULL;
                        img->given = abs ? path_strip_root(root, abs) : NULL;
                }
        }
        img->in_search_dir = !img->by_path || in_search_dir(img->path) ||
                             (img->given && in_search_dir(img->given));
        return 0;
}

static int verify(const char *root, PortableImage *img, const PortableOptions *o, GraftError *err) {
        const ImagePolicy *policy = o->image_policy;
        ImagePolicy fallback;
        if (!policy) {
                int r = image_policy_default(root, &fallback, err);
                if (r < 0)
                        return r;
                policy = &fallback;
        }
        ImageVerifyOptions vo = {
                .root = root,
                .policy = policy,
                .untrusted_signature_ok = true, /* then verity-only; the policy decides */
                .cache = o->verify_cache,
        };
        _cleanup_(image_verification_done) ImageVerification v = {};
        int r = image_verify(img->dissected, &vo, &v, err);
        if (r < 0)
                return r;
        img->root_hash = TAKE_PTR(v.root_hash_hex);
        img->signer = TAKE_PTR(v.signer);
        return 0;
}

int portable_image_load(const char *root, const char *name_or_path, bool extension, const PortableOptions *o,
                        PortableImage **ret, GraftError *err) {
        _cleanup_(discovered_image_done) DiscoveredImage d = {};
        int r = image_find(root, IMAGE_CLASS_PORTABLE, _ARCHITECTURE_INVALID, name_or_path, &d, err);
        if (r < 0)
                return r;

        _cleanup_(portable_image_freep) PortableImage *img = calloc(1, sizeof(*img));
        if (!img)
                return -ENOMEM;
        img->name = strdup(d.name);
        if (!img->name)
                return -ENOMEM;
        r = locate(root, &d, name_or_path, img, err);
        if (r < 0)
                return r;

        /* systemd opens the image again by this path whenever the unit starts (RootImage=,
         * ExtensionImages=): nobody but root may be able to put another file there. */
        r = path_check_trusted(d.path, extension ? "extension" : "image", err);
        if (r < 0)
                return r;
        r = dissect_image(d.path, NULL, &img->dissected, err);
        if (r < 0)
                return r;
        img->directory = img->dissected->kind == IMAGE_KIND_DIRECTORY;
        if (d.version || img->dissected->version) {
                img->version = strdup(d.version ?: img->dissected->version);
                if (!img->version)
                        return -ENOMEM;
        }
        r = verify(root, img, o, err);
        if (r < 0)
                return r;

        r = image_fs_open(img->dissected, &img->fs, err);
        if (r < 0)
                return r;
        _cleanup_(image_metadata_done) ImageMetadata m = {};
        /* An extension's release file is named after it, or after it without its version
         * (app0_1.0.raw: extension-release.app0_1.0, then extension-release.app0), as systemd
         * strips the version from the name it looks for. */
        _cleanup_free_ char *family = portable_name_family(img->name);
        char *names[] = { img->name, family && !streq(family, img->name) ? family : NULL, NULL };
        if (!family)
                return -ENOMEM;
        r = image_metadata_read_full(img->fs, extension ? names : NULL, o->force ? IMAGE_RELEASE_ANY_NAME : 0, &m, err);
        if (r < 0)
                return graft_error_prefix(err, r, "%s", img->path);
        if (extension) {
                img->release = TAKE_PTR(m.extension_release);
                img->release_path = TAKE_PTR(m.extension_release_path);
                if (!img->release)
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                                               "extension %s has no /usr/lib/extension-release.d/extension-release.%s%s%s%s, "
                                               "and no release file marked user.extension-release.strict=false%s",
                                               img->path, img->name, names[1] ? " (nor extension-release." : "",
                                               strempty(names[1]), names[1] ? ")" : "",
                                               o->force ? " nor any other" : "; --force takes the only one it has, whatever its name");
        } else {
                img->release = TAKE_PTR(m.os_release);
                img->release_path = TAKE_PTR(m.os_release_path);
                if (!img->release)
                        return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                                               "image %s has no os-release (neither /etc/os-release nor /usr/lib/os-release)",
                                               img->path);
                if (isempty(strv_env_get(img->release, "ID")))
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                               "image %s: %s has no ID=, which a portable service image must have",
                                               img->path, img->release_path);
        }
        *ret = TAKE_PTR(img);
        return 0;
}

/* The unit files of one image: name → path inside the image, the first unit directory winning. */
static int list_units(PortableImage *img, size_t provider, PortableUnit **units, size_t *n_units, GraftError *err) {
        for (const char * const *dir = image_unit_dirs; *dir; dir++) {
                SquashfsEntry *e = NULL;
                size_t n = 0;
                int r = image_fs_list_dir(img->fs, *dir, &e, &n, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return graft_error_prefix(err, r, "%s", img->path);
                for (size_t i = 0; i < n && r >= 0; i++) {
                        /* A FIFO, socket or device by a unit's name is taken, for read_unit() to refuse
                         * by name: leaving the unit out would attach the image without it. */
                        if (!unit_name_is_portable_type(e[i].name) || S_ISDIR(e[i].mode))
                                continue;
                        if (S_ISLNK(e[i].mode) && e[i].link_target && streq(e[i].link_target, "/dev/null"))
                                continue; /* masked inside the image */
                        if (!portable_unit_name_is_valid(e[i].name)) {
                                _cleanup_free_ char *esc = escape_string(e[i].name);
                                r = graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                                    "image %s: %s/%s is not a valid unit name", img->path, *dir,
                                                    strna(esc));
                                break;
                        }
                        /* An extension's unit replaces the image's (or an earlier extension's). */
                        size_t k = 0;
                        while (k < *n_units && !streq((*units)[k].name, e[i].name))
                                k++;
                        if (k < *n_units && (*units)[k].provider == provider)
                                continue; /* an earlier directory of the same image won */
                        if (k == *n_units) {
                                PortableUnit *g = reallocarray(*units, *n_units + 1, sizeof(**units));
                                if (!g) {
                                        r = -ENOMEM;
                                        break;
                                }
                                *units = g;
                                g[k] = (PortableUnit) { .name = strdup(e[i].name) };
                                (*n_units)++;
                                if (!g[k].name)
                                        r = -ENOMEM;
                        }
                        free((*units)[k].image_path);
                        (*units)[k].image_path = path_join(*dir, e[i].name);
                        (*units)[k].provider = provider;
                        if (!(*units)[k].image_path)
                                r = -ENOMEM;
                }
                squashfs_entries_free(e, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

static PortableImage *provider_image(const PortableImageSet *s, size_t provider) {
        return provider == 0 ? s->image : s->extensions[provider - 1];
}

/* PORTABLE_PREFIXES of the image and its extensions; NULL when none says anything. */
static int allowed_prefixes(const PortableImageSet *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        bool any = false;
        for (size_t i = 0; i <= s->n_extensions; i++) {
                const char *v = strv_env_get(provider_image(s, i)->release, "PORTABLE_PREFIXES");
                if (!v)
                        continue;
                any = true;
                _cleanup_strv_free_ char **words = strv_split(v, " \t\n");
                STRV_FOREACH(w, words)
                        if (!strv_contains(l, *w) && strv_extend(&l, *w) < 0)
                                return -ENOMEM;
        }
        *ret = any ? TAKE_PTR(l) : NULL;
        if (any && !*ret) /* PORTABLE_PREFIXES= (empty): nothing is allowed */
                *ret = calloc(1, sizeof(char *));
        return any && !*ret ? -ENOMEM : 0;
}

static int choose_prefixes(PortableImageSet *s, char * const *requested, GraftError *err) {
        _cleanup_strv_free_ char **allowed = NULL, **chosen = NULL;
        int r = allowed_prefixes(s, &allowed);
        if (r < 0)
                return r;
        if (!strv_length(requested)) {
                if (allowed)
                        chosen = strv_copy(allowed);
                else {
                        char *f = portable_name_family(s->image->name);
                        if (!f || strv_consume(&chosen, f) < 0)
                                return -ENOMEM;
                }
                if (!chosen)
                        return -ENOMEM;
        } else
                STRV_FOREACH(p, requested) {
                        if (!portable_prefix_is_valid(*p)) {
                                _cleanup_free_ char *e = escape_string(*p);
                                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "\"%s\" is not a valid unit name prefix (image %s)", strna(e),
                                                       s->image->path);
                        }
                        if (strv_extend(&chosen, *p) < 0)
                                return -ENOMEM;
                }

        STRV_FOREACH(p, allowed ? chosen : NULL) {
                bool ok = false;
                STRV_FOREACH(a, allowed)
                        ok = ok || portable_unit_matches_prefix(*p, *a);
                if (!ok) {
                        _cleanup_free_ char *list = strv_join(allowed, ", ");
                        return graft_error_set(err, -EPERM, GRAFT_ERROR_POLICY,
                                               "prefix \"%s\" is not allowed by image %s: its PORTABLE_PREFIXES= allows %s",
                                               *p, s->image->path, isempty(list) ? "none" : list);
                }
        }
        s->prefixes = TAKE_PTR(chosen);
        return 0;
}

static int check_extensions(PortableImageSet *s, GraftError *err) {
        const char *arch = architecture_to_string(architecture_native());
        for (size_t i = 0; i < s->n_extensions; i++) {
                PortableImage *e = s->extensions[i];
                int r = extension_release_check(EXTENSION_SYSEXT, e->name, e->release, s->image->release, "portable",
                                                arch, err);
                if (r < 0)
                        return graft_error_prefix(err, r, "extension %s for image %s", e->path, s->image->path);
        }
        return 0;
}

static int read_unit(PortableImageSet *s, PortableUnit *u, GraftError *err) {
        PortableImage *img = provider_image(s, u->provider);
        int r = image_fs_read_file(img->fs, u->image_path, UNIT_FILE_MAX, &u->content, &u->size, err);
        if (r == -ENOENT)
                return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE,
                                       "unit %s in image %s is a symlink to nothing inside the image (%s)", u->name,
                                       img->path, u->image_path);
        if (r == -EFBIG)
                return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE, "unit %s in image %s is larger than %d bytes",
                                       u->name, img->path, UNIT_FILE_MAX);
        if (r < 0) {
                (void) graft_error_prefix(err, r, "unit %s in image %s", u->name, img->path);
                return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE, "cannot read unit %s in image %s: %s", u->name,
                                       img->path, strerror(-r));
        }
        if (memchr(u->content, 0, u->size))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_IMAGE,
                                       "unit %s in image %s is not a text file", u->name, img->path);
        return 0;
}

static int select_units(PortableImageSet *s, GraftError *err) {
        PortableUnit *all = NULL;
        size_t n_all = 0, n = 0;
        int r = 0;
        for (size_t i = 0; i <= s->n_extensions && r >= 0; i++)
                r = list_units(provider_image(s, i), i, &all, &n_all, err);
        for (size_t i = 0; i < n_all; i++) {
                bool match = false;
                STRV_FOREACH(p, s->prefixes)
                        match = match || portable_unit_matches_prefix(all[i].name, *p);
                if (r >= 0 && match) {
                        all[n++] = all[i];
                        continue;
                }
                free(all[i].name);
                free(all[i].image_path);
        }
        s->units = all;
        s->n_units = n;
        if (r < 0)
                return r;
        if (n == 0) {
                _cleanup_free_ char *p = strv_join(s->prefixes, "', '");
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_MISSING_FILE,
                                       "no unit in image %s%s matches the prefix '%s'", s->image->path,
                                       s->n_extensions ? " or its extensions" : "", strempty(p));
        }
        for (size_t i = 0; i < n; i++) {
                r = read_unit(s, &s->units[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_unit(const void *a, const void *b) {
        return strcmp(((const PortableUnit *) a)->name, ((const PortableUnit *) b)->name);
}

int portable_image_set_load(const char *root, const PortableOptions *o, const char *image, char * const *prefixes,
                            PortableImageSet *ret, GraftError *err) {
        _cleanup_(portable_image_set_done) PortableImageSet s = {};
        char * const *extensions = o->extensions;
        ImagePolicy fallback;
        PortableOptions with = *o;
        if (!with.image_policy) { /* once, not per image */
                int r = image_policy_default(root, &fallback, err);
                if (r < 0)
                        return r;
                with.image_policy = &fallback;
        }
        int r = portable_image_load(root, image, false, &with, &s.image, err);
        if (r < 0)
                return r;
        size_t n = strv_length(extensions);
        if (n > 0) {
                s.extensions = calloc(n, sizeof(PortableImage *));
                if (!s.extensions)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = portable_image_load(root, extensions[i], true, &with, &s.extensions[i], err);
                if (r < 0)
                        return r;
                s.n_extensions++;
        }
        r = check_extensions(&s, err);
        if (r < 0)
                return r;
        r = choose_prefixes(&s, prefixes, err);
        if (r < 0)
                return r;
        r = select_units(&s, err);
        if (r < 0)
                return r;
        qsort(s.units, s.n_units, sizeof(*s.units), cmp_unit);
        *ret = s;
        s = (PortableImageSet) {};
        return 0;
}

int portable_unit_link_source(const char *root, const PortableImageSet *s, const PortableUnit *u, char **ret,
                              GraftError *err) {
        PortableImage *img = provider_image(s, u->provider);
        if (!img->directory)
                return graft_error_set(err, -EMEDIUMTYPE, GRAFT_ERROR_UNSUPPORTED,
                                       "--copy=symlink needs a directory image, but unit %s comes from %s, a %s image",
                                       u->name, img->path, image_kind_to_string(img->dissected->kind));
        /* Resolve inside the image, so the link can never lead to a host file the image names. */
        _cleanup_close_ int fd = open_in_root(img->dissected->fd, u->image_path, O_PATH, 0);
        if (fd < 0)
                return graft_error_set(err, fd, GRAFT_ERROR_BAD_IMAGE, "cannot open unit %s in image %s: %s", u->name,
                                       img->path, strerror(-fd));
        /* systemd would read what the link leads to: only ever a regular file. */
        struct stat st;
        if (fstat(fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat unit %s in image %s: %m",
                                       u->name, img->path);
        int r = stat_check_type(&st, 0, u->image_path, GRAFT_ERROR_BAD_IMAGE, err);
        if (r < 0)
                return graft_error_prefix(err, r, "unit %s in image %s", u->name, img->path);
        char proc[64], buf[PATH_MAX];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc, buf, sizeof buf - 1);
        if (n < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot resolve unit %s in image %s: %m",
                                       u->name, img->path);
        buf[n] = 0;
        /* systemd reads the unit through the link whenever it loads it: nobody but root may be able
         * to change the file, or a directory on its way, in the meantime. */
        r = path_check_trusted(buf, "unit", err);
        if (r < 0)
                return r;
        char *p = path_strip_root(root, buf);
        if (!p)
                return -ENOMEM;
        if (!startswith(p, img->path) || p[strlen(img->path)] != '/') {
                free(p);
                return graft_error_set(err, -EXDEV, GRAFT_ERROR_BAD_IMAGE, "unit %s in image %s resolves outside the image",
                                       u->name, img->path);
        }
        *ret = p;
        return 0;
}
