/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns graft-update's state files (see update-state.h). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "path-util.h"
#include "strv.h"
#include "update-state.h"

#define STATE_DIR "/var/lib/graft/update"
#define STATE_FILE_MAX (1024u * 1024u)

static int state_path(const char *root, const char *component, const char *suffix, char **ret) {
        _cleanup_free_ char *dir = path_prefix_root(root, STATE_DIR);
        if (!dir)
                return -ENOMEM;
        if (asprintf(ret, "%s/%s.%s", dir, component ?: "default", suffix) < 0)
                return -ENOMEM;
        return 0;
}

static int state_dir_make(const char *root, GraftError *err) {
        static const char * const parts[] = { "/var", "/var/lib", "/var/lib/graft", STATE_DIR };
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                _cleanup_free_ char *p = path_prefix_root(root, parts[i]);
                if (!p)
                        return -ENOMEM;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot create %s: %m", p);
        }
        return 0;
}

static int write_state(const char *root, const char *path, const char *text, GraftError *err) {
        int r = state_dir_make(root, err);
        if (r < 0)
                return r;
        r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write %s: %s", path, strerror(-r));
        _cleanup_free_ char *dir = strndup(path, strrchr(path, '/') - path);
        _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
        if (fd >= 0)
                (void) fsync(fd);
        return 0;
}

/* Reads a state file: 0 and NULL text if it does not exist. */
static int read_state(const char *path, char **ret, GraftError *err) {
        int r = read_full_file_at(AT_FDCWD, path, STATE_FILE_MAX, ret, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read %s: %s", path, strerror(-r));
        return 1;
}

void bad_marks_done(BadMarks *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->marks[i].version);
                free(m->marks[i].reason);
        }
        free(m->marks);
        *m = (BadMarks) {};
}

const BadMark *bad_marks_find(const BadMarks *m, const char *version) {
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->marks[i].version, version))
                        return &m->marks[i];
        return NULL;
}

static int marks_add(BadMarks *m, const char *version, uint64_t when, const char *reason) {
        BadMark *a = reallocarray(m->marks, m->n + 1, sizeof(BadMark));
        if (!a)
                return -ENOMEM;
        m->marks = a;
        m->marks[m->n] = (BadMark) { .version = strdup(version), .when_usec = when, .reason = strdup(reason) };
        m->n++;
        return m->marks[m->n - 1].version && m->marks[m->n - 1].reason ? 0 : -ENOMEM;
}

/* Lines "VERSION<TAB>USEC<TAB>REASON"; lines that do not parse are dropped (a mark is kept
 * only if it can be shown). */
