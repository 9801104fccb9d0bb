#!/bin/bash
# pctl refuses hostile and broken input with a reason naming the unit and the image, the
# documented exit code, and an unchanged tree: a tampered image, an unsigned or untrusted one
# under a trust store, an image without os-release ID, a unit symlink pointing out of the image,
# an extension for another OS, prefixes outside PORTABLE_PREFIXES or with '/' and '..', image
# names that are path tricks, units that exist or are attached already, and bad options.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/portable/lib-pctl.sh"

demo_tree "$T/src/demo" /usr/bin/demo
build_image "$T/src/demo" "$R/var/lib/portables/demo.raw" demo 1
before=$(tree_state "$R")
refused() { # CODE NEEDLE ARGS…
        run_expect "$@"
        assert_eq "$(tree_state "$R")" "$before" "a refused '${*:3}' changed the tree"
}

# A tampered image: one flipped byte in the data partition.
cp "$R/var/lib/portables/demo.raw" "$T/pristine.raw"
flip_byte "$R/var/lib/portables/demo.raw" $(($(part_offset "$R/var/lib/portables/demo.raw" 1) + 200))
before=$(tree_state "$R")
refused 4 "/var/lib/portables/demo.raw" pctl attach demo
grep -qi "hash" "$O/err" || fail "the integrity refusal does not say what did not match: $(cat "$O/err")"
cp "$T/pristine.raw" "$R/var/lib/portables/demo.raw"
before=$(tree_state "$R")

# Unsigned, and signed by a key the trust store does not hold.
"$GRAFT_IMAGE" build "$T/src/demo" -o "$R/srv/unsigned.raw" --name demo --version 1 --type portable >/dev/null
make_cert "$T/keys" other
build_image "$T/src/demo" "$R/srv/other.raw" demo 1 portable other
before=$(tree_state "$R")
refused 6 "image policy requires the root partition to be signed" pctl attach "$R/srv/unsigned.raw"
refused 6 "has verity but no trusted signature (partition 3: the signer (CN=other) is not the one trusted certificate" pctl attach "$R/srv/other.raw"
# An explicit policy may allow what the default does not.
pctl --image-policy='root=verity+signed' attach "$R/srv/other.raw" >/dev/null
pctl detach "$R/srv/other.raw" >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detach left the tree changed"

# os-release without ID=, and a unit symlink leading out of the image (bare squashfs images,
# which graft-image would refuse to build).
cp -a "$T/src/demo" "$T/src/noid"
printf 'NAME=noid\n' >"$T/src/noid/usr/lib/os-release"
mksquashfs "$T/src/noid" "$R/srv/noid.raw" -quiet -noappend -all-root >/dev/null
cp -a "$T/src/demo" "$T/src/esc"
ln -sf /etc/shadow "$T/src/esc/usr/lib/systemd/system/demo.service"
mksquashfs "$T/src/esc" "$R/srv/esc.raw" -quiet -noappend -all-root >/dev/null
before=$(tree_state "$R")
refused 3 "image /srv/noid.raw: /etc/os-release has no ID=, which a portable service image must have" \
        pctl --image-policy='*' attach "$R/srv/noid.raw"
refused 3 "unit demo.service in image /srv/esc.raw is a symlink to nothing inside the image" \
        pctl --image-policy='*' attach "$R/srv/esc.raw"

# Extensions: for another OS, and without an extension-release of their name.
mkdir -p "$T/src/fed/usr/lib/extension-release.d" "$T/src/fed/usr/lib/systemd/system"
printf 'ID=fedora\nVERSION_ID=39\n' >"$T/src/fed/usr/lib/extension-release.d/extension-release.fed"
build_image "$T/src/fed" "$R/var/lib/portables/fed.raw" fed 1 sysext
cp "$R/var/lib/portables/fed.raw" "$R/var/lib/portables/renamed.raw"
before=$(tree_state "$R")
refused 8 "extension /var/lib/portables/fed.raw for image /var/lib/portables/demo.raw" \
        pctl attach --extension=fed demo
assert_contains "$O/err" "ID=fedora"
refused 7 "extension /var/lib/portables/renamed.raw has no /usr/lib/extension-release.d/extension-release.renamed" \
        pctl attach --extension=renamed demo

# Prefixes.
refused 6 "prefix \"other\" is not allowed by image /var/lib/portables/demo.raw: its PORTABLE_PREFIXES= allows demo, demoext" \
        pctl attach demo other
refused 2 "\"../../etc/x\" is not a valid unit name prefix (image /var/lib/portables/demo.raw)" pctl attach demo ../../etc/x
refused 2 "\"demo/x\" is not a valid unit name prefix" pctl attach demo demo/x
refused 7 "no unit in image /var/lib/portables/demo.raw matches the prefix 'demoext'" pctl attach demo demoext

# Image names that are path tricks.
refused 2 '".." is not a valid image name' pctl attach ..
refused 2 '".hidden" is not a valid image name' pctl attach .hidden
refused 2 '"a\x0ab" is not a valid image name' pctl attach $'a\nb'
refused 7 'no image "passwd" in /etc/portables' pctl attach passwd
refused 7 "is not attached" pctl detach ../../../../etc/passwd
refused 7 'image /var/lib/portables/demo.raw is not attached' pctl detach demo
printf x >"$R/var/lib/portables/$(printf 'evil\033[31m.raw')"
before=$(tree_state "$R")
pctl list >"$T/list.txt"
grep -q $'\033' "$T/list.txt" && fail "list printed an escape sequence from a file name"

# The unit exists on the host, or is attached from another image.
mkdir -p "$R/etc/systemd/system"
printf '[Service]\n' >"$R/etc/systemd/system/demo.socket"
before=$(tree_state "$R")
refused 10 "unit demo.socket exists on the host already (${R}/etc/systemd/system/demo.socket); refusing to attach image /var/lib/portables/demo.raw" \
        pctl attach demo
rm -r "$R/etc/systemd"
before=$(tree_state "$R")
pctl attach demo >/dev/null
before=$(tree_state "$R")
refused 10 "image /var/lib/portables/demo.raw is attached already (unit demo.service); use reattach to update it" pctl attach demo
cp "$R/var/lib/portables/demo.raw" "$R/srv/elsewhere.raw"
before=$(tree_state "$R")
refused 10 "unit demo.service is attached already from image /var/lib/portables/demo.raw" pctl attach "$R/srv/elsewhere.raw"
refused 10 "unit demo.service is attached from image /var/lib/portables/demo.raw, which is not a version of elsewhere" \
        pctl reattach "$R/srv/elsewhere.raw"
pctl detach demo >/dev/null
before=$(tree_state "$R")

# Options.
refused 2 '--copy= takes auto, copy, symlink or mixed, not "bogus"' pctl --copy=bogus attach demo
refused 2 '--json= takes short, pretty or off, not "x"' pctl --json=x list
refused 2 'unknown command "frobnicate"' pctl frobnicate
refused 2 "detach takes at least 1 argument, 0 given" pctl detach
refused 2 "" pctl --image-policy=root=bogus attach demo
refused 2 "cannot use $T/nope as the root directory" "$PCTL" --root="$T/nope" list
"$PCTL" --help >"$T/help.txt"
awk 'length > 79 { print "line too long: " $0; bad = 1 } END { exit bad }' "$T/help.txt" || fail "--help wider than 80 columns"
echo ok
