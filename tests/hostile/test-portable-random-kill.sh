#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The unlucky operator's crash, without fault points choosing the moment: pctl attach, detach and
# reattach killed with SIGKILL after a random delay (0 to 1.5 times what the operation takes),
# each followed by recovery (the next pctl command) and the before-or-after check. Reports how
# many kills landed before and after, and how many of those left a journal the recovery undid
# (mid-operation, before the commit) or completed (after it).
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-portable.sh"

P() { "$PCTL" --root="$R" "$@"; }
RUNS=${GRAFT_RANDOM_KILLS:-40}
save_root "$T/pristine"

# The median wall time of the operation in milliseconds (five uninterrupted runs).
duration_ms() {
        local i t0 t1 l=()
        for i in 1 2 3 4 5; do
                load_root "$T/before"
                t0=$(date +%s%N)
                P "$@" >/dev/null
                t1=$(date +%s%N)
                l+=($(((t1 - t0) / 1000000)))
        done
        printf '%s\n' "${l[@]}" | sort -n | sed -n 3p
}

SECONDS=0
# kill_loop LABEL SETUP OPERATION-ARGS…
kill_loop() {
        local label=$1 setup=$2 i d ms pid where before after b=0 a=0 undone=0 completed=0
        shift 2
        load_root "$T/pristine"
        eval "$setup"
        save_root "$T/before"
        before=$(fingerprint)
        P "$@" >/dev/null
        after=$(fingerprint)
        ms=$(duration_ms "$@")
        for ((i = 1; i <= RUNS; i++)); do
                load_root "$T/before"
                d=$((RANDOM % (ms * 3 / 2 + 1)))
                "$PCTL" --root="$R" "$@" >/dev/null 2>&1 & # not through P: $! must be pctl itself
                pid=$!
                sleep "$(printf '0.%03d' "$d")"
                { kill -KILL "$pid" 2>/dev/null; wait "$pid"; } 2>/dev/null || true
                if compgen -G "$R/var/lib/graft/portable.journal*" >/dev/null ||
                        compgen -G "$R/run/graft/portable.journal*" >/dev/null; then
                        P list >/dev/null 2>"$O/recover.err" || fail "$label: recovery failed: $(cat "$O/recover.err")"
                        grep -q "Completed an operation" "$O/recover.err" && completed=$((completed + 1))
                        grep -q "Undid an operation" "$O/recover.err" && undone=$((undone + 1))
                else
                        P list >/dev/null
                fi
                where=$(landed "$(fingerprint)" "$before" "$after" "$label killed after $d ms")
                [[ $where == before ]] && b=$((b + 1)) || a=$((a + 1))
                assert_clean "$label killed after $d ms"
        done
        echo "$label (takes ${ms} ms), killed $RUNS times after 0-$((ms * 3 / 2)) ms: $b landed before, $a after;" \
                "$undone left a journal that was undone, $completed one that was completed"
}
kill_loop "attach --enable" "" attach --enable foo_1
kill_loop "detach" "P attach --enable foo_1 >/dev/null" detach foo_1
kill_loop "reattach foo_1 → foo_2" "P attach foo_1 >/dev/null" reattach foo_2
echo "random kills: $((3 * RUNS)) runs in $SECONDS s"
echo ok
