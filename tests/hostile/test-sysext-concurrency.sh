#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two at once (sextctl(1), CRASH SAFETY AND CONCURRENCY): every change of a class's hierarchies
# takes the operation lock of the root, whichever way it comes in, and decides under it. For each
# pair of operations (merge∥merge, merge∥unmerge, merge∥refresh, refresh∥refresh,
# unmerge∥unmerge), in-process beside in-process, in-process beside graftd and graftd beside
# in-process: the first holds the lock (stopped at its first fault point, right after taking it),
# the second says whom it waits for and waits, then is refused with the documented message or
# succeeds as the state allows; never are two overlays stacked on a hierarchy. Then the same pairs
# started at the same moment, unsynchronised. A holder past the timeout (a process holding the
# lock file with flock(1); a stopped sextctl, waited for in-process and by graftd) makes the other
# exit 10 naming the holder, with nothing changed.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-sysext.sh"
need_fault_points
need mksquashfs flock
RACES=${RACES:-5}

sx_images
sx_use sysext a b c z
bus_start
graftd_start

LOCK=$R/run/graft/locks/sysext.lock
MERGED_MSG="is already merged; use refresh to replace the merge"

# start_op WAY OP NAME [ENV…]: starts OP in the background, in-process ("direct", with --root) or
# through graftd ("bus"); its pid in $PIDS[NAME], its output in $O/NAME.
declare -A PIDS
start_op() {
        local way=$1 op=$2 name=$3
        shift 3
        if [[ $way == direct ]]; then
                env "$@" "$SEXTCTL" --root="$R" "$op" >"$O/$name" 2>&1 &
        else
                env "$@" "$SEXTCTL" "$op" >"$O/$name" 2>&1 &
        fi
        PIDS[$name]=$!
}

# finish NAME: waits for it; its exit status in $RC.
finish() {
        RC=0
        wait "${PIDS[$1]}" || RC=$?
        unset "PIDS[$1]"
}

# A failure leaves no operation running behind the cleanup's back.
fail() {
        local p
        for p in "${PIDS[@]}"; do
                kill -KILL "$p" 2>/dev/null
        done
        echo "FAIL: $*" >&2
        exit 1
}

wait_for_text() {
        local i
        for ((i = 0; i < 400; i++)); do
                grep -qF -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.025
        done
        cat "$1" >&2
        fail "$1 never said '$2'"
}

# Stacked overlays are the failure this is all about.
assert_not_stacked() {
        local h
        for h in usr opt; do
                (($(overlays_on "$R/$h") <= 1)) || fail "$1: overlays stacked on $R/$h: $(grep " $R/$h " /proc/self/mountinfo)"
        done
}

# prepare FIRST: the state the first operation of a pair starts from (a merge needs none there).
prepare() {
        if [[ $1 == merge ]]; then
                sx sysext unmerge >/dev/null 2>&1
        else
                sx sysext refresh >/dev/null 2>&1 || [[ $? -eq 9 ]]
        fi
        assert_not_stacked "prepare"
}

# expect FIRST SECOND RC1 RC2: the outcome of FIRST then SECOND, serialised by the lock.
expect() {
        local first=$1 second=$2 rc1=$3 rc2=$4 what="$1 then $2 ($5)"
        [[ $rc1 -eq 0 || $rc1 -eq 9 ]] || { cat "$O/first" >&2; fail "$what: $first exited $rc1"; }
        if [[ $first == merge && $second == merge ]]; then
                [[ $rc2 -eq 10 ]] || { cat "$O/second" >&2; fail "$what: the second merge exited $rc2, not 10"; }
                assert_contains "$O/second" "$R/usr $MERGED_MSG"
        else
                [[ $rc2 -eq 0 || $rc2 -eq 9 ]] || { cat "$O/second" >&2; fail "$what: $second exited $rc2"; }
        fi
        assert_not_stacked "$what"
        if [[ $second == unmerge ]]; then
                mountpoint -q "$R/usr" && fail "$what: $R/usr is still merged"
        else
                [[ -e $R/usr/share/c/file && -e $R/opt/b/file ]] || fail "$what: the merge lacks its content"
        fi
        return 0
}

pairs=("merge merge" "merge unmerge" "merge refresh" "refresh refresh" "unmerge unmerge")

