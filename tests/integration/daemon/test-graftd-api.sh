#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# org.graft.Manager1 on a real dbus-daemon with graft's bus policy: every method and property of
# both interfaces called raw (busctl, gdbus), every error name graftd sends (with the library's
# message), the signals as a second client sees them, and reads running while a change runs.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"

portable_image demo
portable_image demo "$R/srv/demo_2.raw"
"$GRAFT_IMAGE" build "$T/src-demo" -o "$R/srv/unsigned.raw" --name demo --version 1 --type portable >/dev/null
make_cert "$T/keys" stranger
"$GRAFT_IMAGE" build "$T/src-demo" -o "$R/srv/stranger.raw" --name demo --version 1 --type portable \
        --key "$T/keys/stranger.key" --cert "$T/keys/stranger.crt" >/dev/null
cp "$R/var/lib/portables/demo.raw" "$R/srv/tampered.raw"
flip_byte "$R/srv/tampered.raw" $(($(part_offset "$R/srv/tampered.raw" 1) + 200))
cp "$R/var/lib/portables/demo.raw" "$R/srv/badsig.raw"
flip_byte "$R/srv/badsig.raw" $(($(part_offset "$R/srv/badsig.raw" 3) + 300))
cp -a "$T/src-demo" "$T/src-noid"
printf 'NAME=noid\n' >"$T/src-noid/usr/lib/os-release"
mksquashfs "$T/src-noid" "$R/srv/noid.raw" -quiet -noappend -all-root >/dev/null
mkdir -p "$T/src-fed/usr/lib/extension-release.d"
printf 'ID=fedora\nVERSION_ID=39\n' >"$T/src-fed/usr/lib/extension-release.d/extension-release.fed"
"$GRAFT_IMAGE" build "$T/src-fed" -o "$R/var/lib/portables/fed.raw" --name fed --version 1 --type sysext \
        --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null
cp "$R/var/lib/portables/fed.raw" "$R/var/lib/portables/renamed.raw"
# A directory image (immutable attribute) and a block device image (no read-only mark graft sets).
make_portable_tree "$R/var/lib/portables/dirimg" dirimg
mknod "$R/var/lib/portables/blk" b 7 250
sysext_image ext1
mkdir -p "$R/var/lib/confexts/conf1/etc/extension-release.d"
printf 'ID=debian\nVERSION_ID=12\n' >"$R/var/lib/confexts/conf1/etc/extension-release.d/extension-release.conf1"
echo conf1 >"$R/var/lib/confexts/conf1/etc/conf1.conf"

bus_start
graftd_start

# Introspection: both interfaces, with argument names.
busctl --system introspect --xml-interface org.graft.Manager1 /org/graft/Manager1 >"$T/intro.xml"
for m in ListImages GetImageState GetImageMetadata AttachImage ReattachImage DetachImage RemoveImage \
        MarkImageReadOnly ImageAttached ImageDetached ImageRemoved List Status Merge Refresh Unmerge Merged Unmerged; do
        grep -q "name=\"$m\"" "$T/intro.xml" || fail "introspection lacks $m"
done
assert_contains "$T/intro.xml" '<interface name="org.graft.Extensions1">'
assert_contains "$T/intro.xml" '<arg type="s" name="copy_mode" direction="in"/>'

# Properties.
assert_eq "$(prop Manager1 Root)" "s \"$R\""
assert_eq "$(prop Manager1 Version)" "s \"$("$PCTL" --version | cut -d' ' -f2)\""
assert_eq "$(prop Manager1 PortableSearchPaths)" \
        'as 5 "/etc/portables" "/run/portables" "/var/lib/portables" "/usr/local/lib/portables" "/usr/lib/portables"'
grep -q '"default" "nonetwork" "strict" "trusted"' <<<"$(prop Manager1 Profiles)" || fail "Profiles: $(prop Manager1 Profiles)"
assert_eq "$(prop Manager1 Operations)" "u 0"
assert_eq "$(prop Manager1 VerificationCache)" "(tttt) 0 0 0 0"
assert_eq "$(prop Extensions1 SysextHierarchies)" 'as 2 "/usr" "/opt"'
assert_eq "$(prop Extensions1 ConfextHierarchies)" 'as 1 "/etc"'
assert_eq "$(prop Extensions1 SysextSearchPaths)" 'as 3 "/etc/extensions" "/run/extensions" "/var/lib/extensions"'
grep -q '"/var/lib/confexts"' <<<"$(prop Extensions1 ConfextSearchPaths)" || fail "ConfextSearchPaths"

