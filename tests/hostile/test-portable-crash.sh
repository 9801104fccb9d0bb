#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash at any moment, as storage engines are tested: each state-changing portable operation is run
# once to count its fault points N, then for every n in 1..N from the same "before" state it is
# killed (SIGKILL) at point n; the next pctl command (list) recovers, and the tree must then be
# byte for byte the "before" or the "after" state, with no staged file, backup or journal left.
# Operations: attach (by name, --runtime, --enable, an image linked into /etc/portables), detach
# (an enabled unit, a runtime linked image), reattach foo_1 → foo_2, remove (a file with its
# sidecars, a directory tree), read-only. Then recovery itself is killed at each of its points
# (for attach and reattach crashed at each point) and run again: it reaches the same end. Then the
# same loop through graftd: graftd killed at point n, the next graftd start recovers.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-portable.sh"

P() { "$PCTL" --root="$R" "$@"; }

# For remove: a bare file image with its sidecars, and a directory image.
cp "$R/var/lib/portables/foo_1.raw" "$R/var/lib/portables/side.raw"
echo 0000 >"$R/var/lib/portables/side.roothash"
echo sig >"$R/var/lib/portables/side.roothash.p7s"
make_portable_tree "$R/var/lib/portables/dirimg" dirimg
mkdir -p "$R/var/lib/portables/dirimg/usr/share/deep/er"
echo x >"$R/var/lib/portables/dirimg/usr/share/deep/er/file"
save_root "$T/pristine"

# A damaged journal is never replayed blindly: a change refuses, naming it, and changes nothing
# (reads still answer); so does a journal directory anybody else could write (a journal steers
# renames). The operator is told what to do.
load_root "$T/pristine"
P attach foo_1 >/dev/null
printf 'graft-portable-journal 1\nstate staged\nwhat attach foo\nunlink /etc/passwd - ../../x\n' \
        >"$R/var/lib/graft/portable.journal"
before=$(fingerprint)
run_expect 1 "the journal $R/var/lib/graft/portable.journal is damaged (line 4); an interrupted portable operation cannot be recovered from it: check the files it names, then remove it" \
        P detach foo_1
[[ $(fingerprint) == "$before" ]] || fail "a change with a damaged journal changed the root"
P list >/dev/null || fail "list does not answer beside a damaged journal"
printf 'graft-portable-journal 1\nstate staged\nwhat attach foo\nmkdir /etc/x - -' >"$R/var/lib/graft/portable.journal"
run_expect 1 "is damaged (line 4)" P detach foo_1 # torn: the last line ends without its newline
printf 'graft-portable-journal 1\nstate done\nwhat -\n' >"$R/var/lib/graft/portable.journal"
run_expect 1 "is damaged (line 2)" P detach foo_1
rm "$R/var/lib/graft/portable.journal"
chmod 0777 "$R/var/lib/graft"
before=$(fingerprint)
run_expect 1 "refusing the journal directory $R/var/lib/graft: owned by uid 0 with mode 0777; it must be ours and writable by nobody else" \
        P detach foo_1
[[ $(fingerprint) == "$before" ]] || fail "a change beside a journal directory others may write changed the root"

SECONDS=0
total_runs=0
# crash_loop LABEL SETUP OPERATION-ARGS…: SETUP (shell, run on the pristine root) makes "before".
crash_loop() {
        local label=$1 setup=$2 n i rc where before after b=0 a=0
        shift 2
        load_root "$T/pristine"
        eval "$setup"
        save_root "$T/before"
        before=$(fingerprint)
        n=$(fault_points P "$@")
        after=$(fingerprint)
        assert_clean "$label, uninterrupted"
        [[ $after != "$before" ]] || fail "$label changed nothing"
        : >"$O/recovered"
        for ((i = 1; i <= n; i++)); do
                load_root "$T/before"
                rc=0
                GRAFT_FAULT_STEP=$i P "$@" >/dev/null 2>&1 || rc=$?
                [[ $rc -eq 137 ]] || fail "$label: not killed at point $i of $n (exit $rc)"
                # Recovery by a read (list), or by the next change (here one refused after it).
                if ((i % 2)); then
                        P list >/dev/null 2>"$O/recover.err" || fail "$label, point $i: recovery failed: $(cat "$O/recover.err")"
                else
                        run_expect 7 "image nosuch is not attached" P detach nosuch
                        cp "$O/err" "$O/recover.err"
                fi
                cat "$O/recover.err" >>"$O/recovered"
                where=$(landed "$(fingerprint)" "$before" "$after" \
                        "$label killed at point $i of $n ($(sed -n "${i}p" "$T/fault.log"))")
                [[ $where == before ]] && b=$((b + 1)) || a=$((a + 1))
                assert_clean "$label killed at point $i"
        done
        echo "$label: $n fault points, $b landed before, $a after"
        [[ $a -gt 0 ]] || fail "$label: no crash landed after"
        [[ $b -gt 0 || $n -eq 1 ]] || fail "$label: no crash landed before"
        # pctl says what it recovered (the first point only leaves a torn journal, the last none).
        [[ $b -lt 2 ]] || assert_contains "$O/recovered" "pctl: Undid an operation that was interrupted earlier ($1 "
        [[ $a -lt 2 ]] || assert_contains "$O/recovered" "pctl: Completed an operation that was interrupted earlier ($1 "
        total_runs=$((total_runs + n))
}

