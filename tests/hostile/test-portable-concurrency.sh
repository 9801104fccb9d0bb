#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two at once: every state-changing portable operation takes the root's portable lock, whichever
# way it came in, so concurrent runs of each pair (attach ∥ attach of the same image, attach ∥
# detach, attach ∥ reattach; both in-process, and in-process beside graftd) are serialized: both
# wait for the lock (held here with flock while they start, so that they really meet), one wins,
# the other then succeeds or gets a clear refusal as the state allows, and the final state is the
# one that order gives. A holder that keeps the lock past the timeout (flock, or a pctl stopped
# with SIGSTOP at a fault point, graftd stopped in the middle of a caller's attach) makes the other
# fail with exit 10 naming it, in process and through graftd, with nothing changed; a waiting pctl
# says whom it waits for; graftd answers reads while one of its workers waits.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-portable.sh"
need flock

P() { "$PCTL" --root="$R" "$@"; }
L=$R/run/graft/locks/portable.lock

# The states the pairs may end in.
save_root "$T/pristine"
empty=$(fingerprint)
P attach foo_1 >/dev/null
attached_1=$(fingerprint)
P reattach foo_2 >/dev/null
reattached_2=$(fingerprint)
load_root "$T/pristine"

bus_start
graftd_start

hold() { hold_lock "$L"; }
release() { release_lock; }

# how WAY: the pctl command line for one way in ("direct": in-process, "graftd": through graftd).
how() {
        [[ $1 == direct ]] && echo "$PCTL --root=$R" || echo "$PCTL"
}

# race WAY-A ARGS-A -- WAY-B ARGS-B: both started while the lock is held (each waits for it), then
# released. Sets RC_A, RC_B; output in $O/a.*, $O/b.*.
race() {
        local way_a=$1 a=() b=()
        shift
        while [[ $1 != -- ]]; do a+=("$1"); shift; done
        shift
        local way_b=$1
        shift
        b=("$@")
        local waits
        waits=$(grep -c "waits for another operation to finish" "$GRAFTD_LOG" || true)
        hold
        $(how "$way_a") "${a[@]}" >"$O/a.out" 2>"$O/a.err" &
        local pa=$!
        $(how "$way_b") "${b[@]}" >"$O/b.out" 2>"$O/b.err" &
        local pb=$!
        # Each says (in-process) or logs (graftd) that it waits, before the lock is let go.
        local i want=0 have=0
        for w in "$way_a" "$way_b"; do [[ $w == graftd ]] && want=$((want + 1)); done
        for ((i = 0; i < 500; i++)); do
                have=$(grep -c "waits for another operation to finish: another process" "$GRAFTD_LOG" || true)
                if [[ $((have - waits)) -ge $want ]] &&
                        { [[ $way_a == graftd ]] || grep -q "Waiting for another operation to finish: another process" "$O/a.err"; } &&
                        { [[ $way_b == graftd ]] || grep -q "Waiting for another operation to finish: another process" "$O/b.err"; }; then
                        break
                fi
                sleep 0.01
        done
        [[ $i -lt 500 ]] || fail "the two did not both wait for the lock ($way_a ${a[*]} ∥ $way_b ${b[*]})"
        assert_responsive
        release
        RC_A=0 RC_B=0
        wait "$pa" || RC_A=$?
        wait "$pb" || RC_B=$?
}

# after_attach WHAT STATE-IF-0 REFUSAL STATE-IF-REFUSED: attach came first or second. The attach
# (A) always succeeds; B either came second and succeeded (the final state is STATE-IF-0) or came
# first and was refused with exit 7 and REFUSAL (the final state is STATE-IF-REFUSED).
after_attach() {
        local what=$1 if0=$2 refusal=$3 if7=$4 state
        [[ $RC_A -eq 0 ]] || fail "attach ∥ $what: attach exited $RC_A: $(cat "$O/a.err")"
        state=$(fingerprint)
        if [[ $RC_B -eq 0 ]]; then
                [[ $state == "$if0" ]] || fail "attach, then $what: not the state that order gives"
        elif [[ $RC_B -eq 7 ]]; then
                assert_contains "$O/b.err" "$refusal"
                [[ $state == "$if7" ]] || fail "$what refused, then attach: not attached"
        else
                fail "attach ∥ $what: $what exited $RC_B: $(cat "$O/b.err")"
        fi
}

# pair LABEL WAY-A WAY-B: each pair of operations, from the pristine root.
pair() {
        local label=$1 wa=$2 wb=$3
        load_root "$T/pristine"
        case $label in
        attach-attach)
                race "$wa" attach foo_1 -- "$wb" attach foo_1
                [[ $((RC_A + RC_B)) -eq 10 && $((RC_A * RC_B)) -eq 0 ]] ||
                        fail "attach ∥ attach: exits $RC_A, $RC_B; expected one 0 and one 10"
                cat "$O/a.err" "$O/b.err" >"$O/both.err"
                assert_contains "$O/both.err" "image /var/lib/portables/foo_1.raw is attached already (unit foo.service); use reattach to update it"
                [[ $(fingerprint) == "$attached_1" ]] || fail "attach ∥ attach: not attached once"
                ;;
        attach-detach)
                race "$wa" attach foo_1 -- "$wb" detach foo_1
                after_attach detach "$empty" "image /var/lib/portables/foo_1.raw is not attached" "$attached_1"
                ;;
        attach-reattach)
                race "$wa" attach foo_1 -- "$wb" reattach foo_2
                after_attach reattach "$reattached_2" "no version of image foo_2 is attached; use attach" "$attached_1"
                ;;
        esac
        assert_clean "$label ($wa ∥ $wb)"
        echo "$label, $wa ∥ $wb: exits $RC_A, $RC_B"
}
for p in attach-attach attach-detach attach-reattach; do
        pair "$p" direct direct
        pair "$p" direct graftd
        pair "$p" graftd direct
