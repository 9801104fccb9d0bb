/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sextctl's option parsing (sextctl.c) shares with its verbs (sextctl-verbs.c). */
#pragma once

#include <systemd/sd-bus.h>

#include "json-out.h"
#include "sysext.h"

extern SysextOptions arg_options;
extern JsonFormat arg_json;
extern bool arg_legend;
extern bool arg_quiet;
extern bool arg_verbose; /* say how each image is mounted and which checks protect it */
/* The bus graftd is reachable on (sextctl-bus.c), or NULL: the work is done in-process. */
extern sd_bus *arg_bus;

int verb_status(int argc, char **argv, void *userdata);
int verb_list(int argc, char **argv, void *userdata);
int verb_merge(int argc, char **argv, void *userdata);
int verb_refresh(int argc, char **argv, void *userdata);
int verb_unmerge(int argc, char **argv, void *userdata);
int verb_developer_mode(int argc, char **argv, void *userdata); /* sextctl-devmode.c */
int verb_enable(int argc, char **argv, void *userdata);
int verb_disable(int argc, char **argv, void *userdata);

/* The same calls through graftd (sextctl-bus.c). */
int sextctl_bus_status(const SysextOptions *o, SysextStatus *ret, GraftError *err);
int sextctl_bus_list(const SysextOptions *o, SysextListing *ret, GraftError *err);
int sextctl_bus_merge(const SysextOptions *o, SysextResult *ret, GraftError *err);
int sextctl_bus_refresh(const SysextOptions *o, SysextResult *ret, GraftError *err);
int sextctl_bus_unmerge(const SysextOptions *o, SysextResult *ret, GraftError *err);
int sextctl_bus_set_enabled(const SysextOptions *o, char * const *names, bool enable, char ***ret_changed,
                            GraftError *err);
/* graftd's root directory ("/" on a host), for showing paths as the in-process path would. */
int sextctl_bus_root(char **ret);
