/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Corpus replay for the fuzz targets when they are not built as libFuzzer programs: every file
 * named on the command line, or found in a directory named there, is fed to the target once. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fuzz.h"

static int replay_file(const char *path) {
        char *data = NULL;
        size_t size = 0;
        int r = read_full_file_at(AT_FDCWD, path, 64 * 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        free(data);
        return 0;
}

int main(int argc, char **argv) {
        unsigned n = 0, failed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        failed += replay_file(argv[i]);
                        n++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                for (struct dirent *de; d && (de = readdir(d));) {
                        if (de->d_name[0] == '.')
                                continue;
                        char p[4096];
                        snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name);
                        failed += replay_file(p);
                        n++;
                }
                if (d)
                        closedir(d);
        }
        fprintf(stderr, "%u inputs replayed\n", n);
        if (n == 0) {
                fprintf(stderr, "no corpus given\n");
                return 77;
        }
        return failed ? 1 : 0;
}
