/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Version order of the UAPI version format (as systemd-analyze compare-versions). */
#pragma once

/* <0, 0, >0 as a is older than, equal to or newer than b. NULL sorts first. */
int version_compare(const char *a, const char *b);
