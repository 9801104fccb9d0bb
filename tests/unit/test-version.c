/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

int main(void) {
        return EXIT_TEST_SKIP; /* not written yet */
}