done

# The lock kept past the timeout: exit 10 naming the holder, nothing changed.
load_root "$T/pristine"
before=$(fingerprint)
hold
run_expect 10 "another portable operation on $R is still running (another process); gave up waiting after 1 s" \
        env GRAFT_LOCK_TIMEOUT_SEC=1 "$PCTL" --root="$R" attach foo_1
assert_contains "$O/err" "Waiting for another operation to finish: another process"
# Reads never wait for the lock.
with_timeout 5 "$PCTL" --root="$R" list >/dev/null
run_expect 1 "" with_timeout 5 "$PCTL" --root="$R" is-attached foo_1
with_timeout 5 "$PCTL" --root="$R" inspect foo_1 >/dev/null
release
[[ $(fingerprint) == "$before" ]] || fail "a change that gave up waiting changed the root"

# A holder stopped (GRAFT_FAULT_ACTION=stop: SIGSTOP at a fault point, with its journal written and
# the lock held) makes the others give up naming it, in-process and through graftd; a read leaves
# its journal alone (it belongs to a running operation); a waiter without the short timeout says
# whom it waits for, and goes on once the holder does. stopped_at N CMD…: runs CMD in the
# background until it stops at its point N; sets STOPPED.
stopped_at() {
        local n=$1 i
        shift
        GRAFT_FAULT_STEP=$n GRAFT_FAULT_ACTION=stop "$@" >"$O/stopped.out" 2>&1 &
        STOPPED=$!
        for ((i = 0; i < 1000; i++)); do
                [[ $(awk '{ print $3 }' "/proc/$STOPPED/stat" 2>/dev/null) == T ]] && return 0
                sleep 0.01
        done
        fail "'$*' did not stop at its fault point $n"
}
P attach foo_1 >/dev/null
graftd_stop
GRAFT_LOCK_TIMEOUT_SEC=1 graftd_start
stopped_at 3 "$PCTL" --root="$R" attach "$R/srv/bar.raw"
holder="pid $STOPPED (pctl): attach $R/srv/bar.raw, since"
[[ -e $R/var/lib/graft/portable.journal ]] || fail "the stopped attach has no journal yet"
before=$(fingerprint)
run_expect 10 "another portable operation on $R is still running ($holder" \
        env GRAFT_LOCK_TIMEOUT_SEC=1 "$PCTL" --root="$R" detach foo_1
run_expect 10 "is still running ($holder" "$PCTL" detach foo_1
assert_contains "$O/err" "gave up waiting after 1 s"
assert_responsive
P list >/dev/null
"$PCTL" --root="$R" detach foo_1 >"$O/w.out" 2>"$O/w.err" &
waiter=$!
for ((i = 0; i < 500; i++)); do
        grep -q "Waiting for another operation to finish: $holder" "$O/w.err" && break
        sleep 0.01
done
[[ $i -lt 500 ]] || fail "the waiting pctl did not say whom it waits for: $(cat "$O/w.err")"
[[ $(fingerprint) == "$before" ]] || fail "the refused, the waiting change or a read changed the root"
kill -CONT "$STOPPED"
wait "$STOPPED" || fail "the stopped attach failed once continued: $(cat "$O/stopped.out")"
wait "$waiter" || fail "the waiting detach failed: $(cat "$O/w.err")"
assert_eq "$(P is-attached bar)" attached
run_expect 1 "" "$PCTL" --root="$R" is-attached foo_1
P detach bar >/dev/null
assert_clean "after the stopped pctl"

# graftd as the holder (stopped in the middle of a caller's attach): its line names the caller.
graftd_stop
GRAFT_FAULT_STEP=3 GRAFT_FAULT_ACTION=stop graftd_start
"$PCTL" attach foo_1 >"$O/client.out" 2>&1 &
client=$!
for ((i = 0; i < 1000; i++)); do
        [[ $(awk '{ print $3 }' "/proc/$GRAFTD_PID/stat" 2>/dev/null) == T ]] && break
        sleep 0.01
done
[[ $i -lt 1000 ]] || fail "graftd did not stop at its fault point"
run_expect 10 "is still running (pid $GRAFTD_PID (graftd): attach foo_1 for uid 0, since" \
        env GRAFT_LOCK_TIMEOUT_SEC=1 "$PCTL" --root="$R" detach foo_1
kill -CONT "$GRAFTD_PID"
wait "$client" || fail "the attach through graftd failed once graftd went on: $(cat "$O/client.out")"
assert_eq "$(P is-attached foo_1)" attached
assert_clean "after the stopped graftd"
echo ok
