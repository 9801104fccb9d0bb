#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graft-update against a real web server: list, check-new, update to the newest signed version,
# nothing to do the second time, an explicit older version, retention (InstancesMax=), vacuum,
# specifiers and drop-ins in transfer files, unsupported keys named.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"

build_ext foo 1
build_ext foo 2
sign_index
start_server
r=$T/root
new_host "$r" foo

"$GRAFT_UPDATE" --root="$r" list --no-legend >"$O/list" 2>"$O/err" || { cat "$O/err"; fail "list failed"; }
assert_contains "$O/list" "2 candidate,available"
assert_contains "$O/list" "1 candidate,available"
assert_eq "$("$GRAFT_UPDATE" --root="$r" check-new)" "2"

"$GRAFT_UPDATE" --root="$r" update >"$O/out" 2>"$O/err" || { cat "$O/err"; fail "update failed"; }
assert_contains "$O/out" "Updated to 2 (was none)"
assert_eq "$(installed "$r" foo)" "foo_2.raw"
assert_eq "$(stat -c '%U %a' "$r/var/lib/extensions/foo.v/foo_2.raw")" "root 644"
cmp "$r/var/lib/extensions/foo.v/foo_2.raw" "$WWW/foo_2.raw" || fail "the placed image differs from the served one"

run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/out" "Up to date: 2"
assert_eq "$("$GRAFT_UPDATE" --root="$r" check-new)" ""

# An explicit older version is placed too (and the newest stays the one in use).
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update 1
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_1.raw foo_2.raw "

# Retention: InstancesMax=3 keeps 3; a fourth version removes the oldest, never the one in use.
build_ext foo 3
build_ext foo 4
sign_index
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_1.raw foo_2.raw foo_4.raw "
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update 3
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_2.raw foo_3.raw foo_4.raw "
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" vacuum --instances-max=1
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_4.raw "

# ProtectVersion= with a specifier (%w: the host's VERSION_ID) keeps a version; drop-ins apply;
# keys graft does not act on are named.
mkdir -p "$r/etc/sysupdate.d/50-foo.transfer.d"
printf '[Transfer]\nProtectVersion=%%w\nFeatures=extra\n[Target]\nPartitionFlags=0\n' \
        >"$r/etc/sysupdate.d/50-foo.transfer.d/protect.conf"
build_ext foo 12
sign_index
run_expect 0 "Features= is not supported by graft" "$GRAFT_UPDATE" --root="$r" update 12
assert_contains "$O/err" "PartitionFlags= is not supported by graft"
assert_contains "$O/err" "protect.conf:3"
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" vacuum --instances-max=1
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_12.raw "
"$GRAFT_UPDATE" --root="$r" list --no-legend >"$O/list" 2>/dev/null
assert_contains "$O/list" "12 current,installed,available,protected"

# JSON
"$GRAFT_UPDATE" --root="$r" list --json=short >"$O/json" 2>/dev/null
python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); assert any(v["version"]=="12" for v in l), l' "$O/json" ||
        fail "list --json lacks version 12"
no_partial "$r" foo
echo "ok"
