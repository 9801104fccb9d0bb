#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Behaviour that systemd-sysext users rely on (issue 16), side by side with systemd-sysext 252
# where 252 has it: mounts below /usr and /opt stay visible through merge, refresh and unmerge;
# absolute symlinks inside NAME.v/ are resolved inside --root; a hierarchy the root lacks is
# created; files that cannot be images by their name are ignored; a refresh with nothing changed
# leaves the merge alone; mount flags (nodev, confext nosuid and noexec, --noexec=BOOL).
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need systemd-sysext mksquashfs mountpoint

mount_id() { awk -v p="$1" '$5 == p { id = $1 } END { print id }' /proc/self/mountinfo; }

# 1. Submounts. A tmpfs on /usr/lib/locale with another one nested in it, and a bind mount on
# /opt/app: visible over the merge, over a refresh (with a changed image set), and after unmerge;
# a mount made on the merged tree survives refresh and unmerge too.
r=$T/sub
new_root "$r"
mkext "$r/var/lib/extensions/a" a
mkdir -p "$r/usr/lib/locale" "$r/opt/app" "$T/appdisk"
mount -t tmpfs tmpfs "$r/usr/lib/locale" && echo locale >"$r/usr/lib/locale/file"
mkdir "$r/usr/lib/locale/nested" && mount -t tmpfs tmpfs "$r/usr/lib/locale/nested" && echo nested >"$r/usr/lib/locale/nested/file"
echo app >"$T/appdisk/file" && mount --bind "$T/appdisk" "$r/opt/app"
mkdir -p "$r/var/lib/extensions/a/opt/a" && echo a >"$r/var/lib/extensions/a/opt/a/file"
check_submounts() {
        [[ $(cat "$r/usr/lib/locale/file" 2>/dev/null) == locale ]] || fail "$1: the tmpfs on /usr/lib/locale is hidden"
        [[ $(cat "$r/usr/lib/locale/nested/file" 2>/dev/null) == nested ]] || fail "$1: the nested tmpfs is hidden"
        [[ $(cat "$r/opt/app/file" 2>/dev/null) == app ]] || fail "$1: the bind mount on /opt/app is hidden"
}
# systemd-sysext 252 hides them (fixed in systemd 257): the difference is graft's on purpose.
systemd-sysext --root="$r" merge >/dev/null 2>&1
[[ -e $r/usr/lib/locale/file ]] && fail "systemd-sysext 252 unexpectedly kept /usr/lib/locale visible"
sd_unmerge "$r"
check_submounts "after systemd-sysext unmerge"
"$SEXTCTL" --root="$r" merge >"$O/out" 2>&1 || { cat "$O/out"; fail "merge with submounts failed"; }
[[ $(cat "$r/usr/share/a/file") == a && $(cat "$r/opt/a/file") == a ]] || fail "the extension is not merged"
check_submounts merge
mkext "$r/var/lib/extensions/b" b
"$SEXTCTL" --root="$r" refresh >"$O/out" 2>&1 || { cat "$O/out"; fail "refresh with submounts failed"; }
assert_contains "$O/out" "no gap"
check_submounts refresh
[[ $(cat "$r/usr/share/b/file") == b ]] || fail "refresh did not merge b"
# Made while merged: on a host directory (kept through unmerge) and on an extension's (goes with it).
mkdir -p "$T/late" && echo late >"$T/late/file" && mount --bind "$T/late" "$r/usr/share/host"
mount -t tmpfs tmpfs "$r/usr/share/b"
rm -r "$r/var/lib/extensions/b"
"$SEXTCTL" --root="$r" refresh >"$O/out" 2>&1 || { cat "$O/out"; fail "second refresh failed"; }
check_submounts "second refresh"
[[ $(cat "$r/usr/share/host/file") == late ]] || fail "refresh hid a mount made on the merged tree"
"$SEXTCTL" --root="$r" unmerge >"$O/out" 2>&1 || { cat "$O/out"; fail "unmerge with submounts failed"; }
mountpoint -q "$r/usr" && fail "unmerge left /usr merged"
check_submounts unmerge
[[ $(cat "$r/usr/share/host/file") == late ]] || fail "unmerge dropped a mount made on the merged tree"
[[ $(grep -c " $r/usr/share/host " /proc/self/mountinfo) -eq 1 ]] || fail "unmerge left the late mount twice"
echo "ok submounts"

