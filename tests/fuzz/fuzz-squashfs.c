/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The squashfs reader on arbitrary bytes: open, walk the whole tree, list and read what inspect
 * reads. */
#include "fuzz.h"
#include "squashfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int fd = fuzz_memfd(data, size);
        if (fd < 0)
                return 0;
        ImageRange range = { .fd = fd, .offset = 0, .size = size, .what = "fuzz" };
        SquashfsReader *r = NULL;
        GraftError e = GRAFT_ERROR_INIT;
        if (squashfs_reader_open(&range, &r, &e) >= 0) {
                uint64_t n;
                (void) squashfs_check_tree(r, &n, NULL);
                SquashfsEntry *entries = NULL;
                size_t k = 0;
                if (squashfs_list_dir(r, "/usr/lib/systemd/system", &entries, &k, NULL) >= 0)
                        squashfs_entries_free(entries, k);
                char *text = NULL;
                size_t ts;
                if (squashfs_read_file(r, "/etc/os-release", 65536, &text, &ts, NULL) >= 0)
                        free(text);
        }
        squashfs_reader_free(r);
        graft_error_done(&e);
        close(fd);
        return 0;
}
