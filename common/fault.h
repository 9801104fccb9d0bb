/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault points for the crash tests: a state-changing operation calls fault_point() after each
 * step that leaves something on disk or in the kernel. In a build configured with
 * -Dfault_points=true, GRAFT_FAULT_STEP=N makes the Nth fault_point() call of the process kill
 * it with SIGKILL (as a crash or a power cut would stop it: no cleanup, no atexit), and
 * GRAFT_FAULT_LOG=FILE appends "N NAME" for every point reached, so a test learns how many steps
 * an operation has and loops over all of them. GRAFT_FAULT_ACTION=stop makes the Nth point stop
 * the process with SIGSTOP instead (it goes on after SIGCONT): the concurrency tests hold an
 * operation at a chosen step, e.g. with the operation lock taken, while they start another. In
 * other builds fault_point() does nothing. */
#pragma once

#include "macro.h"

void fault_point(const char *name);

/* Stand-in for work stuck on something outside graft's control (a file system or device that
 * does not answer), for the tests that prove graftd stays responsive and stops anyway: in a
 * fault-points build, GRAFT_FAULT_STALL=NAME[,NAME…] makes fault_stall(NAME) sleep, for
 * GRAFT_FAULT_STALL_SEC seconds if set, else for good. Otherwise it does nothing. */
void fault_stall(const char *name);

/* Whether this build honours GRAFT_FAULT_STEP (tests skip their crash loops otherwise). */
bool fault_points_built(void);