# 2. Absolute symlinks in a .v/ directory lead inside the root, at every level (systemd 252 has no
# .v/ directories). The .v/ directory is itself an absolute symlink.
r=$T/vlink
new_root "$r"
mkext "$r/srv/store/v_1.0" v
mkdir -p "$r/srv/vdir" && ln -s /srv/store/v_1.0 "$r/srv/vdir/v_1.0"
ln -s /srv/vdir "$r/var/lib/extensions/v.v"
"$SEXTCTL" --root="$r" merge >"$O/out" 2>&1 || { cat "$O/out"; fail "merge of an in-root .v/ symlink failed"; }
[[ $(cat "$r/usr/share/v/file") == v ]] || fail "the in-root target of v.v/v_1.0 is not merged"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
# A newer version pointing at a path that exists only on the host ($T/hostonly is outside $r): never
# the host's tree; the image is skipped with the reason (exit 9), nothing of the host merged.
mkext "$T/hostonly" v && echo host >"$T/hostonly/usr/share/v/file"
ln -s "$T/hostonly" "$r/srv/vdir/v_2.0"
run_expect 9 "v_2.0 cannot be opened" "$SEXTCTL" --root="$r" merge
[[ -e $r/usr/share/v/file ]] && fail "the host's $T/hostonly was merged into the root"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
echo "ok vlink"

# 3. A hierarchy the root lacks is created and merged, like systemd-sysext 252 does.
setup_noopt() {
        new_root "$1"
        rm -r "$1/opt"
        mkext "$1/var/lib/extensions/o" o
        mkdir -p "$1/var/lib/extensions/o/opt/o" && echo o >"$1/var/lib/extensions/o/opt/o/file"
}
setup_noopt "$T/noopt-sd"
systemd-sysext --root="$T/noopt-sd" merge >/dev/null 2>&1
merged_state "$T/noopt-sd" >"$T/noopt.sd"
setup_noopt "$T/noopt-g"
"$SEXTCTL" --root="$T/noopt-g" merge >"$O/out" 2>&1 || { cat "$O/out"; fail "merge into a missing /opt failed"; }
merged_state "$T/noopt-g" >"$T/noopt.graft"
[[ $(cat "$T/noopt-g/opt/o/file") == o ]] || fail "the /opt content was dropped"
diff -u "$T/noopt.sd" "$T/noopt.graft" >&2 ||
        fail "missing /opt: merged trees differ from systemd-sysext's"
# Where it cannot be created (a file in its place), the merge is refused with a message.
"$SEXTCTL" --root="$T/noopt-g" unmerge >/dev/null 2>&1
rmdir "$T/noopt-g/opt/o" 2>/dev/null || true
rm -rf "$T/noopt-g/opt" && echo file >"$T/noopt-g/opt"
before=$(tree_state "$T/noopt-g")
run_expect 1 "cannot merge into $T/noopt-g/opt: Not a directory" "$SEXTCTL" --root="$T/noopt-g" merge
mountpoint -q "$T/noopt-g/usr" && fail "a refused merge left /usr merged"
assert_eq "$(tree_state "$T/noopt-g")" "$before" "a refused merge changed the root"
echo "ok noopt"

# 4. Files that cannot be images by their name are ignored, by both tools (exit 0); an entry named
# like an image that is none (a FIFO foo.raw) is still skipped with exit 9.
setup_junk() {
        new_root "$1"
        mkext "$1/var/lib/extensions/good" good
        echo notes >"$1/var/lib/extensions/junk.txt"
        echo readme >"$1/var/lib/extensions/README"
        echo 00 >"$1/var/lib/extensions/good.roothash"
}
setup_junk "$T/junk"
systemd-sysext --root="$T/junk" merge >"$O/sd" 2>&1 || { cat "$O/sd"; fail "systemd-sysext does not ignore junk files"; }
sd_unmerge "$T/junk"
run_expect 0 "" "$SEXTCTL" --root="$T/junk" merge
[[ -s $O/err ]] && grep -q "skipped" "$O/err" && fail "merge mentions junk files: $(cat "$O/err")"
"$SEXTCTL" --root="$T/junk" unmerge >/dev/null 2>&1
run_expect 0 "" "$SEXTCTL" --root="$T/junk" list
grep -qE "junk.txt|README" "$O/out" "$O/err" && fail "list shows junk.txt or README"
mkfifo "$T/junk/var/lib/extensions/fifo.raw"
run_expect 9 "fifo.raw: neither a .raw file, a directory nor a block device" "$SEXTCTL" --root="$T/junk" merge
"$SEXTCTL" --root="$T/junk" unmerge >/dev/null 2>&1
echo "ok junk"

