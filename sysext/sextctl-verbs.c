/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what sextctl's verbs print: tables and JSON from the library's result structs, one line
 * per refused image, and the exit code (EXIT_PARTIAL when some image was skipped). */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "devmode.h"
#include "log.h"
#include "path-util.h"
#include "sextctl.h"
#include "strv.h"
#include "table.h"

static char *format_usec(uint64_t usec) {
        if (usec == 0)
                return NULL;
        time_t t = (time_t) (usec / 1000000u);
        struct tm tm;
        char buf[64];
        if (!localtime_r(&t, &tm) || strftime(buf, sizeof buf, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return NULL;
        return strdup(buf);
}

static int fail(const GraftError *e, int r, const char *what) {
        log_graft_error(e, r, "%s failed", what);
        return graft_error_exit_code(e, r);
}

static char *display_path(const SysextHierarchy *h) {
        return h->resolved ? strdup(h->resolved) : path_prefix_root(arg_options.root, h->path);
}

/* "vendor", "developer (CN=…)", "none": which trust root admitted a merged extension, by the
 * record merge keeps (devmode.h); NULL when it says nothing of it (merged by systemd-sysext). */
static char *trust_of(char * const *record, const char *name) {
        const char *signer = NULL, *t = developer_admission_find(record, name, &signer);
        char *s = NULL;
        if (t && asprintf(&s, "%s%s%s%s", t, isempty(signer) ? "" : " (", strempty(signer), isempty(signer) ? "" : ")") < 0)
                return NULL;
        return s;
}

static char **trust_record(void) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        char **record = NULL;
        const char *root = isempty(arg_options.root) || streq(arg_options.root, "/") ? NULL : arg_options.root;
        /* Unprivileged callers may not read graft's state directory: then the column stays empty. */
        if (developer_admissions_read(root, arg_options.class, &record, &e) < 0 && e.error != -EACCES)
                log_graft_error(&e, -EIO, "cannot tell which trust root admitted the merged extensions");
        return record;
}

static int print_status_json(const SysextStatus *s) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        _cleanup_strv_free_ char **record = trust_record();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_hierarchies; i++) {
                const SysextHierarchy *h = &s->hierarchies[i];
                struct json_object *o = json_object_new_object(), *ext = json_object_new_array();
                _cleanup_free_ char *p = display_path(h);
                if (!o || !ext || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(ext);
                        return -ENOMEM;
                }
                struct json_object *trust = json_object_new_object();
                STRV_FOREACH(n, h->extensions) {
                        _cleanup_free_ char *t = trust_of(record, *n);
                        json_object_array_add(ext, json_object_new_string(*n));
                        json_add_string(trust, *n, t);
                }
                if (json_add_string(o, "hierarchy", p) < 0 || json_add(o, "extensions", ext) < 0 ||
                    json_add(o, "trust", trust) < 0 ||
                    json_add(o, "since", h->merged ? json_object_new_uint64(h->since_usec) : NULL) < 0)
                        return -ENOMEM;
        }
        json_print(a, arg_json, stdout);
        return 0;
}

int verb_status(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(sysext_status_done) SysextStatus s = {};
        int r = (arg_bus ? sextctl_bus_status : sysext_status)(&arg_options, &s, &e);
        if (r < 0)
                return fail(&e, r, "status");
        if (arg_json != JSON_OFF)
                return print_status_json(&s) < 0 ? log_oom(), EXIT_FAILED : EXIT_OK;

        _cleanup_(table_freep) Table *t = table_new("HIERARCHY", "EXTENSIONS", "SINCE", "TRUST", NULL);
        _cleanup_strv_free_ char **record = trust_record();
        if (!t)
                return log_oom(), EXIT_FAILED;
        for (size_t i = 0; i < s.n_hierarchies; i++) {
                const SysextHierarchy *h = &s.hierarchies[i];
                _cleanup_free_ char *p = display_path(h), *since = format_usec(h->since_usec);
                if (!h->merged || !h->extensions || !h->extensions[0]) {
                        r = table_add_rowv(t, p, "none", NULL, NULL);
                        continue;
                }
                STRV_FOREACH(n, h->extensions) { /* one line per extension, as systemd-sysext prints it */
                        _cleanup_free_ char *trust = trust_of(record, *n);
                        r = table_add_rowv(t, n == h->extensions ? p : "", *n, n == h->extensions ? since : "", trust);
                }
        }
        if (r < 0)
                return log_oom(), EXIT_FAILED;
        table_print(t, stdout, arg_legend);
        return EXIT_OK;
}

