#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The unlucky operator's full disk: an attach that cannot write its units or drop-ins (a full
# /etc), or whose lock and journal directory is full, fails naming the file and the reason and
# leaves the host as it was, in-process and through graftd; the next attach, once there is room,
# works.
set -euo pipefail
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"

portable_image demo
O=$T/out
mkdir -p "$O"
bus_start
graftd_start
trap 'graftd_cleanup' EXIT

# fill DIR: whatever room DIR's file system has left, taken by one file.
fill() { head -c 1048576 /dev/zero >"$1/fill" 2>/dev/null || true; }

mkdir -p "$R/etc/systemd"
mount -t tmpfs -o size=16k tmpfs "$R/etc/systemd"
fill "$R/etc/systemd"
host_snapshot "$T/before"
for via in --direct ""; do
        run_expect 1 "$R/etc/systemd/system.attached/demo.service.d/" "$PCTL" --root "$R" $via attach --enable demo
        assert_contains "$O/err" "No space left on device"
        assert_host_unchanged "$T/before"
done

rm "$R/etc/systemd/fill"
mount -t tmpfs -o size=4k,mode=0700 tmpfs "$R/run/graft"
mkdir -m 0700 "$R/run/graft/locks"
fill "$R/run/graft"
host_snapshot "$T/before"
run_expect 1 "cannot write to the portable lock: No space left on device" "$PCTL" --root "$R" --direct attach demo
assert_host_unchanged "$T/before"

rm "$R/run/graft/fill"
"$PCTL" --root "$R" --direct attach --enable demo >/dev/null || fail "attach failed once there was room"
"$PCTL" --root "$R" --direct detach demo >/dev/null || fail "detach failed"
assert_responsive
echo "a full disk fails the change by name and leaves the host as it was"