# --- the first holds the lock, the second waits for it ---
# held_pair WAY1 WAY2 FIRST SECOND
held_pair() {
        local way1=$1 way2=$2 first=$3 second=$4 holder rc1 rc2
        prepare "$first"
        if [[ $way1 == bus ]]; then
                # graftd itself stops at its first fault point: right after its worker took the lock.
                graftd_stop
                GRAFT_FAULT_ACTION=stop GRAFT_FAULT_STEP=1 graftd_start
                start_op bus "$first" first
                holder=$GRAFTD_PID
        else
                start_op direct "$first" first GRAFT_FAULT_ACTION=stop GRAFT_FAULT_STEP=1
                holder=${PIDS[first]}
        fi
        wait_stopped "$holder"
        start_op "$way2" "$second" second
        if [[ $way2 == direct ]]; then
                wait_for_text "$O/second" "Waiting for another operation to finish: pid $holder ("
                if [[ $way1 == bus ]]; then
                        assert_contains "$O/second" "(graftd): sysext $first for uid 0, since "
                else
                        assert_contains "$O/second" "(sextctl): sysext $first, since "
                fi
        else
                wait_for_text "$GRAFTD_LOG" "waits for another operation to finish: pid $holder (sextctl): sysext $first"
        fi
        assert_not_stacked "$first held, $second waiting"
        kill -CONT "$holder"
        finish first
        rc1=$RC
        finish second
        rc2=$RC
        expect "$first" "$second" "$rc1" "$rc2" "$way1 holds, $way2 waits"
        if [[ $way1 == bus ]]; then
                graftd_stop
                graftd_start
        fi
}

for p in "${pairs[@]}"; do
        # shellcheck disable=SC2086
        set -- $p
        held_pair direct direct "$1" "$2"
        held_pair direct bus "$1" "$2"
        held_pair bus direct "$1" "$2"
done
echo "held: ${#pairs[@]} pairs × (in-process∥in-process, in-process∥graftd, graftd∥in-process): the second waited, then as documented"

# --- both at the same moment ---
races=0
declare -A seen=()
for p in "${pairs[@]}"; do
        # shellcheck disable=SC2086
        set -- $p
        for way2 in direct bus; do
                for ((i = 0; i < RACES; i++)); do
                        prepare "$1"
                        start_op direct "$1" first
                        start_op "$way2" "$2" second
                        finish first
                        rc1=$RC
                        finish second
                        rc2=$RC
                        assert_not_stacked "$1∥$2 ($way2)"
                        # Whichever came first: a pair of merges has one winner and one refusal
                        # (10); a merge after a refresh is refused too; everything else succeeds.
                        outcome="$rc1 $rc2"
                        case "$1 $2" in
                        "merge merge") allowed='^(0|9) 10$|^10 (0|9)$' ;;
                        "merge refresh") allowed='^(0|9|10) (0|9)$' ;;
                        *) allowed='^(0|9) (0|9)$' ;;
                        esac
                        [[ $outcome =~ $allowed ]] ||
                                { cat "$O/first" "$O/second" >&2; fail "$1∥$2 ($way2): exit statuses $outcome"; }
                        [[ $rc1 -ne 10 ]] || assert_contains "$O/first" "$R/usr $MERGED_MSG"
                        [[ $rc2 -ne 10 ]] || assert_contains "$O/second" "$R/usr $MERGED_MSG"
                        seen["$1∥$2 $outcome"]=1
                        races=$((races + 1))
                done
        done
done
echo "raced: $races pairs started at once (in-process∥in-process and in-process∥graftd), never stacked;" \
        "outcomes seen: $(printf '%s\n' "${!seen[@]}" | LC_ALL=C sort | paste -sd, -)"

# --- a holder past the timeout ---
sx sysext unmerge >/dev/null 2>&1
host_snapshot "$T/snap"
hold_lock "$LOCK"
run_expect 10 "another sysext operation on $R is still running (another process); gave up waiting after 1 s" \
        env GRAFT_LOCK_TIMEOUT_SEC=1 "$SEXTCTL" --root="$R" merge
assert_contains "$O/err" "Waiting for another operation to finish: another process."
assert_host_unchanged "$T/snap"
release_lock

start_op direct merge holder GRAFT_FAULT_ACTION=stop GRAFT_FAULT_STEP=1
wait_stopped "${PIDS[holder]}"
host_snapshot "$T/snap"
run_expect 10 "is still running (pid ${PIDS[holder]} (sextctl): sysext merge, since " \
        env GRAFT_LOCK_TIMEOUT_SEC=1 "$SEXTCTL" --root="$R" refresh
assert_host_unchanged "$T/snap"
# Reads take no lock: they answer at once beside the holder.
with_timeout 5 "$SEXTCTL" --root="$R" status >/dev/null
with_timeout 5 "$SEXTCTL" --root="$R" list >/dev/null

# graftd waits for it too, answering meanwhile, and gives up the same way.
graftd_stop
GRAFT_LOCK_TIMEOUT_SEC=2 graftd_start
start_op bus merge second
sleep 0.5
assert_responsive
finish second
rc=$RC
[[ $rc -eq 10 ]] || { cat "$O/second" >&2; fail "merge through graftd past the timeout exited $rc, not 10"; }
assert_contains "$O/second" "is still running (pid ${PIDS[holder]} (sextctl): sysext merge, since "
assert_contains "$O/second" "gave up waiting after 2 s"
assert_host_unchanged "$T/snap"
kill -CONT "${PIDS[holder]}"
finish holder
rc=$RC
[[ $rc -eq 0 || $rc -eq 9 ]] || fail "the held merge exited $rc once let go"
assert_not_stacked "after the timeouts"
echo "ok"
