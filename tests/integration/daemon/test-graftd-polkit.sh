#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd with the real polkit: Debian's polkitd on the test's private bus (with polkit's own bus
# policy file), reading graft's shipped daemon/org.graft.policy and a test rule. The actions and
# rules directories are bind-mounted in this test's private mount namespace only; the machine's
# files are not changed. The rule: uid 65534 may manage portables and inspect images by path, must
# authenticate as an administrator for extensions (there is no agent here); every other user is
# refused.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
POLKITD=/usr/lib/polkit-1/polkitd
POLKIT_BUS_CONF=/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf
[[ -x $POLKITD && -f $POLKIT_BUS_CONF ]] || skip "polkitd is not installed (package polkitd)"
[[ -d /usr/share/polkit-1/actions && -d /etc/polkit-1/rules.d ]] || skip "polkit's directories are missing"
need pkaction
getent passwd polkitd >/dev/null || skip "there is no polkitd user"
OTHER_UID=1 # daemon: a user the rule does not know
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"
as_nobody test -x "$PCTL" || skip "uid 65534 cannot run $PCTL"
as_other() { setpriv --reuid=$OTHER_UID --regid=$OTHER_UID --clear-groups "$@"; }

portable_image demo
sysext_image ext1

mkdir -p "$T/polkit/actions" "$T/polkit/rules"
cp "$GRAFT_SOURCE_DIR/daemon/org.graft.policy" "$T/polkit/actions/"
cat >"$T/polkit/rules/00-graft-test.rules" <<'EOF'
polkit.addRule(function(action, subject) {
        if (action.id.indexOf("org.graft.") != 0)
                return polkit.Result.NOT_HANDLED;
        if (subject.user != "nobody")
                return polkit.Result.NO;
        if (action.id == "org.graft.manage-portables" || action.id == "org.graft.inspect-images")
                return polkit.Result.YES;
        return polkit.Result.AUTH_ADMIN;
});
EOF
chmod -R a+rX "$T/polkit"
mount --bind "$T/polkit/actions" /usr/share/polkit-1/actions
mount --bind "$T/polkit/rules" /etc/polkit-1/rules.d

bus_start "<include>$POLKIT_BUS_CONF</include>"
"$POLKITD" --no-debug >"$T/polkitd.log" 2>&1 &
polkitd=$!
for _ in $(seq 100); do
        busctl --system status org.freedesktop.PolicyKit1 >/dev/null 2>&1 && break
        kill -0 $polkitd 2>/dev/null || { cat "$T/polkitd.log" >&2; fail "polkitd exited"; }
        sleep 0.05
done
busctl --system status org.freedesktop.PolicyKit1 >/dev/null 2>&1 || fail "polkitd did not take its name"
graftd_start

# polkit reads graft's policy file: both actions, with their defaults.
pkaction --verbose --action-id org.graft.manage-portables >"$O/pkaction" || fail "polkit does not know org.graft.manage-portables"
assert_contains "$O/pkaction" "description:       Manage portable service images"
assert_contains "$O/pkaction" "implicit any:      auth_admin"
assert_contains "$O/pkaction" "implicit active:   auth_admin_keep"
pkaction --action-id org.graft.manage-extensions >/dev/null || fail "polkit does not know org.graft.manage-extensions"
pkaction --action-id org.graft.update >/dev/null || fail "polkit does not know org.graft.update"
pkaction --verbose --action-id org.graft.inspect-images >"$O/pkaction" || fail "polkit does not know org.graft.inspect-images"
assert_contains "$O/pkaction" "implicit active:   auth_admin_keep"

before=$(tree_state "$R")

# 1. polkit says yes: uid 65534 attaches and detaches.
as_nobody "$PCTL" attach demo >"$O/out" || fail "pctl attach as uid 65534 with polkit's yes failed"
assert_contains "$O/out" "Written /etc/systemd/system.attached/demo.service.d/20-portable.conf."
assert_eq "$("$PCTL" is-attached demo)" attached
as_nobody "$PCTL" detach demo >/dev/null || fail "pctl detach as uid 65534 with polkit's yes failed"
assert_eq "$(tree_state "$R")" "$before" "attach and detach by uid 65534 left the root changed"

# polkit says yes to inspecting by path: uid 65534 reads an image it names by path; another user
# is refused before graftd looks at the path.
as_nobody "$PCTL" inspect "$R/var/lib/portables/demo.raw" >"$O/out" || fail "pctl inspect PATH as uid 65534 with polkit's yes failed"
assert_contains "$O/out" "demo.service"
run_expect 1 "access denied: GetImageMetadata $R/var/lib/portables/demo.raw needs root, or polkit's authorization for org.graft.inspect-images: polkit says no" \
        as_other "$PCTL" inspect "$R/var/lib/portables/demo.raw"

# 2. polkit says no: another user is refused, and nothing changes.
run_expect 1 "access denied: AttachImage demo needs root, or polkit's authorization for org.graft.manage-portables: polkit says no" \
        as_other "$PCTL" attach demo
run_expect 1 "access denied: Merge sysext needs root, or polkit's authorization for org.graft.manage-extensions: polkit says no" \
        as_other "$SEXTCTL" merge

# 3. polkit wants an administrator's password: with no agent to ask, the CLI (which allows
# interaction) is refused; a caller that does not allow interaction is told a password is needed.
run_expect 1 "access denied: Merge sysext needs root, or polkit's authorization for org.graft.manage-extensions: polkit wants a password, and no authentication agent was there to ask for it" \
        as_nobody "$SEXTCTL" merge
mkdir -p "$T/nobody" && chown 65534:65534 "$T/nobody"
as_nobody bash -c "$(declare -f gcall gcall_error fail); O=$T/nobody; gcall_error \"\$@\"" _ \
        org.freedesktop.DBus.Error.InteractiveAuthorizationRequired \
        "polkit would ask for a password, but the caller does not allow interaction" Extensions1.Merge sysext 0 ""
assert_eq "$(tree_state "$R")" "$before" "a refused change changed the root"
grep -q "Merge sysext (uid 65534): refused: access denied" "$GRAFTD_LOG" || fail "the refusal is not logged with the uid"

# 4. Root is not asked: it merges although the rule would refuse uid 0.
"$SEXTCTL" merge >/dev/null && "$SEXTCTL" unmerge >/dev/null || fail "root's merge through graftd failed"

kill $polkitd
echo ok
