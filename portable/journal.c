/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the intent journal (see journal.h): its text form, its directory, writing it durably, and
 * replaying it (undo or finish) against what is on disk. */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fault.h"
#include "fileio.h"
#include "journal.h"
#include "path-util.h"
#include "portable-util.h"

#define JOURNAL_MAX (1024 * 1024)
#define JOURNAL_HEADER "graft-portable-journal 1"

static const char * const state_names[_JOURNAL_STATE_MAX] = {
        [JOURNAL_PENDING] = "pending",
        [JOURNAL_STAGED] = "staged",
        [JOURNAL_COMMITTED] = "committed",
};

static const char * const kind_names[_JOURNAL_KIND_MAX] = {
        [JOURNAL_MKDIR] = "mkdir",
        [JOURNAL_NEW] = "new",
        [JOURNAL_UNLINK] = "unlink",
        [JOURNAL_RMDIR] = "rmdir",
};

void journal_done(Journal *j) {
        if (!j)
                return;
        for (size_t i = 0; i < j->n_steps; i++) {
                free(j->steps[i].path);
                free(j->steps[i].temp);
                free(j->steps[i].backup);
        }
        free(j->steps);
        free(j->what);
        *j = (Journal) {};
}

int journal_add(Journal *j, JournalKind kind, const char *path, const char *temp, const char *backup) {
        JournalStep *g = reallocarray(j->steps, j->n_steps + 1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        j->steps = g;
        JournalStep s = {
                .kind = kind,
                .path = strdup(path),
                .temp = temp ? strdup(temp) : NULL,
                .backup = backup ? strdup(backup) : NULL,
        };
        if (!s.path || (temp && !s.temp) || (backup && !s.backup)) {
                free(s.path);
                free(s.temp);
                free(s.backup);
                return -ENOMEM;
        }
        j->steps[j->n_steps++] = s;
        return 0;
}

char *journal_temp_name(void) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof v, 0) != (ssize_t) sizeof v)
                v ^= (uint64_t) getpid() << 32 ^ (uint64_t) (uintptr_t) &v;
        char *s;
        return asprintf(&s, ".#pctl%016" PRIx64, v) < 0 ? NULL : s;
}

static const char *journal_dir(bool runtime) {
        return runtime ? "/run/graft" : "/var/lib/graft";
}

static char *journal_shown(const char *root, bool runtime) {
        _cleanup_free_ char *dir = path_join(journal_dir(runtime), JOURNAL_FILE);
        return dir ? path_prefix_root(root, dir) : NULL;
}

/* ---- The text form: one field per word, each value encoded (portable_value_encode). ---- */

