/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error record: what library code fills in when a user needs to know why something failed.
 * The CLI prints it and maps its name to an exit code; the daemon returns it as a D-Bus error. */
#pragma once

#include <stdarg.h>
#include "macro.h"

/* D-Bus-style error names. Keep in sync with man/graft-errors.7 and error.c's exit code table. */
#define GRAFT_ERROR_INVALID_ARGUMENT "org.graft.Error.InvalidArgument"
#define GRAFT_ERROR_NO_SUCH_IMAGE    "org.graft.Error.NoSuchImage"
#define GRAFT_ERROR_BAD_IMAGE        "org.graft.Error.BadImage"
#define GRAFT_ERROR_INTEGRITY        "org.graft.Error.IntegrityMismatch"
#define GRAFT_ERROR_BAD_SIGNATURE    "org.graft.Error.BadSignature"
#define GRAFT_ERROR_UNTRUSTED        "org.graft.Error.UntrustedSignature"
#define GRAFT_ERROR_POLICY           "org.graft.Error.PolicyViolation"
#define GRAFT_ERROR_MISSING_FILE     "org.graft.Error.MissingFile"
#define GRAFT_ERROR_UNSUPPORTED      "org.graft.Error.NotSupported"
#define GRAFT_ERROR_IO               "org.graft.Error.IO"
#define GRAFT_ERROR_INCOMPATIBLE     "org.graft.Error.Incompatible"
#define GRAFT_ERROR_CONFLICT         "org.graft.Error.Conflict"
#define GRAFT_ERROR_UNHEALTHY        "org.graft.Error.HealthCheckFailed"

/* Documented exit codes of the graft programs. */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,     /* anything not listed below, e.g. an I/O error */
        EXIT_USAGE = 2,      /* bad option, argument or policy string */
        EXIT_BAD_IMAGE = 3,  /* not an image we understand: truncated, malformed, wrong layout */
        EXIT_INTEGRITY = 4,  /* data or hash tree does not match its root hash */
        EXIT_SIGNATURE = 5,  /* signature malformed, invalid, or by an untrusted signer */
        EXIT_POLICY = 6,     /* the image policy refuses what the image offers */
        EXIT_MISSING = 7,    /* no such image, or a required file is missing */
        EXIT_INCOMPATIBLE = 8, /* the image does not fit this host (release file mismatch) */
        EXIT_PARTIAL = 9,    /* done, but some images were skipped (each reported) */
        EXIT_CONFLICT = 10,  /* refused because of the host's state: already merged, attached, active */
        EXIT_UNHEALTHY = 11, /* an update failed its health check and was rolled back */
};

typedef struct GraftError {
        const char *name; /* one of GRAFT_ERROR_*, static */
        char *message;    /* owned */
        int error;        /* the negative errno that went with it */
} GraftError;

#define GRAFT_ERROR_INIT ((GraftError) {})

/* Fill *e (if e is non-NULL and not yet set; the innermost, most specific reason wins) and
 * return r, which must be negative. */
int graft_error_set(GraftError *e, int r, const char *name, const char *format, ...) _printf_(4, 5);
int graft_error_setv(GraftError *e, int r, const char *name, const char *format, va_list ap) _printf_(4, 0);

/* Put "prefix: " in front of an already set message, to add the context an inner function
 * did not know (which image, which partition). Returns r. */
int graft_error_prefix(GraftError *e, int r, const char *format, ...) _printf_(3, 4);

static inline bool graft_error_is_set(const GraftError *e) {
        return e && e->name;
}

void graft_error_done(GraftError *e);
static inline void graft_error_donep(GraftError *e) {
        graft_error_done(e);
}
#define _cleanup_graft_error_ _cleanup_(graft_error_donep)

/* The exit code for an error record (or for a bare errno when none was set). */
int graft_error_exit_code(const GraftError *e, int r);
