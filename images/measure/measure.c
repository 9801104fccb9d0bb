/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns what a measurement is and where it is recorded (see measure.h): the configuration
 * (ROOT/etc/graft/measure.conf), the event string of an image, and the userspace event log in
 * systemd's format: one JSON-SEQ record (RS, JSON text, LF) per extend,
 *   {"pcr":13,"digests":[{"hashAlg":"sha256","digest":"…"}],"content_type":"systemd",
 *    "content":{"string":"graft-sysext:NAME:VERSION:ROOTHASH"}}
 * appended under an exclusive flock, the file carrying the sticky bit from before the extend until
 * its record is written, as systemd-pcrextend does, so that a crash in between shows as an
 * incomplete log rather than a silent gap. The TPM itself is measure-tpm.c's. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "env-file.h"
#include "fault.h"
#include "fileio.h"
#include "measure-tpm.h"
#include "measure.h"
#include "path-util.h"
#include "strv.h"

#define MEASURE_CONF_MAX (64 * 1024)

void measure_config_done(MeasureConfig *c) {
        if (!c)
                return;
        free(c->tcti);
        free(c->source);
        *c = (MeasureConfig) {};
}

static bool root_is_host(const char *root) {
        return isempty(root) || streq(root, "/");
}

static int parse_config(char * const *env, const char *what, MeasureConfig *c, GraftError *err) {
        STRV_FOREACH_PAIR(k, v, env) {
                if (streq(*k, "PCR")) {
                        char *end = NULL;
                        errno = 0;
                        unsigned long n = strtoul(*v, &end, 10);
                        if (errno != 0 || end == *v || *end || n > 23)
                                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "%s: PCR=%s is no PCR number (0…23)", what, *v);
                        c->pcr = (unsigned) n;
                } else if (streq(*k, "Require")) {
                        if (streq(*v, "yes") || streq(*v, "true") || streq(*v, "1"))
                                c->required = true;
                        else if (streq(*v, "no") || streq(*v, "false") || streq(*v, "0"))
                                c->required = false;
                        else
                                return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                                       "%s: Require=%s is neither yes nor no", what, *v);
                } else if (streq(*k, "TCTI")) {
                        free(c->tcti);
                        if (!(c->tcti = strdup(*v)))
                                return -ENOMEM;
                } else
                        return graft_error_set(err, -EINVAL, GRAFT_ERROR_INVALID_ARGUMENT,
                                               "%s: unknown setting %s= (known: PCR=, Require=, TCTI=)", what, *k);
        }
        return 0;
}

