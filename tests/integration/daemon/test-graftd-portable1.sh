#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd --portable1: systemd 252's own portablectl drives graftd through org.freedesktop.portable1
# on a private system bus: list, inspect, attach, is-attached, reattach, detach. Each output is
# compared with what systemd-portabled 252 prints for the same images (recorded below from a run of
# the real portabled, on a private bus with a stand-in systemd1 that calls every unit inactive),
# less the differences this test names, each with its reason. Also: off by default, left alone where
# portabled is activatable, refusals (authorization, arguments, limits) with their messages and
# nothing changed, GetImage and the Image objects, the Manager's properties.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
need portablectl

make_portable_tree "$T/src-demo" demo
printf 'PRETTY_NAME="Graft Test 1"\nPORTABLE_PRETTY_NAME="Demo \\"service\\""\n' >>"$T/src-demo/usr/lib/os-release"
portable_image demo
portable_image demo "$R/var/lib/portables/demo_2.raw"
# A host has /etc/systemd: attach creates (and detach removes) only what is below it, as portabled.
mkdir -p "$R/etc/systemd"

# portablectl refuses to connect unless /run/systemd/system says systemd is init (sd_booted()):
# this /run is the test namespace's own tmpfs.
mkdir -p /run/systemd/system
# --no-reload: portablectl would ask systemd1 (not on this bus) to reload; graftd serves a root.
PC=(portablectl --no-pager --no-reload)

p1_owned() {
        local out
        out=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s \
                org.freedesktop.portable1) || fail "NameHasOwner failed"
        [[ $out == "b true" ]]
}

# pc_expect CODE EXPECTED-FILE ARGS…: portablectl's stdout and stderr (2>&1) are exactly the file.
pc_expect() {
        local code=$1 want=$2 rc=0
        shift 2
        "${PC[@]}" "$@" >"$O/pc" 2>&1 || rc=$?
        [[ $rc -eq $code ]] || { cat "$O/pc" >&2; fail "portablectl $* exited $rc, expected $code"; }
        diff -u "$want" "$O/pc" >&2 || fail "portablectl $*: output differs from the expected one (above)"
}

# portabled's output (stdin) with a sed script of named differences applied: $O/want.
from_portabled() {
        sed -e "$1" >"$O/want"
}

# Off by default: the name stays free.
bus_start
graftd_start
p1_owned && fail "graftd took org.freedesktop.portable1 without --portable1"
graftd_stop

# Where portabled is installed for this bus (activatable), graftd leaves the name to it.
printf '[D-BUS Service]\nName=org.freedesktop.portable1\nExec=/bin/false\n' \
        >"$BUS_DIR/services/org.freedesktop.portable1.service"
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
graftd_start --portable1
p1_owned && fail "graftd took org.freedesktop.portable1 although portabled is activatable"
grep -qF "Not serving org.freedesktop.portable1: systemd-portabled is installed for this bus." "$GRAFTD_LOG" ||
        fail "graftd did not say why it leaves org.freedesktop.portable1 alone: $(cat "$GRAFTD_LOG")"
graftd_stop
rm "$BUS_DIR/services/org.freedesktop.portable1.service"
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null

graftd_start --portable1
p1_owned || fail "graftd --portable1 did not take org.freedesktop.portable1: $(cat "$GRAFTD_LOG")"
# org.graft.Manager1's callers keep what they had (the two bus policy files together).
as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Manager1.ListImages >"$O/g" 2>&1 || fail "org.graft.Manager1 ListImages as nobody: $(cat "$O/g")"
as_nobody gdbus call --system --dest org.freedesktop.portable1 --object-path /org/freedesktop/portable1 \
        --method org.freedesktop.portable1.Manager.ListImages >"$O/g" 2>&1 || fail "ListImages as nobody: $(cat "$O/g")"

