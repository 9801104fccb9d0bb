/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns SHA256SUMS parsing and its signature check (see manifest.h). gpgv runs in an empty home
 * directory of its own with the data and signature in private files, and its status lines (not
 * its human messages) decide. */
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "file-trust.h"
#include "fileio.h"
#include "manifest.h"
#include "path-util.h"
#include "strv.h"

extern char **environ;

void manifest_done(Manifest *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->entries[i].name);
        free(m->entries);
        *m = (Manifest) {};
}

const ManifestEntry *manifest_find(const Manifest *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->entries[i].name, name))
                        return &m->entries[i];
        return NULL;
}

static int parse_line(char *l, const char *what, unsigned line, Manifest *m, GraftError *err) {
        size_t n = strlen(l);
        if (n > 0 && l[n - 1] == '\r')
                l[--n] = '\0';
        if (n == 0)
                return 0;
        bool ok = n > 66 && l[64] == ' ' && (l[65] == ' ' || l[65] == '*');
        for (size_t i = 0; ok && i < 64; i++)
                ok = isxdigit((unsigned char) l[i]);
        if (!ok)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "%s:%u: not a \"SHA256 NAME\" line", what, line);
        const char *name = l + 66;
        if (!filename_is_valid(name))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                       "%s:%u: \"%s\" is not a plain file name", what, line, name);
        char hash[65];
        for (size_t i = 0; i < 64; i++)
                hash[i] = (char) tolower((unsigned char) l[i]);
        hash[64] = '\0';
        const ManifestEntry *e = manifest_find(m, name);
        if (e) {
                if (!streq(e->sha256, hash))
                        return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY,
                                               "%s:%u: %s is listed twice with different hashes", what, line, name);
                return 0;
        }
        ManifestEntry *a = reallocarray(m->entries, m->n + 1, sizeof(ManifestEntry));
        if (!a)
                return -ENOMEM;
        m->entries = a;
        m->entries[m->n] = (ManifestEntry) { .name = strdup(name) };
        if (!m->entries[m->n].name)
                return -ENOMEM;
        memcpy(m->entries[m->n].sha256, hash, sizeof hash);
        m->n++;
        return 0;
}