int bad_marks_load(const char *root, const char *component, BadMarks *ret, GraftError *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = state_path(root, component, "bad", &path);
        if (r < 0)
                return r;
        r = read_state(path, &text, err);
        if (r < 0)
                return r;
        BadMarks m = {};
        for (char *l = text, *next; l && *l; l = next) {
                next = strchr(l, '\n');
                if (next)
                        *next++ = '\0';
                char *t1 = strchr(l, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
                if (!t2)
                        continue;
                *t1 = *t2 = '\0';
                r = marks_add(&m, l, strtoull(t1 + 1, NULL, 10), t2 + 1);
                if (r < 0) {
                        bad_marks_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}

static int marks_write(const char *root, const char *component, const BadMarks *m, GraftError *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = state_path(root, component, "bad", &path);
        if (r < 0)
                return r;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++)
                fprintf(f, "%s\t%" PRIu64 "\t%s\n", m->marks[i].version, m->marks[i].when_usec, m->marks[i].reason);
        if (fclose(f) != 0)
                return -ENOMEM;
        return write_state(root, path, text, err);
}

int bad_mark_add(const char *root, const char *component, const char *version, const char *reason, GraftError *err) {
        _cleanup_(bad_marks_done) BadMarks m = {};
        int r = bad_marks_load(root, component, &m, err);
        if (r < 0)
                return r;
        /* One line per mark: no tabs or newlines inside. */
        _cleanup_free_ char *clean = strdup(reason);
        if (!clean)
                return -ENOMEM;
        for (char *p = clean; *p; p++)
                if (*p == '\t' || *p == '\n' || *p == '\r')
                        *p = ' ';
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        BadMark *old = (BadMark *) bad_marks_find(&m, version);
        if (old) {
                free(old->reason);
                old->reason = TAKE_PTR(clean);
                old->when_usec = now;
        } else if ((r = marks_add(&m, version, now, clean)) < 0)
                return r;
        return marks_write(root, component, &m, err);
}

int bad_mark_clear(const char *root, const char *component, const char *version, GraftError *err) {
        _cleanup_(bad_marks_done) BadMarks m = {};
        int r = bad_marks_load(root, component, &m, err);
        if (r < 0)
                return r;
        BadMark *mark = (BadMark *) bad_marks_find(&m, version);
        if (!mark)
                return graft_error_set(err, -ENOENT, GRAFT_ERROR_INVALID_ARGUMENT, "version %s is not marked bad",
                                       version);
        free(mark->version);
        free(mark->reason);
        size_t i = (size_t) (mark - m.marks);
        memmove(mark, mark + 1, (m.n - i - 1) * sizeof(BadMark));
        m.n--;
        return marks_write(root, component, &m, err);
}

void pending_update_done(PendingUpdate *p) {
        free(p->version);
        free(p->previous);
        *p = (PendingUpdate) {};
}

static const char * const phase_names[_PENDING_PHASE_MAX] = {
        [PENDING_PLACING] = "placing",
        [PENDING_SWITCHED] = "switched",
};

int pending_update_load(const char *root, const char *component, PendingUpdate *ret, GraftError *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = state_path(root, component, "pending", &path);
        if (r < 0)
                return r;
        r = read_state(path, &text, err);
        if (r <= 0)
                return r;
        /* "VERSION\nPREVIOUS\nPHASE\n"; PREVIOUS empty when nothing ran before. A file without the
         * phase is taken as switched: the cautious reading (a rollback, never a second try). */
        char *lines[3] = {};
        char *p = text;
        for (size_t i = 0; i < ELEMENTSOF(lines) && p && *p; i++) {
                lines[i] = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = '\0';
        }
        if (isempty(lines[0]))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_IO, "%s is damaged", path);
        PendingUpdate u = { .version = strdup(lines[0]), .previous = isempty(lines[1]) ? NULL : strdup(lines[1]),
                            .phase = lines[2] && streq(lines[2], phase_names[PENDING_PLACING]) ? PENDING_PLACING
                                                                                               : PENDING_SWITCHED };
        if (!u.version || (!isempty(lines[1]) && !u.previous)) {
                pending_update_done(&u);
                return -ENOMEM;
        }
        *ret = u;
        return 1;
}

int pending_update_save(const char *root, const char *component, const PendingUpdate *p, GraftError *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = state_path(root, component, "pending", &path);
        if (r < 0)
                return r;
        if (asprintf(&text, "%s\n%s\n%s\n", p->version, strempty(p->previous), phase_names[p->phase]) < 0)
                return -ENOMEM;
        return write_state(root, path, text, err);
}

int pending_update_clear(const char *root, const char *component, GraftError *err) {
        _cleanup_free_ char *path = NULL;
        int r = state_path(root, component, "pending", &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot remove %s: %m", path);
        _cleanup_free_ char *dir = strndup(path, strrchr(path, '/') - path);
        _cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
        if (fd >= 0)
                (void) fsync(fd);
        return 0;
}

int pending_update_components(const char *root, char ***ret, GraftError *err) {
        _cleanup_free_ char *dir = path_prefix_root(root, STATE_DIR);
        if (!dir)
                return -ENOMEM;
        _cleanup_strv_free_ char **l = NULL;
        DIR *d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot read %s: %m", dir);
                *ret = NULL;
                return 0;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)) && r >= 0) {
                size_t n = strlen(de->d_name);
                if (de->d_name[0] == '.' || n <= STRLEN(".pending") || !endswith(de->d_name, ".pending"))
                        continue;
                char *c = strndup(de->d_name, n - STRLEN(".pending"));
                r = c ? strv_consume(&l, c) : -ENOMEM;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (l)
                strv_sort(l);
        *ret = TAKE_PTR(l);
        return 0;
}
