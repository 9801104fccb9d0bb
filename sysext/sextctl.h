/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sextctl's option parsing (sextctl.c) shares with its verbs (sextctl-verbs.c). */
#pragma once

#include "json-out.h"
#include "sysext.h"

extern SysextOptions arg_options;
extern JsonFormat arg_json;
extern bool arg_legend;
extern bool arg_quiet;

int verb_status(int argc, char **argv, void *userdata);
int verb_list(int argc, char **argv, void *userdata);
int verb_merge(int argc, char **argv, void *userdata);
int verb_refresh(int argc, char **argv, void *userdata);
int verb_unmerge(int argc, char **argv, void *userdata);
