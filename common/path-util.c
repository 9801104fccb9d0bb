/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>

#include "path-util.h"

char *path_join_many(const char *first, ...) {
        va_list ap;
        size_t n = 1;
        va_start(ap, first);
        for (const char *p = first; p; p = va_arg(ap, const char *))
                n += strlen(p) + 1;
        va_end(ap);

        char *r = malloc(n), *q = r;
        if (!r)
                return NULL;
        *q = 0;
        va_start(ap, first);
        for (const char *p = first; p; p = va_arg(ap, const char *)) {
                if (*p == 0)
                        continue;
                if (q > r) {
                        if (q[-1] != '/')
                                *q++ = '/';
                        while (*p == '/')
                                p++;
                }
                q = stpcpy(q, p);
        }
        va_end(ap);
        return r;
}

bool filename_is_validn(const char *name, size_t n) {
        if (n == 0 || n > 255)
                return false;
        if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] == '/' || (unsigned char) name[i] < 0x20 || name[i] == 0x7f)
                        return false;
        return true;
}

bool filename_is_valid(const char *name) {
        return name && filename_is_validn(name, strlen(name));
}

bool path_is_safe_relative(const char *path) {
        if (isempty(path) || path[0] == '/')
                return false;
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");
                if (!filename_is_validn(p, n))
                        return false;
                p += n;
                if (*p == '/')
                        p++;
        }
        return true;
}

char *path_basename(const char *path) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
                n--;
        size_t start = n;
        while (start > 0 && path[start - 1] != '/')
                start--;
        if (start == n) /* "/" */
                return strdup("/");
        return strndup(path + start, n - start);
}

bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *strdup_strip_suffix(const char *s, const char *suffix) {
        if (endswith(s, suffix))
                return strndup(s, strlen(s) - strlen(suffix));
        return strdup(s);
}

char *path_prefix_root(const char *root, const char *path) {
        if (isempty(root) || streq(root, "/"))
                return strdup(path);
        return path_join(root, path);
}

#define OPEN_IN_ROOT_MAX_RETRIES 64u

int open_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        while (*path == '/')
                path++;
        if (*path == 0)
                path = ".";
        /* With RESOLVE_IN_ROOT the kernel fails with EAGAIN when a rename or a mount anywhere on
         * the system raced with resolving a ".." component, and asks the caller to try again
         * (e.g. graftd attaching while it merges extensions onto the same root's /usr). */
        for (unsigned attempt = 0;; attempt++) {
                long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN || attempt >= OPEN_IN_ROOT_MAX_RETRIES)
                        return negative_errno();
        }
}
