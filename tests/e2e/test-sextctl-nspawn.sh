#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graft-sysext.service in a real systemd 252 (nspawn-booted Debian), as a host would run it: enabled
# in sysinit.target, it merges the extensions of /var/lib/extensions at boot, before sysinit.target,
# with a trust store in /etc/verity.d (so the default policy wants signatures): the signed example
# debugtools image and a signed extension that ships a unit file with EXTENSION_RELOAD_MANAGER=1 are
# merged, an unsigned one is skipped (exit status 9, which the unit takes as success), and systemd
# is asked to reload over its private socket (the system bus is not up yet at that point). Then, on
# the running system: the reload really happens on merge and unmerge (a unit shipped by an
# extension appears and goes without a manual daemon-reload), systemd-sysext sees graft's merge,
# `systemctl reload` refreshes and `systemctl stop` unmerges. Then graft-confext.service, booted
# the same way, merges a configuration extension into /etc (noexec) before sysinit.target.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
need mksquashfs openssl
SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
UNIT=$GRAFT_BUILD_DIR/sysext/graft-sysext.service
[[ -x $SEXTCTL && -x $GRAFT_IMAGE ]] || skip "sextctl or graft-image is not built"
[[ -f $UNIT ]] || skip "graft-sysext.service is not built"

examples=$(example_images)
root=$(nspawn_root)

# The extensions: signed debugtools (strace), a signed one shipping a unit, an unsigned one.
mkdir -p "$T/ext" "$T/verity.d" "$T/keys"
cp "$examples/debugtools.raw" "$T/ext/"
cp "$examples/keys/example.crt" "$T/verity.d/example.crt"
make_cert "$T/keys" e2e
cp "$T/keys/e2e.crt" "$T/verity.d/e2e.crt"
u=$T/unitext
mkdir -p "$u/usr/lib/extension-release.d" "$u/usr/lib/systemd/system"
printf 'ID=debian\nVERSION_ID=12\nEXTENSION_RELOAD_MANAGER=1\n' >"$u/usr/lib/extension-release.d/extension-release.unitext"
printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n' >"$u/usr/lib/systemd/system/graft-ext-demo.service"
"$GRAFT_IMAGE" build "$u" -o "$T/ext/unitext.raw" --name unitext --version 1 \
        --key "$T/keys/e2e.key" --cert "$T/keys/e2e.crt" -q
make_sysext_tree "$T/unsigned" unsigned
mksquashfs "$T/unsigned" "$T/ext/unsigned.raw" -quiet -noappend -all-root >/dev/null

# graft-sysext.service running sextctl from the build directory, enabled in sysinit.target.
# /etc/systemd/system.control is a unit directory of its own that nothing else in the root uses.
mkdir -p "$T/units/sysinit.target.wants"
sed "s|=/[^ =]*/sextctl |=$SEXTCTL |" "$UNIT" >"$T/units/graft-sysext.service"
grep -q "^ExecStart=$SEXTCTL refresh" "$T/units/graft-sysext.service" || fail "cannot point graft-sysext.service at $SEXTCTL"
ln -s ../graft-sysext.service "$T/units/sysinit.target.wants/graft-sysext.service"

nspawn_boot "$root" graft-e2e-sextctl --bind-ro="$GRAFT_BUILD_DIR" --bind-ro="$T/ext:/var/lib/extensions" \
        --bind-ro="$T/verity.d:/etc/verity.d" --bind-ro="$T/units:/etc/systemd/system.control"
C() { nspawn_run "$@"; }
show() { C systemctl show -p "$2" --value "$1"; }

# 1. At boot: merged before sysinit.target, the unsigned image skipped, the unit active.
C journalctl -b -u graft-sysext.service -o cat --no-pager >"$T/boot.txt"
assert_eq "$(C systemctl is-active graft-sysext.service || true)" active "graft-sysext.service at boot"
assert_eq "$(show graft-sysext.service ExecMainStatus)" 9 "one image skipped"
assert_contains "$T/boot.txt" unsigned
merged_at=$(show graft-sysext.service ActiveEnterTimestampMonotonic)
sysinit_at=$(show sysinit.target ActiveEnterTimestampMonotonic)
((merged_at > 0 && merged_at <= sysinit_at)) || fail "graft-sysext.service became active at $merged_at, sysinit.target at $sysinit_at"
C strace -V >"$T/strace.txt" 2>&1 || { cat "$T/strace.txt" >&2; fail "strace from the merged debugtools extension does not run"; }
C "$SEXTCTL" status --json=short >"$T/status.json"
python3 - "$T/status.json" <<'PY' || fail "sextctl status after boot: $(cat "$T/status.json")"
import json, sys
st = json.load(open(sys.argv[1]))
usr = [h for h in st if h["hierarchy"] == "/usr"][0]
assert sorted(usr["extensions"]) == ["debugtools", "unitext"], usr
PY
C systemd-sysext status >"$T/systemd-status.txt" 2>&1 || true
assert_contains "$T/systemd-status.txt" debugtools

