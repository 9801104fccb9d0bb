#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash at any moment, before or after, never between (sextctl(1), CRASH SAFETY AND CONCURRENCY):
# merge (several images, one skipped), refresh (with and without a change of the image set, and
# the swap of kernels without MOVE_MOUNT_BENEATH), mutable merges (ephemeral and routed) and unmerge, of system and configuration
# extensions, are killed with SIGKILL at every fault point in turn (GRAFT_FAULT_STEP=n, after the
# number of points was learned with GRAFT_FAULT_LOG). Then the next invocation recovers (sextctl
# status, or graftd at its start), and $R must be exactly as before the operation or as after it:
# the same mounts below $R (none stacked), the same content in /usr, /opt and /etc, nothing left
# in $R/run (no staging directory or mount, no intent record or half of one), and no loop device
# over an image that no merge uses. Recovery killed in turn at each of its own points is
# recovered by the next invocation the same way. Then a random-kill loop: merges and refreshes
# killed after a random delay.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-sysext.sh"
need_fault_points
need mksquashfs losetup
RANDOM_KILLS=${RANDOM_KILLS:-40}

sx_images
bus_start
# The lock and (empty) staging directories exist from the first merge on and stay: made here, so
# that "before" has them already.
sx_use sysext c
sx_use confext cb
for class in sysext confext; do
        sx $class merge >/dev/null 2>&1 && sx $class unmerge >/dev/null 2>&1 || fail "$class merge and unmerge failed"
done

# reset CLASS "BEFORE-SET" "TARGET-SET": $R has the merge of BEFORE-SET (none: unmerged), and the
# search directory holds TARGET-SET for the operation to come.
reset() {
        local class=$1
        # shellcheck disable=SC2086
        sx_use "$class" $2
        if [[ -n $2 ]]; then
                sx "$class" refresh >/dev/null 2>&1 || [[ $? -eq 9 ]] || fail "reset: refresh failed"
        else
                sx "$class" unmerge >/dev/null 2>&1 || fail "reset: unmerge failed"
        fi
        # shellcheck disable=SC2086
        sx_use "$class" $3
}

# recover CLASS N: the next invocation after a crash; every third one is graftd starting.
recover() {
        if (($2 % 3 == 0)); then
                graftd_start
                graftd_stop
        else
                sx "$1" status >/dev/null 2>&1 || fail "status after the crash failed"
        fi
}

# run_op CLASS VERB [ENV…]: prints the exit status.
run_op() {
        local class=$1 op=$2 rc=0 args=()
        shift 2
        [[ $class == confext ]] && args=(--confext)
        env "$@" "$SEXTCTL" "${args[@]}" --root="$R" "$op" >"$O/op.out" 2>&1 || rc=$?
        echo $rc
}

total_runs=0
# crash_loop NAME CLASS OP "BEFORE-SET" "TARGET-SET" [ENV…]
crash_loop() {
        local name=$1 class=$2 op=$3 before_set=$4 target_set=$5 n points rc got start
        shift 5
        start=$(date +%s%N)
        reset "$class" "$before_set" "$target_set"
        sx_state >"$T/before"
        rm -f "$T/fault.log"
        rc=$(run_op "$class" "$op" GRAFT_FAULT_LOG="$T/fault.log" "$@")
        [[ $rc -eq 0 || $rc -eq 9 ]] || { cat "$O/op.out" >&2; fail "$name: $op exited $rc"; }
        sx_state >"$T/after"
        points=$(wc -l <"$T/fault.log")
        ((points > 0)) || fail "$name: no fault point was reached"
        local -A seen=()
        for ((n = 1; n <= points; n++)); do
                reset "$class" "$before_set" "$target_set"
                rc=$(run_op "$class" "$op" GRAFT_FAULT_STEP="$n" "$@")
                [[ $rc -eq 137 ]] || fail "$name: step $n ($(sed -n "${n}p" "$T/fault.log")): exited $rc, not killed"
                recover "$class" "$n"
                got=$(sx_expect_state before="$T/before" after="$T/after") ||
                        fail "$name: killed at step $n ($(sed -n "${n}p" "$T/fault.log")), recovered: neither before nor after"
                seen[$got]=$((${seen[$got]:-0} + 1))
                total_runs=$((total_runs + 1))
        done
        echo "$name: $points points, $points runs: ${seen[before]:-0} before, ${seen[after]:-0} after," \
                "$((($(date +%s%N) - start) / 1000000)) ms ($(cut -d' ' -f2 "$T/fault.log" | tr '\n' ' '))"
}

