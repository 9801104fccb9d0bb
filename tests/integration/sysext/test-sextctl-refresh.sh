#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# refresh is atomic: a reader stats and reads an extension file in a loop during many refreshes
# (100 here; tests/bench/bench-sysext-refresh.sh runs longer ones) and never sees it missing. A
# refresh that fails leaves the old merge in place. The fallbacks for older kernels (no
# MOVE_MOUNT_BENEATH, no "lowerdir+") work too.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need mksquashfs mountpoint
READER=$GRAFT_BUILD_DIR/tests/integration/sysext/sysext-reader
REFRESHES=${REFRESHES:-100}

r=$T/root
new_root "$r"
mkext "$T/src1" ext1 && squash "$T/src1" "$r/var/lib/extensions/ext1.raw"
mkext "$r/var/lib/extensions/ext2" ext2
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1 || fail "merge failed"
dev() { stat -c %d "$r/usr"; }

# The reader runs in this namespace, on the path every user of the root would use.
"$READER" "$r/usr/share/ext1/file" "$T/ready" >"$O/reader" &
reader=$!
for _ in $(seq 100); do [[ -e $T/ready ]] && break; sleep 0.05; done
[[ -e $T/ready ]] || fail "the reader did not start"

start=$(date +%s%N)
for i in $(seq "$REFRESHES"); do
        # Change something every time, so each refresh really builds a different overlay.
        echo "$i" >"$r/var/lib/extensions/ext2/usr/share/ext2/file"
        "$SEXTCTL" --root="$r" refresh >"$O/out" 2>&1 || { cat "$O/out" >&2; kill $reader; fail "refresh $i failed"; }
done
end=$(date +%s%N)
kill -TERM $reader
wait $reader
cat "$O/reader"
grep -q "misses=0 " "$O/reader" || fail "the reader saw the extension file missing: $(cat "$O/reader")"
grep -q "no gap" "$O/out" || fail "refresh did not use MOVE_MOUNT_BENEATH: $(cat "$O/out")"
[[ $(grep -c " $r/usr " /proc/self/mountinfo) -eq 1 ]] || fail "refreshes left stacked mounts on /usr"
[[ $(cat "$r/usr/share/ext2/file") == "$REFRESHES" ]] || fail "the last refresh's content is not visible"
echo "$REFRESHES refreshes in $(((end - start) / 1000000)) ms, none with the file missing"

# A refresh that fails (here: the staging directory cannot be created) leaves the old merge.
before=$(dev)
rm -rf "$r/run/graft/sysext"
echo x >"$r/run/graft/sysext"
run_expect 1 "cannot use $r/run/graft/sysext as the staging directory: Not a directory" "$SEXTCTL" --root="$r" refresh
assert_eq "$(dev)" "$before" "a failed refresh changed the merge"
[[ -e $r/usr/share/ext1/file ]] || fail "a failed refresh removed the extensions"
rm "$r/run/graft/sysext"
# So does one that cannot take the lock (here: its directory is a file); nothing is touched.
rm -rf "$r/run/graft"
echo x >"$r/run/graft"
run_expect 1 "cannot open the lock directory $r/run/graft: Not a directory" "$SEXTCTL" --root="$r" refresh
assert_eq "$(dev)" "$before" "a refresh without the lock changed the merge"
rm "$r/run/graft"

# An image that became unusable is skipped, the others are refreshed; exit 9.
cp "$r/var/lib/extensions/ext1.raw" "$T/ext1.raw.good"
head -c 4096 /dev/zero >"$r/var/lib/extensions/ext1.raw"
run_expect 9 "ext1.raw" "$SEXTCTL" --root="$r" refresh
[[ -e $r/usr/share/ext2/file && ! -e $r/usr/share/ext1/file ]] || fail "partial refresh has the wrong content"
cp "$T/ext1.raw.good" "$r/var/lib/extensions/ext1.raw"

# Kernels without MOVE_MOUNT_BENEATH: the old overlay is detached and the ready one attached.
GRAFT_SYSEXT_COMPAT=no-beneath "$SEXTCTL" --root="$r" refresh --json=short >"$O/json" 2>/dev/null ||
        fail "fallback refresh failed"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['hierarchies'][0]['action']=='swapped', j" "$O/json" ||
        fail "fallback refresh did not swap: $(cat "$O/json")"
[[ $(grep -c " $r/usr " /proc/self/mountinfo) -eq 1 ]] || fail "fallback refresh left stacked mounts"

# Kernels before 6.8 (no "lowerdir+"): one option string, mounted and cloned.
GRAFT_SYSEXT_COMPAT=no-lowerdir-plus "$SEXTCTL" --root="$r" refresh >/dev/null 2>&1 || fail "legacy overlay refresh failed"
grep -q "lowerdir=" <<<"$(grep " $r/usr " /proc/self/mountinfo)" || fail "legacy overlay not used"
[[ -e $r/usr/share/ext1/file && -e $r/usr/share/host/file ]] || fail "legacy overlay lacks content"
grep -q ext1 <<<"$(SYSTEMD_SYSEXT_HIERARCHIES=$(sd_hier "$r") systemd-sysext status 2>&1)" || fail "systemd-sysext does not see the legacy merge"

# Refresh with no images left is unmerge.
rm -rf "$r/var/lib/extensions/"*
"$SEXTCTL" --root="$r" refresh >/dev/null 2>&1 || fail "refresh without images failed"
mountpoint -q "$r/usr" && fail "refresh without images left a merge"
echo ok