static int append_line(char **buf, size_t *n, const char *format, ...) _printf_(3, 4);
static int append_line(char **buf, size_t *n, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        _cleanup_free_ char *line = NULL;
        int k = vasprintf(&line, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        char *g = realloc(*buf, *n + (size_t) k + 1);
        if (!g)
                return -ENOMEM;
        memcpy(g + *n, line, (size_t) k + 1);
        *buf = g;
        *n += (size_t) k;
        return 0;
}

static int journal_format(const Journal *j, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL, *what = portable_value_encode(strempty(j->what));
        size_t n = 0;
        if (!what)
                return -ENOMEM;
        int r = append_line(&buf, &n, "%s\nstate %s\nwhat %s\n", JOURNAL_HEADER, state_names[j->state],
                            isempty(what) ? "-" : what);
        for (size_t i = 0; r >= 0 && i < j->n_steps; i++) {
                const JournalStep *s = &j->steps[i];
                _cleanup_free_ char *path = portable_value_encode(s->path);
                if (!path)
                        return -ENOMEM;
                r = append_line(&buf, &n, "%s %s %s %s\n", kind_names[s->kind], path, s->temp ?: "-", s->backup ?: "-");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

static int lookup(const char * const *names, int n, const char *s, size_t len) {
        for (int i = 0; i < n; i++)
                if (strlen(names[i]) == len && strneq(names[i], s, len))
                        return i;
        return -EBADMSG;
}

/* A temporary or backup name: "-" (none) or one of ours. */
static int parse_name(const char *s, size_t len, char **ret) {
        *ret = NULL;
        if (len == 1 && s[0] == '-')
                return 0;
        if (len <= STRLEN(".#pctl") || !strneq(s, ".#pctl", STRLEN(".#pctl")) || !filename_is_validn(s, len))
                return -EBADMSG;
        return (*ret = strndup(s, len)) ? 0 : -ENOMEM;
}

/* The words of a line: up to max, separated by single spaces. */
static size_t split_words(const char *line, size_t len, const char **w, size_t *wl, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < len && n < max;) {
                size_t k = strcspn(line + i, " ");
                k = MIN(k, len - i);
                w[n] = line + i;
                wl[n++] = k;
                i += k + 1;
        }
        return n;
}

static int parse_step(Journal *j, const char *line, size_t len) {
        const char *w[5];
        size_t wl[5];
        if (split_words(line, len, w, wl, 5) != 4)
                return -EBADMSG;
        int kind = lookup(kind_names, _JOURNAL_KIND_MAX, w[0], wl[0]);
        if (kind < 0)
                return kind;
        _cleanup_free_ char *path = NULL, *temp = NULL, *backup = NULL;
        int r = portable_value_decode(w[1], wl[1], &path);
        if (r >= 0)
                r = parse_name(w[2], wl[2], &temp);
        if (r >= 0)
                r = parse_name(w[3], wl[3], &backup);
        if (r < 0)
                return r;
        if (path[0] != '/' || !path_is_safe_relative(path + 1) || (kind == JOURNAL_NEW) != !!temp ||
            (kind == JOURNAL_UNLINK && !backup) || ((kind == JOURNAL_MKDIR || kind == JOURNAL_RMDIR) && backup) ||
            (j->runtime && !startswith(path, "/run/")))
                return -EBADMSG;
        return journal_add(j, (JournalKind) kind, path, temp, backup);
}

static int journal_parse(const char *text, size_t size, bool runtime, Journal *ret, size_t *ret_line) {
        _cleanup_(journal_done) Journal j = { .runtime = runtime };
        size_t line = 0;
        bool have_state = false;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(text + i, '\n', size - i);
                if (!nl)
                        break; /* a last line without its newline is a torn write: not ours */
                size_t len = (size_t) (nl - (text + i));
                const char *l = text + i;
                i += len + 1;
                int r = 0;
                line++;
                if (line == 1)
                        r = len == STRLEN(JOURNAL_HEADER) && strneq(l, JOURNAL_HEADER, len) ? 0 : -EBADMSG;
                else if (line == 2 && len > 6 && strneq(l, "state ", 6)) {
                        r = lookup(state_names, _JOURNAL_STATE_MAX, l + 6, len - 6);
                        j.state = r >= 0 ? (JournalState) r : j.state;
                        have_state = r >= 0;
                } else if (line == 3 && len > 5 && strneq(l, "what ", 5))
                        r = len == 6 && l[5] == '-' ? 0 : portable_value_decode(l + 5, len - 5, &j.what);
                else if (line > 3)
                        r = parse_step(&j, l, len);
                else
                        r = -EBADMSG;
                if (r < 0) {
                        *ret_line = line;
                        return r == -ENOMEM ? r : -EBADMSG;
                }
        }
        if (!have_state || line < 3 || (size > 0 && text[size - 1] != '\n')) {
                *ret_line = line + 1;
                return -EBADMSG;
        }
        *ret = j;
        j = (Journal) {};
        return 0;
}

/* ---- The directory and the file. ---- */

/* path (and each missing ancestor) inside the root, for the directories above the journal's: they
 * are the root's own (var/lib may be a symlink or a mount), resolved inside it, made when missing. */
static int open_or_make_in_root(int root_fd, const char *path, bool create) {
        int fd = open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
        if (fd != -ENOENT || !create)
                return fd;
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash && slash > path ? strndup(path, (size_t) (slash - path)) : NULL;
        if (slash > path && !parent)
                return -ENOMEM;
        _cleanup_close_ int pfd = parent ? open_or_make_in_root(root_fd, parent, true) : -EBADF;
        if (parent && pfd < 0)
                return pfd;
        if (mkdirat(parent ? pfd : root_fd, slash ? slash + 1 : path, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        return open_in_root(root_fd, path, O_RDONLY | O_DIRECTORY, 0);
}

int journal_dir_open(int root_fd, const char *root, bool runtime, bool create, GraftError *err) {
        const char *parent = runtime ? "/run" : "/var/lib";
        _cleanup_free_ char *shown = path_prefix_root(root, journal_dir(runtime));
        if (!shown)
                return -ENOMEM;
        _cleanup_close_ int pfd = open_or_make_in_root(root_fd, parent, create);
        if (pfd == -ENOENT && !create)
                return -ENOENT;
        if (pfd < 0)
                return graft_error_set(err, pfd, GRAFT_ERROR_IO, "cannot open %s%s: %s", strempty(root), parent,
                                       strerror(-pfd));
        /* graft/ itself must be ours and writable by nobody else: its journal steers renames. */
        if (create && mkdirat(pfd, "graft", 0700) < 0 && errno != EEXIST)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot create %s: %m", shown);
        _cleanup_close_ int fd = openat(pfd, "graft", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !create)
                return -ENOENT;
        if (fd < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot open %s: %m", shown);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot stat %s: %m", shown);
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return graft_error_set(err, -EPERM, GRAFT_ERROR_IO,
                                       "refusing the journal directory %s: owned by uid %u with mode %04o; it must be "
                                       "ours and writable by nobody else",
                                       shown, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
        return TAKE_FD(fd);
}

static int write_at(int dir_fd, const char *name, const char *data, size_t size) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        int r = pwrite_full(fd, data, size, 0);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        return r;
}

int journal_write(int dir_fd, const char *root, const Journal *j, GraftError *err) {
        _cleanup_free_ char *text = NULL, *shown = journal_shown(root, j->runtime);
        size_t size = 0;
        int r = journal_format(j, &text, &size);
        if (r < 0)
                return r;
        r = write_at(dir_fd, JOURNAL_NEW_FILE, text, size);
        if (r >= 0)
                fault_point("journal written as " JOURNAL_NEW_FILE);
        if (r >= 0 && renameat(dir_fd, JOURNAL_NEW_FILE, dir_fd, JOURNAL_FILE) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(dir_fd) < 0)
                r = negative_errno();
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot write the journal %s: %s", strna(shown),
                                       strerror(-r));
        fault_point(j->state == JOURNAL_PENDING  ? "journal written (pending)"
                    : j->state == JOURNAL_STAGED ? "journal written (staged)"
                                                 : "journal written (committed)");
        return 0;
}

int journal_remove(int dir_fd, const char *root, const Journal *j, GraftError *err) {
        int r = 0;
        if (unlinkat(dir_fd, JOURNAL_NEW_FILE, 0) < 0 && errno != ENOENT)
                r = negative_errno();
        if (r >= 0 && unlinkat(dir_fd, JOURNAL_FILE, 0) < 0 && errno != ENOENT)
                r = negative_errno();
        if (r >= 0 && fsync(dir_fd) < 0)
                r = negative_errno();
        if (r < 0) {
                _cleanup_free_ char *shown = journal_shown(root, j->runtime);
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot remove the journal %s: %s", strna(shown),
                                       strerror(-r));
        }
        fault_point("journal removed");
        return 0;
}

int journal_remove_torn(int dir_fd, const char *root, bool runtime, GraftError *err) {
        if (unlinkat(dir_fd, JOURNAL_NEW_FILE, 0) < 0) {
                if (errno == ENOENT)
                        return 0;
                _cleanup_free_ char *shown = journal_shown(root, runtime);
                return graft_error_set(err, negative_errno(), GRAFT_ERROR_IO, "cannot remove %s.new: %m", strna(shown));
        }
        (void) fsync(dir_fd);
        fault_point("torn journal removed");
        return 0;
}

int journal_read(int dir_fd, const char *root, bool runtime, Journal *ret, GraftError *err) {
        _cleanup_free_ char *shown = journal_shown(root, runtime), *text = NULL;
        size_t size = 0, line = 0;
        int r = file_read(&(FileOpen) { .dir_fd = dir_fd, .path = JOURNAL_FILE, .nofollow = true, .display = shown },
                          JOURNAL_MAX, &text, &size, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot read the journal %s: %s", strna(shown),
                                       strerror(-r));
        r = journal_parse(text, size, runtime, ret, &line);
        if (r == -EBADMSG)
                return graft_error_set(err, r, GRAFT_ERROR_IO,
                                       "the journal %s is damaged (line %zu); an interrupted portable operation cannot "
                                       "be recovered from it: check the files it names, then remove it",
                                       strna(shown), line);
        return r < 0 ? r : 1;
}

/* ---- Replay. ---- */

typedef struct Replay {
        int root_fd;
        const char *root;
        GraftError *err;
        int r; /* the first failure */
} Replay;

static void replay_fail(Replay *p, const JournalStep *s, const char *what, int r) {
        if (p->r < 0)
                return;
        _cleanup_free_ char *full = path_prefix_root(p->root, s->path);
        p->r = graft_error_set(p->err, r, GRAFT_ERROR_IO, "cannot %s %s: %s", what, full ?: s->path, strerror(-r));
}

/* The directory of a step's path, and its last component; -ENOENT when the directory is gone
 * (then nothing of the step can be left there). */
static int step_dir(Replay *p, const JournalStep *s, char **ret_name) {
        _cleanup_free_ char *name = path_basename(s->path);
        _cleanup_free_ char *parent = name ? strndup(s->path, strlen(s->path) - strlen(name)) : NULL;
        if (!parent)
                return -ENOMEM;
        int fd = open_in_root(p->root_fd, parent, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return -ENOENT;
        if (fd < 0) {
                replay_fail(p, s, "open the directory of", fd);
                return fd;
        }
        *ret_name = TAKE_PTR(name);
        return fd;
}

static bool exists_at(int dir_fd, const char *name, struct stat *st) {
        struct stat buf;
        return name && fstatat(dir_fd, name, st ?: &buf, AT_SYMLINK_NOFOLLOW) >= 0;
}

/* Each change is synced before the next, so that after a power loss the disk never shows a later
 * action of the replay without an earlier one. */
static void changed(Replay *p, int dir_fd, const JournalStep *s, const char *fault) {
        if (fsync(dir_fd) < 0)
                replay_fail(p, s, "sync the directory of", negative_errno());
        fault_point(fault);
}

/* A temporary file or a backup (a whole tree for a directory removed). */
static void remove_at(Replay *p, int dir_fd, const JournalStep *s, const char *name, const char *fault) {
        struct stat st;
        if (!exists_at(dir_fd, name, &st))
                return;
        int r = S_ISDIR(st.st_mode) ? portable_remove_tree_at(dir_fd, name, false)
                : unlinkat(dir_fd, name, 0) < 0 ? negative_errno() : 0;
        if (r < 0)
                return replay_fail(p, s, name == s->temp ? "remove the file staged for" : "remove the backup of", r);
        changed(p, dir_fd, s, fault);
}

/* rmdir results that leave nothing to do: gone already, or still holding something. */
static bool rmdir_benign(int e) {
        return e == ENOENT || e == ENOTEMPTY || e == EEXIST || e == ENOTDIR;
}

/* The backup back in place of path. When the two are one inode (the backup was linked and the
 * rename over path never came), the backup only goes. */
static void restore_at(Replay *p, int dir_fd, const JournalStep *s, const char *name) {
        struct stat b, t;
        if (!exists_at(dir_fd, s->backup, &b))
                return;
        int r;
        if (exists_at(dir_fd, name, &t) && t.st_dev == b.st_dev && t.st_ino == b.st_ino)
                r = unlinkat(dir_fd, s->backup, 0) < 0 ? negative_errno() : 0;
        else
                r = renameat(dir_fd, s->backup, dir_fd, name) < 0 ? negative_errno() : 0;
        if (r < 0)
                return replay_fail(p, s, "restore", r);
        changed(p, dir_fd, s, "undo: backup restored");
}

static void undo_step(Replay *p, const JournalStep *s, JournalState state) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = step_dir(p, s, &name);
        if (dir_fd < 0)
                return;
        switch (s->kind) {
        case JOURNAL_MKDIR:
                if (unlinkat(dir_fd, name, AT_REMOVEDIR) >= 0)
                        changed(p, dir_fd, s, "undo: directory removed");
                else if (!rmdir_benign(errno))
                        replay_fail(p, s, "remove the directory", negative_errno());
                return;
        case JOURNAL_NEW:
                if (exists_at(dir_fd, s->temp, NULL)) {
                        /* Never renamed into place: the backup, if linked already, is the old file. */
                        remove_at(p, dir_fd, s, s->temp, "undo: staged file removed");
                        remove_at(p, dir_fd, s, s->backup, "undo: backup removed");
                } else if (state == JOURNAL_STAGED && s->backup)
                        restore_at(p, dir_fd, s, name);
                else if (state == JOURNAL_STAGED && exists_at(dir_fd, name, NULL)) {
                        /* Staged, and the staged file is gone: it was renamed into place. */
                        if (unlinkat(dir_fd, name, 0) < 0)
                                return replay_fail(p, s, "remove", negative_errno());
                        changed(p, dir_fd, s, "undo: new file removed");
                }
                return;
        case JOURNAL_UNLINK:
                if (state == JOURNAL_STAGED)
                        restore_at(p, dir_fd, s, name);
                return;
        default:
                return;
        }
}

int journal_undo(int root_fd, const char *root, const Journal *j, GraftError *err) {
        Replay p = { .root_fd = root_fd, .root = root, .err = err };
        if (j->state == JOURNAL_COMMITTED)
                return -EINVAL;
        for (size_t i = j->n_steps; i-- > 0;)
                undo_step(&p, &j->steps[i], j->state);
        return p.r;
}

int journal_finish(int root_fd, const char *root, const Journal *j, bool *removed, GraftError *err) {
        Replay p = { .root_fd = root_fd, .root = root, .err = err };
        if (j->state != JOURNAL_COMMITTED)
                return -EINVAL;
        /* Backups first: they live in the directories that may go next. */
        for (size_t i = 0; i < j->n_steps; i++) {
                const JournalStep *s = &j->steps[i];
                if (!s->temp && !s->backup)
                        continue;
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int dir_fd = step_dir(&p, s, &name);
                if (dir_fd < 0)
                        continue;
                remove_at(&p, dir_fd, s, s->temp, "finish: staged file removed");
                remove_at(&p, dir_fd, s, s->backup, "finish: backup removed");
        }
        for (size_t i = 0; i < j->n_steps; i++) {
                const JournalStep *s = &j->steps[i];
                if (removed)
                        removed[i] = false;
                if (s->kind != JOURNAL_RMDIR)
                        continue;
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int dir_fd = step_dir(&p, s, &name);
                if (dir_fd < 0)
                        continue;
                if (unlinkat(dir_fd, name, AT_REMOVEDIR) >= 0) {
                        if (removed)
                                removed[i] = true;
                        changed(&p, dir_fd, s, "finish: directory removed");
                } else if (!rmdir_benign(errno))
                        replay_fail(&p, s, "remove the directory", negative_errno());
        }
        return p.r;
}