# The Manager's methods and properties, with portabled 252's signatures (its introspection).
cat >"$O/iface" <<'EOF'
.AttachImage method sassbs a(sss)
.AttachImageWithExtensions method sasassst a(sss)
.DetachImage method sb a(sss)
.DetachImageWithExtensions method sast a(sss)
.GetImage method s o
.GetImageMetadata method sas saya{say}
.GetImageMetadataWithExtensions method sasast saya{say}a{say}
.GetImageOSRelease method s a{ss}
.GetImageState method s s
.GetImageStateWithExtensions method sast s
.ListImages method - a(ssbtttso)
.MarkImageReadOnly method sb -
.ReattachImage method sassbs a(sss)a(sss)
.ReattachImageWithExtensions method sasassst a(sss)a(sss)
.RemoveImage method s -
.SetImageLimit method st -
.SetPoolLimit method t -
.PoolLimit property t
.PoolPath property s
.PoolUsage property t
.Profiles property as
EOF
busctl --system introspect org.freedesktop.portable1 /org/freedesktop/portable1 org.freedesktop.portable1.Manager \
        >"$O/intro" || fail "introspection failed"
awk '$1 ~ /^\./ { print $1, $2, $3 ($2 == "method" ? " " $4 : "") }' "$O/intro" >"$O/intro.s"
diff -u "$O/iface" "$O/intro.s" >&2 || fail "org.freedesktop.portable1.Manager differs from portabled 252's (above)"

# list. Differences: the timestamps (other files, other times: normalized); none else.
list_norm() {
        sed -E 's/(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [0-9-]+ [0-9:]+ [A-Z]+/TIME/g' "$O/pc" >"$O/pc.n" && mv "$O/pc.n" "$O/pc"
}
cat >"$O/list-detached" <<'EOF'
NAME   TYPE RO CRTIME MTIME USAGE STATE
demo   raw  no TIME   TIME  64.0K detached
demo_2 raw  no TIME   TIME  64.0K detached

2 images listed.
EOF
"${PC[@]}" list >"$O/pc" 2>&1 || fail "portablectl list failed: $(cat "$O/pc")"
list_norm
# portabled's line, TIME for its timestamps: "demo   raw  no TIME TIME 64.0K detached" (column
# widths follow the longest cell: with TIME both print the same).
sed -E 's/  +/ /g' "$O/pc" >"$O/pc.s"
sed -E 's/  +/ /g' "$O/list-detached" >"$O/want.s"
diff -u "$O/want.s" "$O/pc.s" >&2 || fail "portablectl list differs (above)"

# inspect: the same, to the byte (os-release quoting included).
cat >"$O/inspect" <<'EOF'
(Matching unit files with prefix 'demo'.)
Image:
	/var/lib/portables/demo.raw
Portable Service:
	Demo "service"
Operating System:
	Graft Test 1
Unit files:
	demo.service
	demo.socket
EOF
pc_expect 0 "$O/inspect" inspect demo
"${PC[@]}" inspect --cat demo >"$O/cat" 2>&1 || fail "inspect --cat failed: $(cat "$O/cat")"
grep -qxF 'ExecStart=/usr/bin/true' "$O/cat" || fail "inspect --cat lacks the unit's content: $(cat "$O/cat")"
grep -qxF 'ID="graft-test"' "$O/cat" || fail "inspect --cat lacks the os-release: $(cat "$O/cat")"

# is-attached: "detached" (portablectl 252 exits 0 for it too).
printf 'detached\n' >"$O/detached"
pc_expect 0 "$O/detached" is-attached demo

# Refusals change nothing. A caller without root and without polkit is refused graftd's way;
# portablectl prints any AccessDenied as "Access denied" (as it does for portabled's), graftd's log
# and a direct call have the reason.
before=$(attached_tree)
as_nobody "${PC[@]}" attach demo >"$O/pc" 2>&1 && fail "attach as nobody succeeded: $(cat "$O/pc")"
grep -qxF "AttachImage failed: Access denied" "$O/pc" || fail "attach as nobody: unexpected message: $(cat "$O/pc")"
grep -qF "AttachImage demo (uid 65534): refused: access denied: AttachImage demo needs root, or polkit's authorization for org.graft.manage-portables" \
        "$GRAFTD_LOG" || fail "graftd did not log the refusal: $(cat "$GRAFTD_LOG")"
as_nobody gdbus call --system --dest org.freedesktop.portable1 --object-path /org/freedesktop/portable1 \
        --method org.freedesktop.portable1.Manager.DetachImage demo false >"$O/g" 2>&1 && fail "detach as nobody succeeded"