# The journal lives in /run/graft when everything changed lies below /run, else in /var/lib/graft;
# both directories are made when first needed.
load_root "$T/pristine"
rm -rf "$R/var/lib/graft" "$R/run/graft"
GRAFT_FAULT_STEP=3 P attach --runtime foo_1 >/dev/null 2>&1 || true
[[ -f $R/run/graft/portable.journal && ! -e $R/var/lib/graft ]] || fail "a runtime attach's journal is not in /run/graft"
P list >/dev/null 2>&1
GRAFT_FAULT_STEP=3 P attach foo_1 >/dev/null 2>&1 || true
[[ -f $R/var/lib/graft/portable.journal && ! -e $R/run/graft/portable.journal ]] ||
        fail "an attach's journal is not in /var/lib/graft"
assert_eq "$(stat -c %a "$R/var/lib/graft")" 700
P list >/dev/null 2>&1
assert_clean "journal directories made"

# remove refuses, before anything, a directory it could not delete whole.
load_root "$T/pristine"
mkdir "$T/elsewhere"
mount --bind "$T/elsewhere" "$R/var/lib/portables/dirimg/usr/share"
before=$(fingerprint)
run_expect 1 "cannot remove $R/var/lib/portables/dirimg: another file system is mounted below it" P remove dirimg
[[ $(fingerprint) == "$before" ]] || fail "a refused remove changed the root"
umount "$R/var/lib/portables/dirimg/usr/share"
before=$(fingerprint)
if chattr +i "$R/var/lib/portables/dirimg/usr/share/deep/er/file" 2>/dev/null; then
        run_expect 1 "cannot remove $R/var/lib/portables/dirimg: it holds immutable or append-only files" P remove dirimg
        [[ $(fingerprint) == "$before" ]] || fail "a refused remove changed the root"
        chattr -i "$R/var/lib/portables/dirimg/usr/share/deep/er/file"
else
        echo "note: no immutable attribute on this file system; that refusal is not checked"
fi

crash_loop "attach" "" attach foo_1
crash_loop "attach --runtime" "" attach --runtime foo_1
crash_loop "attach --enable" "" attach --enable foo_1
crash_loop "attach (linked into /etc/portables)" "" attach "$R/srv/bar.raw"
crash_loop "attach --runtime (linked into /run/portables)" "" attach --runtime "$R/srv/bar.raw"
crash_loop "detach (enabled)" "P attach --enable foo_1 >/dev/null" detach foo_1
crash_loop "detach (runtime, linked)" "P attach --runtime $R/srv/bar.raw >/dev/null" detach bar
crash_loop "reattach foo_1 → foo_2" "P attach --enable foo_1 >/dev/null" reattach --enable foo_2
crash_loop "remove (file and sidecars)" "" remove side
crash_loop "remove (directory)" "" remove dirimg
crash_loop "read-only" "" read-only foo_1

