#!/bin/bash
# pctl against the cases of systemd's portable-service test (TEST-29), offline with --root: one
# base image shared by two services through two extensions, detach refused when the base alone
# does not name one attachment (nothing removed), detach IMAGE PREFIX… and --extension picking
# one, versioned extension file names (app0_1.0.raw with extension-release.app0) kept apart,
# --force over the extension-release name check (never over the signature or the policy), the
# user.extension-release.strict=false xattr, is-attached --extension, inspect --cat (--copy=symlink of
# a raw image: test-pctl-raw.sh).
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
# is-attached --extension: the units attached with that extension (versions apart).
assert_eq "$(pctl is-attached --extension=app0 minimal_0)" attached
assert_eq "$(pctl is-attached --extension="$P/app1.raw" "$P/minimal_0.raw")" attached
run_expect 1 "" pctl is-attached --extension=app0_1.0 minimal_0
assert_eq "$(cat "$O/out")" detached
run_expect 1 "" pctl is-attached --extension=app0 --extension=app1 minimal_0
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

# 2. Versioned extension file names: app0_1.0.raw ships extension-release.app0 (the name without its
#    version, as systemd looks for it); versions of one extension are separate attachments.
cp "$P/app0.raw" "$P/app0_1.0.raw"
ext_tree "$T/src/app0v2" app0 app0
sed -i 's|/usr/bin/app0|/usr/bin/app0-two|' "$T/src/app0v2/usr/lib/systemd/system/app0.service"
build_image "$T/src/app0v2" "$P/app0_2.0.raw" app0 2 sysext
cp "$P/app1.raw" "$P/app1_2.raw"
before=$(tree_state "$R")
pctl attach --extension=app0_1.0 minimal_0 app0 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app0.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/app0_1.0.raw"
assert_eq "$(pctl is-attached minimal_0)" attached
run_expect 7 "but no unit of it matches extension app0_2.0" pctl detach --extension=app0_2.0 minimal_0
run_expect 7 "but no unit of it matches extension app0" pctl detach --extension=app0 minimal_0
pctl reattach --extension=app0_2.0 minimal_1 app0 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app0.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/app0_2.0.raw"
assert_contains "$R/etc/systemd/system.attached/app0.service" "/usr/bin/app0-two"
pctl detach --extension=app0_2.0 minimal_1 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "attach/reattach of versioned extensions left the tree changed"
pctl attach --extension=app1 minimal_0 app1 >/dev/null
pctl reattach --extension=app1_2 minimal_1 app1 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app1.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/app1_2.raw"
pctl reattach --extension=app1 minimal_1 app1 >/dev/null
pctl detach --extension=app1 minimal_1 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "reattach to app1_2 and back left the tree changed"

# 3. A release file of another name (app10.raw ships extension-release.app0): refused, naming what
#    was looked for; --force takes the only release file there is. It never overrides the
#    signature, the image policy or the release file's compatibility.
cp "$P/app0.raw" "$P/app10.raw"
before=$(tree_state "$R")
run_expect 7 "extension /var/lib/portables/app10.raw has no /usr/lib/extension-release.d/extension-release.app10, and no release file marked user.extension-release.strict=false; --force takes the only one it has, whatever its name" \
        pctl attach --extension=app10 minimal_0 app0
cp "$P/app0.raw" "$R/srv/app10_3.raw"
run_expect 7 "has no /usr/lib/extension-release.d/extension-release.app10_3 (nor extension-release.app10)" \
        pctl attach --extension="$R/srv/app10_3.raw" minimal_0 app0
rm "$R/srv/app10_3.raw"
assert_eq "$(tree_state "$R")" "$before" "a refused attach changed the tree"
pctl attach --force --extension=app10 minimal_0 app0 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app0.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/app10.raw"
pctl detach --extension=app10 minimal_0 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "attach --force and detach left the tree changed"
make_cert "$T/keys" other
ext_tree "$T/src/app11" app0 app0
build_image "$T/src/app11" "$P/app11.raw" app0 1 sysext other
run_expect 6 "app11.raw has verity but no trusted signature" pctl attach --force --extension=app11 minimal_0 app0
run_expect 6 "image policy requires the root partition to be absent" pctl attach --force --image-policy=root=absent --extension=app10 minimal_0 app0
ext_tree "$T/src/app12" app0 app0
printf 'ID=other\nVERSION_ID=1\nSYSEXT_SCOPE=portable\n' >"$T/src/app12/usr/lib/extension-release.d/extension-release.app0"
build_image "$T/src/app12" "$P/app12.raw" app0 1 sysext
run_expect 8 "ID=other" pctl attach --force --extension=app12 minimal_0 app0
mkdir -p "$T/src/app13/usr/lib/extension-release.d"
ext_tree "$T/src/app13" app0 app0
cp "$T/src/app13/usr/lib/extension-release.d/extension-release.app0" "$T/src/app13/usr/lib/extension-release.d/extension-release.app9"
build_image "$T/src/app13" "$P/app13.raw" app0 1 sysext
run_expect 3 "no extension-release.app13, and more than one release file could stand for it (/usr/lib/extension-release.d/extension-release.app0, /usr/lib/extension-release.d/extension-release.app9): refusing to guess" \
        pctl attach --force --extension=app13 minimal_0 app0
