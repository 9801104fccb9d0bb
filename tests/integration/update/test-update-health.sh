#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The switch after a placement and the health check: an update refreshes the merged extensions
# (the new version is what /usr shows), runs the HealthCheck= commands (with the update's
# variables), and when one fails goes back by itself: the previous version merged again, the new
# file removed (NAME.v/) or the CurrentSymlink= back, the version marked bad so that no later
# run picks it (until unmark), exit status 11 naming the command and its last line of output.
# Also: a first install that fails leaves nothing merged; a check that hangs is killed at
# HealthTimeoutSec=; units are not checked below --root (no systemd runs them there);
# components and --all-components; a portable service is reattached (profile kept) and
# reattached back.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"

for v in 1 2 3 4; do build_ext foo $v; done
sign_index
start_server
r=$T/root
new_host "$r" foo
dropin=$r/etc/sysupdate.d/50-foo.transfer.d
mkdir -p "$dropin"
# The check looks at what is merged: it is the switched state that is checked.
printf '[X-Graft]\nHealthGraceSec=0\nHealthCheck=test "$(cat $GRAFT_ROOT/usr/share/foo/version)" != 3 || { echo "version 3 is broken"; exit 3; }\n' \
        >"$dropin/20-health.conf"
printf '[X-Graft]\nHealthCheck=printf "%%s %%s %%s %%s\\n" "$GRAFT_UPDATE_VERSION" "$GRAFT_UPDATE_PREVIOUS" "$GRAFT_UPDATE_COMPONENT" "$GRAFT_ROOT" >>%s/env\n' \
        "$T" >"$dropin/10-record.conf"

# A good update: merged at once, the check ran with the update's variables.
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update 2
assert_contains "$O/out" "Updated to 2 (was none)"
assert_eq "$(merged_version "$r" foo)" 2
assert_eq "$(cat "$T/env")" "2   $r"
assert_contains "$O/err" "passed"
[[ ! -e $r/var/lib/graft/update/default.pending ]] || fail "the pending file is left after a healthy update"

# 3 fails its check: rolled back to 2 by itself, marked bad, its file gone.
run_expect 11 "3 failed: health check" "$GRAFT_UPDATE" --root="$r" update 3
assert_contains "$O/err" "failed (exit status 3): version 3 is broken"
assert_contains "$O/err" "rolled back to 2, and 3 is marked bad"
assert_contains "$O/err" 'graft-update unmark 3'
assert_eq "$(merged_version "$r" foo)" 2
assert_eq "$(installed "$r" foo)" "foo_2.raw"
[[ ! -e $r/var/lib/extensions/foo.v/foo_3.raw ]] || fail "the bad version's file is still there"
[[ ! -e $r/var/lib/graft/update/default.pending ]] || fail "the pending file is left after a rollback"
"$GRAFT_UPDATE" --root="$r" list --no-legend >"$O/list" 2>/dev/null
assert_contains "$O/list" "3 available,bad"
assert_contains "$O/list" "version 3 is broken"
assert_eq "$(tail -n1 "$T/env")" "3 2  $r"

# Never picked again: the update goes past it to 4 (and says so); explicitly it is refused.
run_expect 10 "version 3 is marked bad" "$GRAFT_UPDATE" --root="$r" update 3
run_expect 0 "passed over 3: marked bad" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/out" "Updated to 4 (was 2)"
assert_eq "$(merged_version "$r" foo)" 4
# A person clears the mark: it may be placed again (older than 4: beside it, not in use).
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" unmark 3
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update 3
assert_contains "$O/out" "Placed 3; 4 stays in use"
assert_eq "$(merged_version "$r" foo)" 4
unmerge_root "$r"

# A first install that fails its check: removed again, nothing merged, nothing pending.
r=$T/first
new_host "$r" foo
mkdir -p "$r/etc/sysupdate.d/50-foo.transfer.d"
printf '[X-Graft]\nHealthCheck=echo "no good"; exit 1\n' >"$r/etc/sysupdate.d/50-foo.transfer.d/h.conf"
run_expect 11 "removed it again (no version ran before it), and 4 is marked bad" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/err" ": no good"
assert_eq "$(merged_version "$r" foo)" none
assert_eq "$(installed "$r" foo)" ""
# A check that hangs is killed at HealthTimeoutSec= (with what it printed).
printf '[X-Graft]\nHealthTimeoutSec=0.5\nHealthCheck=echo waiting; sleep 30\n' >"$r/etc/sysupdate.d/50-foo.transfer.d/h.conf"
start=$(date +%s%N)
run_expect 11 'health check "echo waiting; sleep 30" did not finish within 0.5 s: waiting' \
        "$GRAFT_UPDATE" --root="$r" update 3