# A killed recovery is recovered again, to the same end. recovery_loop LABEL SETUP OPERATION-ARGS…
recovery_loop() {
        local label=$1 setup=$2 n m i j rc target runs=0
        shift 2
        load_root "$T/pristine"
        eval "$setup"
        save_root "$T/before"
        n=$(fault_points P "$@")
        for ((i = 1; i <= n; i++)); do
                load_root "$T/before"
                GRAFT_FAULT_STEP=$i P "$@" >/dev/null 2>&1 || true
                save_root "$T/crashed"
                rm -f "$T/fault.log"
                GRAFT_FAULT_LOG=$T/fault.log P list >/dev/null 2>&1 || fail "$label, point $i: recovery failed"
                m=0
                [[ ! -e $T/fault.log ]] || m=$(wc -l <"$T/fault.log") # none: nothing was left to recover
                target=$(fingerprint)
                for ((j = 1; j <= m; j++)); do
                        load_root "$T/crashed"
                        rc=0
                        GRAFT_FAULT_STEP=$j P list >/dev/null 2>&1 || rc=$?
                        [[ $rc -eq 137 ]] || fail "$label, point $i: recovery not killed at its point $j of $m (exit $rc)"
                        P list >/dev/null 2>"$O/recover.err" || fail "$label: recovery after recovery failed: $(cat "$O/recover.err")"
                        [[ $(fingerprint) == "$target" ]] ||
                                fail "$label killed at point $i, recovery killed at its point $j: another end than an uninterrupted recovery"
                        assert_clean "$label, point $i, recovery killed at $j"
                        runs=$((runs + 1))
                done
        done
        echo "$label: recovery killed at each of its points after each of $n crashes: $runs runs, all to the same end"
        total_runs=$((total_runs + runs))
}
recovery_loop "attach --enable" "" attach --enable foo_1
recovery_loop "reattach foo_1 → foo_2" "P attach --enable foo_1 >/dev/null" reattach --enable foo_2
recovery_loop "remove (directory)" "" remove dirimg

# Through graftd: graftd itself killed at point n of the operation it runs for a client, and the
# next graftd start recovers before it serves anything. graftd_loop LABEL SETUP PCTL-ARGS…
bus_start
graftd_loop() {
        local label=$1 setup=$2 n i where before after b=0 a=0
        shift 2
        load_root "$T/pristine"
        eval "$setup"
        save_root "$T/before"
        before=$(fingerprint)
        rm -f "$T/fault.log"
        GRAFT_FAULT_LOG=$T/fault.log graftd_start
        "$PCTL" "$@" >/dev/null || fail "$label through graftd failed"
        graftd_stop
        n=$(wc -l <"$T/fault.log")
        after=$(fingerprint)
        for ((i = 1; i <= n; i++)); do
                load_root "$T/before"
                GRAFT_FAULT_STEP=$i graftd_start
                { # (bash reports the SIGKILL of its background job on this group's stderr)
                        "$PCTL" "$@" >/dev/null 2>&1 && fail "$label: graftd was not killed at point $i"
                        wait "$GRAFTD_PID" || true
                } 2>/dev/null
                GRAFTD_PID=
                graftd_start # recovers, then serves
                assert_responsive
                graftd_stop
                where=$(landed "$(fingerprint)" "$before" "$after" "$label through graftd, killed at point $i of $n")
                [[ $where == before ]] && b=$((b + 1)) || a=$((a + 1))
                assert_clean "$label through graftd, killed at point $i"
        done
        echo "$label through graftd: $n fault points, $b landed before, $a after"
        [[ $a -gt 0 && $b -gt 0 ]] || fail "$label through graftd: not both outcomes seen"
        total_runs=$((total_runs + n))
}
graftd_loop "attach --enable" "" attach --enable foo_1
graftd_loop "detach" "P attach foo_1 >/dev/null" detach foo_1
graftd_loop "reattach foo_1 → foo_2" "P attach foo_1 >/dev/null" reattach foo_2
# Recovery is a change, and so root's business: uid 65534's reads through graftd leave an
# interrupted attach alone (graftd recovers at its start, and every change recovers first); root's
# list in-process recovers it.
load_root "$T/pristine"
graftd_start
GRAFT_FAULT_STEP=10 P attach foo_1 >/dev/null 2>&1 || true
before=$(fingerprint)
[[ -e $R/var/lib/graft/portable.journal ]] || fail "the attach killed at point 10 left no journal"
as_nobody busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 ListImages >/dev/null ||
        fail "uid 65534's ListImages failed"
as_nobody busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 GetImageState s foo_1 \
        >/dev/null || fail "uid 65534's GetImageState failed"
[[ $(fingerprint) == "$before" ]] || fail "uid 65534's reads through graftd recovered the interrupted attach"
graftd_stop
P list >/dev/null 2>&1
[[ ! -e $R/var/lib/graft/portable.journal ]] || fail "root's list in-process did not recover"
assert_clean "root's list"

grep -q "Undid the portable operation a crash interrupted (attach foo_1)" "$GRAFTD_LOG" ||
        fail "graftd did not log what it recovered"
grep -q "Completed the portable operation a crash interrupted (reattach foo_2)" "$GRAFTD_LOG" ||
        fail "graftd did not log what it recovered"

echo "crash loops: $total_runs runs in $SECONDS s"
echo ok
