/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The health check after a switch (internal to the engine): every unit named must become active
 * and stay active, in the same invocation (a restart by systemd counts as a failure), until the
 * grace period is over; then every HealthCheck= command must exit 0 within its time. A failure is
 * GRAFT_ERROR_UNHEALTHY with a message naming the unit or command and what it did. */
#pragma once

#include "update.h"

/* How often the units' states are read during the grace period. */
#define HEALTH_POLL_USEC (100u * 1000u)

typedef struct HealthPlan {
        char **units;        /* systemd units to watch */
        char **commands;     /* shell command lines (/bin/sh -c) */
        uint64_t grace_usec;
        uint64_t timeout_usec; /* of each command */
} HealthPlan;

void health_plan_done(HealthPlan *h);

/* Runs the check for version (previous: what ran before, may be NULL). The units are asked about
 * over c->o.bus (or the system bus); below a root (c->o.root) no systemd runs them, so they are
 * not checked (a note says so). The commands run on this host with GRAFT_UPDATE_VERSION,
 * GRAFT_UPDATE_PREVIOUS, GRAFT_UPDATE_COMPONENT and, below a root, GRAFT_ROOT in their
 * environment; their output is kept for the message. */
int update_health_check(UpdateContext *c, const HealthPlan *h, const char *version, const char *previous,
                        GraftError *err);
