/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysupdate.d(5) match patterns: file names with wildcards (@v version, @u partition UUID, @f
 * partition flags, @a no-auto, @g grow-fs, @r read-only, @t mtime, @m mode, @s size, @d tries
 * done, @l tries left, @h SHA-256), matched against directory entries and manifest lines to find
 * versions, and filled in to name a new version. */
#pragma once

#include "error.h"

typedef enum PatternField {
        PATTERN_VERSION,    /* @v */
        PATTERN_UUID,       /* @u */
        PATTERN_FLAGS,      /* @f */
        PATTERN_NO_AUTO,    /* @a */
        PATTERN_GROW_FS,    /* @g */
        PATTERN_READ_ONLY,  /* @r */
        PATTERN_MTIME,      /* @t */
        PATTERN_MODE,       /* @m */
        PATTERN_SIZE,       /* @s */
        PATTERN_TRIES_DONE, /* @d */
        PATTERN_TRIES_LEFT, /* @l */
        PATTERN_SHA256,     /* @h */
        _PATTERN_FIELD_MAX,
} PatternField;

/* What a match found (or what to fill in): one string per wildcard, NULL where absent. */
typedef struct PatternFields {
        char *value[_PATTERN_FIELD_MAX];
} PatternFields;

void pattern_fields_done(PatternFields *f);
/* Sets a field to a copy of value (NULL clears it). */
int pattern_fields_set(PatternFields *f, PatternField field, const char *value);

/* Checks one pattern: @v present, every wildcard known and used at most once, no two wildcards
 * next to each other (nothing could tell where one ends), no '/' (graft matches file names in one
 * directory). -EINVAL with a message naming the pattern. */
int pattern_validate(const char *pattern, GraftError *err);

/* 1 and the fields if name matches pattern (each field holding text its wildcard allows:
 * a version's characters for @v, 64 hex digits for @h, …), 0 if not. Where a wildcard's end is
 * ambiguous, every split is tried. */
int pattern_match(const char *pattern, const char *name, PatternFields *ret);
/* The first pattern of a list that matches. */
int pattern_match_any(char * const *patterns, const char *name, PatternFields *ret);

/* Fills the wildcards of pattern in from f. A wildcard whose field is unset is -EINVAL with a
 * message naming it. The result must be a valid file name. */
int pattern_format(const char *pattern, const PatternFields *f, char **ret, GraftError *err);

/* Whether s may be a version (@v): not empty, only [A-Za-z0-9.,_+~^-]. */
bool pattern_version_is_valid(const char *s);