crash_loop merge/sysext sysext merge "" "a b c z"
crash_loop refresh-change/sysext sysext refresh "a b z" "a c z"
crash_loop refresh-same/sysext sysext refresh "a b c z" "a b c z"
crash_loop refresh-swap/sysext sysext refresh "a b z" "a c z" GRAFT_SYSEXT_COMPAT=no-beneath
crash_loop refresh-to-none/sysext sysext refresh "a b" ""
crash_loop unmerge/sysext sysext unmerge "a b c" "a b c"
# Mutable merges, chosen by the configuration file (run_op passes no options): an ephemeral upper
# layer is staged like everything else and goes with the process; "yes" routes writes to
# var/lib/extensions.mutable, created once (outside what the states compare) and kept.
mkdir -p "$R/etc/systemd"
printf '[SysExt]\nMutable=ephemeral\n' >"$R/etc/systemd/sysext.conf"
crash_loop merge-ephemeral/sysext sysext merge "" "a b c z"
crash_loop refresh-ephemeral/sysext sysext refresh "a b z" "a c z"
printf '[SysExt]\nMutable=yes\n' >"$R/etc/systemd/sysext.conf"
crash_loop refresh-mutable/sysext sysext refresh "a b z" "a c z"
rm -r "$R/etc/systemd"
crash_loop merge/confext confext merge "" "ca cb cz"
crash_loop refresh-change/confext confext refresh "ca cz" "ca cb cz"
crash_loop unmerge/confext confext unmerge "ca cb" "ca cb"

# Recovery killed at each of its own points, after a crash at each point of the operation.
# recovery_loop NAME CLASS OP "BEFORE-SET" "TARGET-SET"
recovery_loop() {
        local name=$1 class=$2 op=$3 before_set=$4 target_set=$5 n m points rc got runs=0 start
        start=$(date +%s%N)
        reset "$class" "$before_set" "$target_set"
        sx_state >"$T/before"
        rm -f "$T/fault.log"
        rc=$(run_op "$class" "$op" GRAFT_FAULT_LOG="$T/fault.log")
        sx_state >"$T/after"
        points=$(wc -l <"$T/fault.log")
        local -A seen=()
        for ((n = 1; n <= points; n++)); do
                for ((m = 1; ; m++)); do
                        reset "$class" "$before_set" "$target_set"
                        rc=$(run_op "$class" "$op" GRAFT_FAULT_STEP="$n")
                        [[ $rc -eq 137 ]] || fail "$name: step $n: exited $rc, not killed"
                        rc=$(run_op "$class" status GRAFT_FAULT_STEP="$m")
                        [[ $rc -eq 137 || $rc -eq 0 ]] || fail "$name: recovery after step $n, killed at $m: exited $rc"
                        [[ $rc -eq 137 ]] && recover "$class" 1
                        got=$(sx_expect_state before="$T/before" after="$T/after") ||
                                fail "$name: killed at step $n, recovery killed at its step $m: neither before nor after"
                        seen[$got]=$((${seen[$got]:-0} + 1))
                        runs=$((runs + 1))
                        [[ $rc -eq 0 ]] && break # recovery has fewer than m points
                done
        done
        total_runs=$((total_runs + runs))
        echo "$name: $runs runs (each operation point × each recovery point): ${seen[before]:-0} before," \
                "${seen[after]:-0} after, $((($(date +%s%N) - start) / 1000000)) ms"
}

