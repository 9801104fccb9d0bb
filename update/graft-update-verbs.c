/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what graft-update's verbs print: tables and JSON from the engine's structs, warnings for
 * keys of the transfer files that graft does not act on, one line per version passed over. */
#include <string.h>
#include <time.h>

#include "graft-update.h"
#include "log.h"
#include "progress.h"
#include "strv.h"
#include "table.h"
#include "transfer.h"

static int fail(const GraftError *e, int r, const char *what) {
        log_graft_error(e, r, "%s failed", what);
        return graft_error_exit_code(e, r);
}

static void on_note(void *userdata, const char *line) {
        log_info("%s", line);
}

/* The engine for a component (NULL: sysupdate.d), with the warnings of the transfer files said once. */
static int load_component(const char *component, bool offline, UpdateContext **ret, Progress **progress) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        UpdateOptions o = arg_options;
        o.component = component;
        o.on_note = on_note;
        if (progress && (*progress = progress_new("download"))) {
                o.fetch.progress = progress_report;
                o.fetch.progress_userdata = *progress;
        }
        int r = update_context_new(&o, offline, ret, &e);
        if (r < 0)
                return fail(&e, r, "reading the transfers");
        STRV_FOREACH(w, (*ret)->warnings)
                log_warning("%s", *w);
        return 0;
}

static int load(bool offline, UpdateContext **ret, Progress **progress) {
        return load_component(arg_options.component, offline, ret, progress);
}

static char *flags_to_string(VersionFlags f) {
        _cleanup_strv_free_ char **l = update_version_flags_to_strv(f);
        return l ? strv_join(l, ",") : strdup("-");
}

static int print_table(Table *t) {
        if (arg_json != JSON_OFF) {
                _cleanup_json_ struct json_object *j = table_to_json(t);
                if (!j)
                        return log_oom(), EXIT_FAILED;
                json_print(j, arg_json, stdout);
                return EXIT_OK;
        }
        return table_print(t, stdout, arg_legend) < 0 ? EXIT_FAILED : EXIT_OK;
}

static int list_version(const UpdateContext *c, const char *version) {
        const UpdateVersion *v = update_context_find(c, version);
        if (!v)
                return log_error("version %s is neither available nor installed", version), EXIT_MISSING;
        _cleanup_(table_freep) Table *t = table_new("TRANSFER", "KIND", "SOURCE", "TARGET", "SHA256", NULL);
        if (!t)
                return log_oom(), EXIT_FAILED;
        for (size_t i = 0; i < c->set.n; i++) {
                const Instance *s = resource_find(&c->sources[i], version), *d = resource_find(&c->targets[i], version);
                const Transfer *tr = c->set.transfers[i];
                if (table_add_rowv(t, tr->id, update_kind_to_string(tr->kind), s ? s->location : NULL,
                                   d ? d->location : NULL, s && s->sha256 ? s->sha256 : NULL) < 0)
                        return log_oom(), EXIT_FAILED;
        }
        if (v->bad)
                log_warning("%s is marked bad: %s", version, v->bad->reason);
        return print_table(t);
}

int verb_list(int argc, char **argv, void *userdata) {
        _cleanup_(update_context_freep) UpdateContext *c = NULL;
        int r = load(false, &c, NULL);
        if (r != 0)
                return r;
        if (argc > 1)
                return list_version(c, argv[1]);
        _cleanup_(table_freep) Table *t = table_new("VERSION", "STATE", "NOTE", NULL);
        if (!t)
                return log_oom(), EXIT_FAILED;
        for (size_t i = 0; i < c->n_versions; i++) {
                const UpdateVersion *v = &c->versions[i];
                _cleanup_free_ char *f = flags_to_string(v->flags);
                if (!f || table_add_rowv(t, v->version, f, v->bad ? v->bad->reason : NULL) < 0)
                        return log_oom(), EXIT_FAILED;
        }
        return print_table(t);
}

int verb_check_new(int argc, char **argv, void *userdata) {
        _cleanup_(update_context_freep) UpdateContext *c = NULL;
        int r = load(false, &c, NULL);
        if (r != 0)
                return r;
        const UpdateVersion *v = update_context_newest_candidate(c);
        if (arg_json != JSON_OFF) {
                _cleanup_json_ struct json_object *j = json_object_new_object();
                if (!j || json_add_string(j, "current", c->current) < 0 ||
                    json_add_string(j, "available", v ? v->version : NULL) < 0)
                        return log_oom(), EXIT_FAILED;
                json_print(j, arg_json, stdout);
        } else if (v)
                printf("%s\n", v->version);
        else if (!arg_quiet)
                log_info("no newer version than %s", c->current ?: "(none installed)");
        return EXIT_OK;
}