static const char *type_string(mode_t type) {
        return type == S_IFDIR ? "directory" : type == S_IFBLK ? "block" : "raw";
}

static void log_discovery_skipped(char * const *skipped) {
        STRV_FOREACH(s, skipped)
                log_error("skipped: %s", *s);
}

int verb_list(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(sysext_listing_done) SysextListing l = {};
        const char *root = isempty(arg_options.root) || streq(arg_options.root, "/") ? NULL : arg_options.root;
        int r = (arg_bus ? sextctl_bus_list : sysext_list)(&arg_options, &l, &e);
        if (r < 0)
                return fail(&e, r, "list");
        const Discovery *d = &l.discovery;
        log_discovery_skipped(d->skipped);

        _cleanup_(table_freep) Table *t = table_new("NAME", "VERSION", "TYPE", "PATH", "TIME", NULL);
        if (!t)
                return log_oom(), EXIT_FAILED;
        for (size_t i = 0; i < d->n_images; i++) {
                const DiscoveredImage *img = &d->images[i];
                _cleanup_free_ char *time = format_usec(l.mtime_usec[i] / 1000000u * 1000000u);
                /* Shown as found (a symlink's own name), below the root like every other path. */
                _cleanup_free_ char *shown = root && !startswith(img->found_as, root) ? path_prefix_root(root, img->found_as)
                                                                                      : strdup(img->found_as);
                if (!shown || table_add_rowv(t, img->name, img->version, type_string(img->type), shown, time) < 0)
                        return log_oom(), EXIT_FAILED;
        }
        if (arg_json != JSON_OFF) {
                _cleanup_json_ struct json_object *a = table_to_json(t);
                if (!a)
                        return log_oom(), EXIT_FAILED;
                json_print(a, arg_json, stdout);
        } else if (table_rows(t) == 0 && !arg_quiet)
                log_info("No extension images found.");
        else
                table_print(t, stdout, arg_legend);
        return d->skipped ? EXIT_PARTIAL : EXIT_OK;
}

static struct json_object *image_json(const SysextImage *img) {
        struct json_object *o = json_object_new_object(), *content = json_object_new_array();
        if (!o || !content) {
                json_object_put(o);
                json_object_put(content);
                return NULL;
        }
        STRV_FOREACH(h, img->content)
                json_object_array_add(content, json_object_new_string(*h));
        static const char * const offers[] = { "absent", "unprotected", "verity", "signed" };
        if (json_add_string(o, "name", img->name) < 0 || json_add_string(o, "version", img->version) < 0 ||
            json_add_string(o, "type", type_string(img->type)) < 0 || json_add_string(o, "path", img->path) < 0 ||
            json_add_string(o, "state", img->skipped ? "skipped" : "merged") < 0 ||
            json_add_string(o, "reason", img->skipped ? img->error.message : NULL) < 0 ||
            json_add_string(o, "protection", img->skipped ? NULL : offers[img->offer]) < 0 ||
            json_add_string(o, "rootHash", img->root_hash) < 0 || json_add_string(o, "signer", img->signer) < 0 ||
            json_add_string(o, "mountedVia", img->mounted_via) < 0 ||
            json_add(o, "content", content) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int print_result_json(const SysextResult *res) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *images = json_object_new_array(), *hier = json_object_new_array(), *skipped = json_object_new_array();
        if (!o || json_add(o, "images", images) < 0 || json_add(o, "hierarchies", hier) < 0 ||
            json_add(o, "skippedEntries", skipped) < 0)
                return -ENOMEM;
        for (size_t i = 0; res->plan && i < res->plan->n_images; i++) {
                struct json_object *j = image_json(&res->plan->images[i]);
                if (!j || json_object_array_add(images, j) < 0)
                        return json_object_put(j), -ENOMEM;
        }
        STRV_FOREACH(s, res->plan ? res->plan->discovery_skipped : NULL)
                json_object_array_add(skipped, json_object_new_string(*s));
        struct json_object *passed = json_object_new_array();
        if (!passed || json_add(o, "passedOver", passed) < 0 || json_add(o, "dryRun", json_object_new_boolean(res->dry_run)) < 0)
                return -ENOMEM;
        STRV_FOREACH(s, res->plan ? res->plan->passed_over : NULL)
                json_object_array_add(passed, json_object_new_string(*s));
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                const SysextHierarchyResult *h = &res->hierarchies[i];
                struct json_object *j = json_object_new_object(), *ext = json_object_new_array();
                if (!j || !ext || json_object_array_add(hier, j) < 0)
                        return json_object_put(j), json_object_put(ext), -ENOMEM;
                STRV_FOREACH(n, h->extensions)
                        json_object_array_add(ext, json_object_new_string(*n));
                _cleanup_free_ char *p = h->resolved ? strdup(h->resolved) : path_prefix_root(arg_options.root, h->path);
                if (json_add_string(j, "hierarchy", p) < 0 ||
                    json_add_string(j, "action", sysext_action_to_string(h->action)) < 0 ||
                    json_add(j, "extensions", ext) < 0 || json_add_uint64(j, "gapUSec", h->gap_usec) < 0)
                        return -ENOMEM;
        }
        if (json_add_string(o, "reload", sysext_reload_to_string(res->reload)) < 0 ||
            json_add_string(o, "reloadError", res->reload_error) < 0)
                return -ENOMEM;
        json_print(o, arg_json, stdout);
        return 0;
}

