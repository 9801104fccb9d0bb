/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs of pctl: each calls one library operation and prints its result (text in the words
 * portablectl uses, or JSON). */
#include <string.h>

#include "devmode.h"
#include "log.h"
#include "path-util.h"
#include "pctl.h"
#include "strv.h"
#include "table.h"

static int fail(const GraftError *e, int r, const char *what) {
        log_graft_error(e, r, "%s", what);
        return graft_error_exit_code(e, r);
}

static void print_change(const PortableChange *c) {
        switch (c->type) {
        case PORTABLE_CHANGE_COPY:
                printf("Copied %s → %s.\n", strna(c->source), c->path);
                break;
        case PORTABLE_CHANGE_WRITE:
                printf("Written %s.\n", c->path);
                break;
        case PORTABLE_CHANGE_SYMLINK:
                printf("Created symlink %s → %s.\n", c->path, strna(c->source));
                break;
        case PORTABLE_CHANGE_MKDIR:
                printf("Created directory %s.\n", c->path);
                break;
        case PORTABLE_CHANGE_UNLINK:
                printf("Removed %s.\n", c->path);
                break;
        default:
                break;
        }
}

static struct json_object *strv_to_json(char * const *l) {
        struct json_object *a = json_object_new_array();
        STRV_FOREACH(s, a ? l : NULL)
                if (json_object_array_add(a, json_object_new_string(*s)) < 0)
                        return json_object_put(a), NULL;
        return a;
}

static struct json_object *changes_to_json(const PortableChanges *c) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < c->n; i++) {
                struct json_object *o = json_object_new_object();
                if (!o || json_add_string(o, "type", portable_change_type_to_string(c->items[i].type)) < 0 ||
                    json_add_string(o, "path", c->items[i].path) < 0 ||
                    json_add_string(o, "source", c->items[i].source) < 0 || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        return json_object_put(a), NULL;
                }
        }
        return a;
}

static int print_result(const PortableResult *res) {
        if (res->measure_note)
                log_warning("%s", res->measure_note);
        if (arg_json) {
                _cleanup_json_ struct json_object *o = json_object_new_object();
                if (!o || json_add_string(o, "image", res->image) < 0 ||
                    json_add(o, "units", strv_to_json(res->units)) < 0 ||
                    json_add(o, "changes", changes_to_json(&res->changes)) < 0 ||
                    json_add(o, "started", strv_to_json(res->started)) < 0 ||
                    json_add(o, "stopped", strv_to_json(res->stopped)) < 0 ||
                    json_add(o, "restarted", strv_to_json(res->restarted)) < 0 ||
                    json_add_bool(o, "reloaded", res->reloaded) < 0)
                        return log_oom(), EXIT_FAILED;
                json_print(o, arg_json, stdout);
                return EXIT_OK;
        }
        if (arg_quiet)
                return EXIT_OK;
        for (size_t i = 0; i < res->changes.n; i++)
                print_change(&res->changes.items[i]);
        if (res->reloaded)
                printf("Reloaded systemd.\n");
        STRV_FOREACH(u, res->stopped)
                printf("Stopped %s.\n", *u);
        STRV_FOREACH(u, res->restarted)
                printf("Restarted %s.\n", *u);
        STRV_FOREACH(u, res->started)
                printf("Started %s.\n", *u);
        return EXIT_OK;
}

/* attach, reattach and detach: IMAGE [PREFIX…]. */
typedef int (*AttachFn)(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                        GraftError *err);

static int run_attach(AttachFn fn, int argc, char **argv, const char *what) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_result_done) PortableResult res = {};
        int r = fn(&arg_options, argv[1], argc > 2 ? argv + 2 : NULL, &res, &e);
        if (r < 0)
                return fail(&e, r, what);
        return print_result(&res);
}

int verb_attach(int argc, char **argv, void *userdata) {
        return run_attach(arg_bus ? pctl_bus_attach : portable_attach, argc, argv, "cannot attach the image");
}

int verb_reattach(int argc, char **argv, void *userdata) {
        return run_attach(arg_bus ? pctl_bus_reattach : portable_reattach, argc, argv, "cannot reattach the image");
}

int verb_detach(int argc, char **argv, void *userdata) {
        return run_attach(arg_bus ? pctl_bus_detach : portable_detach, argc, argv, "cannot detach the image");
}

