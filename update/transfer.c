/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the meaning of each key of a transfer file (see transfer.h): parsing, specifier expansion,
 * the checks of the whole definition, and which image kind it updates. */
#include <limits.h>
#include <string.h>

#include "conf-parse.h"
#include "discover.h"
#include "file-trust.h"
#include "path-util.h"
#include "pattern.h"
#include "policy.h"
#include "strv.h"
#include "transfer.h"

static const char * const resource_type_names[_RESOURCE_TYPE_MAX] = {
        [RESOURCE_URL_FILE] = "url-file",   [RESOURCE_URL_TAR] = "url-tar",     [RESOURCE_TAR] = "tar",
        [RESOURCE_REGULAR_FILE] = "regular-file", [RESOURCE_DIRECTORY] = "directory",
        [RESOURCE_SUBVOLUME] = "subvolume", [RESOURCE_PARTITION] = "partition",
};

const char *resource_type_to_string(ResourceType t) {
        return t >= 0 && t < _RESOURCE_TYPE_MAX ? resource_type_names[t] : NULL;
}

ResourceType resource_type_from_string(const char *s) {
        for (int i = 0; i < _RESOURCE_TYPE_MAX; i++)
                if (streq(s, resource_type_names[i]))
                        return i;
        return _RESOURCE_TYPE_INVALID;
}

static const char * const update_kind_names[_UPDATE_KIND_MAX] = {
        [UPDATE_KIND_AUTO] = "auto",         [UPDATE_KIND_SYSEXT] = "sysext", [UPDATE_KIND_CONFEXT] = "confext",
        [UPDATE_KIND_PORTABLE] = "portable", [UPDATE_KIND_FILE] = "file",
};

const char *update_kind_to_string(UpdateKind k) {
        return k >= 0 && k < _UPDATE_KIND_MAX ? update_kind_names[k] : NULL;
}

UpdateKind update_kind_from_string(const char *s) {
        for (int i = 0; i < _UPDATE_KIND_MAX; i++)
                if (streq(s, update_kind_names[i]))
                        return i;
        return _UPDATE_KIND_INVALID;
}

Transfer *transfer_free(Transfer *t) {
        if (!t)
                return NULL;
        free(t->id);
        free(t->path);
        strv_free(t->dropins);
        strv_free(t->warnings);
        free(t->min_version);
        strv_free(t->protect_versions);
        free(t->source_path);
        strv_free(t->source_patterns);
        free(t->target_path);
        strv_free(t->target_patterns);
        free(t->current_symlink);
        free(t->tries_left);
        free(t->tries_done);
        free(t->image_name);
        strv_free(t->health_commands);
        strv_free(t->health_units);
        free(t->image_policy);
        free(t);
        return NULL;
}

typedef struct ParseState {
        Transfer *t;
        const SpecifierContext *spec;
        bool source_type_set, target_type_set;
} ParseState;

static int bad_value(const ConfAssignment *a, GraftError *err, const char *why) {
        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s:%u: %s=%s: %s", a->file, a->line,
                               a->key, a->value, why);
}

static int set_expanded(ParseState *s, const ConfAssignment *a, char **field, GraftError *err) {
        char *v = NULL;
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "%s:%u", a->file, a->line);
        int r = specifier_expand(s->spec, a->value, what, &v, err);
        if (r < 0)
                return r;
        free(*field);
        *field = isempty(v) ? (free(v), NULL) : v;
        return 0;
}

/* A list setting: words separated by whitespace, specifiers expanded; "" resets it. */
static int add_words(ParseState *s, const ConfAssignment *a, char ***list, GraftError *err) {
        if (isempty(a->value)) {
                *list = strv_free(*list);
                return 0;
        }
        _cleanup_free_ char *v = NULL;
        int r = set_expanded(s, a, &v, err);
        if (r < 0 || !v)
                return r;
        _cleanup_strv_free_ char **words = strv_split(v, " \t");
        if (!words)
                return -ENOMEM;
        STRV_FOREACH(w, words)
                if (strv_extend(list, *w) < 0)
                        return -ENOMEM;
        return 0;
}

static int add_warning(Transfer *t, const ConfAssignment *a, const char *why) {
        return strv_extendf(&t->warnings, "%s:%u: [%s] %s= %s", a->file, a->line, a->section, a->key, why);
}

static int parse_type(const ConfAssignment *a, ResourceType *ret, bool *set, GraftError *err) {
        ResourceType t = resource_type_from_string(a->value);
        if (t < 0)
                return bad_value(a, err, "not a resource type (url-file, regular-file, directory, …)");
        *ret = t;
        *set = true;
        return 0;
}