static const char *dry_action(SysextAction a) {
        switch (a) {
        case SYSEXT_ACTION_MERGED:
                return "would be merged";
        case SYSEXT_ACTION_REPLACED:
                return "would have its merge replaced";
        case SYSEXT_ACTION_UNMERGED:
                return "would be unmerged (no extension has content for it)";
        case SYSEXT_ACTION_KEPT:
                return "is merged with these extensions already: would be left as it is";
        default:
                return "would stay as it is";
        }
}

/* The answer to "what would be merged, in which order, and why not the others". */
static void print_dry_run(const SysextResult *res) {
        const SysextPlan *p = res->plan;
        size_t k = 0;
        printf("Would merge, lowest layer first:\n");
        for (size_t i = 0; p && i < p->n_images; i++) {
                const SysextImage *img = &p->images[i];
                if (img->skipped)
                        continue;
                _cleanup_free_ char *content = img->content ? strv_join(img->content, ", ") : NULL;
                printf("  %zu. %s%s%s (%s) into %s\n", ++k, img->name, img->version ? " " : "", strempty(img->version),
                       img->found_as, content ?: "nothing (release file only)");
        }
        if (k == 0)
                printf("  nothing\n");
        bool header = false;
        for (size_t i = 0; p && i < p->n_images; i++)
                if (p->images[i].skipped) {
                        if (!header)
                                printf("Not merged:\n");
                        header = true;
                        printf("  %s (%s): refused: %s\n", p->images[i].name, p->images[i].found_as,
                               strna(p->images[i].error.message));
                }
        STRV_FOREACH(s, p ? p->discovery_skipped : NULL) {
                if (!header)
                        printf("Not merged:\n");
                header = true;
                printf("  %s\n", *s);
        }
        STRV_FOREACH(s, p ? p->passed_over : NULL) {
                if (!header)
                        printf("Not merged:\n");
                header = true;
                printf("  %s\n", *s);
        }
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                const SysextHierarchyResult *h = &res->hierarchies[i];
                _cleanup_free_ char *shown = h->resolved ? strdup(h->resolved) : path_prefix_root(arg_options.root, h->path);
                printf("'%s' %s.\n", strna(shown), dry_action(h->action));
        }
}