# A second client watching the signals.
gdbus monitor --system --dest org.graft.Manager1 >"$T/signals" 2>&1 &
monitor=$!
for _ in $(seq 100); do grep -q "is owned by" "$T/signals" && break; sleep 0.05; done
grep -q "is owned by" "$T/signals" || fail "gdbus monitor did not start: $(cat "$T/signals")"
signal_seen() { # NEEDLE: waits up to 5 s for a signal line holding NEEDLE
        local i
        for ((i = 0; i < 100; i++)); do
                grep -qF -- "$1" "$T/signals" && return 0
                sleep 0.05
        done
        cat "$T/signals" >&2
        fail "no signal with '$1'"
}

# Portable methods, raw.
call Manager1 ListImages >"$T/list.json"
python3 - "$T/list.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["type"] == "a(sssssass)", j["type"]
rows = {r[0]: r for r in j["data"][0]}
assert rows["demo"][1] == "/var/lib/portables/demo.raw" and rows["demo"][4] == "detached", rows["demo"]
PY
assert_eq "$(call Manager1 GetImageState s demo)" '{"type":"s","data":["detached"]}'
call Manager1 GetImageMetadata sassstass demo 0 "" auto 0 0 "" >"$T/meta.json"
python3 - "$T/meta.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
assert d[0] == "/var/lib/portables/demo.raw" and d[1] == "demo" and d[4] == "CN=pk" and d[5] == "gpt", d[:6]
assert ["ID", "graft-test"] in d[7], d[7]
assert [u[0] for u in d[10]] == ["demo.service", "demo.socket"], d[10]
assert any(p[0] == "write" and p[1].endswith("demo.service.d/20-portable.conf") for p in d[11]), d[11]
assert d[12] == "detached", d[12]
PY
call Manager1 AttachImage sassstass demo 0 strict copy 1 0 "" >"$T/attach.json"
python3 - "$T/attach.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
assert d[0] == "/var/lib/portables/demo.raw" and d[1] == ["demo.service", "demo.socket"], d[:2]
assert ["copy", "/run/systemd/system.attached/demo.service.d/10-profile.conf",
        "/usr/lib/graft/profiles/strict/service.conf"] in d[2], d[2]
assert d[6] is False
PY
signal_seen "org.graft.Manager1.ImageAttached ('/var/lib/portables/demo.raw', ['demo.service', 'demo.socket'])"
assert_eq "$(call Manager1 GetImageState s demo)" '{"type":"s","data":["attached-runtime"]}'
call Manager1 ReattachImage sassstass "$R/srv/demo_2.raw" 0 "" auto 1 0 "root=signed+absent" >/dev/null
signal_seen "org.graft.Manager1.ImageAttached ('/srv/demo_2.raw'"
call Manager1 DetachImage st "$R/srv/demo_2.raw" 0 >"$T/detach.json"
grep -q '"unlink","/run/systemd/system.attached/demo.service"' "$T/detach.json" || fail "DetachImage: $(cat "$T/detach.json")"
signal_seen "org.graft.Manager1.ImageDetached ('/srv/demo_2.raw', ['demo.service', 'demo.socket'])"
cp "$R/srv/demo_2.raw" "$R/var/lib/portables/spare.raw"
call Manager1 MarkImageReadOnly sb spare true >/dev/null
[[ $(stat -c %a "$R/var/lib/portables/spare.raw") == 444 ]] || fail "MarkImageReadOnly left mode $(stat -c %a "$R/var/lib/portables/spare.raw")"
call Manager1 MarkImageReadOnly sb spare false >/dev/null
call Manager1 RemoveImage s spare >/dev/null
[[ ! -e $R/var/lib/portables/spare.raw ]] || fail "RemoveImage left the image"
signal_seen "org.graft.Manager1.ImageRemoved ('spare',)"

# Extension methods, raw, both classes.
call Extensions1 List s sysext >"$T/elist.json"
grep -q '"ext1","/var/lib/extensions/ext1.raw"\|"ext1","'"$R"'/var/lib/extensions/ext1.raw"' "$T/elist.json" ||
        fail "List: $(cat "$T/elist.json")"
