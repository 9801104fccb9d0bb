# SPDX-License-Identifier: LGPL-2.1-or-later
# For the e2e tests that serve their releases from tests/integration/update/lib-update.sh, which
# takes the test into a network namespace of its own (only a loopback) as it is sourced: source
# this file first, with NSPAWN_ROOT_PACKAGES naming extra packages if any, and the cached root
# (tests/e2e/lib/nspawn.sh) is built while the Debian mirror can still be reached. Does nothing
# once inside the namespace, nor when the root is cached already. A skip (exit 77) is passed on.
if [[ -z ${GRAFT_TEST_IN_NETNS:-} ]]; then
        GRAFT_E2E_EXTRA_PACKAGES=${NSPAWN_ROOT_PACKAGES:-} bash -c '
                skip() { echo "SKIP: $*" >&2; exit 77; }
                fail() { echo "FAIL: $*" >&2; exit 1; }
                source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
                nspawn_root >/dev/null' || exit $?
fi
