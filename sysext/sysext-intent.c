/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the text of the intent record (see SysextIntent in sysext-internal.h), one item a line:
 *
 *   graft-sysext-intent 1
 *   op refresh
 *   boot 4f0c…
 *   options force=0 noexec=0 no-reload=0 reload=1 resumed=0
 *   policy -                                  (or the image policy as given)
 *   only a b                                  (merge NAME…: the names; absent: every enabled one)
 *   mutable yes                               (the mode the change ran with; absent: no)
 *   hierarchy 0:61 0:75 /usr                  (old and target device, "-" for none, then the path)
 *
 * Paths are hierarchies as configured: absolute, normalised, without control characters (see
 * sysext_hierarchies_default()), so a line holds one whole. */
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "sysext-internal.h"

#define MAGIC "graft-sysext-intent 1"

static const char * const op_names[_SYSEXT_OP_MAX] = {
        [SYSEXT_OP_MERGE] = "merge",
        [SYSEXT_OP_REFRESH] = "refresh",
        [SYSEXT_OP_UNMERGE] = "unmerge",
};

const char *sysext_op_to_string(SysextOp op) {
        return op >= 0 && op < _SYSEXT_OP_MAX ? op_names[op] : NULL;
}

void sysext_intent_done(SysextIntent *i) {
        if (!i)
                return;
        free(i->boot_id);
        free(i->policy);
        strv_free(i->only);
        strv_free(i->paths);
        free(i->old);
        free(i->target);
        *i = (SysextIntent) {};
}

int sysext_boot_id(char **ret) {
        char *s = NULL;
        int r = read_full_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 128, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        *ret = s;
        return 0;
}

int sysext_intent_add(SysextIntent *i, const char *path, dev_t old, dev_t target) {
        dev_t *o = realloc(i->old, (i->n + 1) * sizeof(dev_t));
        if (!o)
                return -ENOMEM;
        i->old = o;
        dev_t *t = realloc(i->target, (i->n + 1) * sizeof(dev_t));
        if (!t)
                return -ENOMEM;
        i->target = t;
        if (strv_extend(&i->paths, path) < 0)
                return -ENOMEM;
        i->old[i->n] = old;
        i->target[i->n] = target;
        i->n++;
        return 0;
}

static void format_dev(dev_t d, char buf[static 32]) {
        if (d == 0)
                strcpy(buf, "-");
        else
                snprintf(buf, 32, "%u:%u", major(d), minor(d));
}

int sysext_intent_format(const SysextIntent *i, char **ret) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, MAGIC "\nop %s\nboot %s\noptions force=%d noexec=%d no-reload=%d reload=%d resumed=%d\npolicy %s\n",
                sysext_op_to_string(i->op), i->boot_id, i->force, i->noexec, i->no_reload, i->reload, i->resumed,
                i->policy ?: "-");
        if (i->mutable > SYSEXT_MUTABLE_NO)
                fprintf(f, "mutable %s\n", sysext_mutable_to_string(i->mutable));
        if (i->only) {
                fputs("only", f);
                STRV_FOREACH(n, i->only)
                        fprintf(f, " %s", *n);
                fputc('\n', f);
        }
        for (size_t k = 0; k < i->n; k++) {
                char old[32], target[32];
                format_dev(i->old[k], old);
                format_dev(i->target[k], target);
                fprintf(f, "hierarchy %s %s %s\n", old, target, i->paths[k]);
        }
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

static int parse_dev(const char *s, dev_t *ret) {
        unsigned maj, min;
        char tail;
        if (streq(s, "-")) {
                *ret = 0;
                return 0;
        }
        if (sscanf(s, "%u:%u%c", &maj, &min, &tail) != 2)
                return -EBADMSG;
        *ret = makedev(maj, min);
        return 0;
}

static int parse_options(const char *s, SysextIntent *i) {
        int force, noexec, no_reload, reload, resumed;
        if (sscanf(s, "force=%d noexec=%d no-reload=%d reload=%d resumed=%d", &force, &noexec, &no_reload, &reload,
                   &resumed) != 5)
                return -EBADMSG;
        i->resumed = resumed;
        i->force = force;
        i->noexec = noexec;
        i->no_reload = no_reload;
        i->reload = reload;
        return 0;
}

static int parse_hierarchy(const char *s, SysextIntent *i) {
        char old[32], target[32];
        int end = 0;
        dev_t o, t;
        if (sscanf(s, "%31s %31s %n", old, target, &end) != 2 || end == 0 || s[end] != '/' ||
            parse_dev(old, &o) < 0 || parse_dev(target, &t) < 0)
                return -EBADMSG;
        return sysext_intent_add(i, s + end, o, t);
}

static int parse_line(const char *line, SysextIntent *i, bool *have_op) {
        const char *v;
        if ((v = startswith(line, "op ") ? line + 3 : NULL)) {
                for (SysextOp op = 0; op < _SYSEXT_OP_MAX; op++)
                        if (streq(v, op_names[op])) {
                                i->op = op;
                                *have_op = true;
                                return 0;
                        }
                return -EBADMSG;
        }
        if ((v = startswith(line, "boot ") ? line + 5 : NULL)) {
                free(i->boot_id);
                i->boot_id = strdup(v);
                return i->boot_id ? 0 : -ENOMEM;
        }
        if ((v = startswith(line, "options ") ? line + 8 : NULL))
                return parse_options(v, i);
        if ((v = startswith(line, "policy ") ? line + 7 : NULL)) {
                free(i->policy);
                i->policy = streq(v, "-") ? NULL : strdup(v);
                return streq(v, "-") || i->policy ? 0 : -ENOMEM;
        }
        if ((v = startswith(line, "mutable ") ? line + 8 : NULL))
                return sysext_mutable_from_string(v, &i->mutable) < 0 ? -EBADMSG : 0;
        if ((v = startswith(line, "only ") ? line + 5 : NULL)) {
                strv_free(i->only);
                i->only = strv_split(v, " ");
                return i->only ? 0 : -ENOMEM;
        }
        if ((v = startswith(line, "hierarchy ") ? line + 10 : NULL))
                return parse_hierarchy(v, i);
        return -EBADMSG;
}

int sysext_intent_parse(const char *text, SysextIntent *ret, GraftError *err) {
        _cleanup_strv_free_ char **lines = strv_split(text, "\n");
        if (!lines)
                return -ENOMEM;
        if (!lines[0] || !streq(lines[0], MAGIC))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_IO, "the intent record does not start with \"" MAGIC "\"");
        _cleanup_(sysext_intent_done) SysextIntent i = {};
        bool have_op = false;
        for (size_t k = 1; lines[k]; k++) {
                if (isempty(lines[k]))
                        continue;
                int r = parse_line(lines[k], &i, &have_op);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return graft_error_set(err, r, GRAFT_ERROR_IO, "line %zu of the intent record is not understood: %s",
                                               k + 1, lines[k]);
        }
        if (!have_op || !i.boot_id)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_IO, "the intent record names no %s",
                                       have_op ? "boot" : "operation");
        *ret = i;
        i = (SysextIntent) {};
        return 0;
}