static int parse_unsigned(const ConfAssignment *a, unsigned min, unsigned *ret, GraftError *err) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(a->value, &end, 10);
        if (errno || end == a->value || *end || v < min || v > UINT_MAX || a->value[0] == '-')
                return bad_value(a, err, min > 0 ? "not a number this large" : "not a number");
        *ret = (unsigned) v;
        return 0;
}

static int parse_transfer_key(ParseState *s, const ConfAssignment *a, GraftError *err) {
        Transfer *t = s->t;
        if (streq(a->key, "MinVersion"))
                return set_expanded(s, a, &t->min_version, err);
        if (streq(a->key, "ProtectVersion"))
                return add_words(s, a, &t->protect_versions, err);
        if (streq(a->key, "Verify")) {
                int b = conf_parse_boolean(a->value);
                if (b < 0)
                        return bad_value(a, err, "not a boolean");
                t->verify = b;
                return 0;
        }
        if (streq(a->key, "ChangeLog") || streq(a->key, "AppStream"))
                return add_warning(t, a, "is not used by graft (shown nowhere), ignored");
        if (streq(a->key, "Features") || streq(a->key, "RequisiteFeatures"))
                return add_warning(t, a, "is not supported by graft (no sysupdate.features), ignored: the transfer is always used");
        return add_warning(t, a, "is unknown, ignored");
}

static int parse_source_key(ParseState *s, const ConfAssignment *a, GraftError *err) {
        Transfer *t = s->t;
        if (streq(a->key, "Type"))
                return parse_type(a, &t->source_type, &s->source_type_set, err);
        if (streq(a->key, "Path"))
                return set_expanded(s, a, &t->source_path, err);
        if (streq(a->key, "MatchPattern"))
                return add_words(s, a, &t->source_patterns, err);
        if (streq(a->key, "PathRelativeTo"))
                return streq(a->value, "root") ? 0 : add_warning(t, a, "is not supported by graft (only \"root\"), ignored");
        return add_warning(t, a, "is unknown, ignored");
}

static int parse_target_key(ParseState *s, const ConfAssignment *a, GraftError *err) {
        Transfer *t = s->t;
        if (streq(a->key, "Type"))
                return parse_type(a, &t->target_type, &s->target_type_set, err);
        if (streq(a->key, "Path"))
                return set_expanded(s, a, &t->target_path, err);
        if (streq(a->key, "MatchPattern"))
                return add_words(s, a, &t->target_patterns, err);
        if (streq(a->key, "CurrentSymlink"))
                return set_expanded(s, a, &t->current_symlink, err);
        if (streq(a->key, "InstancesMax"))
                return parse_unsigned(a, 2, &t->instances_max, err);
        if (streq(a->key, "Mode")) {
                char *end;
                unsigned long m = strtoul(a->value, &end, 8);
                if (end == a->value || *end || m > 07777)
                        return bad_value(a, err, "not an octal file mode");
                t->mode = (mode_t) m;
                return 0;
        }
        if (streq(a->key, "ReadOnly") || streq(a->key, "RemoveTemporary")) {
                int b = conf_parse_boolean(a->value);
                if (b < 0)
                        return bad_value(a, err, "not a boolean");
                if (streq(a->key, "ReadOnly"))
                        t->read_only = b;
                else
                        t->remove_temporary = b;
                return 0;
        }
        if (streq(a->key, "TriesLeft") || streq(a->key, "TriesDone")) {
                unsigned n;
                int r = parse_unsigned(a, 0, &n, err);
                if (r < 0)
                        return r;
                return set_expanded(s, a, streq(a->key, "TriesLeft") ? &t->tries_left : &t->tries_done, err);
        }
        if (streq(a->key, "PathRelativeTo"))
                return streq(a->value, "root") ? 0 : add_warning(t, a, "is not supported by graft (only \"root\"), ignored");
        if (streq(a->key, "MatchPartitionType") || startswith(a->key, "Partition"))
                return add_warning(t, a, "is not supported by graft (no partition targets), ignored");
        return add_warning(t, a, "is unknown, ignored");
}

