/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz targets: each file defines LLVMFuzzerTestOneInput(). Built with -Dfuzzers=true and clang
 * they are libFuzzer programs; otherwise replay.c gives them a main() that feeds every file of a
 * corpus directory through once, which is what the 'fuzz' test suite runs. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file (memfd), for the parsers that read from an fd. */
static inline int fuzz_memfd(const uint8_t *data, size_t size) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0)
                return -1;
        if (size > 0 && write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return -1;
        }
        return fd;
}