int measure_config_load(const char *root, MeasureConfig *ret, GraftError *err) {
        _cleanup_(measure_config_done) MeasureConfig c = { .pcr = MEASURE_PCR_DEFAULT };
        const char *r_ = isempty(root) ? "/" : root;
        _cleanup_close_ int root_fd = open(r_, O_DIRECTORY | O_PATH | O_CLOEXEC);
        if (root_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open root directory %s: %m", r_);
        _cleanup_free_ char *full = path_prefix_root(root, MEASURE_CONF_PATH), *text = NULL;
        if (!full)
                return -ENOMEM;
        size_t size = 0;
        int r = file_read(&(FileOpen) { .dir_fd = root_fd, .path = MEASURE_CONF_PATH, .in_root = true, .display = full },
                          MEASURE_CONF_MAX, &text, &size, err);
        if (r < 0 && r != -ENOENT)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", full, strerror(-r));
        if (r >= 0) {
                _cleanup_strv_free_ char **env = NULL;
                r = env_file_parse(text, size, full, &env, err);
                if (r >= 0)
                        r = parse_config(env, full, &c, err);
                if (r < 0)
                        return r;
                c.source = TAKE_PTR(full);
        }
        const char *e = getenv("GRAFT_TPM2_TCTI");
        if (!c.tcti && !isempty(e) && !(c.tcti = strdup(e)))
                return -ENOMEM;
        if (!c.tcti && root_is_host(root) && !(c.tcti = strdup(MEASURE_TCTI_DEFAULT)))
                return -ENOMEM;
        *ret = c;
        c = (MeasureConfig) {};
        return 0;
}

static const char *class_prefix(ImageClass class) {
        switch (class) {
        case IMAGE_CLASS_SYSEXT:
                return "graft-sysext";
        case IMAGE_CLASS_CONFEXT:
                return "graft-confext";
        case IMAGE_CLASS_PORTABLE:
                return "graft-portable";
        default:
                return NULL;
        }
}

/* Writes s with ':' and '%' escaped. */
static void append_field(FILE *f, const char *s) {
        for (; s && *s; s++) {
                if (*s == ':')
                        fputs("%3a", f);
                else if (*s == '%')
                        fputs("%25", f);
                else
                        fputc(*s, f);
        }
}

int measure_event_string(ImageClass class, const char *name, const char *version, const char *root_hash,
                         char **ret) {
        const char *prefix = class_prefix(class);
        if (!prefix || isempty(name))
                return -EINVAL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs(prefix, f);
        const char *fields[] = { name, version, root_hash };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                fputc(':', f);
                append_field(f, fields[i]);
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* The record of one extend, "\x1e{…}\n". */
static int log_record(unsigned pcr, const MeasureDigests *d, const char *event, char **ret) {
        json_object *o = json_object_new_object(), *digests = json_object_new_array(),
                    *content = json_object_new_object();
        int r = -ENOMEM;
        if (!o || !digests || !content)
                goto finish;
        for (size_t i = 0; i < d->n; i++) {
                json_object *e = json_object_new_object();
                if (!e || json_object_array_add(digests, e) < 0) {
                        json_object_put(e);
                        goto finish;
                }
                json_object_object_add(e, "hashAlg", json_object_new_string(d->bank[i]));
                json_object_object_add(e, "digest", json_object_new_string(d->hex[i]));
        }
        json_object_object_add(content, "string", json_object_new_string(event));
        json_object_object_add(o, "pcr", json_object_new_int((int) pcr));
        json_object_object_add(o, "digests", TAKE_PTR(digests));
        json_object_object_add(o, "content_type", json_object_new_string("systemd"));
        json_object_object_add(o, "content", TAKE_PTR(content));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = text && asprintf(ret, "\x1e%s\n", text) >= 0 ? 0 : -ENOMEM;
finish:
        json_object_put(o);
        json_object_put(digests);
        json_object_put(content);
        return r;
}

/* ROOT/run/log/systemd/tpm2-measure.log, created (0600) as systemd creates it, locked. */
static int log_open(const char *root, char **ret_path, GraftError *err) {
        _cleanup_free_ char *path = path_prefix_root(root, MEASURE_LOG_PATH);
        if (!path)
                return -ENOMEM;
        const char *r_ = isempty(root) ? "/" : root;
        _cleanup_close_ int fd = open(r_, O_DIRECTORY | O_PATH | O_CLOEXEC);
        const char * const parts[] = { "run", "log", "systemd" };
        for (size_t i = 0; fd >= 0 && i < ELEMENTSOF(parts); i++) {
                if (mkdirat(fd, parts[i], 0755) < 0 && errno != EEXIST)
                        break;
                int next = openat(fd, parts[i], O_DIRECTORY | O_PATH | O_NOFOLLOW | O_CLOEXEC);
                safe_close(fd);
                fd = next;
        }
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create the directory of %s: %m", path);
        _cleanup_close_ int log_fd = openat(fd, "tpm2-measure.log",
                                            O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
                                            0600);
        if (log_fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m", path);
        struct stat st;
        if (fstat(log_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", path);
        int r = stat_check_type(&st, 0, path, NULL, err);
        if (r < 0)
                return r;
        if (flock(log_fd, LOCK_EX) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot lock %s: %m", path);
        *ret_path = TAKE_PTR(path);
        return TAKE_FD(log_fd);
}

/* One item: sticky bit, extend, record, sticky bit off (unless the log was incomplete before). */
static int measure_one(MeasureTpm *tpm, unsigned pcr, int log_fd, const char *log_path, const MeasureItem *it,
                       GraftError *err) {
        _cleanup_free_ char *event = NULL, *record = NULL;
        _cleanup_(measure_digests_done) MeasureDigests d = {};
        int r = measure_event_string(it->class, it->name, it->version, it->root_hash, &event);
        if (r >= 0)
                r = measure_tpm_digests(tpm, event, &d);
        if (r >= 0)
                r = log_record(pcr, &d, event, &record);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(log_fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", log_path);
        bool was_incomplete = st.st_mode & S_ISVTX;
        if (!was_incomplete && fchmod(log_fd, 0600 | S_ISVTX) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot mark %s: %m", log_path);
        r = measure_tpm_extend(tpm, &d, err);
        if (r < 0) {
                if (!was_incomplete) /* nothing was extended: the log is complete as it is */
                        (void) fchmod(log_fd, 0600);
                return graft_error_prefix(err, r, "measuring %s", event);
        }
        fault_point("measure-extended");
        size_t n = strlen(record);
        if (write(log_fd, record, n) != (ssize_t) n || fsync(log_fd) < 0)
                return graft_error_set(err, errno ? -errno : -EIO, GRAFT_ERROR_IO,
                                       "PCR %u was extended with %s, but %s could not record it: %m", pcr, event, log_path);
        if (!was_incomplete && fchmod(log_fd, 0600) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot unmark %s: %m", log_path);
        fault_point("measure-logged");
        return 0;
}

/* Said once per change (not per image): nothing is measured, and why. */
static int no_tpm_note(const GraftError *why, char **ret_note) {
        if (!ret_note)
                return 0;
        return asprintf(ret_note, "images are not measured: %s", why->message ?: "no TPM") < 0 ? -ENOMEM : 0;
}

int measure_images(const char *root, const MeasureItem *items, size_t n_items, char **ret_note, GraftError *err) {
        _cleanup_(measure_config_done) MeasureConfig c = {};
        int r = measure_config_load(root, &c, err);
        if (r < 0)
                return r;
        _cleanup_(measure_tpm_freep) MeasureTpm *tpm = NULL;
        _cleanup_graft_error_ GraftError why = GRAFT_ERROR_INIT;
        r = c.tcti ? measure_tpm_open(c.tcti, c.pcr, &tpm, &why) : -ENODEV;
        if (r < 0 && c.required)
                return graft_error_set(err, r == -ENOMEM ? r : -ENODEV, GRAFT_ERROR_UNSUPPORTED,
                                       "measurement is required (Require=yes in %s) but %s; refusing",
                                       c.source ?: MEASURE_CONF_PATH,
                                       why.message ?: "no TPM is configured for this root (TCTI=)");
        if (r == -ENOMEM)
                return r;
        if (r < 0 && !c.tcti)
                return 0; /* a root no TCTI was named for: measurement was not asked for */
        if (r < 0)
                return no_tpm_note(&why, ret_note);
        if (n_items == 0)
                return 1;
        _cleanup_free_ char *log_path = NULL;
        _cleanup_close_ int log_fd = log_open(root, &log_path, err);
        if (log_fd < 0)
                return log_fd;
        for (size_t i = 0; i < n_items; i++) {
                r = measure_one(tpm, c.pcr, log_fd, log_path, &items[i], err);
                if (r < 0)
                        return r;
        }
        return 1;
}