grep -qF "GDBus.Error:org.freedesktop.DBus.Error.AccessDenied: access denied: DetachImage demo needs root" "$O/g" ||
        fail "detach as nobody: $(cat "$O/g")"
P1=(busctl --system call org.freedesktop.portable1 /org/freedesktop/portable1 org.freedesktop.portable1.Manager)
run_expect 1 "Unknown copy mode 'bogus'" "${P1[@]}" AttachImage sassbs demo 0 default false bogus
run_expect 1 "Invalid 'flags' parameter '2'" "${P1[@]}" AttachImageWithExtensions sasassst demo 0 0 default "" 2
run_expect 1 "graftd sets no size limits" "${P1[@]}" SetImageLimit st demo 1000000
run_expect 1 "graftd sets no size limits" "${P1[@]}" SetPoolLimit t 1000000
run_expect 1 "No image 'nope' found." "${P1[@]}" GetImage s nope
"${PC[@]}" attach nope >"$O/pc" 2>&1 && fail "attach nope succeeded"
grep -qF "AttachImage failed: " "$O/pc" || fail "attach nope: unexpected message: $(cat "$O/pc")"
[[ $(attached_tree) == "$before" ]] || fail "a refused call changed the tree"

# attach. Differences: portabled names the profile it ships (graft's own profiles here); it also
# links the image into /etc/portables (graft records the attachment in its own marker); it lists
# socket before service (its hash table's order: compared sorted).
portabled_attach() {
        cat <<'EOF'
(Matching unit files with prefix 'demo'.)
Created directory /etc/systemd/system.attached.
Created directory /etc/systemd/system.attached/demo.socket.d.
Written /etc/systemd/system.attached/demo.socket.d/20-portable.conf.
Copied /etc/systemd/system.attached/demo.socket.
Created directory /etc/systemd/system.attached/demo.service.d.
Written /etc/systemd/system.attached/demo.service.d/20-portable.conf.
Created symlink /etc/systemd/system.attached/demo.service.d/10-profile.conf → /usr/lib/systemd/portable/profile/default/service.conf.
Copied /etc/systemd/system.attached/demo.service.
Created symlink /etc/portables/demo.raw → /var/lib/portables/demo.raw.
EOF
}
GRAFT_DIFF='s|/usr/lib/systemd/portable/profile/|/usr/lib/graft/profiles/|; \|/etc/portables/|d'
"${PC[@]}" attach demo >"$O/pc" 2>&1 || fail "attach failed: $(cat "$O/pc")"
portabled_attach | from_portabled "$GRAFT_DIFF"
diff -u <(sort "$O/want") <(sort "$O/pc") >&2 || fail "portablectl attach differs (above)"
[[ -f $R/etc/systemd/system.attached/demo.service && -L $R/etc/systemd/system.attached/demo.service.d/10-profile.conf ]] ||
        fail "attach did not put the units in place: $(attached_tree)"

printf 'attached\n' >"$O/attached"
pc_expect 0 "$O/attached" is-attached demo
# list after attach. Difference: portabled 252 calls demo_2 "attached" too (it matches the units'
# image by name, and both images are named demo inside); graft says which file is attached.
"${PC[@]}" list >"$O/pc" 2>&1 || fail "portablectl list failed: $(cat "$O/pc")"
list_norm
grep -qE '^demo +raw +no +TIME +TIME +64.0K attached$' "$O/pc" && grep -qE '^demo_2 +raw .* detached$' "$O/pc" ||
        fail "list after attach: $(cat "$O/pc")"

# GetImage, an Image object, the Manager's properties.
out=$("${P1[@]}" GetImage s demo) || fail "GetImage failed"
[[ $out == 'o "/org/freedesktop/portable1/image/demo"' ]] || fail "GetImage: $out"
out=$(busctl --system call org.freedesktop.portable1 /org/freedesktop/portable1/image/demo \
        org.freedesktop.portable1.Image GetState) || fail "Image.GetState failed"
[[ $out == 's "attached"' ]] || fail "Image.GetState: $out"
out=$(busctl --system call org.freedesktop.portable1 /org/freedesktop/portable1/image/demo \
        org.freedesktop.portable1.Image GetOSRelease) || fail "Image.GetOSRelease failed"
