/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graftd's structured journal entries (see daemon-event.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* The code location of send_entry() would be the same in every entry: leave it out. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "daemon-event.h"
#include "daemon-log.h"
#include "escape.h"
#include "strv.h"

/* Made once with systemd-id128 new; graftd(8) lists them. Never change one: admins' queries and
 * alerts name them. */
static const char *const message_ids[_DAEMON_EVENT_MAX] = {
        [DAEMON_EVENT_ATTACH] = "0d18d0e6c38e41bc8db01e8f7e8e23e2",
        [DAEMON_EVENT_REATTACH] = "1b334d638b41456da56f349e6b32f68a",
        [DAEMON_EVENT_DETACH] = "2445d5d0b5ce4289a656895e72137dc0",
        [DAEMON_EVENT_MERGE] = "8f3301ac26fa4a0583df677dc6d9e99f",
        [DAEMON_EVENT_REFRESH] = "4be81fc5a9d74d77a0e7fdec10285743",
        [DAEMON_EVENT_UNMERGE] = "f7ccaf5aba224d748b6d06ddc741ecaf",
        [DAEMON_EVENT_REFUSAL] = "f2906c4ec5a341ffae458f466339554c",
};

const char *daemon_event_message_id(DaemonEvent e) {
        return e >= 0 && e < _DAEMON_EVENT_MAX ? message_ids[e] : NULL;
}

/* Whether stderr is a journal stream: JOURNAL_STREAM="DEV:INODE" of the stream systemd gave us. */
static bool stderr_is_journal(void) {
        static int cached = -1;
        if (cached < 0) {
                const char *js = getenv("JOURNAL_STREAM");
                unsigned long long dev, ino;
                struct stat st;
                cached = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) >= 0 &&
                         (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        }
        return cached;
}

static int send_entry(DaemonEvent e, int priority, char * const *fields, const char *message) {
        _cleanup_strv_free_ char **head = NULL;
        if (strv_extendf(&head, "MESSAGE=%s", message) < 0 ||
            strv_extendf(&head, "MESSAGE_ID=%s", message_ids[e]) < 0 || strv_extendf(&head, "PRIORITY=%d", priority) < 0 ||
            strv_extend(&head, "SYSLOG_IDENTIFIER=graftd") < 0)
                return -ENOMEM;
        size_t n = strv_length(head), k = strv_length((char **) fields);
        _cleanup_free_ struct iovec *iov = calloc(n + k, sizeof(struct iovec));
        if (!iov)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = head[i], .iov_len = strlen(head[i]) };
        for (size_t i = 0; i < k; i++)
                iov[n + i] = (struct iovec) { .iov_base = fields[i], .iov_len = strlen(fields[i]) };
        return sd_journal_sendv(iov, (int) (n + k));
}

int daemon_event(DaemonEvent e, int priority, char * const *fields, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = daemon_eventv(e, priority, fields, format, ap);
        va_end(ap);
        return r;
}

int daemon_eventv(DaemonEvent e, int priority, char * const *fields, const char *format, va_list ap) {
        if (e < 0 || e >= _DAEMON_EVENT_MAX)
                return -EINVAL;
        if (priority > daemon_log_get_max_level())
                return 0;
        _cleanup_free_ char *m = NULL;
        if (vasprintf(&m, format, ap) < 0)
                return -ENOMEM;
        int r = send_entry(e, priority, fields, m);
        /* Without a journal listening (ENOENT, ECONNREFUSED) the stderr line still says it. */
        if (r < 0 || !stderr_is_journal())
                daemon_log(priority, "%s", m);
        return 0;
}

/* "KEY=VALUE" appended to *l (escaped where the value goes into a message is the caller's job:
 * journal fields are binary-safe). */
static int field(char ***l, const char *key, const char *value) {
        return value ? strv_extendf(l, "%s=%s", key, value) : 0;
}

static int caller_field(char ***l, uid_t uid) {
        return uid == (uid_t) -1 ? 0 : strv_extendf(l, "CALLER_UID=%u", (unsigned) uid);
}

static const char *verb(DaemonEvent e) {
        switch (e) {
        case DAEMON_EVENT_ATTACH: return "Attached";
        case DAEMON_EVENT_REATTACH: return "Reattached";
        case DAEMON_EVENT_DETACH: return "Detached";
        case DAEMON_EVENT_MERGE: return "Merged";
        case DAEMON_EVENT_REFRESH: return "Refreshed";
        case DAEMON_EVENT_UNMERGE: return "Unmerged";
        default: return "Refused";
        }
}

