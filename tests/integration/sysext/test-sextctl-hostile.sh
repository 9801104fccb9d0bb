#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile cases: each bad image is skipped with a one-line reason naming it, the good ones are
# merged anyway, the exit status is 9, and nothing of a refused image is ever mounted.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need mksquashfs mountpoint openssl python3 sfdisk

make_cert "$T/keys" trusted
make_cert "$T/keys" stranger
export SOURCE_DATE_EPOCH=1700000000
build() { # build NAME SRC [graft-image options]: a signed verity image NAME.raw in $T/img
        local n=$1 src=$2
        shift 2
        mkdir -p "$T/img"
        "$GRAFT_IMAGE" build -q "$src" -o "$T/img/$n.raw" --name "$n" --version 1 "$@"
}
signed() { build "$@" --key "$T/keys/trusted.key" --cert "$T/keys/trusted.crt"; }

r=$T/root
new_root "$r"
mkdir -p "$r/etc/verity.d"
cp "$T/keys/trusted.crt" "$r/etc/verity.d/"

for n in good1 good2 tampered; do
        mkext "$T/src/$n" "$n"
        signed "$n" "$T/src/$n"
done
mkext "$T/src/unsigned" unsigned && build unsigned "$T/src/unsigned"
mkext "$T/src/foreign" foreign && build foreign "$T/src/foreign" --key "$T/keys/stranger.key" --cert "$T/keys/stranger.crt"
cp "$T"/img/*.raw "$r/var/lib/extensions/"
# A release file naming another image: "impostor" carries extension-release.good1 (graft-image
# build refuses to make such an image, mksquashfs does not).
mkext "$T/src/impostor" good1 && squash "$T/src/impostor" "$r/var/lib/extensions/impostor.raw"

# Tampered: one flipped byte in the data partition, after it was signed.
img=$r/var/lib/extensions/tampered.raw
flip_byte "$img" $(($(part_offset "$img" 1) + 100))

# A traversal name and a symlink that leaves the root: discovery refuses both, by name.
ln -s ../../../../../../../../etc/os-release "$r/etc/extensions/escape.raw"
cp "$T/img/good2.raw" "$r/etc/extensions/..hidden.raw" # hidden: not an image at all, like systemd
cp "$T/img/good2.raw" "$r/var/lib/extensions/$(printf 'bad\033name.raw')"
# A squashfs holding an entry named ".." (patched in place, as in the graft-image hostile test).
mkext "$T/src/dotdot" dotdot && echo x >"$T/src/dotdot/usr/share/dotdot/zz"
mksquashfs "$T/src/dotdot" "$r/var/lib/extensions/dotdot.raw" -noI -noD -noF -noX -quiet -no-progress -all-root >/dev/null
python3 - "$r/var/lib/extensions/dotdot.raw" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.rindex(b"\x01\x00zz")
data[i + 2:i + 4] = b".."
open(sys.argv[1], "wb").write(data)
PY

before=$(tree_state "$r/var/lib/extensions")
run_expect 9 "" "$SEXTCTL" --root="$r" --image-policy='root=signed+verity+unprotected+absent:usr=signed+verity+unprotected+absent' merge
cat "$O/err" >&2
# The policy given allows unsigned images: only the damaged ones are refused.
assert_contains "$O/err" "tampered.raw: root hash of partition 1 is"
assert_contains "$O/err" "dotdot.raw"
assert_contains "$O/err" "unsafe name"
assert_contains "$O/err" "impostor: has no /usr/lib/extension-release.d/extension-release.impostor, only extension-release.good1"
assert_contains "$O/err" 'bad\x1bname.raw: "bad\x1bname" is not a valid image name'
assert_contains "$O/err" "escape.raw: cannot be opened"
grep -q "hidden" "$O/err" && fail "a hidden entry was taken for an image"
for n in good1 good2 unsigned foreign; do
        [[ -e $r/usr/share/$n/file ]] || fail "$n was not merged"
done
for n in tampered dotdot; do
        [[ -e $r/usr/share/$n ]] && fail "$n was merged"
done
grep -q "^$r/run/graft" <<<"$(awk '{print $5}' /proc/self/mountinfo)" && fail "staging mounts are visible outside the private namespace"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
assert_eq "$(tree_state "$r/var/lib/extensions")" "$before" "merge changed the images"

# The default policy with a trusted certificate installed: only images it signed are merged.
run_expect 9 "" "$SEXTCTL" --root="$r" merge
assert_contains "$O/err" "image policy requires the root partition to be signed"
assert_contains "$O/err" "unsigned.raw"
assert_contains "$O/err" "foreign.raw"
[[ -e $r/usr/share/good1/file && -e $r/usr/share/good2/file ]] || fail "signed images not merged"
[[ -e $r/usr/share/unsigned || -e $r/usr/share/foreign ]] && fail "an image without a trusted signature was merged"
"$SEXTCTL" --root="$r" status --json=short >"$O/st"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s[0]['extensions']==['good1','good2'], s" "$O/st" ||
        fail "status: $(cat "$O/st")"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1

# --json lists every image with its state and reason; the exit status is still 9.
rc=0
"$SEXTCTL" --root="$r" merge --json=short >"$O/json" 2>/dev/null || rc=$?
assert_eq "$rc" 9
python3 - "$O/json" <<'PY' || fail "merge --json: $(cat "$O/json")"
import json, sys
j = json.load(open(sys.argv[1]))
state = {i["name"]: i for i in j["images"]}
assert state["good1"]["state"] == "merged" and state["good1"]["protection"] == "signed", state["good1"]
assert state["tampered"]["state"] == "skipped" and "root hash" in state["tampered"]["reason"], state["tampered"]
assert any("escape.raw" in s for s in j["skippedEntries"]), j["skippedEntries"]
PY
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1

# Bad options are refused up front.
run_expect 2 "invalid --image-policy=bogus" "$SEXTCTL" --root="$r" --image-policy=bogus merge
run_expect 2 "--root= takes an absolute path" "$SEXTCTL" --root=relative status
run_expect 2 'unknown command "frobnicate"' "$SEXTCTL" frobnicate
GRAFT_SYSEXT_HIERARCHIES=/usr:../etc run_expect 2 '$GRAFT_SYSEXT_HIERARCHIES: "../etc" is not an absolute, normalised path' \
        "$SEXTCTL" --root="$r" status
echo ok