int verb_is_attached(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        PortableState s;
        int r = (arg_bus ? pctl_bus_is_attached : portable_is_attached)(&arg_options, argv[1], &s, &e);
        if (r < 0)
                return fail(&e, r, "cannot tell whether the image is attached");
        if (arg_json) {
                _cleanup_json_ struct json_object *o = json_object_new_object();
                if (!o || json_add_string(o, "image", argv[1]) < 0 ||
                    json_add_string(o, "state", portable_state_to_string(s)) < 0)
                        return log_oom(), EXIT_FAILED;
                json_print(o, arg_json, stdout);
        } else if (!arg_quiet)
                printf("%s\n", portable_state_to_string(s));
        return s == PORTABLE_DETACHED ? EXIT_FAILED : EXIT_OK;
}

static struct json_object *info_to_json(const PortableImageInfo *i) {
        struct json_object *o = json_object_new_object();
        if (!o || json_add_string(o, "name", i->name) < 0 || json_add_string(o, "path", i->path) < 0 ||
            json_add_string(o, "version", i->version) < 0 || json_add_string(o, "rootHash", i->root_hash) < 0 ||
            json_add_string(o, "state", portable_state_to_string(i->state)) < 0 ||
            json_add(o, "units", strv_to_json(i->units)) < 0)
                return json_object_put(o), NULL;
        return o;
}

int verb_list(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        PortableImageInfo *l = NULL;
        size_t n = 0;
        int r = (arg_bus ? pctl_bus_list : portable_list)(&arg_options, &l, &n, &e);
        if (r < 0)
                return fail(&e, r, "cannot list the images");
        r = EXIT_OK;
        if (arg_json) {
                _cleanup_json_ struct json_object *a = json_object_new_array();
                for (size_t i = 0; a && i < n; i++) {
                        struct json_object *o = info_to_json(&l[i]);
                        if (json_object_array_add(a, o) < 0 ||
                            json_add_string(o, "trust", l[i].trust) < 0)
                                r = EXIT_FAILED;
                }
                if (a)
                        json_print(a, arg_json, stdout);
        } else {
                _cleanup_(table_freep) Table *t = table_new("NAME", "VERSION", "STATE", "UNITS", "ROOT-HASH", "PATH", "TRUST",
                                                            NULL);
                for (size_t i = 0; t && i < n; i++) {
                        _cleanup_free_ char *units = strv_join(l[i].units, " ");
                        char hash[13] = "";
                        if (l[i].root_hash)
                                snprintf(hash, sizeof hash, "%s", l[i].root_hash);
                        if (table_add_rowv(t, l[i].name, l[i].version, portable_state_to_string(l[i].state),
                                           isempty(units) ? NULL : units, l[i].root_hash ? hash : NULL, l[i].path,
                                           l[i].trust) < 0)
                                r = EXIT_FAILED;
                }
                if (t && table_rows(t) > 0)
                        table_print(t, stdout, arg_legend);
                else if (!arg_quiet)
                        printf("No images.\n");
        }
        portable_image_infos_free(l, n);
        return r;
}

/* [{KEYS[0]: name, KEYS[1]: source, KEYS[2]: content}…] */
static struct json_object *triples_to_json(const PortableInspectUnit *l, size_t n, const char * const keys[3]) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < n; i++) {
                struct json_object *u = json_object_new_object();
                if (!u || json_add_string(u, keys[0], l[i].name) < 0 || json_add_string(u, keys[1], l[i].source) < 0 ||
                    json_add_string(u, keys[2], l[i].content) < 0 || json_object_array_add(a, u) < 0)
                        json_object_put(u);
        }
        return a;
}

static int inspect_json(const PortableInspection *in) {
        static const char * const unit_keys[3] = { "name", "source", "content" };
        static const char * const release_keys[3] = { "extension", "path", "content" };
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *os = json_object_new_object();
        struct json_object *units = triples_to_json(in->units, in->n_units, unit_keys);
        struct json_object *releases = triples_to_json(in->extension_releases, in->n_extension_releases, release_keys);
        if (!o || !os || !units || !releases) {
                json_object_put(os);
                json_object_put(units);
                json_object_put(releases);
                return log_oom(), EXIT_FAILED;
        }
        STRV_FOREACH_PAIR(k, v, in->os_release)
                json_add_string(os, *k, *v);
        if (json_add_string(o, "image", in->image) < 0 || json_add_string(o, "name", in->name) < 0 ||
            json_add_string(o, "version", in->version) < 0 || json_add_string(o, "kind", in->kind) < 0 ||
            json_add_string(o, "rootHash", in->root_hash) < 0 || json_add_string(o, "signer", in->signer) < 0 ||
            json_add_string(o, "state", portable_state_to_string(in->state)) < 0 ||
            json_add_string(o, "osReleasePath", in->os_release_path) < 0 || json_add(o, "osRelease", os) < 0 ||
            json_add_string(o, "osReleaseText", in->os_release_text) < 0 ||
            json_add(o, "extensionReleases", releases) < 0 ||
            json_add(o, "extensions", strv_to_json(in->extensions)) < 0 ||
            json_add(o, "prefixes", strv_to_json(in->prefixes)) < 0 || json_add(o, "units", units) < 0 ||
            json_add(o, "plan", changes_to_json(&in->plan)) < 0)
                return log_oom(), EXIT_FAILED;
        json_print(o, arg_json, stdout);
        return EXIT_OK;
}