static void log_result(const SysextResult *res) {
        if (res->dry_run) {
                print_dry_run(res);
                return;
        }
        if (res->plan) {
                _cleanup_strv_free_ char **used = NULL;
                for (size_t i = 0; i < res->plan->n_images; i++)
                        if (!res->plan->images[i].skipped)
                                (void) strv_extendf(&used, "'%s'", res->plan->images[i].name);
                _cleanup_free_ char *list = used ? strv_join(used, ", ") : NULL;
                if (list)
                        log_info("Using extensions %s.", list);
                else
                        log_info("No extensions to merge.");
                for (size_t i = 0; arg_verbose && i < res->plan->n_images; i++)
                        if (res->plan->images[i].mounted_via)
                                log_info("Extension '%s': %s.", res->plan->images[i].name,
                                         res->plan->images[i].mounted_via);
        }
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                const SysextHierarchyResult *h = &res->hierarchies[i];
                switch (h->action) {
                case SYSEXT_ACTION_MERGED:
                        log_info("Merged extensions into '%s'.", h->resolved);
                        break;
                case SYSEXT_ACTION_REPLACED:
                        log_info("Refreshed '%s' (new merge mounted beneath the old one: no gap).", h->resolved);
                        break;
                case SYSEXT_ACTION_SWAPPED:
                        log_info("Refreshed '%s' (kernel without MOVE_MOUNT_BENEATH: %" PRIu64 " µs without extensions).",
                                 h->resolved, h->gap_usec);
                        break;
                case SYSEXT_ACTION_UNMERGED:
                        log_info("Unmerged '%s'.", h->resolved);
                        break;
                case SYSEXT_ACTION_KEPT:
                        log_info("'%s' is merged with these extensions already (same images, same root hashes): "
                                 "left as it is.", h->resolved);
                        break;
                default:
                        break;
                }
        }
        if (res->measure_note)
                log_warning("%s", res->measure_note);
        if (res->reload == SYSEXT_RELOAD_DONE)
                log_info("Asked systemd to reload, as an extension requests.");
        else if (res->reload == SYSEXT_RELOAD_FAILED)
                log_warning("an extension asks for a reload of systemd, but %s", strna(res->reload_error));
        else if (res->reload == SYSEXT_RELOAD_SKIPPED)
                log_debug("an extension asks for a reload of systemd; not with --root");
}

static int run(int (*op)(const SysextOptions *, SysextResult *, GraftError *), const char *what) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(sysext_result_done) SysextResult res = {};
        int r = op(&arg_options, &res, &e);
        if (r < 0)
                return fail(&e, r, what);
        if (res.recovery)
                log_warning("recovered first: %s", res.recovery);

        if (res.plan && !res.dry_run) {
                log_discovery_skipped(res.plan->discovery_skipped);
                for (size_t i = 0; i < res.plan->n_images; i++)
                        if (res.plan->images[i].skipped)
                                log_error("skipped: %s", strna(res.plan->images[i].error.message));
        }
        if (arg_json != JSON_OFF) {
                if (print_result_json(&res) < 0)
                        return log_oom(), EXIT_FAILED;
        } else
                log_result(&res);
        return sysext_plan_n_skipped(res.plan) > 0 ? EXIT_PARTIAL : EXIT_OK;
}

int verb_merge(int argc, char **argv, void *userdata) {
        arg_options.only = argc > 1 ? argv + 1 : NULL;
        return run(arg_bus ? sextctl_bus_merge : sysext_merge, "merge");
}

int verb_refresh(int argc, char **argv, void *userdata) {
        arg_options.only = argc > 1 ? argv + 1 : NULL;
        return run(arg_bus ? sextctl_bus_refresh : sysext_refresh, "refresh");
}

int verb_unmerge(int argc, char **argv, void *userdata) {
        if (arg_options.dry_run)
                return log_error("--dry-run is for merge and refresh"), EXIT_USAGE;
        return run(arg_bus ? sextctl_bus_unmerge : sysext_unmerge, "unmerge");
}

static int set_enabled(char **names, bool enable) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_strv_free_ char **changed = NULL;
        int r = (arg_bus ? sextctl_bus_set_enabled : sysext_set_enabled)(&arg_options, names, enable, &changed, &e);
        if (r < 0)
                return fail(&e, r, enable ? "enable" : "disable");
        STRV_FOREACH(n, names)
                log_info("%s %s%s.", *n, strv_contains(changed, *n) ? "" : "was already ", enable ? "enabled" : "disabled");
        if (changed)
                log_info("Takes effect at the next merge or refresh.");
        return EXIT_OK;
}

int verb_enable(int argc, char **argv, void *userdata) {
        return set_enabled(argv + 1, true);
}

int verb_disable(int argc, char **argv, void *userdata) {
        return set_enabled(argv + 1, false);
}
