#!/bin/bash
# pctl against the cases of systemd's portable-service test (TEST-29), offline with --root: one
# base image shared by two services through two extensions, detach refused when the base alone
# does not name one attachment (nothing removed), detach IMAGE PREFIX… and --extension picking
# one, versioned extension file names (app0_1.0.raw with extension-release.app0) kept apart,
# --force over the extension-release name check (never over the signature or the policy), the
# user.extension-release.strict=false xattr, --copy=symlink of a raw image, inspect --cat.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/portable/lib-pctl.sh"

P=$R/var/lib/portables
# The base: minimal_0 (unit minimal-app0.service) and minimal_1.
for v in 0 1; do
        make_portable_tree "$T/src/minimal_$v" minimal-app0
        printf 'ID=graft-test\nVERSION_ID=1\nPORTABLE_PREFIXES="minimal-app0 app0 app1"\n' \
                >"$T/src/minimal_$v/usr/lib/os-release"
        build_image "$T/src/minimal_$v" "$P/minimal_$v.raw" minimal "$v"
done
# ext_tree DIR RELEASE-NAME UNIT-PREFIX: an extension shipping UNIT-PREFIX.service, its release file
# named extension-release.RELEASE-NAME.
ext_tree() {
        mkdir -p "$1/usr/lib/extension-release.d" "$1/usr/lib/systemd/system"
        printf 'ID=graft-test\nVERSION_ID=1\nSYSEXT_SCOPE=portable\n' >"$1/usr/lib/extension-release.d/extension-release.$2"
        printf '[Service]\nExecStart=/usr/bin/%s\n' "$3" >"$1/usr/lib/systemd/system/$3.service"
}
ext_tree "$T/src/app0" app0 app0
ext_tree "$T/src/app1" app1 app1
build_image "$T/src/app0" "$P/app0.raw" app0 1 sysext
build_image "$T/src/app1" "$P/app1.raw" app1 1 sysext
before=$(tree_state "$R")

# 1. Two services on one base through two extensions: "detach BASE" names neither; refused, both
#    stay, byte for byte. Prefixes or --extension name one; only that one goes.
pctl attach --extension=app0 minimal_0 app0 >/dev/null
pctl attach --extension=app1 minimal_0 app1 >/dev/null
both=$(tree_state "$R")
run_expect 2 "image minimal_0 is attached 2 times: app0.service (with extension /var/lib/portables/app0.raw); app1.service (with extension /var/lib/portables/app1.raw); name the one to detach by its units' prefix (pctl detach minimal_0 app0) or by its extensions (--extension=NAME); nothing was detached" \
        pctl detach minimal_0
assert_eq "$(tree_state "$R")" "$both" "a refused detach changed the tree"
run_expect 2 "is attached 2 times" pctl detach "$P/minimal_0.raw"
assert_eq "$(tree_state "$R")" "$both" "a refused detach by path changed the tree"
run_expect 7 "image /var/lib/portables/minimal_0.raw is attached (app0.service app1.service), but no unit of it matches prefix nope; nothing was detached" \
        pctl detach minimal_0 nope
run_expect 7 "but no unit of it matches extension minimal_1" pctl detach --extension=minimal_1 minimal_0
run_expect 2 "\"-x\" is not a valid unit prefix" pctl detach minimal_0 -- -x
assert_eq "$(tree_state "$R")" "$both" "a refused detach changed the tree"
pctl detach minimal_0 app0 >"$T/out.txt"
assert_contains "$T/out.txt" "Removed /etc/systemd/system.attached/app0.service."
[[ -f $R/etc/systemd/system.attached/app1.service ]] || fail "detach minimal_0 app0 removed app1.service"
assert_contains "$R/etc/systemd/system.attached/app1.service.d/20-portable.conf" "/var/lib/portables/app1.raw"
pctl attach --extension=app0 minimal_0 app0 >/dev/null
assert_eq "$(tree_state "$R")" "$both" "attaching app0 again differs from the first time"
pctl detach --extension=app1 minimal_0 >/dev/null
[[ -f $R/etc/systemd/system.attached/app0.service ]] || fail "detach --extension=app1 removed app0.service"
[[ ! -e $R/etc/systemd/system.attached/app1.service ]] || fail "detach --extension=app1 left app1.service"
pctl detach --extension="$P/app0.raw" "$P/minimal_0.raw" app0 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detaching both one by one left the tree changed"
# Prefixes naming both attachments detach both: the operator named every unit.
pctl attach --extension=app0 minimal_0 app0 >/dev/null
pctl attach --extension=app1 minimal_0 app1 >/dev/null
pctl detach minimal_0 app0 app1 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detach minimal_0 app0 app1 left the tree changed"
# One attachment: the base alone names it, with or without its prefix.
pctl attach minimal_0 >/dev/null
pctl detach minimal_0 minimal-app0 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detach IMAGE PREFIX left the tree changed"

echo "OK"
