/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one clock graft measures durations and deadlines with. */
#pragma once

#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC: unaffected by the wall clock being set, as a deadline must be. */
static inline uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}
