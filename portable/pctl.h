/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pctl: the options every verb sees, and the verbs (pctl-verbs.c). */
#pragma once

#include <systemd/sd-bus.h>

#include "json-out.h"
#include "portable.h"

extern PortableOptions arg_options;
extern JsonFormat arg_json;
extern bool arg_quiet;
extern bool arg_legend;
extern bool arg_cat;
/* The bus graftd is reachable on (pctl-bus.c), or NULL: the work is done in-process. */
extern sd_bus *arg_bus;
/* graftd runs on this machine (not -H, -M): relative paths are made absolute before sending. */
extern bool arg_bus_local;

int verb_list(int argc, char **argv, void *userdata);
int verb_attach(int argc, char **argv, void *userdata);
int verb_detach(int argc, char **argv, void *userdata);
int verb_reattach(int argc, char **argv, void *userdata);
int verb_inspect(int argc, char **argv, void *userdata);
int verb_is_attached(int argc, char **argv, void *userdata);
int verb_remove(int argc, char **argv, void *userdata);
int verb_read_only(int argc, char **argv, void *userdata);

/* The same calls through graftd (pctl-bus.c). */
int pctl_bus_attach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err);
int pctl_bus_reattach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                      GraftError *err);
int pctl_bus_detach(const PortableOptions *o, const char *image, char * const *prefixes, PortableResult *ret,
                    GraftError *err);
int pctl_bus_is_attached(const PortableOptions *o, const char *image, PortableState *ret, GraftError *err);
int pctl_bus_list(const PortableOptions *o, PortableImageInfo **ret, size_t *ret_n, GraftError *err);
int pctl_bus_inspect(const PortableOptions *o, const char *image, char * const *prefixes, PortableInspection *ret,
                     GraftError *err);
int pctl_bus_remove(const PortableOptions *o, const char *image, GraftError *err);
int pctl_bus_set_read_only(const PortableOptions *o, const char *image, bool read_only, GraftError *err);
