/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns reading an image's self-description: os-release, extension-release.NAME, unit files. */
#include <string.h>
#include <sys/stat.h>

#include "env-file.h"
#include "metadata.h"
#include "path-util.h"
#include "strv.h"

#define RELEASE_FILE_MAX (64 * 1024)

const char * const image_unit_dirs[] = {
        "/etc/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        NULL,
};

bool unit_name_is_portable_type(const char *name) {
        static const char * const suffixes[] = { ".service", ".socket", ".target", ".timer", ".path" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (endswith(name, suffixes[i]) && strlen(name) > strlen(suffixes[i]))
                        return true;
        return false;
}

void image_metadata_done(ImageMetadata *m) {
        if (!m)
                return;
        strv_free(m->os_release);
        free(m->os_release_path);
        strv_free(m->extension_release);
        free(m->extension_release_path);
        strv_free(m->units);
        *m = (ImageMetadata) {};
}

/* Reads the first of paths that exists. 0 and nothing set when none does. */
static int read_release(ImageFs *fs, const char * const *paths, char ***ret, char **ret_path, GraftError *err) {
        for (const char * const *p = paths; *p; p++) {
                _cleanup_free_ char *text = NULL;
                size_t size;
                int r = image_fs_read_file(fs, *p, RELEASE_FILE_MAX, &text, &size, err);
                if (r == -ENOENT)
                        continue;
                if (r == -EFBIG)
                        return graft_error_set(err, r, GRAFT_ERROR_BAD_IMAGE, "%s in the image is larger than %u bytes",
                                               *p, RELEASE_FILE_MAX);
                if (r < 0)
                        return r;
                r = env_file_parse(text, size, *p, ret, err);
                if (r < 0)
                        return r;
                *ret_path = strdup(*p);
                return *ret_path ? 1 : -ENOMEM;
        }
        return 0;
}

int image_read_release(ImageFs *fs, const char *path, char ***ret, GraftError *err) {
        const char *paths[] = { path, NULL };
        _cleanup_free_ char *found = NULL;
        char **l = NULL;
        int r = read_release(fs, paths, &l, &found, err);
        if (r > 0)
                *ret = l;
        return r;
}

static int list_units(ImageFs *fs, char ***ret, GraftError *err) {
        _cleanup_strv_free_ char **units = NULL;
        for (const char * const *d = image_unit_dirs; *d; d++) {
                SquashfsEntry *entries = NULL;
                size_t n = 0;
                int r = image_fs_list_dir(fs, *d, &entries, &n, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n && r >= 0; i++) {
                        /* A FIFO, socket or device by a unit's name is listed, so that reading it
                         * refuses it by name, rather than the unit going missing without a word. */
                        if (S_ISDIR(entries[i].mode))
                                continue;
                        if (!unit_name_is_portable_type(entries[i].name) || strv_contains(units, entries[i].name))
                                continue;
                        r = strv_extend(&units, entries[i].name);
                }
                squashfs_entries_free(entries, n);
                if (r < 0)
                        return r;
        }
        if (units)
                strv_sort(units);
        *ret = TAKE_PTR(units);
        return 0;
}

/* systemd's words for false, as its parse_boolean() takes them. */
static bool is_false(const char *v) {
        static const char * const no[] = { "0", "no", "n", "false", "f", "off" };
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0)
                        return true;
        return false;
}

/* Whether an extension-release.* file of the image may stand for another name: its author said
 * so with user.extension-release.strict=false (or --force, any_name, says so). */
static int may_stand_in(ImageFs *fs, const char *path, bool any_name, GraftError *err) {
        if (any_name)
                return 1;
        _cleanup_free_ char *v = NULL;
        int r = image_fs_get_xattr(fs, path, "user.extension-release.strict", &v, err);
        if (r == -ENODATA)
                return 0;
        return r < 0 ? r : is_false(v);
}

/* None of the names has a release file: the one file of extension-release.d that may stand in
 * (see may_stand_in()), as systemd's open_extension_release() picks it. 0 when there is none; more
 * than one is refused, as there is no telling which is meant. */
static int read_stand_in(ImageFs *fs, const char *name, bool any_name, ImageMetadata *m, GraftError *err) {
        static const char dir[] = "/usr/lib/extension-release.d";
        SquashfsEntry *e = NULL;
        size_t n = 0;
        int r = image_fs_list_dir(fs, dir, &e, &n, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **found = NULL;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!S_ISREG(e[i].mode) || !startswith(e[i].name, "extension-release.") ||
                    !filename_is_valid(e[i].name + strlen("extension-release.")))
                        continue;
                _cleanup_free_ char *p = path_join(dir, e[i].name);
                r = p ? may_stand_in(fs, p, any_name, err) : -ENOMEM;
                if (r > 0)
                        r = strv_extend(&found, p);
        }
        squashfs_entries_free(e, n);
        if (r < 0)
                return r;
        if (strv_length(found) > 1) {
                _cleanup_free_ char *list = strv_join(found, ", ");
                return graft_error_set(err, -ENOTUNIQ, GRAFT_ERROR_BAD_IMAGE,
                                       "no extension-release.%s, and more than one release file could stand for it "
                                       "(%s%s): refusing to guess", name, strempty(list),
                                       any_name ? "" : ", each marked user.extension-release.strict=false");
        }
        if (!found)
                return 0;
        const char *paths[] = { found[0], NULL };
        return read_release(fs, paths, &m->extension_release, &m->extension_release_path, err);
}

int image_metadata_read_full(ImageFs *fs, char * const *names, ImageReleaseFlags flags, ImageMetadata *ret,
                             GraftError *err) {
        _cleanup_(image_metadata_done) ImageMetadata m = {};
        static const char * const os_release_paths[] = { "/etc/os-release", "/usr/lib/os-release", NULL };

        int r = read_release(fs, os_release_paths, &m.os_release, &m.os_release_path, err);
        if (r < 0)
                return r;

        for (size_t i = 0; names && names[i] && !m.extension_release; i++) {
                if (!filename_is_valid(names[i]))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "\"%s\" is not a valid image name", names[i]);
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "/usr/lib/extension-release.d/extension-release.%s", names[i]) < 0)
                        return -ENOMEM;
                const char *paths[] = { p, NULL };
                r = read_release(fs, paths, &m.extension_release, &m.extension_release_path, err);
                if (r < 0)
                        return r;
        }
        if (names && names[0] && !m.extension_release) {
                r = read_stand_in(fs, names[0], flags & IMAGE_RELEASE_ANY_NAME, &m, err);
                if (r < 0)
                        return r;
        }

        r = list_units(fs, &m.units, err);
        if (r < 0)
                return r;

        *ret = m;
        m = (ImageMetadata) {};
        return 0;
}

int image_metadata_read(ImageFs *fs, const char *name, ImageMetadata *ret, GraftError *err) {
        char *names[] = { (char *) name, NULL };
        return image_metadata_read_full(fs, name ? names : NULL, 0, ret, err);
}
