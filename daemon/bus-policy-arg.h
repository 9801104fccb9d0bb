/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "policy.h"

/* The image policy argument of a method (both interfaces): empty or NULL means none given
 * (*ret_has stays false); otherwise parsed into *ret, or the call fails with
 * org.graft.Error.InvalidArgument naming the policy and what is wrong with it. */
int bus_parse_image_policy(const char *policy, ImagePolicy *ret, bool *ret_has, sd_bus_error *error);