rm "$P"/app1[1-3].raw
assert_eq "$(tree_state "$R")" "$before" "refused attaches changed the tree"

# 4. user.extension-release.strict=false on a release file of another name: it stands in for the
#    extension's name (systemd's TEST-29 app1.raw ships extension-release.app2 so marked), in a
#    squashfs as in a directory image; strict=true, or two files so marked, do not.
setxattr() { python3 -c 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"; }
ext_tree "$T/src/app2" app2 app1
setxattr "$T/src/app2/usr/lib/extension-release.d/extension-release.app2" user.extension-release.strict false
build_image "$T/src/app2" "$P/app1x.raw" app2 1 sysext
cp -a "$T/src/app2" "$P/app1d"
before=$(tree_state "$R")
pctl attach --extension=app1x minimal_0 app1 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app1.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/app1x.raw"
out=$(pctl inspect --extension=app1x minimal_0 app1)
assert_contains <(echo "$out") "Extension: /var/lib/portables/app1x.raw (/usr/lib/extension-release.d/extension-release.app2)"
pctl detach --extension=app1x minimal_0 >/dev/null
pctl --image-policy="*" attach --extension=app1d minimal_0 app1 >/dev/null
assert_contains "$R/etc/systemd/system.attached/app1.service.d/20-portable.conf" "ExtensionDirectories=/var/lib/portables/app1d"
pctl detach --extension=app1d minimal_0 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "attach with a strict=false release file left the tree changed"
setxattr "$P/app1d/usr/lib/extension-release.d/extension-release.app2" user.extension-release.strict true
before=$(tree_state "$R")
run_expect 7 "extension /var/lib/portables/app1d has no /usr/lib/extension-release.d/extension-release.app1d, and no release file marked user.extension-release.strict=false" \
        pctl --image-policy="*" attach --extension=app1d minimal_0 app1
setxattr "$P/app1d/usr/lib/extension-release.d/extension-release.app2" user.extension-release.strict 0
cp -a "$P/app1d/usr/lib/extension-release.d/extension-release.app2" "$P/app1d/usr/lib/extension-release.d/extension-release.app3"
before=$(tree_state "$R")
run_expect 3 "no extension-release.app1d, and more than one release file could stand for it (/usr/lib/extension-release.d/extension-release.app2, /usr/lib/extension-release.d/extension-release.app3, each marked user.extension-release.strict=false): refusing to guess" \
        pctl --image-policy="*" attach --extension=app1d minimal_0 app1
assert_eq "$(tree_state "$R")" "$before" "refused attaches changed the tree"

# 5. inspect --cat: the release files and unit files as they are; without it the units by name.
before=$(tree_state "$R")
out=$(pctl inspect --cat --extension=app0 --extension=app1x minimal_0 app0 app1)
printf '%s\n' "$out" >"$T/cat.txt"
grep -q -F -x -f "$T/src/minimal_0/usr/lib/os-release" "$T/cat.txt" || fail "inspect --cat lacks the os-release"
grep -q -F -x -f "$T/src/app0/usr/lib/extension-release.d/extension-release.app0" "$T/cat.txt" || fail "inspect --cat lacks app0's release"
grep -q -F -x -f "$T/src/app0/usr/lib/systemd/system/app0.service" "$T/cat.txt" || fail "inspect --cat lacks app0.service"
grep -q -F -x -f "$T/src/app2/usr/lib/systemd/system/app1.service" "$T/cat.txt" || fail "inspect --cat lacks app1.service"
assert_contains "$T/cat.txt" "# os-release: /var/lib/portables/minimal_0.raw (/etc/os-release)"
assert_contains "$T/cat.txt" "# Extension Release: /var/lib/portables/app0.raw (/usr/lib/extension-release.d/extension-release.app0)"
assert_contains "$T/cat.txt" "# Extension Release: /var/lib/portables/app1x.raw (/usr/lib/extension-release.d/extension-release.app2)"
assert_contains "$T/cat.txt" "# app1.service: /var/lib/portables/app1x.raw/usr/lib/systemd/system/app1.service"
out=$(pctl inspect --force --cat --extension="$P/app10.raw" "$P/minimal_0.raw" app0)
assert_contains <(echo "$out") "# Extension Release: /var/lib/portables/app10.raw (/usr/lib/extension-release.d/extension-release.app0)"
out=$(pctl inspect --extension=app0 minimal_0 app0)
assert_contains <(echo "$out") "    app0.service (from /var/lib/portables/app0.raw/usr/lib/systemd/system/app0.service)"
[[ $out != *"ExecStart="* ]] || fail "inspect without --cat printed the unit's text"
out=$(pctl --json=short inspect --extension=app1x minimal_0 app1)
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); e=j["extensionReleases"][0]; assert e["path"].endswith("extension-release.app2") and "SYSEXT_SCOPE=portable" in e["content"] and "ID=graft-test" in j["osReleaseText"], j' "$out"
assert_eq "$(tree_state "$R")" "$before" "inspect changed the tree"

echo "OK"
