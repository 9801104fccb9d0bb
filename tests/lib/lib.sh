# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the shell integration tests. A test sources this file first: it re-executes
# the test in a private mount namespace (so nothing it mounts is seen outside and everything
# vanishes with it), gives it a scratch directory $T that is removed at the end, and offers
# assertions that print what was expected and what came.
#
# Exit status 77 means "skipped" (with the reason printed), as meson expects.

set -euo pipefail

: "${GRAFT_BUILD_DIR:?run through meson test}"
: "${GRAFT_SOURCE_DIR:?run through meson test}"
GRAFT_IMAGE=$GRAFT_BUILD_DIR/graft-image/graft-image
export GRAFT_NO_PROGRESS=1 NO_COLOR=1

skip() {
        echo "SKIP: $*" >&2
        exit 77
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

if [[ -z ${GRAFT_TEST_IN_NAMESPACE:-} ]]; then
        [[ $EUID -eq 0 ]] || skip "needs root (loop devices, mounts)"
        command -v unshare >/dev/null || skip "unshare is missing"
        export GRAFT_TEST_IN_NAMESPACE=1
        exec unshare -m --propagation private "$0" "$@"
fi

T=$(mktemp -d /tmp/graft-test.XXXXXX)
# Command output captured by run_expect lives outside $T, so that $T stays as the test made it.
O=$(mktemp -d /tmp/graft-test-output.XXXXXX)
cleanup() {
        local rc=$?
        set +e
        # Unmount whatever the test left below $T (deepest first), then remove it.
        grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
        rm -rf "$T" "$O"
        exit $rc
}
trap cleanup EXIT

need() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null || skip "$c is not installed"
        done
}

# run_expect CODE NEEDLE CMD...: runs CMD, checks its exit status and that stderr contains NEEDLE.
run_expect() {
        local code=$1 needle=$2 rc=0
        shift 2
        "$@" >"$O/out" 2>"$O/err" || rc=$?
        if [[ $rc -ne $code ]]; then
                cat "$O/out" "$O/err" >&2
                fail "'$*' exited $rc, expected $code"
        fi
        if [[ -n $needle ]] && ! grep -qF -- "$needle" "$O/err"; then
                cat "$O/err" >&2
                fail "'$*': stderr lacks '$needle'"
        fi
}

# assert_contains FILE NEEDLE
assert_contains() {
        grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks '$2'"; }
}

assert_eq() {
        [[ "$1" == "$2" ]] || fail "expected '$2', got '$1'${3:+ ($3)}"
}

# A fingerprint of a directory tree: every path, type, mode and content hash. Used to prove that
# a refused operation changed nothing. The lock files of run/graft/locks are left out: taking the
# operation lock is not a change.
tree_state() {
        (cd "$1" && find . -path ./run/graft/locks -prune -o -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
                find . -path ./run/graft/locks -prune -o -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# make_cert DIR NAME: DIR/NAME.key, DIR/NAME.crt (throwaway RSA key, self-signed).
make_cert() {
        mkdir -p "$1"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/$2.key" -out "$1/$2.crt" \
                -subj "/CN=$2" -days 3650 2>/dev/null
}

# make_sysext_tree DIR NAME: a small extension tree for a host with ID=debian VERSION_ID=12.
make_sysext_tree() {
        mkdir -p "$1/usr/lib/extension-release.d" "$1/usr/bin" "$1/usr/share/$2"
        printf 'ID=debian\nVERSION_ID=12\n' >"$1/usr/lib/extension-release.d/extension-release.$2"
        printf '#!/bin/sh\necho %s\n' "$2" >"$1/usr/bin/$2"
        chmod 755 "$1/usr/bin/$2"
        head -c 300000 /dev/urandom >"$1/usr/share/$2/blob"
        seq 1 20000 >"$1/usr/share/$2/numbers"
}

# make_portable_tree DIR NAME: a small portable service tree.
make_portable_tree() {
        mkdir -p "$1/usr/lib/systemd/system" "$1/etc" "$1/usr/bin"
        printf 'ID=graft-test\nVERSION_ID=1\nPORTABLE_PREFIXES=%s\n' "$2" >"$1/usr/lib/os-release"
        ln -s ../usr/lib/os-release "$1/etc/os-release"
        printf '[Service]\nExecStart=/usr/bin/true\n' >"$1/usr/lib/systemd/system/$2.service"
        printf '[Socket]\nListenStream=1234\n' >"$1/usr/lib/systemd/system/$2.socket"
        printf 'not a unit\n' >"$1/usr/lib/systemd/system/README"
}

# Partition N's byte offset and size (from sfdisk's dump of an image).
part_offset() {
        sfdisk --json "$1" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p['start']*512)"
}
part_size() {
        sfdisk --json "$1" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p['size']*512)"
}

# flip_byte FILE OFFSET: inverts one byte in place.
flip_byte() {
        python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
PY
}
