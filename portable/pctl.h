/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pctl: the options every verb sees, and the verbs (pctl-verbs.c). */
#pragma once

#include "json-out.h"
#include "portable.h"

extern PortableOptions arg_options;
extern JsonFormat arg_json;
extern bool arg_quiet;
extern bool arg_legend;

int verb_list(int argc, char **argv, void *userdata);
int verb_attach(int argc, char **argv, void *userdata);
int verb_detach(int argc, char **argv, void *userdata);
int verb_reattach(int argc, char **argv, void *userdata);
int verb_inspect(int argc, char **argv, void *userdata);
int verb_is_attached(int argc, char **argv, void *userdata);
