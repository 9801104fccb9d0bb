/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* graftd's structured journal entries: one for every change it made (a portable image attached,
 * reattached or detached; an extension merged or refreshed; hierarchies unmerged) and one for
 * every change it refused or that failed (an authorization refusal, a failed operation, an image
 * a merge skipped), each kind with a MESSAGE_ID of its own and fields that name what changed
 * (IMAGE=, ROOT_HASH=, UNIT=, EXTENSION=, HIERARCHY=, CLASS=, ERROR=), so that
 * "journalctl MESSAGE_ID=…" finds every change; graftd(8), JOURNAL, lists them.
 *
 * Sent with sd_journal_sendv(). The same text also goes to stderr as daemon_log() writes it,
 * unless stderr is the journal already (JOURNAL_STREAM names it) and the entry went in: then the
 * line would be there twice. Where no journal listens (tests, a terminal) the stderr line is all
 * there is. Main thread only (the done callbacks, finish(), the authorization replies). */
#pragma once

#include <stdarg.h>

#include "sysext.h"

typedef enum DaemonEvent {
        DAEMON_EVENT_ATTACH,
        DAEMON_EVENT_REATTACH,
        DAEMON_EVENT_DETACH,
        DAEMON_EVENT_MERGE,
        DAEMON_EVENT_REFRESH,
        DAEMON_EVENT_UNMERGE,
        DAEMON_EVENT_REFUSAL,
        _DAEMON_EVENT_MAX,
} DaemonEvent;

/* The 128-bit MESSAGE_ID (32 hex digits) of an event kind. */
const char *daemon_event_message_id(DaemonEvent e);

/* One entry: fields are "KEY=VALUE" strings (NULL: none; a key may repeat), the message is
 * formatted as daemon_log()'s. 0 also when no journal listens (the line went to stderr). */
int daemon_event(DaemonEvent e, int priority, char * const *fields, const char *format, ...) _printf_(4, 5);
int daemon_eventv(DaemonEvent e, int priority, char * const *fields, const char *format, va_list ap) _printf_(4, 0);

/* The entries of a successful attach, reattach or detach: IMAGE=, ROOT_HASH= (when it has verity),
 * UNIT= for each unit, CALLER_UID=. */
void daemon_event_portable(DaemonEvent e, const char *image, const char *root_hash, char * const *units, uid_t uid);

/* The entries of a successful merge, refresh or unmerge of class: one per image merged (IMAGE=,
 * EXTENSION=, ROOT_HASH=, HIERARCHY= for each hierarchy that carries the new merge), one refusal
 * per image skipped (with its error), and one unmerge entry for the hierarchies that lost their
 * merge. IMAGE= is the path inside root (NULL: the host), as for portable images. */
void daemon_event_sysext(DaemonEvent e, const char *root, const char *class, const SysextResult *res, uid_t uid);