# 5. refresh with the same images (same root hashes, same files) leaves the merge alone and says so;
# a changed image is merged anew; a directory image (whose files may change one by one) always is.
r=$T/same
new_root "$r"
mkext "$T/src-s" s && squash "$T/src-s" "$r/var/lib/extensions/s.raw"
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1 || fail "merge failed"
id=$(mount_id "$r/usr")
run_expect 0 "is merged with these extensions already (same images, same root hashes): left as it is" \
        "$SEXTCTL" --root="$r" refresh
assert_eq "$(mount_id "$r/usr")" "$id" "an unchanged refresh remounted /usr"
"$SEXTCTL" --root="$r" refresh --json=short >"$O/json" 2>/dev/null
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert [h['action'] for h in j['hierarchies']]==['kept','none'], j" "$O/json" ||
        fail "refresh --json does not say kept"
echo changed >"$T/src-s/usr/share/s/file" && squash "$T/src-s" "$r/var/lib/extensions/s.raw"
run_expect 0 "" "$SEXTCTL" --root="$r" refresh
[[ $(mount_id "$r/usr") != "$id" ]] || fail "a changed image was not merged anew"
[[ $(cat "$r/usr/share/s/file") == changed ]] || fail "the changed image's content is not visible"
mkext "$r/var/lib/extensions/d" d
"$SEXTCTL" --root="$r" refresh >/dev/null 2>&1
id=$(mount_id "$r/usr")
run_expect 0 "" "$SEXTCTL" --root="$r" refresh
[[ $(mount_id "$r/usr") != "$id" ]] || fail "a refresh with a directory image left the merge alone"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
echo "ok unchanged"

# 6. Mount flags as systemd-sysext/-confext set them: sysext read-only and nodev (with --noexec also
# noexec and nosuid); confext also nosuid and noexec, and --noexec=no drops noexec only.
r=$T/flags
new_root "$r"
mkext "$r/var/lib/extensions/f" f
mkdir -p "$r/var/lib/confexts/cf/etc/extension-release.d"
printf 'ID=debian\nVERSION_ID=12\n' >"$r/var/lib/confexts/cf/etc/extension-release.d/extension-release.cf"
echo cf >"$r/var/lib/confexts/cf/etc/cf.conf"
opts() { findmnt -n -o VFS-OPTIONS --target "$1" | tr ',' '\n' | grep -xE 'ro|nodev|nosuid|noexec' | sort | tr '\n' ' '; }
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1 || fail "merge failed"
assert_eq "$(opts "$r/usr")" "nodev ro " "sysext mount flags"
"$SEXTCTL" --root="$r" --noexec refresh --dry-run >/dev/null 2>&1 || fail "refresh --noexec --dry-run failed"
"$SEXTCTL" --root="$r" --noexec refresh >/dev/null 2>&1 || fail "refresh --noexec failed"
assert_eq "$(opts "$r/usr")" "nodev noexec nosuid ro " "sysext --noexec mount flags"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
"$SEXTCTL" --root="$r" --confext merge >/dev/null 2>&1 || fail "confext merge failed"
assert_eq "$(opts "$r/etc")" "nodev noexec nosuid ro " "confext mount flags"
"$SEXTCTL" --root="$r" --confext --noexec=no refresh >/dev/null 2>&1 || fail "confext refresh --noexec=no failed"
assert_eq "$(opts "$r/etc")" "nodev nosuid ro " "confext --noexec=no mount flags"
"$SEXTCTL" --root="$r" --confext unmerge >/dev/null 2>&1
run_expect 2 '--noexec= takes a boolean, not "sometimes"' "$SEXTCTL" --root="$r" --noexec=sometimes merge
echo "ok flags"