[[ $out == *'"PRETTY_NAME" "Graft Test 1"'* ]] || fail "Image.GetOSRelease: $out"
P1PROP=(busctl --system get-property org.freedesktop.portable1 /org/freedesktop/portable1 org.freedesktop.portable1.Manager)
[[ $("${P1PROP[@]}" PoolPath) == 's "/var/lib/portables"' ]] || fail "PoolPath: $("${P1PROP[@]}" PoolPath)"
[[ $("${P1PROP[@]}" PoolLimit) == "t 18446744073709551615" ]] || fail "PoolLimit: $("${P1PROP[@]}" PoolLimit)"
[[ $("${P1PROP[@]}" Profiles) == *'"default"'* ]] || fail "Profiles: $("${P1PROP[@]}" Profiles)"

# reattach to demo_2. Differences: portabled detaches and attaches again, so it also reports the
# directories it made anew and the /etc/portables links it swapped; graft puts the new files in
# place over the old ones and reports those files.
portabled_reattach() { # the link swapped, then what an attach prints
        echo "(Matching unit files with prefix 'demo'.)"
        echo "Removed /etc/portables/demo.raw."
        portabled_attach | tail -n +2 |
                sed 's|/demo\.raw → /var/lib/portables/demo\.raw|/demo_2.raw → /var/lib/portables/demo_2.raw|'
}
"${PC[@]}" reattach demo_2 >"$O/pc" 2>&1 || fail "reattach failed: $(cat "$O/pc")"
portabled_reattach | from_portabled "$GRAFT_DIFF; /^Created directory/d"
diff -u <(sort "$O/want") <(sort "$O/pc") >&2 || fail "portablectl reattach differs (above)"
pc_expect 0 "$O/attached" is-attached demo_2
pc_expect 0 "$O/detached" is-attached demo

# detach. Difference: the /etc/portables link again.
portabled_detach() {
        cat <<'EOF'
Removed /etc/systemd/system.attached/demo.socket.
Removed /etc/systemd/system.attached/demo.socket.d/20-portable.conf.
Removed /etc/systemd/system.attached/demo.socket.d.
Removed /etc/systemd/system.attached/demo.service.
Removed /etc/systemd/system.attached/demo.service.d/10-profile.conf.
Removed /etc/systemd/system.attached/demo.service.d/20-portable.conf.
Removed /etc/systemd/system.attached/demo.service.d.
Removed /etc/portables/demo_2.raw.
Removed /etc/systemd/system.attached.
EOF
}
"${PC[@]}" detach demo_2 >"$O/pc" 2>&1 || fail "detach failed: $(cat "$O/pc")"
portabled_detach | from_portabled "$GRAFT_DIFF"
diff -u <(sort "$O/want") <(sort "$O/pc") >&2 || fail "portablectl detach differs (above)"
[[ $(attached_tree) == "$before" ]] || fail "detach left: $(attached_tree)"
pc_expect 0 "$O/detached" is-attached demo_2

# Runtime attach and detach through the WithExtensions form's flags (--runtime, no extensions:
# portablectl sends the b runtime form; busctl sends the flags one).
"${PC[@]}" attach --runtime demo >"$O/pc" 2>&1 || fail "attach --runtime failed: $(cat "$O/pc")"
grep -qF "Copied /run/systemd/system.attached/demo.service." "$O/pc" || fail "attach --runtime: $(cat "$O/pc")"
printf 'attached-runtime\n' >"$O/runtime"
pc_expect 0 "$O/runtime" is-attached demo
"${P1[@]}" DetachImageWithExtensions sast demo 0 1 >/dev/null || fail "DetachImageWithExtensions (runtime) failed"
pc_expect 0 "$O/detached" is-attached demo
[[ $(attached_tree) == "$before" ]] || fail "runtime detach left: $(attached_tree)"
# graftd exits cleanly (under the sanitizers: no leak, no error report).
graftd_stop
! grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$GRAFTD_LOG" || fail "sanitizer report: $(cat "$GRAFTD_LOG")"
echo "OK"