recovery_loop recovery-of-merge/sysext sysext merge "" "a b c z"
recovery_loop recovery-of-refresh/sysext sysext refresh "a b z" "a c z"

# A merge whose second mount move fails (not a crash: /opt became a file while the merge was
# held after its first move) is undone at once, and says so.
reset sysext "" "a b c z"
sx_state >"$T/before"
rm -f "$T/fault.log"
run_op sysext merge GRAFT_FAULT_LOG="$T/fault.log" >/dev/null
step=$(awk '$2 == "sysext-attached" { print $1; exit }' "$T/fault.log")
reset sysext "" "a b c z"
env GRAFT_FAULT_ACTION=stop GRAFT_FAULT_STEP="$step" "$SEXTCTL" --root="$R" merge >"$O/out" 2>&1 &
pid=$!
wait_stopped "$pid"
mountpoint -q "$R/usr" || fail "the held merge has not attached /usr"
mv "$R/opt" "$T/opt.away"
echo x >"$R/opt"
kill -CONT "$pid"
rc=0
wait "$pid" || rc=$?
rm "$R/opt"
mv "$T/opt.away" "$R/opt"
[[ $rc -eq 1 ]] || { cat "$O/out" >&2; fail "the merge whose /opt move failed exited $rc, not 1"; }
assert_contains "$O/out" "cannot mount the overlay on $R/opt: "
sx_expect_state before="$T/before" >/dev/null || fail "the failed merge was not undone"
echo "a merge failing at its second mount move: undone at once"

# What recovery says, and what it does without a record. step_of NAME: the first point of that name
# in the last fault log.
step_of() {
        awk -v n="$1" '$2 == n { print $1; exit }' "$T/fault.log"
}
reset sysext "" "a b c z"
rm -f "$T/fault.log"
run_op sysext merge GRAFT_FAULT_LOG="$T/fault.log" >/dev/null
merge_after=$T/merge-after.state
sx_state >"$merge_after"
# /usr merged, /opt not: the next merge undoes that first, then merges.
reset sysext "" "a b c z"
[[ $(run_op sysext merge GRAFT_FAULT_STEP="$(step_of sysext-attached)") -eq 137 ]] || fail "merge was not killed"
run_expect 9 "recovered first: undid the interrupted merge" "$SEXTCTL" --root="$R" merge
sx_expect_state after="$merge_after" >/dev/null || fail "merge after recovery is not the merge"
# graftd, starting, does the same and logs it.
reset sysext "" "a b c z"
sx_state >"$T/before"
[[ $(run_op sysext merge GRAFT_FAULT_STEP="$(step_of sysext-attached)") -eq 137 ]] || fail "merge was not killed"
graftd_start
graftd_stop
assert_contains "$GRAFTD_LOG" "sysext: undid the interrupted merge"
sx_expect_state before="$T/before" >/dev/null || fail "graftd's recovery did not undo the merge"
# A record of another boot describes mounts that are gone: dropped, nothing else done.
reset sysext "" "a b c z"
sx_state >"$T/before"
[[ $(run_op sysext merge GRAFT_FAULT_STEP="$(step_of sysext-intent-written)") -eq 137 ]] || fail "merge was not killed"
sed -i 's/^boot .*/boot 00000000-0000-0000-0000-000000000000/' "$R/run/graft/locks/sysext.intent"
run_expect 0 "recovered first: dropped the record of a merge of an earlier boot" "$SEXTCTL" --root="$R" unmerge
sx_expect_state before="$T/before" >/dev/null || fail "dropping a record of another boot changed something"
# Merges stacked without a record (as another tool racing ours would leave them): the lowest stays.
reset sysext "a b z" "a c z"
rm -f "$T/fault.log"
run_op sysext refresh GRAFT_FAULT_LOG="$T/fault.log" >/dev/null
sx_state >"$T/after"
reset sysext "a b z" "a c z"
[[ $(run_op sysext refresh GRAFT_FAULT_STEP="$(step_of sysext-beneath)") -eq 137 ]] || fail "refresh was not killed"
rm "$R/run/graft/locks/sysext.intent"
(($(overlays_on "$R/usr") == 2)) || fail "no stack to collapse"
run_expect 9 "recovered first: removed 1 merge(s) stacked on the one on $R/usr" "$SEXTCTL" --root="$R" refresh
sx_expect_state after="$T/after" >/dev/null || fail "refresh after collapsing a stack is not the refresh"
echo "recovery notes: undone merge (sextctl, graftd), record of another boot, stack without a record"