static struct json_object *json_strv(char * const *l) {
        struct json_object *a = json_object_new_array();
        STRV_FOREACH(s, a ? l : NULL)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

static struct json_object *update_to_json(const char *component, const UpdateResult *res) {
        _cleanup_json_ struct json_object *j = json_object_new_object();
        struct json_object *p = json_strv(res->passed_over), *pl = json_strv(res->placed), *rm = json_strv(res->removed);
        if (!j || !p || !pl || !rm) {
                json_object_put(p), json_object_put(pl), json_object_put(rm);
                return NULL;
        }
        if (json_add_string(j, "component", component) < 0 || json_add_string(j, "version", res->version) < 0 ||
            json_add_string(j, "previous", res->previous) < 0 ||
            json_add_bool(j, "changed", !res->already_current && !res->older) < 0 ||
            json_add_bool(j, "switched", res->switched) < 0 || json_add_string(j, "resolved", res->resolved) < 0 ||
            json_add(j, "passedOver", p) < 0 || json_add(j, "placed", pl) < 0 || json_add(j, "removed", rm) < 0 ||
            json_add_uint64(j, "bytesFetched", res->bytes_fetched) < 0)
                return NULL;
        return TAKE_PTR(j);
}

static void print_update(const char *component, const UpdateResult *res) {
        if (arg_quiet)
                return;
        const char *prefix = component ?: "", *colon = component ? ": " : "";
        if (res->resolved)
                printf("%s%sFinished an interrupted update: %s\n", prefix, colon, res->resolved);
        if (res->already_current)
                printf("%s%sUp to date: %s\n", prefix, colon, res->previous ?: "nothing installed, nothing available");
        else if (res->older)
                printf("%s%sPlaced %s; %s stays in use (it is newer)\n", prefix, colon, res->version, res->previous);
        else
                printf("%s%sUpdated to %s (was %s)\n", prefix, colon, res->version, res->previous ?: "none");
}

/* Updates one component; a JSON result goes to json (an array) when asked for. */
static int update_one(const char *component, const char *version, bool all, struct json_object *json) {
        _cleanup_(progress_freep) Progress *progress = NULL;
        _cleanup_(update_context_freep) UpdateContext *c = NULL;
        int r = load_component(component, false, &c, &progress);
        if (r != 0)
                return r;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(update_result_done) UpdateResult res = {};
        r = update_place(c, version, &res, &e);
        progress = progress_free(progress);
        if (r < 0) {
                if (all)
                        graft_error_prefix(&e, r, "component %s", component ?: "default");
                return fail(&e, r, "update");
        }
        if (json) {
                struct json_object *j = update_to_json(component, &res);
                if (!j)
                        return log_oom(), EXIT_FAILED;
                json_object_array_add(json, j);
        } else
                print_update(all ? component ?: "default" : NULL, &res);
        return EXIT_OK;
}

/* --all-components: sysupdate.d (when it has transfer files) and every sysupdate.NAME.d. */
static int all_components(char ***ret) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_strv_free_ char **l = NULL, **dirs = NULL;
        TransferSet s = {};
        int r = transfer_set_load(arg_options.root, NULL, NULL, &s, &e);
        if (r >= 0) {
                transfer_set_done(&s);
                if (strv_extend(&l, "") < 0)
                        return log_oom(), EXIT_FAILED;
        } else if (r != -ENOENT)
                return fail(&e, r, "reading sysupdate.d");
        graft_error_done(&e);
        r = transfer_components(arg_options.root, &dirs, &e);
        if (r < 0)
                return fail(&e, r, "components");
        STRV_FOREACH(d, dirs)
                if (strv_extend(&l, *d) < 0)
                        return log_oom(), EXIT_FAILED;
        *ret = TAKE_PTR(l);
        return 0;
}

int verb_update(int argc, char **argv, void *userdata) {
        _cleanup_json_ struct json_object *json = arg_json != JSON_OFF ? json_object_new_array() : NULL;
        if (arg_json != JSON_OFF && !json)
                return log_oom(), EXIT_FAILED;
        const char *version = argc > 1 ? argv[1] : NULL;
        int r;
        if (!arg_all_components)
                r = update_one(arg_options.component, version, false, json);
        else {
                if (version)
                        return log_error("update --all-components takes no version"), EXIT_USAGE;
                _cleanup_strv_free_ char **l = NULL;
                r = all_components(&l);
                if (r != 0)
                        return r;
                /* Each component is its own update: a failing one does not stop the others. */
                STRV_FOREACH(comp, l) {
                        int q = update_one(isempty(*comp) ? NULL : *comp, NULL, true, json);
                        if (r == EXIT_OK)
                                r = q;
                }
        }
        if (json && (arg_all_components || r == EXIT_OK)) {
                struct json_object *out = arg_all_components ? json : json_object_array_get_idx(json, 0);
                if (out)
                        json_print(out, arg_json, stdout);
        }
        return r;
}

