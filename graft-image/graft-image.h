/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graft-image: the options every verb sees, and the verbs. */
#pragma once

#include "dps.h"
#include "json-out.h"
#include "policy.h"
#include "squashfs.h"
#include "image-build.h"

extern JsonFormat arg_json;
extern bool arg_legend;
extern bool arg_quiet;
extern const char *arg_output;
extern const char *arg_name;
extern const char *arg_version;
extern ImageType arg_type;
extern Architecture arg_arch;
extern PartitionDesignator arg_partition;
extern SquashfsCompression arg_compression;
extern bool arg_have_compression_level;
extern unsigned arg_compression_level;
extern const char *arg_key;
extern const char *arg_cert;
extern const char *arg_root;
extern uint8_t *arg_root_hash;
extern size_t arg_root_hash_size;
extern ImagePolicy *arg_image_policy;
extern unsigned arg_threads;

int verb_build(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_verify(int argc, char **argv);
int verb_sign(int argc, char **argv);
int verb_compare_versions(int argc, char **argv);

/* Prints e (or the fallback) and returns the documented exit code for it. */
int exit_code_for(const GraftError *e, int r, const char *fallback);
/* "1.2M" style sizes. */
char *format_bytes(char buf[static 16], uint64_t n);