static int parse_graft_key(ParseState *s, const ConfAssignment *a, GraftError *err) {
        Transfer *t = s->t;
        if (streq(a->key, "Kind")) {
                UpdateKind k = update_kind_from_string(a->value);
                if (k < 0)
                        return bad_value(a, err, "not one of auto, sysext, confext, portable, file");
                t->kind = k;
                return 0;
        }
        if (streq(a->key, "HealthCheck")) {
                if (isempty(a->value)) {
                        t->health_commands = strv_free(t->health_commands);
                        return 0;
                }
                return strv_extend(&t->health_commands, a->value);
        }
        if (streq(a->key, "HealthUnits")) {
                t->health_units_set = true;
                return add_words(s, a, &t->health_units, err);
        }
        if (streq(a->key, "HealthGraceSec") || streq(a->key, "HealthTimeoutSec")) {
                char *end;
                double sec = strtod(a->value, &end);
                if (end == a->value || *end || sec < 0 || sec > 86400)
                        return bad_value(a, err, "not a number of seconds (0 … 86400)");
                if (streq(a->key, "HealthTimeoutSec") && sec == 0)
                        return bad_value(a, err, "a check command needs some time (more than 0 s)");
                *(streq(a->key, "HealthGraceSec") ? &t->health_grace_usec : &t->health_timeout_usec) = (uint64_t) (sec * 1e6);
                return 0;
        }
        if (streq(a->key, "ImagePolicy")) {
                ImagePolicy p;
                GraftError e = GRAFT_ERROR_INIT;
                int r = image_policy_parse(a->value, &p, &e);
                if (r < 0) {
                        r = bad_value(a, err, e.message ?: "not an image policy");
                        graft_error_done(&e);
                        return r;
                }
                return set_expanded(s, a, &t->image_policy, err);
        }
        return add_warning(t, a, "is unknown, ignored");
}

static int on_assignment(const ConfAssignment *a, void *userdata, GraftError *err) {
        ParseState *s = userdata;
        if (streq(a->section, "Transfer"))
                return parse_transfer_key(s, a, err);
        if (streq(a->section, "Source"))
                return parse_source_key(s, a, err);
        if (streq(a->section, "Target"))
                return parse_target_key(s, a, err);
        if (streq(a->section, "X-Graft"))
                return parse_graft_key(s, a, err);
        if (startswith(a->section, "X-")) /* other programs' extensions, as systemd allows */
                return 0;
        return add_warning(s->t, a, "is in an unknown section, ignored");
}

/* Which kind an image is, from where it lands: the directory it is placed in, or the one its
 * CurrentSymlink= is in, and the directory above (for NAME.v/). */
static UpdateKind kind_from_path(const char *p) {
        static const ImageClass classes[] = { IMAGE_CLASS_SYSEXT, IMAGE_CLASS_CONFEXT, IMAGE_CLASS_PORTABLE };
        static const UpdateKind kinds[] = { UPDATE_KIND_SYSEXT, UPDATE_KIND_CONFEXT, UPDATE_KIND_PORTABLE };
        _cleanup_free_ char *dir = strdup(p);
        if (!dir)
                return UPDATE_KIND_FILE;
        for (int up = 0; up < 2; up++) {
                for (size_t c = 0; c < ELEMENTSOF(classes); c++)
                        for (const char * const *d = image_class_search_dirs(classes[c]); *d; d++)
                                if (streq(dir, *d))
                                        return kinds[c];
                char *slash = strrchr(dir, '/');
                if (!slash || slash == dir)
                        break;
                *slash = '\0';
        }
        return UPDATE_KIND_FILE;
}

static int unsupported(const Transfer *t, GraftError *err, const char *section, const char *what) {
        return graft_error_set(err, -EOPNOTSUPP, GRAFT_ERROR_UNSUPPORTED,
                               "%s: [%s] %s is not supported by graft (it places image files: url-file or regular-file sources, regular-file targets)",
                               t->path, section, what);
}

static int missing(const Transfer *t, GraftError *err, const char *section, const char *key) {
        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s: [%s] %s= is missing", t->path, section,
                               key);
}

static int check_patterns(const Transfer *t, char * const *patterns, const char *section, GraftError *err) {
        if (!patterns)
                return missing(t, err, section, "MatchPattern");
        STRV_FOREACH(p, patterns) {
                int r = pattern_validate(*p, err);
                if (r < 0)
                        return graft_error_prefix(err, r, "%s: [%s]", t->path, section);
        }
        return 0;
}

static bool path_is_normalized_absolute(const char *p) {
        return p && p[0] == '/' && (p[1] == '\0' || path_is_safe_relative(p + 1));
}

static int check_source(Transfer *t, GraftError *err) {
        if (t->source_type != RESOURCE_URL_FILE && t->source_type != RESOURCE_REGULAR_FILE) {
                char what[64];
                snprintf(what, sizeof what, "Type=%s", resource_type_to_string(t->source_type));
                return unsupported(t, err, "Source", what);
        }
        if (!t->source_path)
                return missing(t, err, "Source", "Path");
        if (t->source_type == RESOURCE_URL_FILE) {
                if (!startswith(t->source_path, "http://") && !startswith(t->source_path, "https://"))
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s: [Source] Path=%s: Type=url-file takes an http:// or https:// URL",
                                               t->path, t->source_path);
                size_t n = strlen(t->source_path);
                while (n > 0 && t->source_path[n - 1] == '/')
                        t->source_path[--n] = '\0';
        } else if (t->source_path[0] != '/')
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: [Source] Path=%s is not an absolute path", t->path, t->source_path);
        return check_patterns(t, t->source_patterns, "Source", err);
}