# 2. The reload at boot went over the private socket and loaded the extension's unit.
C journalctl -b -o cat --no-pager _PID=1 >"$T/pid1.txt"
grep -q "Reloading" "$T/pid1.txt" || { tail -n 30 "$T/pid1.txt" >&2; fail "systemd did not reload during boot"; }
grep -q "cannot reach systemd\|did not reload" "$T/boot.txt" && { cat "$T/boot.txt" >&2; fail "sextctl could not reload systemd at boot"; }
assert_eq "$(show graft-ext-demo.service LoadState)" loaded
C systemctl start graft-ext-demo.service
assert_eq "$(C systemctl is-active graft-ext-demo.service)" active
C systemctl stop graft-ext-demo.service

# 3. systemctl stop unmerges and reloads: the extension's unit is gone without a daemon-reload.
C systemctl stop graft-sysext.service
C test ! -e /usr/bin/strace || fail "strace is still there after systemctl stop graft-sysext.service"
assert_eq "$(show graft-ext-demo.service LoadState)" not-found
assert_eq "$(show graft-sysext.service NeedDaemonReload)" no

# 4. systemctl start merges again (the unit comes back); systemctl reload refreshes in place.
C systemctl start graft-sysext.service
assert_eq "$(show graft-ext-demo.service LoadState)" loaded
C strace -V >/dev/null 2>&1 || fail "strace missing after systemctl start graft-sysext.service"
rm "$T/ext/debugtools.raw" # the bind is of the directory: the container sees it go
C systemctl reload graft-sysext.service
C test ! -e /usr/bin/strace || fail "systemctl reload did not refresh the merge"
assert_eq "$(show graft-ext-demo.service LoadState)" loaded
C journalctl -u graft-sysext.service -o cat --no-pager >"$T/all.txt"
assert_contains "$T/all.txt" "Refreshed '/usr' (new merge mounted beneath the old one: no gap)."

nspawn_stop

# 5. graft-confext.service, in a boot of its own: its overlay on /etc would hide what is bind-mounted
# below /etc, so its unit comes from /usr/local/lib/systemd/system, and the trust store is empty
# (verity where an image has it: plain squashfs passes).
c=$T/democonf
mkdir -p "$c/etc/extension-release.d" "$T/confexts" "$T/units2/sysinit.target.wants"
printf 'ID=debian\nVERSION_ID=12\n' >"$c/etc/extension-release.d/extension-release.democonf"
printf 'from a confext\n' >"$c/etc/graft-demo.conf"
mksquashfs "$c" "$T/confexts/democonf.raw" -quiet -noappend -all-root >/dev/null
sed "s|=/[^ =]*/sextctl |=$SEXTCTL |" "$GRAFT_BUILD_DIR/sysext/graft-confext.service" >"$T/units2/graft-confext.service"
grep -q "^ExecStart=$SEXTCTL --confext refresh" "$T/units2/graft-confext.service" || fail "cannot point graft-confext.service at $SEXTCTL"
ln -s ../graft-confext.service "$T/units2/sysinit.target.wants/graft-confext.service"
nspawn_boot "$root" graft-e2e-confext --bind-ro="$GRAFT_BUILD_DIR" --bind-ro="$T/confexts:/var/lib/confexts" \
        --bind-ro="$T/units2:/usr/local/lib/systemd/system"
assert_eq "$(C systemctl is-active graft-confext.service || true)" active "graft-confext.service at boot"
assert_eq "$(show graft-confext.service ExecMainStatus)" 0
merged_at=$(show graft-confext.service ActiveEnterTimestampMonotonic)
sysinit_at=$(show sysinit.target ActiveEnterTimestampMonotonic)
((merged_at > 0 && merged_at <= sysinit_at)) || fail "graft-confext.service became active at $merged_at, sysinit.target at $sysinit_at"
assert_eq "$(C cat /etc/graft-demo.conf)" "from a confext"
C grep -q "^ID=debian" /etc/os-release || fail "the host's /etc is not visible below the confext"
C findmnt -n -o OPTIONS /etc >"$T/etc-options.txt"
grep -q "noexec" "$T/etc-options.txt" || fail "the confext overlay on /etc is not noexec: $(cat "$T/etc-options.txt")"
C systemctl stop graft-confext.service
C test ! -e /etc/graft-demo.conf || fail "systemctl stop graft-confext.service left the confext merged"

nspawn_stop
echo ok
