#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash safety of placement: an update is killed (SIGKILL, as a power cut would stop it) at every
# step that leaves something on disk (GRAFT_FAULT_STEP=1…N: retention's removal, staging done,
# the rename into place, the CurrentSymlink switch). After each crash the host is before or after
# the step, never between: every visible file is a complete image as served, the symlink names
# one of them; a new run finishes the update and clears what the crash left (RemoveTemporary=).
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
grep -q '^#define GRAFT_FAULT_POINTS 1' "$GRAFT_BUILD_DIR/graft-config.h" ||
        skip "built without -Dfault_points=true"

for v in 1 2 3 4; do build_ext foo $v; done
sign_index
start_server

# A host in the sysext-bakery layout: versions in /opt/extensions/foo, the one in use chosen by a
# symlink in /var/lib/extensions.
setup() {
        rm -rf "$1"
        new_host "$1" foo
        cat >"$1/etc/sysupdate.d/50-foo.transfer" <<TRANSFER
[Source]
Type=url-file
Path=$URL/
MatchPattern=foo_@v.raw

[Target]
Type=regular-file
Path=/opt/extensions/foo
MatchPattern=foo_@v.raw
CurrentSymlink=/var/lib/extensions/foo.raw
InstancesMax=3
TRANSFER
        local v
        for v in 1 2 3; do "$GRAFT_UPDATE" --root="$1" update $v >/dev/null 2>&1 || fail "setup: update $v failed"; done
}

# check_state ROOT: before-or-after.
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
}

r=$T/root
setup "$r"
GRAFT_FAULT_LOG=$T/steps "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || fail "the counting run failed"
n=$(wc -l <"$T/steps")
cut -d' ' -f2 "$T/steps" | tr '\n' ' '
echo
((n >= 4)) || fail "only $n fault points were reached: $(cat "$T/steps")"
assert_eq "$(readlink "$r/var/lib/extensions/foo.raw")" "/opt/extensions/foo/foo_4.raw"

for step in $(seq 1 "$n"); do
        setup "$r"
        rc=0
        GRAFT_FAULT_STEP=$step "$GRAFT_UPDATE" --root="$r" update >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 137 ]] || fail "step $step: expected a SIGKILL (137), got $rc"
        check_state "$r"
        "$GRAFT_UPDATE" --root="$r" update >"$O/out" 2>"$O/err" || { cat "$O/err"; fail "step $step: the next run failed"; }
        assert_eq "$(readlink "$r/var/lib/extensions/foo.raw")" "/opt/extensions/foo/foo_4.raw" "step $step: not finished by the next run"
        for f in $(ls -A "$r/opt/extensions/foo" "$r/var/lib/extensions"); do
                [[ $f == .* ]] && fail "step $step: $f left after the next run"
        done
        [[ $(ls "$r/opt/extensions/foo" | wc -l) -le 3 ]] || fail "step $step: more than InstancesMax=3 versions kept"
done
echo "ok: $n steps, each before-or-after"
