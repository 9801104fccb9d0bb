/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-update's options, shared by its option parser (graft-update.c) and its verbs
 * (graft-update-verbs.c). */
#pragma once

#include "json-out.h"
#include "update.h"

extern UpdateOptions arg_options;
extern JsonFormat arg_json;
extern bool arg_legend;
extern bool arg_quiet;
extern const char *arg_os_release;
extern unsigned arg_instances_max;
extern bool arg_all_components;

int verb_list(int argc, char **argv, void *userdata);
int verb_check_new(int argc, char **argv, void *userdata);
int verb_update(int argc, char **argv, void *userdata);
int verb_resolve(int argc, char **argv, void *userdata);
int verb_vacuum(int argc, char **argv, void *userdata);
int verb_check(int argc, char **argv, void *userdata);
int verb_components(int argc, char **argv, void *userdata);
int verb_mark(int argc, char **argv, void *userdata);