/* "# Extension Release: /srv/app0.raw (/usr/lib/extension-release.d/extension-release.app0)" and the
 * text. */
static void print_file(const char *what, const char *path, const char *of, const char *text) {
        printf("\n# %s: %s%s%s%s\n%s", what, of, path ? " (" : "", strempty(path), path ? ")" : "", strempty(text));
        if (!isempty(text) && !endswith(text, "\n"))
                putchar('\n');
}

static void inspect_text(const PortableInspection *in) {
        printf("      Image: %s (%s)\n", in->image, in->kind);
        printf("       Name: %s\n", in->name);
        printf("    Version: %s\n", strna(in->version));
        printf("  Root hash: %s\n", in->root_hash ? in->root_hash : "none (no verity)");
        printf("  Signed by: %s\n", in->signer ? in->signer : "nobody trusted");
        printf("      State: %s\n", portable_state_to_string(in->state));
        for (size_t i = 0; i < in->n_extension_releases; i++)
                printf("  Extension: %s (%s)\n", in->extension_releases[i].name, in->extension_releases[i].source);
        _cleanup_free_ char *prefixes = strv_join(in->prefixes, " ");
        printf("   Prefixes: %s\n", strempty(prefixes));
        printf("\nos-release (%s):\n", strna(in->os_release_path));
        STRV_FOREACH_PAIR(k, v, in->os_release)
                printf("    %s=%s\n", *k, *v);
        /* --cat: the files as they are, as portablectl's. */
        if (arg_cat) {
                print_file("os-release", in->os_release_path, in->image, in->os_release_text);
                for (size_t i = 0; i < in->n_extension_releases; i++)
                        print_file("Extension Release", in->extension_releases[i].source, in->extension_releases[i].name,
                                   in->extension_releases[i].content);
        }
        printf("\nUnit files:\n");
        for (size_t i = 0; i < in->n_units; i++)
                if (arg_cat)
                        print_file(in->units[i].name, NULL, in->units[i].source, in->units[i].content);
                else
                        printf("    %s (from %s)\n", in->units[i].name, in->units[i].source);
        if (in->plan.n > 0) {
                printf("\nattach would:\n");
                for (size_t i = 0; i < in->plan.n; i++) {
                        const PortableChange *c = &in->plan.items[i];
                        printf("    %-7s %s%s%s\n", portable_change_type_to_string(c->type), c->path,
                               c->source ? " ← " : "", strempty(c->source));
                }
        }
}

int verb_inspect(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        _cleanup_(portable_inspection_done) PortableInspection in = {};
        int r = (arg_bus ? pctl_bus_inspect : portable_inspect)(&arg_options, argv[1], argc > 2 ? argv + 2 : NULL, &in, &e);
        if (r < 0)
                return fail(&e, r, "cannot inspect the image");
        if (arg_json)
                return inspect_json(&in);
        inspect_text(&in);
        return EXIT_OK;
}

int verb_remove(int argc, char **argv, void *userdata) {
        for (int i = 1; i < argc; i++) {
                _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
                int r = (arg_bus ? pctl_bus_remove : portable_remove)(&arg_options, argv[i], &e);
                if (r < 0)
                        return fail(&e, r, "cannot remove the image");
                if (!arg_quiet && arg_json == JSON_OFF)
                        printf("Removed %s.\n", argv[i]);
        }
        return EXIT_OK;
}

int verb_read_only(int argc, char **argv, void *userdata) {
        _cleanup_graft_error_ GraftError e = GRAFT_ERROR_INIT;
        bool ro = true;
        if (argc > 2) {
                if (streq(argv[2], "yes") || streq(argv[2], "true") || streq(argv[2], "1"))
                        ro = true;
                else if (streq(argv[2], "no") || streq(argv[2], "false") || streq(argv[2], "0"))
                        ro = false;
                else
                        return log_error("read-only takes yes or no, not \"%s\"", argv[2]), EXIT_USAGE;
        }
        int r = (arg_bus ? pctl_bus_set_read_only : portable_set_read_only)(&arg_options, argv[1], ro, &e);
        if (r < 0)
                return fail(&e, r, "cannot change the image");
        if (!arg_quiet && arg_json == JSON_OFF)
                printf("Image %s is now %s.\n", argv[1], ro ? "read-only" : "writable");
        return EXIT_OK;
}
