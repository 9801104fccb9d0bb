#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Who may do what without polkit: reading methods and properties for every caller, changing
# methods for root only; other callers are refused with org.freedesktop.DBus.Error.AccessDenied
# and a message naming the polkit action, and a refused change changes nothing. Only root may own
# graftd's name. (With the real polkitd: test-graftd-polkit.sh.)
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"
as_nobody test -x "$PCTL" || skip "uid 65534 cannot run $PCTL"

portable_image demo
sysext_image ext1
bus_start
graftd_start

before=$(tree_state "$R")

# 1. No polkit on the bus: reads work for anyone and print what root's print; changes are refused.
for args in "list" "--json=short list" "inspect demo" "is-attached demo"; do
        rc1=0 rc2=0
        # shellcheck disable=SC2086
        "$PCTL" $args >"$O/root.out" 2>&1 || rc1=$?
        # shellcheck disable=SC2086
        as_nobody "$PCTL" $args >"$O/nobody.out" 2>&1 || rc2=$?
        [[ $rc1 -eq $rc2 ]] || fail "pctl $args: root exited $rc1, uid 65534 $rc2"
        diff -u "$O/root.out" "$O/nobody.out" || fail "pctl $args prints otherwise for uid 65534"
done
as_nobody "$SEXTCTL" status >/dev/null || fail "sextctl status as uid 65534 failed"
as_nobody "$SEXTCTL" list >/dev/null || fail "sextctl list as uid 65534 failed"
as_nobody busctl --system get-property org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 Profiles >/dev/null ||
        fail "uid 65534 cannot read Profiles"
as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Extensions1.Status sysext >/dev/null || fail "uid 65534 cannot call Status"

DENIED="no polkit authority is running"
run_expect 1 "pctl: access denied: AttachImage demo needs root, or polkit's authorization for org.graft.manage-portables: $DENIED" \
        as_nobody "$PCTL" attach demo
run_expect 1 "access denied: Merge sysext needs root, or polkit's authorization for org.graft.manage-extensions: $DENIED" \
        as_nobody "$SEXTCTL" merge
A=org.freedesktop.DBus.Error.AccessDenied
mkdir -p "$T/nobody" && chown 65534:65534 "$T/nobody"
nobody_error() { as_nobody bash -c "$(declare -f gcall gcall_error fail); O=$T/nobody; gcall_error \"\$@\"" _ "$@"; }
nobody_error $A "$DENIED" Manager1.AttachImage demo "@as []" "" "" 0 "@as []" ""
nobody_error $A "$DENIED" Manager1.ReattachImage demo "@as []" "" "" 0 "@as []" ""
nobody_error $A "$DENIED" Manager1.DetachImage demo 0
nobody_error $A "$DENIED" Manager1.RemoveImage demo
nobody_error $A "$DENIED" Manager1.MarkImageReadOnly demo true
nobody_error $A "$DENIED" Extensions1.Merge sysext 0 ""
nobody_error $A "$DENIED" Extensions1.Refresh confext 0 ""
nobody_error $A "$DENIED" Extensions1.Unmerge sysext 0
assert_eq "$(tree_state "$R")" "$before" "a refused change changed the root"
grep -q "AttachImage demo (uid 65534): refused: access denied" "$GRAFTD_LOG" || fail "the refusal is not logged with the uid"

# 2. The bus policy: only root may own the name.
as_nobody busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su \
        org.graft.Manager1 0 >"$O/own" 2>&1 && fail "uid 65534 could take org.graft.Manager1"
grep -qi "denied\|not allowed" "$O/own" || fail "owning the name failed otherwise: $(cat "$O/own")"

echo ok