call Extensions1 Status s sysext >"$T/status.json"
grep -q '"/usr","'"$R"'/usr",false' "$T/status.json" || fail "Status: $(cat "$T/status.json")"
call Extensions1 Merge sts sysext 0 "" >"$T/merge.json"
grep -q '"merged"' "$T/merge.json" || fail "Merge: $(cat "$T/merge.json")"
[[ $(cat "$R/usr/share/ext1/file") == ext1 ]] || fail "Merge did not merge ext1"
signal_seen "org.graft.Extensions1.Merged ('sysext', ['/usr'], ['ext1'])"
# The same images: left alone ("kept"); one more: replaced beneath the old merge.
call Extensions1 Refresh sts sysext 4 "root=signed+absent:usr=signed+absent" >"$T/refresh.json"
grep -q '"kept"' "$T/refresh.json" || fail "Refresh (unchanged): $(cat "$T/refresh.json")"
sysext_image ext9
call Extensions1 Refresh sts sysext 4 "root=signed+absent:usr=signed+absent" >"$T/refresh.json"
grep -q '"replaced"' "$T/refresh.json" || fail "Refresh: $(cat "$T/refresh.json")"
rm "$R/var/lib/extensions/ext9.raw"
call Extensions1 Unmerge st sysext 0 >/dev/null
[[ ! -e $R/usr/share/ext1 ]] || fail "Unmerge left ext1 merged"
signal_seen "org.graft.Extensions1.Unmerged ('sysext', ['/usr'])"
call Extensions1 Merge sts confext 0 "*" >/dev/null
[[ $(cat "$R/etc/conf1.conf") == conf1 ]] || fail "confext Merge did not merge conf1"
signal_seen "org.graft.Extensions1.Merged ('confext', ['/etc'], ['conf1'])"
call Extensions1 Unmerge st confext 0 >/dev/null
[[ ! -e $R/etc/conf1.conf ]] || fail "confext Unmerge left conf1 merged"

# Every error name graftd sends, with the library's message.
E=org.graft.Error
gcall_error $E.InvalidArgument 'the class must be "sysext" or "confext", not "foo"' Extensions1.List foo
gcall_error $E.InvalidArgument "unknown flags 0x40" Manager1.DetachImage demo 64
gcall_error $E.InvalidArgument "unknown flags 0x100" Extensions1.Unmerge sysext 256
gcall_error $E.InvalidArgument "a dry run is for merge and refresh" Extensions1.Unmerge sysext 8
gcall_error $E.InvalidArgument 'copy mode must be auto, copy, symlink or mixed, not "hardlink"' \
        Manager1.AttachImage demo "@as []" "" hardlink 0 "@as []" ""
gcall_error $E.InvalidArgument "invalid image policy root=bogus" \
        Manager1.AttachImage demo "@as []" "" auto 0 "@as []" root=bogus
gcall_error $E.InvalidArgument "no image given" Manager1.GetImageState ""
gcall_error $E.InvalidArgument '".." is not a valid image name' Manager1.GetImageMetadata .. "@as []" "" "" 0 "@as []" ""
gcall_error $E.InvalidArgument "remove takes the name of an image" Manager1.RemoveImage "$R/srv/noid.raw"
gcall_error $E.NoSuchImage 'no image "nope" in /etc/portables' Manager1.AttachImage nope "@as []" "" "" 0 "@as []" ""
gcall_error $E.NoSuchImage "image /var/lib/portables/demo.raw is not attached" Manager1.DetachImage demo 0
gcall_error $E.BadImage "/etc/os-release has no ID=" Manager1.AttachImage "$R/srv/noid.raw" "@as []" "" "" 0 "@as []" "*"
gcall_error $E.IntegrityMismatch "root hash of partition 1 is" \
        Manager1.AttachImage "$R/srv/tampered.raw" "@as []" "" "" 0 "@as []" ""
gcall_error $E.BadSignature "$R/srv/badsig.raw" Manager1.AttachImage "$R/srv/badsig.raw" "@as []" "" "" 0 "@as []" ""
gcall_error $E.PolicyViolation "image policy requires the root partition to be signed" \
        Manager1.AttachImage "$R/srv/unsigned.raw" "@as []" "" "" 0 "@as []" ""
# A signer outside the trust store: verity-only, so the same refusal, naming the signer.
gcall_error $E.PolicyViolation "but no trusted signature (partition 3: the signer (CN=stranger) is not the one trusted" \
        Manager1.AttachImage "$R/srv/stranger.raw" "@as []" "" "" 0 "@as []" ""
gcall_error $E.PolicyViolation 'prefix "other" is not allowed' Manager1.AttachImage demo "['other']" "" "" 0 "@as []" ""
gcall_error $E.MissingFile "has no /usr/lib/extension-release.d/extension-release.renamed" \
        Manager1.AttachImage demo "@as []" "" "" 0 "['renamed']" ""