int verb_resolve(int argc, char **argv, void *userdata) {
        _cleanup_strv_free_ char **l = NULL;
        if (arg_all_components) {
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                int r = pending_update_components(arg_options.root, &l, &e);
                if (r < 0)
                        return fail(&e, r, "resolve");
        } else if (strv_extend(&l, arg_options.component ?: "default") < 0)
                return log_oom(), EXIT_FAILED;
        int ret = EXIT_OK;
        size_t done = 0;
        STRV_FOREACH(comp, l) {
                const char *component = streq(*comp, "default") ? NULL : *comp;
                _cleanup_(update_context_freep) UpdateContext *c = NULL;
                int r = load_component(component, true, &c, NULL);
                if (r != 0) {
                        ret = ret ?: r;
                        continue;
                }
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                _cleanup_free_ char *what = NULL;
                r = update_resolve(c, &what, &e);
                if (r < 0) {
                        ret = ret ?: fail(&e, r, "resolve");
                        continue;
                }
                if (r > 0 && !arg_quiet)
                        printf("%s: %s\n", *comp, what);
                done += r > 0;
        }
        if (done == 0 && ret == EXIT_OK && !arg_quiet)
                log_info("no update was left unfinished");
        return ret;
}

int verb_vacuum(int argc, char **argv, void *userdata) {
        _cleanup_(update_context_freep) UpdateContext *c = NULL;
        int r = load(true, &c, NULL);
        if (r != 0)
                return r;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(update_result_done) UpdateResult res = {};
        r = update_vacuum(c, arg_instances_max, &res, &e);
        if (r < 0)
                return fail(&e, r, "vacuum");
        if (arg_json != JSON_OFF) {
                _cleanup_json_ struct json_object *j = json_object_new_array();
                STRV_FOREACH(s, res.removed)
                        json_object_array_add(j, json_object_new_string(*s));
                json_print(j, arg_json, stdout);
        } else if (!arg_quiet)
                printf("Removed %zu file(s).\n", strv_length(res.removed));
        return EXIT_OK;
}

int verb_check(int argc, char **argv, void *userdata) {
        if (!arg_os_release)
                return log_error("check needs --os-release=FILE: the os-release of the host to be"), EXIT_USAGE;
        _cleanup_(update_context_freep) UpdateContext *c = NULL;
        int r = load(false, &c, NULL);
        if (r != 0)
                return r;
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        CompatEntry *l = NULL;
        size_t n = 0;
        r = update_check_os_release(c, arg_os_release, &l, &n, &e);
        if (r < 0)
                return fail(&e, r, "check");
        _cleanup_(table_freep) Table *t = table_new("TRANSFER", "VERSION", "WHERE", "FITS", "REASON", NULL);
        size_t misfits = 0;
        for (size_t i = 0; t && i < n; i++) {
                misfits += !l[i].fits;
                if (table_add_rowv(t, l[i].transfer, l[i].version, l[i].installed ? "installed" : "available",
                                   yes_no(l[i].fits), l[i].reason) < 0)
                        break;
        }
        compat_entries_free(l, n);
        if (!t)
                return log_oom(), EXIT_FAILED;
        r = print_table(t);
        return r != EXIT_OK ? r : misfits > 0 ? EXIT_INCOMPATIBLE : EXIT_OK;
}

int verb_components(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_strv_free_ char **l = NULL;
        int r = transfer_components(arg_options.root, &l, &e);
        if (r < 0)
                return fail(&e, r, "components");
        _cleanup_(table_freep) Table *t = table_new("COMPONENT", NULL);
        STRV_FOREACH(s, l)
                if (!t || table_add_rowv(t, *s) < 0)
                        return log_oom(), EXIT_FAILED;
        return t ? print_table(t) : EXIT_FAILED;
}

int verb_mark(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        bool clear = streq(argv[0], "unmark");
        int r = clear ? bad_mark_clear(arg_options.root, arg_options.component, argv[1], &e)
                      : bad_mark_add(arg_options.root, arg_options.component, argv[1],
                                     argc > 2 ? argv[2] : "marked bad by hand", &e);
        if (r < 0)
                return fail(&e, r, argv[0]);
        if (!arg_quiet)
                printf(clear ? "%s may be picked again.\n" : "%s will not be picked.\n", argv[1]);
        return EXIT_OK;
}