int manifest_parse(const char *text, size_t size, const char *what, Manifest *ret, GraftError *err) {
        if (memchr(text, '\0', size))
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_INTEGRITY, "%s contains a NUL byte", what);
        _cleanup_free_ char *copy = strndup(text, size);
        if (!copy)
                return -ENOMEM;
        Manifest m = {};
        unsigned line = 0;
        int r = 0;
        for (char *save = NULL, *l = copy, *nl; l && r >= 0; l = save) {
                nl = strchr(l, '\n');
                save = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = '\0';
                r = parse_line(l, what, ++line, &m, err);
        }
        if (r < 0) {
                manifest_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int manifest_keyring_find(const char *root, const char *keyring, char **ret, GraftError *err) {
        static const char * const places[] = {
                "/etc/systemd/import-pubring.pgp", "/etc/systemd/import-pubring.gpg",
                "/usr/lib/systemd/import-pubring.pgp", "/usr/lib/systemd/import-pubring.gpg", NULL,
        };
        if (keyring) {
                if (access(keyring, R_OK) < 0)
                        return graft_error_set(err, -errno, GRAFT_ERROR_UNTRUSTED, "cannot read keyring %s: %m", keyring);
                _cleanup_free_ char *k = realpath(keyring, NULL);
                if (!k)
                        return -ENOMEM;
                /* Whoever could change the keyring could sign releases: it must be root's alone. */
                int r = path_check_trusted(k, "keyring", err);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(k);
                return 0;
        }
        _cleanup_strv_free_ char **tried = NULL;
        for (const char * const *p = places; *p; p++) {
                char *full = path_prefix_root(root, *p);
                if (!full)
                        return -ENOMEM;
                if (access(full, R_OK) >= 0) {
                        int r = path_check_trusted(full, "keyring", err);
                        if (r < 0) {
                                free(full);
                                return r;
                        }
                        *ret = full;
                        return 0;
                }
                if (strv_consume(&tried, full) < 0)
                        return -ENOMEM;
        }
        _cleanup_free_ char *list = strv_join(tried, ", ");
        return graft_error_set(err, -ENOENT, GRAFT_ERROR_UNTRUSTED,
                               "Verify=yes, but there is no keyring to check SHA256SUMS.gpg with (looked for %s)",
                               strna(list));
}

/* Runs gpgv in dir; its status output (fd 1) in *ret. */
static int run_gpgv(const char *dir, const char *keyring, char **ret, int *ret_status) {
        _cleanup_free_ char *home = path_join(dir, "home"), *sig = path_join(dir, "sig"), *data = path_join(dir, "data");
        if (!home || !sig || !data)
                return -ENOMEM;
        if (mkdir(home, 0700) < 0)
                return -errno;
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        char *argv[] = { "gpgv", "--homedir", home, "--status-fd", "1", "--keyring", (char *) keyring, sig, data, NULL };
        pid_t pid;
        int r = -posix_spawnp(&pid, "gpgv", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r < 0) {
                close(pipefd[0]);
                return r;
        }
        r = read_full_fd(pipefd[0], 1024 * 1024, ret, NULL);
        close(pipefd[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        *ret_status = status;
        return r;
}

static char *status_field(const char *out, const char *keyword) {
        _cleanup_free_ char *needle = NULL;
        if (asprintf(&needle, "[GNUPG:] %s ", keyword) < 0)
                return NULL;
        const char *p = strstr(out, needle);
        if (!p)
                return NULL;
        p += strlen(needle);
        return strndup(p, strcspn(p, " \n"));
}

static int write_private(const char *dir, const char *name, const char *data, size_t size) {
        _cleanup_free_ char *p = path_join(dir, name);
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        return pwrite_full(fd, data, size, 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) (flag == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

/* The private directory, whatever gpgv left in its home. */
static void remove_private(const char *dir) {
        (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int judge(const char *out, int status, const char *keyring, const char *what, char **ret_signer,
                 GraftError *err) {
        _cleanup_free_ char *missing = status_field(out, "NO_PUBKEY"), *bad = status_field(out, "BADSIG"),
                            *valid = status_field(out, "VALIDSIG");
        if (missing)
                return graft_error_set(err, -EPERM, GRAFT_ERROR_UNTRUSTED,
                                       "%s.gpg: signed by key %s, which is not in the keyring %s", what, missing,
                                       keyring);
        if (bad)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s.gpg: the signature by key %s does not match %s (BADSIG)", what, bad, what);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !valid)
                return graft_error_set(err, -EBADMSG, GRAFT_ERROR_BAD_SIGNATURE,
                                       "%s.gpg: no valid signature over %s (gpgv exit status %d)", what, what,
                                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (ret_signer)
                *ret_signer = TAKE_PTR(valid);
        return 0;
}

int manifest_verify_signature(const char *data, size_t data_size, const char *sig, size_t sig_size,
                              const char *keyring, const char *what, char **ret_signer, GraftError *err) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *dir = path_join(isempty(tmp) ? "/tmp" : tmp, "graft-gpgv.XXXXXX");
        if (!dir)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return graft_error_set(err, -errno, GRAFT_ERROR_IO, "cannot make a directory for gpgv: %m");
        int r = write_private(dir, "data", data, data_size);
        if (r >= 0)
                r = write_private(dir, "sig", sig, sig_size);
        _cleanup_free_ char *out = NULL;
        int status = 0;
        if (r >= 0)
                r = run_gpgv(dir, keyring, &out, &status);
        remove_private(dir);
        if (r == -ENOENT)
                return graft_error_set(err, r, GRAFT_ERROR_MISSING_FILE, "cannot check %s.gpg: gpgv is not installed", what);
        if (r < 0)
                return graft_error_set(err, r, GRAFT_ERROR_IO, "cannot check %s.gpg with gpgv: %s", what, strerror(-r));
        return judge(out, status, keyring, what, ret_signer, err);
}
