#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash safety of an update: it is killed (SIGKILL, as a power cut would stop it) at every step
# that leaves something on disk or in the kernel (GRAFT_FAULT_STEP=1…N: retention's removal,
# staging done, the pending record, the rename into place, the CurrentSymlink switch, the switch
# record, the refresh, the confirmation; in a failing update also the bad mark, the symlink back,
# the removal and the refresh back). After each crash the host is before or after the step: every
# visible file is a complete image as served, the symlink names one of them, one of the two
# versions is merged. The next run resolves what the crash left: a placement that never ran is
# undone and the update done again; a switch whose health was never confirmed is rolled back and
# its version marked bad; a rollback cut short is finished.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
grep -q '^#define GRAFT_FAULT_POINTS 1' "$GRAFT_BUILD_DIR/graft-config.h" ||
        skip "built without -Dfault_points=true"

for v in 1 2 3 4; do build_ext foo $v; done
sign_index
start_server

# A host in the sysext-bakery layout: versions in /opt/extensions/foo, the one in use chosen by a
# symlink in /var/lib/extensions; 1, 2, 3 placed (3 in use and merged).
setup() {
        unmerge_root "$1"
        rm -rf "$1"
        new_host "$1" foo
        url_transfer "$1/etc/sysupdate.d/50-foo.transfer" foo /opt/extensions/foo \
                "$(printf 'CurrentSymlink=/var/lib/extensions/foo.raw\nInstancesMax=3')" \
                "$(printf '%s\n' 'HealthGraceSec=0' \
                        "HealthCheck=test \"\$(cat \$GRAFT_ROOT/usr/share/foo/version)\" != \"\$(cat $T/bad-version 2>/dev/null)\"")"
        local v
        for v in 1 2 3; do "$GRAFT_UPDATE" --root="$1" update $v >/dev/null 2>&1 || fail "setup: update $v failed"; done
        assert_eq "$(merged_version "$1" foo)" 3 "setup"
}

# check_state ROOT: before-or-after, right after the crash.
check_state() {
        local r=$1 f link
        for f in $(ls -A "$r/opt/extensions/foo"); do
                [[ $f == .* ]] && continue
                cmp -s "$r/opt/extensions/foo/$f" "$WWW/$f" || fail "step $step: $f is not a complete image"
        done
        link=$(readlink "$r/var/lib/extensions/foo.raw")
        [[ $link == /opt/extensions/foo/foo_3.raw || $link == /opt/extensions/foo/foo_4.raw ]] || fail "step $step: the symlink points to '$link'"
        [[ -e $r$link ]] || fail "step $step: the symlink's target $link is missing"
        for f in $(ls -A "$r/var/lib/extensions"); do
                [[ $f == foo.raw || $f == .* ]] || fail "step $step: unexpected $f in /var/lib/extensions"
        done
        case $(merged_version "$r" foo) in
        3|4) ;;
        *) fail "step $step: merged is '$(merged_version "$r" foo)'" ;;
        esac
}

# final_state ROOT VERSION BAD: VERSION in use (symlink, merge), BAD (or "") marked bad, nothing
# pending, nothing hidden left.
final_state() {
        local r=$1 f
        assert_eq "$(readlink "$r/var/lib/extensions/foo.raw")" "/opt/extensions/foo/foo_$2.raw" "step $step ($name)"
        assert_eq "$(merged_version "$r" foo)" "$2" "step $step ($name): merged"
        assert_eq "$(cut -f1 "$r/var/lib/graft/update/default.bad" 2>/dev/null)" "$3" "step $step ($name): bad marks"
        [[ ! -e $r/var/lib/graft/update/default.pending ]] || fail "step $step ($name): still pending"
        for f in $(ls -A "$r/opt/extensions/foo" "$r/var/lib/extensions"); do
                [[ $f == .* ]] && fail "step $step ($name): $f left after the next run"
        done
        [[ $(ls "$r/opt/extensions/foo" | wc -l) -le 3 ]] || fail "step $step ($name): more than InstancesMax=3 versions kept"
}

# count LOG: the steps of a run, printed; sets n and the index of each named step.
declare -A at
count() {
        n=$(wc -l <"$1")
        at=()
        local i name
        while read -r i name; do [[ -n ${at[$name]:-} ]] || at[$name]=$i; done <"$1"
        cut -d' ' -f2 "$1" | tr '\n' ' '
        echo
}

r=$T/root

# 1. A good update (3 → 4).
rm -f "$T/bad-version" "$T/steps"
setup "$r"
GRAFT_FAULT_LOG=$T/steps "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || fail "the counting run failed"
count "$T/steps"
((n >= 7)) || fail "only $n fault points were reached: $(cat "$T/steps")"
[[ -n ${at[update-switching]:-} && -n ${at[update-confirmed]:-} ]] || fail "no switch record or confirmation among the steps"
step=0 name=counting final_state "$r" 4 ""
for step in $(seq 1 "$n"); do
        setup "$r"
        name=$(sed -n "${step}p" "$T/steps" | cut -d' ' -f2)
        rc=0
        GRAFT_FAULT_STEP=$step "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 137 ]] || fail "step $step ($name): expected a SIGKILL (137), got $rc"
        check_state "$r"
        "$GRAFT_UPDATE" --root="$r" update >"$O/out" 2>"$O/err" || { cat "$O/err"; fail "step $step ($name): the next run failed"; }
        if ((step >= at[update-switching] && step < at[update-confirmed])); then
                # Switched, never confirmed: rolled back, 4 marked bad.
                assert_contains "$O/out" "before its health check passed; rolled back to 3, and 4 is marked bad"
                final_state "$r" 3 4
        else
                final_state "$r" 4 ""
        fi
done
echo "ok: good update, $n steps"

# 2. An update whose health check fails: whatever step the crash hits, the next run (resolve,
# then update) ends on 3 with 4 marked bad.
echo 4 >"$T/bad-version"
setup "$r"
rm -f "$T/steps"
rc=0
GRAFT_FAULT_LOG=$T/steps "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || rc=$?
[[ $rc -eq 11 ]] || fail "the counting run of the failing update exited $rc, expected 11"
count "$T/steps"
[[ -n ${at[update-mark-bad]:-} && -n ${at[update-rolled-back]:-} ]] || fail "no rollback among the steps"
step=0 name=counting final_state "$r" 3 4
for step in $(seq 1 "$n"); do
        setup "$r"
        name=$(sed -n "${step}p" "$T/steps" | cut -d' ' -f2)
        rc=0
        GRAFT_FAULT_STEP=$step "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 137 ]] || fail "step $step ($name): expected a SIGKILL (137), got $rc"
        check_state "$r"
        "$GRAFT_UPDATE" --root="$r" resolve >"$O/out" 2>"$O/err" || { cat "$O/err"; fail "step $step ($name): resolve failed"; }
        rc=0
        "$GRAFT_UPDATE" --root="$r" update >"$O/out" 2>"$O/err" || rc=$?
        # Placed but never run: undone, and the update tries 4 again (and fails its check); any
        # later crash: resolve rolled it back, and nothing newer is left to take.
        ((rc == 0 || rc == 11)) || { cat "$O/err"; fail "step $step ($name): the update after resolve exited $rc"; }
        final_state "$r" 3 4
done
echo "ok: failing update, $n steps"
unmerge_root "$r"
