#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Who may do what: reading methods and properties for every caller; changing methods for root,
# and for other callers only when a polkit authority on the bus says yes for the action (here a
# stand-in authority, tests/integration/daemon/fake-polkit.c); with no polkit on the bus they are
# refused with org.freedesktop.DBus.Error.AccessDenied, with a challenge and no interaction
# allowed with InteractiveAuthorizationRequired. A refused change changes nothing.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
POLKIT=$GRAFT_BUILD_DIR/tests/integration/daemon/fake-polkit
[[ -x $POLKIT ]] || skip "fake-polkit is not built"
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"
as_nobody test -x "$PCTL" || skip "uid 65534 cannot run $PCTL"

portable_image demo
sysext_image ext1
bus_start '<policy user="root">
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
  </policy>'
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

# 2. A polkit authority that allows portables, and would ask a password for extensions.
"$POLKIT" "$T/polkit.log" allow=org.graft.manage-portables challenge=org.graft.manage-extensions &
polkit=$!
for _ in $(seq 100); do
        busctl --system status org.freedesktop.PolicyKit1 >/dev/null 2>&1 && break
        sleep 0.05
done
as_nobody "$PCTL" attach demo >"$O/out" || fail "pctl attach as uid 65534 with polkit's yes failed"
assert_contains "$O/out" "Written /etc/systemd/system.attached/demo.service.d/20-portable.conf."
assert_eq "$("$PCTL" is-attached demo)" attached
grep -q "^org.graft.manage-portables subject=system-bus-name::1\.[0-9]* interactive=1 -> yes$" "$T/polkit.log" ||
        fail "polkit was not asked as expected: $(cat "$T/polkit.log")"
as_nobody "$PCTL" detach demo >/dev/null || fail "pctl detach as uid 65534 with polkit's yes failed"
assert_eq "$(tree_state "$R")" "$before" "attach and detach by uid 65534 left the root changed"
# The CLI allows interaction: polkit's challenge is then a plain no (no agent here).
run_expect 1 "access denied: Merge sysext needs root, or polkit's authorization for org.graft.manage-extensions: polkit says no" \
        as_nobody "$SEXTCTL" merge
# A caller that does not allow interaction learns that a password would be asked.
nobody_error org.freedesktop.DBus.Error.InteractiveAuthorizationRequired \
        "polkit would ask for a password, but the caller does not allow interaction" Extensions1.Merge sysext 0 ""
assert_eq "$(tree_state "$R")" "$before" "a refused merge changed the root"
# Root is never asked about.
n=$(wc -l <"$T/polkit.log")
"$PCTL" attach demo >/dev/null && "$PCTL" detach demo >/dev/null
"$SEXTCTL" merge >/dev/null && "$SEXTCTL" unmerge >/dev/null
assert_eq "$(wc -l <"$T/polkit.log")" "$n" "polkit was asked about root"

# 3. The bus policy: only root may own the name.
as_nobody busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su \
        org.graft.Manager1 0 >"$O/own" 2>&1 && fail "uid 65534 could take org.graft.Manager1"
grep -qi "denied\|not allowed" "$O/own" || fail "owning the name failed otherwise: $(cat "$O/own")"

kill $polkit
echo ok
