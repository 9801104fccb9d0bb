/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the fault points (see fault.h): one process-wide counter, read from the environment once. */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"
#include "graft-config.h"

bool fault_points_built(void) {
        return GRAFT_FAULT_POINTS;
}

#if GRAFT_FAULT_POINTS
static atomic_ulong reached;

static unsigned long step_from_env(void) {
        const char *s = getenv("GRAFT_FAULT_STEP");
        char *end = NULL;
        unsigned long v = s ? strtoul(s, &end, 10) : 0;
        return s && end && *end == 0 ? v : 0;
}

static void log_point(unsigned long n, const char *name) {
        const char *path = getenv("GRAFT_FAULT_LOG");
        if (isempty(path))
                return;
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return;
        char line[256];
        int k = snprintf(line, sizeof line, "%lu %s\n", n, name);
        if (k > 0)
                (void) !write(fd, line, (size_t) MIN(k, (int) sizeof line - 1));
        close(fd);
}

void fault_point(const char *name) {
        unsigned long n = atomic_fetch_add(&reached, 1) + 1;
        log_point(n, name);
        if (n != step_from_env())
                return;
        const char *action = getenv("GRAFT_FAULT_ACTION");
        raise(action && streq(action, "stop") ? SIGSTOP : SIGKILL);
}

static bool name_listed(const char *list, const char *name) {
        size_t n = strlen(name);
        for (const char *p = list; p && *p;) {
                size_t k = strcspn(p, ",");
                if (k == n && strneq(p, name, n))
                        return true;
                p += k + (p[k] == ',');
        }
        return false;
}

void fault_stall(const char *name) {
        if (!name_listed(getenv("GRAFT_FAULT_STALL"), name))
                return;
        const char *s = getenv("GRAFT_FAULT_STALL_SEC");
        unsigned long sec = s ? strtoul(s, NULL, 10) : 0;
        if (sec > 0) {
                sleep((unsigned) sec);
                return;
        }
        for (;;)
                pause();
}
#else
void fault_point(const char *name) {
}

void fault_stall(const char *name) {
}
#endif