gcall_error $E.Incompatible "ID=fedora" Manager1.AttachImage demo "@as []" "" "" 0 "['fed']" ""
gcall_error $E.NotSupported "is a block device; mark it read-only with blockdev --setro" Manager1.MarkImageReadOnly blk true
call Manager1 MarkImageReadOnly sb dirimg true >/dev/null
grep -q "^----i" <<<"$(lsattr -d "$R/var/lib/portables/dirimg")" || fail "MarkImageReadOnly did not make dirimg immutable"
gcall_error $E.IO "cannot remove" Manager1.RemoveImage dirimg
call Manager1 MarkImageReadOnly sb dirimg false >/dev/null
grep -q "^----i" <<<"$(lsattr -d "$R/var/lib/portables/dirimg")" && fail "MarkImageReadOnly did not clear the immutable attribute"
call Manager1 AttachImage sassstass demo 0 "" "" 0 0 "" >/dev/null
gcall_error $E.Conflict "image /var/lib/portables/demo.raw is attached already" \
        Manager1.AttachImage demo "@as []" "" "" 0 "@as []" ""
gcall_error $E.Conflict "image demo is attached (unit demo.service); detach it first" Manager1.RemoveImage demo
call Manager1 DetachImage st demo 0 >/dev/null
call Extensions1 Merge sts sysext 0 "" >/dev/null
gcall_error $E.Conflict "is already merged; use refresh to replace the merge" Extensions1.Merge sysext 0 ""
call Extensions1 Unmerge st sysext 0 >/dev/null
rm -rf "$R/run/graft/sysext" && echo x >"$R/run/graft/sysext"
gcall_error $E.IO "as the staging directory: Not a directory" Extensions1.Merge sysext 0 ""
rm "$R/run/graft/sysext"
# Malformed calls are the bus's business.
dbus-send --system --print-reply --dest=org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1.GetImageState \
        uint32:1 >"$O/ds" 2>&1 && fail "a call with the wrong signature succeeded"
assert_contains "$O/ds" "Error org.freedesktop.DBus.Error.InvalidArgs"

# Reads are not held up by a change: a slow attach (a large image hashed) runs while lists answer.
head -c 300M /dev/urandom >"$T/big.sqfs"
mkdir -p "$T/src-big/usr/lib/systemd/system" "$T/src-big/etc"
printf 'ID=graft-test\nVERSION_ID=1\n' >"$T/src-big/usr/lib/os-release"
printf '[Service]\nExecStart=/usr/bin/true\n' >"$T/src-big/usr/lib/systemd/system/big.service"
cp "$T/big.sqfs" "$T/src-big/blob"
mksquashfs "$T/src-big" "$R/var/lib/portables/big.raw" -quiet -noappend -all-root -noI -noD -noF -noX >/dev/null
veritysetup format "$R/var/lib/portables/big.raw" "$R/var/lib/portables/big.verity" |
        awk '/^Root hash:/ { print $3 }' >"$R/var/lib/portables/big.roothash"
touch -d '-1 min' "$R/var/lib/portables/big.raw" "$R/var/lib/portables/big.verity"
call Manager1 AttachImage sassstass big 0 "" "" 0 0 "*" >"$T/big.json" &
attach=$!
for _ in $(seq 200); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.01; done
s=$(date +%s%N)
call Manager1 ListImages >/dev/null
call Extensions1 Status s sysext >/dev/null
e=$(date +%s%N)
[[ $(prop Manager1 Operations) == "u 1" ]] || echo "note: the attach finished before the reads; timing not shown" >&2
wait $attach || fail "the big attach failed"
echo "reads during a running attach: $(((e - s) / 1000000)) ms"
(((e - s) / 1000000 < 1000)) || fail "reads waited for the attach"
grep -q "AttachImage big (uid 0): done in" "$GRAFTD_LOG" || fail "the big attach is not in the log"
call Manager1 DetachImage st big 0 >/dev/null

kill $monitor
graftd_stop
grep -q "^<6>Received SIGTERM: finishing 0 operation(s), then exiting.$" "$GRAFTD_LOG" || fail "graftd's stop is not logged"
grep -q "^<[0-7]>" "$GRAFTD_LOG" || fail "graftd's log lines lack priorities"
! grep -v "^<[0-7]>" "$GRAFTD_LOG" || fail "graftd logged a line without a priority prefix"
echo ok
