#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd stays responsive whatever a caller sends, and SIGTERM stops it within seconds. Work stuck
# on something outside graft's control (a file system or device that does not answer) is stood
# in for by GRAFT_FAULT_STALL (fault-point builds): the named method's worker sleeps. With every
# GetImageMetadata stuck, a flood of them from nobody takes at most nobody's share of the
# workers: root's calls, Status and another user's cheap reads are answered at once; nobody's
# calls are all answered within the read timeout (Timeout, or LimitsExceeded beyond 16 waiting);
# SIGTERM ends graftd at once (reads are abandoned). A change that is slow finishes within the
# stop grace period; one that is stuck is cut short after it (10 s), as a crash would cut it.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
grep -q "GRAFT_FAULT_POINTS 1" "$GRAFT_BUILD_DIR/graft-config.h" || skip "built without -Dfault_points=true"

run_expect 2 '--read-timeout= takes a number up to 86400, not "soon"' "$GRAFTD" --read-timeout=soon
portable_image demo
bus_start
snap=$T/host.snap
host_snapshot "$snap"

# graftd_with STALLED [SEC] ARGS…: graftd whose STALLED methods' workers sleep (SEC, or for good).
graftd_with() {
        export GRAFT_FAULT_STALL=$1 GRAFT_FAULT_STALL_SEC=$2
        shift 2
        graftd_start "$@"
        unset GRAFT_FAULT_STALL GRAFT_FAULT_STALL_SEC
}

# stop_within SEC [CODE]: SIGTERM, graftd gone within SEC seconds with exit status CODE (0).
stop_within() {
        local start=$EPOCHREALTIME rc=0 i
        kill -TERM "$GRAFTD_PID"
        for ((i = 0; i < $1 * 20; i++)); do
                kill -0 "$GRAFTD_PID" 2>/dev/null || break
                sleep 0.05
        done
        kill -0 "$GRAFTD_PID" 2>/dev/null && fail "graftd still runs $1 s after SIGTERM"
        wait "$GRAFTD_PID" || rc=$?
        GRAFTD_PID=
        assert_eq "$rc" "${2:-0}" "graftd's exit status"
        echo "graftd stopped $(python3 -c "print(round($EPOCHREALTIME - $start, 2))") s after SIGTERM"
}

metadata() { # metadata OUT: nobody's GetImageMetadata demo, its error (or reply) in OUT
        as_nobody timeout 40 gdbus call --system --timeout 30 --dest org.graft.Manager1 \
                --object-path /org/graft/Manager1 --method org.graft.Manager1.GetImageMetadata \
                demo "@as []" "" "" 0 "@as []" "" >"$1" 2>&1
}

# 1. Every GetImageMetadata stuck; 30 of them from nobody at once.
graftd_with GetImageMetadata "" --read-timeout=4
start=$SECONDS
pids=()
for i in $(seq 1 30); do
        metadata "$T/meta.$i" &
        pids+=($!)
done
sleep 1
# Root, Status, another unprivileged user: answered at once.
assert_responsive 2
out=$(with_timeout 5 setpriv --reuid=1 --regid=1 --clear-groups gdbus call --system --dest org.graft.Manager1 \
        --object-path /org/graft/Manager1 --method org.graft.Manager1.ListImages 2>&1) ||
        fail "uid 1 (daemon)'s ListImages was not answered: $out"
[[ $out == *demo* ]] || fail "uid 1 (daemon)'s ListImages: $out"
run_expect 0 "" with_timeout 10 "$PCTL" attach demo
assert_eq "$("$PCTL" is-attached demo)" attached
run_expect 0 "" with_timeout 10 "$PCTL" detach demo
# nobody's calls: each answered (none still waiting at the client's 30 s), within the read timeout.
timeouts=0 limits=0
for i in "${!pids[@]}"; do
        rc=0
        wait "${pids[$i]}" || rc=$?
        [[ $rc -ne 124 ]] || fail "nobody's GetImageMetadata #$i got no answer: $(cat "$T/meta.$((i + 1))")"
        grep -q "org.freedesktop.DBus.Error.Timeout" "$T/meta.$((i + 1))" && timeouts=$((timeouts + 1))
        grep -q "org.freedesktop.DBus.Error.LimitsExceeded" "$T/meta.$((i + 1))" && limits=$((limits + 1))
done
((SECONDS - start <= 12)) || fail "nobody's calls took $((SECONDS - start)) s to be answered (read timeout 4 s)"
echo "nobody's 30 stuck calls: $timeouts timed out, $limits refused as over the limit"
assert_eq "$timeouts" 18 "answered with Timeout (2 running + 16 waiting)"
assert_eq "$limits" 12 "refused beyond 16 waiting"
found=$(grep -l "GetImageMetadata demo: no result within 4 s; graftd stopped waiting for it" "$T"/meta.* | wc -l)
assert_eq "$found" 2 "reads abandoned while running"
grep -q "GetImageMetadata demo (uid 65534): abandoned after" "$GRAFTD_LOG" || fail "the abandoned reads are not logged"
assert_eq "$(prop Manager1 Operations)" "u 0" "operations owed an answer"
# Stuck workers still count against nobody: a new call of nobody's waits, and times out too.
metadata "$T/meta.late" && fail "a late call of nobody got an answer"
assert_contains "$T/meta.late" "no worker was free for it within 4 s"
assert_responsive 2
# SIGTERM with the stuck workers: gone at once.
stop_within 3
grep -q "Exiting with 2 worker(s) still running." "$GRAFTD_LOG" || fail "the exit with stuck workers is not logged"

# 2. SIGTERM while reads are stuck and not yet timed out: abandoned, answered, graftd gone at once.
graftd_with GetImageMetadata "" --read-timeout=60
metadata "$T/meta.term" &
reader=$!
for _ in $(seq 100); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.05; done
stop_within 3
wait "$reader" || true
assert_contains "$T/meta.term" "graftd is shutting down; the read was abandoned (it changed nothing)"

# 3. A slow change (3 s) when SIGTERM comes: finished within the grace period, then graftd exits.
graftd_with AttachImage 3
"$PCTL" attach demo >"$O/slow" 2>&1 &
client=$!
for _ in $(seq 100); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.05; done
stop_within 6
wait "$client" || { cat "$O/slow" >&2; fail "the slow attach failed after SIGTERM"; }
assert_eq "$("$PCTL" --root="$R" is-attached demo)" attached
"$PCTL" --root="$R" detach demo >/dev/null

# 4. A stuck change: root's calls are still answered; SIGTERM cuts it after the 10 s grace period
# (exit status 1, logged), as a crash would. It had not begun: nothing changed.
graftd_with AttachImage "" --read-timeout=60
"$PCTL" attach demo >"$O/stuck" 2>&1 &
client=$!
for _ in $(seq 100); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.05; done
assert_responsive 2
start=$SECONDS
stop_within 14 1
((SECONDS - start >= 9)) || fail "graftd did not give the stuck change its grace period"
grep -q "AttachImage demo (uid 0): still running after .* at the end of the stop grace period" "$GRAFTD_LOG" ||
        fail "the change cut short is not logged"
wait "$client" || true
assert_host_unchanged "$snap"