void daemon_event_portable(DaemonEvent e, const char *image, const char *root_hash, char * const *units, uid_t uid) {
        _cleanup_strv_free_ char **f = NULL;
        int r = field(&f, "IMAGE", image);
        if (r >= 0)
                r = field(&f, "ROOT_HASH", root_hash);
        for (size_t i = 0; r >= 0 && units && units[i]; i++)
                r = field(&f, "UNIT", units[i]);
        if (r >= 0)
                r = caller_field(&f, uid);
        _cleanup_free_ char *ei = escape_string(strempty(image)), *list = strv_join((char **) units, " ");
        _cleanup_free_ char *el = list ? escape_string(list) : NULL;
        if (r < 0 || !ei || !el) {
                daemon_log(LOG_WARNING, "cannot log the %s event of %s: %s", verb(e), strempty(image), strerror(ENOMEM));
                return;
        }
        (void) daemon_event(e, LOG_INFO, f, "%s portable image %s (root hash %s): %s", verb(e), ei,
                            root_hash ?: "none, no verity", el);
}

/* The hierarchies that carry the new merge (or, unmerged: that lost theirs), as HIERARCHY= fields
 * and a blank-separated list; returns how many. */
static int hierarchies(const SysextResult *res, bool unmerged, char ***fields, char **ret_list) {
        _cleanup_strv_free_ char **paths = NULL;
        for (size_t i = 0; i < res->n_hierarchies; i++) {
                SysextAction a = res->hierarchies[i].action;
                bool is_unmerged = a == SYSEXT_ACTION_UNMERGED;
                /* KEPT: an unchanged refresh left the merge, which carries the image, as it was. */
                bool is_merged = a == SYSEXT_ACTION_MERGED || a == SYSEXT_ACTION_REPLACED || a == SYSEXT_ACTION_SWAPPED ||
                                 a == SYSEXT_ACTION_KEPT;
                if ((unmerged ? is_unmerged : is_merged) &&
                    (strv_extend(&paths, res->hierarchies[i].path) < 0 || field(fields, "HIERARCHY", res->hierarchies[i].path) < 0))
                        return -ENOMEM;
        }
        *ret_list = paths ? strv_join(paths, " ") : strdup("");
        return *ret_list ? (int) strv_length(paths) : -ENOMEM;
}

/* The image's path inside the root: the library's paths carry the root's prefix. */
static const char *inside_root(const char *root, const char *path) {
        size_t n = root ? strlen(root) : 0;
        return path && n > 1 && strncmp(path, root, n) == 0 && path[n] == '/' ? path + n : path;
}

static int image_entry(DaemonEvent e, const char *root, const char *class, const SysextImage *img,
                       const SysextResult *res, uid_t uid) {
        _cleanup_strv_free_ char **f = NULL;
        _cleanup_free_ char *where = NULL;
        const char *image = inside_root(root, img->path ?: img->found_as);
        if (field(&f, "CLASS", class) < 0 || field(&f, "IMAGE", image) < 0 ||
            field(&f, "EXTENSION", img->name) < 0 || field(&f, "ROOT_HASH", img->root_hash) < 0 || caller_field(&f, uid) < 0)
                return -ENOMEM;
        _cleanup_free_ char *name = escape_string(img->name), *path = escape_string(strempty(image));
        if (!name || !path)
                return -ENOMEM;
        if (img->skipped) {
                if (field(&f, "ERROR", img->error.name) < 0)
                        return -ENOMEM;
                _cleanup_free_ char *why = escape_string(strna(img->error.message));
                return why ? daemon_event(DAEMON_EVENT_REFUSAL, LOG_NOTICE, f, "Skipped %s image %s (%s): %s", class, name,
                                          path, why)
                           : -ENOMEM;
        }
        if (hierarchies(res, false, &f, &where) < 0)
                return -ENOMEM;
        return daemon_event(e, LOG_INFO, f, "%s %s image %s (%s, root hash %s) into %s", verb(e), class, name, path,
                            img->root_hash ?: "none, no verity", where);
}

void daemon_event_sysext(DaemonEvent e, const char *root, const char *class, const SysextResult *res, uid_t uid) {
        int r = 0;
        for (size_t i = 0; r >= 0 && res->plan && e != DAEMON_EVENT_UNMERGE && i < res->plan->n_images; i++)
                r = image_entry(e, root, class, &res->plan->images[i], res, uid);
        _cleanup_strv_free_ char **f = NULL;
        _cleanup_free_ char *where = NULL;
        if (r >= 0 && (r = field(&f, "CLASS", class)) >= 0 && (r = caller_field(&f, uid)) >= 0)
                r = hierarchies(res, true, &f, &where);
        if (r > 0)
                r = daemon_event(DAEMON_EVENT_UNMERGE, LOG_INFO, f, "Unmerged %s from %s", class, where);
        if (r < 0)
                daemon_log(LOG_WARNING, "cannot log the %s events of %s: %s", verb(e), class, strerror(-r));
}