/* The name the image goes by: the CurrentSymlink's (foo.raw: foo) or the NAME.v/ directory's;
 * NULL when every version is an image of its own name (foo_1.raw, foo_2.raw side by side). */
static int image_name_of(Transfer *t) {
        _cleanup_free_ char *base = path_basename(t->current_symlink ?: t->target_path);
        if (!base)
                return -ENOMEM;
        const char *suffix = t->current_symlink ? ".raw" : endswith(base, ".raw.v") ? ".raw.v" : ".v";
        if (!t->current_symlink && !endswith(base, suffix))
                return 0;
        t->image_name = strdup_strip_suffix(base, suffix);
        return t->image_name ? 0 : -ENOMEM;
}

static int check_target(Transfer *t, GraftError *err) {
        if (t->target_type != RESOURCE_REGULAR_FILE) {
                char what[64];
                snprintf(what, sizeof what, "Type=%s", resource_type_to_string(t->target_type));
                return unsupported(t, err, "Target", what);
        }
        if (!t->target_path)
                return missing(t, err, "Target", "Path");
        if (!path_is_normalized_absolute(t->target_path))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: [Target] Path=%s is not a normalized absolute path", t->path, t->target_path);
        int r = check_patterns(t, t->target_patterns, "Target", err);
        if (r < 0)
                return r;
        if (t->current_symlink && t->current_symlink[0] != '/') {
                char *p = path_join(t->target_path, t->current_symlink);
                if (!p)
                        return -ENOMEM;
                free(t->current_symlink);
                t->current_symlink = p;
        }
        if (t->current_symlink && !path_is_normalized_absolute(t->current_symlink))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: [Target] CurrentSymlink=%s is not a normalized path", t->path,
                                       t->current_symlink);
        return 0;
}

static int transfer_check(Transfer *t, GraftError *err) {
        int r = check_source(t, err);
        if (r < 0)
                return r;
        r = check_target(t, err);
        if (r < 0)
                return r;
        if (t->kind == UPDATE_KIND_AUTO)
                t->kind = kind_from_path(t->current_symlink ?: t->target_path);
        r = image_name_of(t);
        if (r < 0)
                return r;
        /* Versions side by side in a search directory would all be merged at once. */
        if (!t->image_name && (t->kind == UPDATE_KIND_SYSEXT || t->kind == UPDATE_KIND_CONFEXT))
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                       "%s: [Target] Path=%s: the versions of an extension must live in a NAME.v/ directory or be chosen by CurrentSymlink=, else they would all be merged side by side",
                                       t->path, t->target_path);
        return 0;
}

/* A transfer file says what graft fetches, where it puts it and which commands it runs as root to
 * check its health: whoever could change one (or a drop-in) would have root's hands, so it is read
 * only when nobody but root can change it or its directories. */
static int transfer_parse_file(const char *path, ParseState *s, GraftError *err) {
        int r = path_check_trusted(path, "transfer file", err);
        if (r < 0)
                return r;
        return conf_parse_file(path, on_assignment, s, err);
}

int transfer_load(const char *root, const SpecifierContext *spec, const char *path, char * const *dropins,
                  Transfer **ret, GraftError *err) {
        _cleanup_(transfer_freep) Transfer *t = calloc(1, sizeof(Transfer));
        if (!t)
                return -ENOMEM;
        *t = (Transfer) {
                .verify = true, .instances_max = 2, .mode = 0644, .read_only = -1, .remove_temporary = true,
                .health_grace_usec = HEALTH_GRACE_USEC_DEFAULT, .health_timeout_usec = HEALTH_TIMEOUT_USEC_DEFAULT,
        };
        _cleanup_free_ char *base = path_basename(path);
        if (!base || !(t->path = strdup(path)))
                return -ENOMEM;
        t->id = strdup_strip_suffix(base, endswith(base, ".transfer") ? ".transfer" : ".conf");
        if (!t->id)
                return -ENOMEM;

        ParseState s = { .t = t, .spec = spec };
        int r = transfer_parse_file(path, &s, err);
        if (r < 0)
                return r;
        STRV_FOREACH(d, dropins) {
                r = transfer_parse_file(*d, &s, err);
                if (r < 0)
                        return r;
                if (strv_extend(&t->dropins, *d) < 0)
                        return -ENOMEM;
        }
        if (!s.source_type_set || !s.target_type_set)
                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT, "%s: [%s] Type= is missing", path,
                                       s.source_type_set ? "Target" : "Source");
        r = transfer_check(t, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}