# Random kills: merges (from nothing merged) and refreshes (to another image set) killed after a
# random delay within the operation's own duration.
reset sysext "" "a b c z"
sx_state >"$T/merge.before"
t0=$(date +%s%N)
sx sysext merge >/dev/null 2>&1 || [[ $? -eq 9 ]] || fail "merge failed"
op_ms=$(((($(date +%s%N) - t0) / 1000000) + 1))
sx_state >"$T/merge.after"
reset sysext "a b z" "a c z"
sx_state >"$T/refresh.before"
sx sysext refresh >/dev/null 2>&1 || [[ $? -eq 9 ]] || fail "refresh failed"
sx_state >"$T/refresh.after"
declare -A random_seen=()
start=$(date +%s%N)
for ((i = 0; i < RANDOM_KILLS; i++)); do
        if ((i % 2 == 0)); then
                op=merge
                reset sysext "" "a b c z"
        else
                op=refresh
                reset sysext "a b z" "a c z"
        fi
        delay_us=$((RANDOM % (op_ms * 1200 + 1)))
        "$SEXTCTL" --root="$R" "$op" >/dev/null 2>&1 &
        pid=$!
        sleep "$(printf '0.%06d' "$delay_us")"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        recover sysext "$i"
        got=$(sx_expect_state before="$T/$op.before" after="$T/$op.after") ||
                fail "random kill $i ($op after $delay_us µs): neither before nor after"
        random_seen[$got]=$((${random_seen[$got]:-0} + 1))
done
echo "random kills: $RANDOM_KILLS merges and refreshes (about $op_ms ms each) killed after 0-$((op_ms * 12 / 10)) ms:" \
        "${random_seen[before]:-0} before, ${random_seen[after]:-0} after, $((($(date +%s%N) - start) / 1000000)) ms"

# Recovery is a change, and so root's business: uid 65534's Status through graftd leaves an
# interrupted merge alone (graftd recovers at its start, and every change recovers first).
reset sysext "" "a b"
sx_state >"$T/before"
graftd_start
rm -f "$T/fault.log"
rc=$(run_op sysext merge GRAFT_FAULT_LOG="$T/fault.log")
step=$(awk '$2 == "sysext-intent-written" { print $1; exit }' "$T/fault.log")
[[ -n $step ]] || fail "merge reached no sysext-intent-written point"
sx sysext unmerge >/dev/null 2>&1 || fail "unmerge failed"
rc=$(run_op sysext merge GRAFT_FAULT_STEP="$step")
[[ $rc -eq 137 ]] || fail "the merge was not killed at its intent (exit $rc)"
sx_state >"$T/interrupted"
as_nobody busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Extensions1 Status s sysext \
        >/dev/null || fail "uid 65534's Status failed"
sx_state >"$T/after-status"
cmp -s "$T/interrupted" "$T/after-status" || fail "uid 65534's Status changed the hierarchies"
[[ -e $R/run/graft/locks/sysext.intent ]] || fail "uid 65534's Status recovered the interrupted merge"
sx sysext status >/dev/null 2>&1 || fail "status in-process failed"
[[ ! -e $R/run/graft/locks/sysext.intent ]] || fail "root's status did not recover"
sx_expect_state before="$T/before" >/dev/null || fail "recovery did not undo the interrupted merge"
graftd_stop

echo "ok: $((total_runs + RANDOM_KILLS)) crashed operations, each recovered to before or after"