(( ($(date +%s%N) - start) / 1000000 < 10000 )) || fail "the hanging check was not cut short"
# Units are not checked below a root: no systemd runs them there (and that is said).
printf '[X-Graft]\nHealthUnits=foo.service\n' >"$r/etc/sysupdate.d/50-foo.transfer.d/h.conf"
run_expect 0 "not checking foo.service: no systemd runs the units below --root" "$GRAFT_UPDATE" --root="$r" update 2
assert_eq "$(merged_version "$r" foo)" 2
unmerge_root "$r"

# The sysext-bakery layout: the symlink goes back; components; --all-components; resolve.
r=$T/bakery
new_host "$r" foo
rm "$r/etc/sysupdate.d/50-foo.transfer"
mkdir -p "$r/etc/sysupdate.foo.d"
url_transfer "$r/etc/sysupdate.foo.d/foo.transfer" foo /opt/extensions/foo \
        "$(printf 'CurrentSymlink=/var/lib/extensions/foo.raw\nInstancesMax=3')" "HealthCheck=test ! -e $T/foo-broken"
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" -C foo update 3
touch "$T/foo-broken"
run_expect 11 "4 failed: health check \"test ! -e $T/foo-broken\" failed (exit status 1)" \
        "$GRAFT_UPDATE" --root="$r" --all-components update
assert_contains "$O/err" "component foo: "
assert_contains "$O/err" "graft-update -C foo unmark 4"
assert_eq "$(readlink "$r/var/lib/extensions/foo.raw")" /opt/extensions/foo/foo_3.raw
assert_eq "$(merged_version "$r" foo)" 3
assert_contains "$r/var/lib/graft/update/foo.bad" "4	"
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" --all-components update
assert_contains "$O/out" "foo: Up to date: 3"
run_expect 0 "no update was left unfinished" "$GRAFT_UPDATE" --root="$r" --all-components resolve
run_expect 2 "--all-components does not go with --component=" "$GRAFT_UPDATE" --root="$r" -A -C foo update
unmerge_root "$r"

# A portable service: reattached to the new version with the profile it had, and back.
build_portable() { # VERSION: foo_VERSION.raw in $WWW, a portable service image
        local src=$T/psrc-$1
        make_portable_tree "$src" foo
        echo "$1" >"$src/usr/lib/foo-version"
        "$GRAFT_IMAGE" build "$src" -o "$WWW/foo_$1.raw" --name foo --version "$1" --type portable \
                --key "$KEYS/signer.key" --cert "$KEYS/signer.crt" >/dev/null 2>&1 || fail "building portable $1"
}
rm -f "$WWW"/*.raw
for v in 1 2 3; do build_portable $v; done
sign_index
r=$T/portable
new_host "$r" foo
mkdir -p "$r/usr/lib/graft" "$r/var/lib/portables"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$r/usr/lib/graft/profiles"
rm -f "$r/usr/lib/graft/profiles/meson.build"
url_transfer "$r/etc/sysupdate.d/50-foo.transfer" foo /var/lib/portables "" 'HealthCheck=test $GRAFT_UPDATE_VERSION != 3'
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update 1
run_expect 0 "" "$PCTL" --root="$r" attach --profile=strict "$r/var/lib/portables/foo_1.raw"
dropin=$r/etc/systemd/system.attached/foo.service.d
assert_contains "$dropin/20-portable.conf" "RootImage=/var/lib/portables/foo_1.raw"
profile=$(readlink "$dropin/10-profile.conf")
assert_eq "$profile" /usr/lib/graft/profiles/strict/service.conf
run_expect 0 "reattached /var/lib/portables/foo_2.raw" "$GRAFT_UPDATE" --root="$r" update 2
assert_contains "$dropin/20-portable.conf" "RootImage=/var/lib/portables/foo_2.raw"
assert_eq "$(readlink "$dropin/10-profile.conf")" "$profile" "the profile changed on update"
run_expect 11 "3 failed: health check" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$dropin/20-portable.conf" "RootImage=/var/lib/portables/foo_2.raw"
assert_eq "$(readlink "$dropin/10-profile.conf")" "$profile" "the profile changed on rollback"
[[ ! -e $r/var/lib/portables/foo_3.raw ]] || fail "the bad portable image is still there"
"$PCTL" --root="$r" list --no-legend >"$O/plist"
assert_contains "$O/plist" "/var/lib/portables/foo_2.raw"
echo "ok"
