#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Choosing what gets merged (issue 16): masks (an empty directory or a symlink to /dev/null of an
# extension's name), merge --dry-run and refresh --dry-run (what would be merged in which order,
# and why not the others), disable/enable kept in ROOT/etc/graft/sysext.disabled, and
# merge NAME… for a subset. Each refusal checks its message, exit status and that nothing changed.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need systemd-sysext mksquashfs mountpoint

mount_id() { awk -v p="$1" '$5 == p { id = $1 } END { print id }' /proc/self/mountinfo; }
# The root without run/graft (the lock and staging directories, made once by the first command
# and left, empty: no change of state).
root_state() { tree_state "$1" | grep -v '^\./run/graft\|  \./run/graft'; }
merged_list() { "$SEXTCTL" --root="$1" status --json=short | python3 -c "import json,sys; print(' '.join(json.load(sys.stdin)[0]['extensions']))"; }

# 1. Masks: quiet (exit 0, nothing on stderr about them), and the masked images are not merged.
r=$T/mask
new_root "$r"
mkext "$r/var/lib/extensions/m" m
mkdir "$r/etc/extensions/m"
mkext "$T/src-n" n && squash "$T/src-n" "$r/var/lib/extensions/n.raw"
ln -s /dev/null "$r/run/extensions/n.raw"
mkext "$r/var/lib/extensions/keep" keep
run_expect 0 "" "$SEXTCTL" --root="$r" merge
grep -q "skipped" "$O/err" && fail "a mask made merge skip something: $(cat "$O/err")"
assert_eq "$(merged_list "$r")" "keep" "masked extensions were merged"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
# Naming a masked extension is refused, changing nothing.
before=$(root_state "$r")
run_expect 7 'extension "m" is masked' "$SEXTCTL" --root="$r" merge m
mountpoint -q "$r/usr" && fail "a refused merge m left /usr merged"
assert_eq "$(root_state "$r")" "$before" "a refused merge m changed the root"
# Side by side with systemd-sysext 252, which masks by an empty directory too (a symlink to
# /dev/null it resolves inside --root, where a scratch root has none, so that case is graft's).
setup_emptymask() {
        new_root "$1"
        mkext "$1/var/lib/extensions/m" m
        mkdir "$1/etc/extensions/m"
        mkext "$1/var/lib/extensions/keep" keep
}
setup_emptymask "$T/em-sd"
systemd-sysext --root="$T/em-sd" merge >/dev/null 2>&1
merged_state "$T/em-sd" >"$T/em.sd"
setup_emptymask "$T/em-g"
"$SEXTCTL" --root="$T/em-g" merge >/dev/null 2>&1 || fail "merge with an empty-directory mask failed"
merged_state "$T/em-g" >"$T/em.graft"
diff -u "$T/em.sd" "$T/em.graft" >&2 || fail "empty-directory mask: merged trees differ from systemd-sysext's"
echo "ok mask"

