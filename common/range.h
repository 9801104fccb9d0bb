/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A byte range of an open file: a partition of an image, or a whole sidecar file. */
#pragma once

#include "macro.h"

typedef struct ImageRange {
        int fd;           /* borrowed, not closed by whoever holds the range */
        uint64_t offset;  /* bytes from the start of the file */
        uint64_t size;    /* bytes */
        const char *what; /* for messages: "partition 1", "file foo.verity" */
} ImageRange;
