/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the plan data structure and the list of changes (see plan.h, portable.h). */
#include <string.h>

#include "plan.h"

static const char * const change_names[_PORTABLE_CHANGE_MAX] = {
        [PORTABLE_CHANGE_COPY] = "copy",
        [PORTABLE_CHANGE_WRITE] = "write",
        [PORTABLE_CHANGE_SYMLINK] = "symlink",
        [PORTABLE_CHANGE_MKDIR] = "mkdir",
        [PORTABLE_CHANGE_UNLINK] = "unlink",
};

const char *portable_change_type_to_string(PortableChangeType t) {
        return t >= 0 && t < _PORTABLE_CHANGE_MAX ? change_names[t] : NULL;
}

void portable_changes_done(PortableChanges *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->items[i].path);
                free(c->items[i].source);
        }
        free(c->items);
        *c = (PortableChanges) {};
}

int portable_changes_add(PortableChanges *c, PortableChangeType type, const char *path, const char *source) {
        PortableChange *g = reallocarray(c->items, c->n + 1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        c->items = g;
        PortableChange ch = { .type = type, .path = strdup(path), .source = source ? strdup(source) : NULL };
        if (!ch.path || (source && !ch.source)) {
                free(ch.path);
                free(ch.source);
                return -ENOMEM;
        }
        c->items[c->n++] = ch;
        return 0;
}

void portable_plan_done(PortablePlan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++) {
                free(p->steps[i].path);
                free(p->steps[i].source);
                free(p->steps[i].content);
        }
        free(p->steps);
        *p = (PortablePlan) {};
}

static PlanStep *add_step(PortablePlan *p, PortableChangeType type, const char *path, const char *source) {
        PlanStep *g = reallocarray(p->steps, p->n_steps + 1, sizeof(*g));
        if (!g)
                return NULL;
        p->steps = g;
        PlanStep s = { .type = type, .path = strdup(path), .source = source ? strdup(source) : NULL };
        if (!s.path || (source && !s.source)) {
                free(s.path);
                free(s.source);
                return NULL;
        }
        p->steps[p->n_steps] = s;
        return &p->steps[p->n_steps++];
}

int plan_add_mkdir(PortablePlan *p, const char *path) {
        PlanStep *s = add_step(p, PORTABLE_CHANGE_MKDIR, path, NULL);
        if (!s)
                return -ENOMEM;
        s->mode = 0755;
        return 0;
}

int plan_add_file(PortablePlan *p, PortableChangeType type, const char *path, const char *source, char *content,
                  size_t size, mode_t mode, bool replace) {
        PlanStep *s = add_step(p, type, path, source);
        if (!s) {
                free(content);
                return -ENOMEM;
        }
        s->content = content;
        s->size = size;
        s->mode = mode;
        s->replace = replace;
        return 0;
}

int plan_add_symlink(PortablePlan *p, const char *path, const char *target, bool replace) {
        PlanStep *s = add_step(p, PORTABLE_CHANGE_SYMLINK, path, target);
        if (!s)
                return -ENOMEM;
        s->replace = replace;
        return 0;
}

int plan_add_unlink(PortablePlan *p, const char *path, bool directory) {
        PlanStep *s = add_step(p, PORTABLE_CHANGE_UNLINK, path, NULL);
        if (!s)
                return -ENOMEM;
        s->directory = directory;
        return 0;
}

bool plan_has(const PortablePlan *p, const char *path) {
        for (size_t i = 0; i < p->n_steps; i++)
                if (streq(p->steps[i].path, path))
                        return true;
        return false;
}

int portable_plan_changes(const PortablePlan *p, PortableChanges *ret) {
        _cleanup_(portable_changes_done) PortableChanges c = {};
        for (size_t i = 0; i < p->n_steps; i++) {
                int r = portable_changes_add(&c, p->steps[i].type, p->steps[i].path, p->steps[i].source);
                if (r < 0)
                        return r;
        }
        *ret = c;
        c = (PortableChanges) {};
        return 0;
}