# 2. Dry run: the order, and for every image found but not merged, why.
r=$T/dry
new_root "$r"
mkext "$r/var/lib/extensions/a10" a10
mkext "$r/var/lib/extensions/a9" a9
mkext "$r/var/lib/extensions/bad" bad ID=fedora VERSION_ID=12
mkdir -p "$r/var/lib/extensions/c.v"
mkext "$r/var/lib/extensions/c.v/c_1" c && mkext "$r/var/lib/extensions/c.v/c_2" c
mkext "$r/var/lib/extensions/off" off
mkext "$r/etc/extensions/dup" dup && mkext "$r/var/lib/extensions/dup" dup
mkdir "$r/etc/extensions/masked" && mkext "$r/var/lib/extensions/masked" masked
mkdir -p "$r/etc/graft" && printf '# test\noff\n' >"$r/etc/graft/sysext.disabled"
before=$(root_state "$r")
run_expect 9 "" "$SEXTCTL" --root="$r" merge --dry-run
cat "$O/out"
assert_contains "$O/out" "Would merge, lowest layer first:"
assert_contains "$O/out" "  1. a9 (/var/lib/extensions/a9) into /usr"
assert_contains "$O/out" "  2. a10 (/var/lib/extensions/a10) into /usr"
assert_contains "$O/out" "  3. c 2 (/var/lib/extensions/c.v) into /usr"
assert_contains "$O/out" "  4. dup (/etc/extensions/dup) into /usr"
assert_contains "$O/out" "bad (/var/lib/extensions/bad): refused: bad: extension-release ID=fedora does not match the host's ID=debian"
assert_contains "$O/out" "$r/var/lib/extensions/c.v/c_1: an older version than c_2"
assert_contains "$O/out" "off (/var/lib/extensions/off): disabled (sextctl enable turns it on again)"
assert_contains "$O/out" "$r/var/lib/extensions/dup: dup is used from /etc/extensions/dup"
assert_contains "$O/out" "$r/etc/extensions/masked: masks masked (an empty directory)"
assert_contains "$O/out" "$r/var/lib/extensions/masked: masked is masked"
assert_contains "$O/out" "'$r/usr' would be merged."
assert_contains "$O/out" "'$r/opt' would stay as it is."
mountpoint -q "$r/usr" && fail "merge --dry-run merged"
assert_eq "$(root_state "$r")" "$before" "merge --dry-run changed the root"
"$SEXTCTL" --root="$r" merge --dry-run --json=short >"$O/json" 2>/dev/null || true
python3 - "$O/json" <<'PY' || fail "merge --dry-run --json is not as expected"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dryRun"] is True, j
assert [i["name"] for i in j["images"] if i["state"] == "merged"] == ["a9", "a10", "c", "dup"], j
assert any("disabled" in p for p in j["passedOver"]), j
PY
# refresh --dry-run over a merge: says it would replace it, and leaves it alone.
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1 || [[ $? -eq 9 ]] || fail "merge failed"
id=$(mount_id "$r/usr")
run_expect 9 "" "$SEXTCTL" --root="$r" refresh --dry-run
assert_contains "$O/out" "'$r/usr' would have its merge replaced."
assert_eq "$(mount_id "$r/usr")" "$id" "refresh --dry-run remounted /usr"
run_expect 2 "--dry-run is for merge and refresh" "$SEXTCTL" --root="$r" unmerge --dry-run
mountpoint -q "$r/usr" || fail "unmerge --dry-run unmerged"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
echo "ok dry-run"

# 3. disable/enable survive (they are a file in the root), and merge NAME… takes a subset.
r=$T/sel
new_root "$r"
for n in x y z; do mkext "$r/var/lib/extensions/$n" "$n"; done
run_expect 0 "y disabled." "$SEXTCTL" --root="$r" disable y
assert_contains "$O/err" "Takes effect at the next merge or refresh."
grep -qx y "$r/etc/graft/sysext.disabled" || fail "disable did not write $r/etc/graft/sysext.disabled"
run_expect 0 "y was already disabled." "$SEXTCTL" --root="$r" disable y
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1 || fail "merge failed"
assert_eq "$(merged_list "$r")" "x z" "a disabled extension was merged"
run_expect 0 "y enabled." "$SEXTCTL" --root="$r" enable y
"$SEXTCTL" --root="$r" refresh >/dev/null 2>&1 || fail "refresh failed"
assert_eq "$(merged_list "$r")" "x y z" "an enabled extension was not merged"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
# A subset, named; a name not found is refused before anything changes.
"$SEXTCTL" --root="$r" merge z x >/dev/null 2>&1 || fail "merge z x failed"
assert_eq "$(merged_list "$r")" "x z" "merge z x merged something else"
"$SEXTCTL" --root="$r" refresh y >/dev/null 2>&1 || fail "refresh y failed"
assert_eq "$(merged_list "$r")" "y" "refresh y merged something else"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
before=$(root_state "$r")
run_expect 7 'no extension "nope" in /etc/extensions, /run/extensions, /var/lib/extensions under '"$r" \
        "$SEXTCTL" --root="$r" merge x nope
mountpoint -q "$r/usr" && fail "a refused merge x nope merged"
run_expect 2 '"../x" is not a valid image name' "$SEXTCTL" --root="$r" disable ../x
run_expect 2 "" "$SEXTCTL" --root="$r" disable
assert_eq "$(root_state "$r")" "$before" "a refused command changed the root"
echo "ok select"
