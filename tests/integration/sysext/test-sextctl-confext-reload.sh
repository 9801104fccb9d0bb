#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Configuration extensions (--confext, or sextctl under a confext name) merge into /etc, noexec,
# with .systemd-confext metadata. EXTENSION_RELOAD_MANAGER=1: with --root no bus is ever
# touched; on the host the Reload request goes to the system bus (here a private dbus-daemon
# without systemd on it, so the call is made and fails, and the merge stands).
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need mountpoint python3

# --- confext ---
r=$T/root
new_root "$r"
echo host >"$r/etc/host.conf"
c=$r/var/lib/confexts/myconf
mkdir -p "$c/etc/extension-release.d" "$c/etc/myconf"
printf 'ID=debian\nVERSION_ID=12\n' >"$c/etc/extension-release.d/extension-release.myconf"
printf '#!/bin/sh\necho hi\n' >"$c/etc/myconf/script" && chmod 755 "$c/etc/myconf/script"
"$SEXTCTL" --confext --root="$r" merge >"$O/out" 2>&1 || { cat "$O/out"; fail "confext merge failed"; }
[[ -e $r/etc/myconf/script && -e $r/etc/host.conf ]] || fail "confext merge lacks content"
[[ $(cat "$r/etc/.systemd-confext/extensions") == myconf ]] || fail "confext metadata"
grep -q "noexec" <<<"$(grep " $r/etc " /proc/self/mountinfo)" || fail "confext merge is not noexec"
"$r/etc/myconf/script" 2>/dev/null && fail "a confext script could be executed"
mountpoint -q "$r/usr" && fail "confext touched /usr"
ln -s "$SEXTCTL" "$T/confextctl"
"$T/confextctl" --root="$r" status --json=short >"$O/st"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s[0]['extensions']==['myconf'], s" "$O/st" ||
        fail "confextctl status: $(cat "$O/st")"
"$T/confextctl" --root="$r" unmerge >/dev/null 2>&1
mountpoint -q "$r/etc" && fail "confext unmerge left /etc mounted"
# The confext release file lives in /etc: a sysext-style one does not count.
mkdir -p "$r/var/lib/confexts/wrong/usr/lib/extension-release.d"
printf 'ID=debian\nVERSION_ID=12\n' >"$r/var/lib/confexts/wrong/usr/lib/extension-release.d/extension-release.wrong"
run_expect 9 "wrong: has no extension-release file (/etc/extension-release.d/extension-release.wrong)" \
        "$SEXTCTL" --confext --root="$r" merge
"$SEXTCTL" --confext --root="$r" unmerge >/dev/null 2>&1

# --- EXTENSION_RELOAD_MANAGER with --root: never a bus ---
mkext "$r/var/lib/extensions/units" units ID=debian VERSION_ID=12 EXTENSION_RELOAD_MANAGER=1
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/nobus.sock
if command -v strace >/dev/null; then
        # (LeakSanitizer cannot run under ptrace: leaks are checked by the other runs.)
        ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 strace -f -qq -e trace=connect -o "$T/trace" "$SEXTCTL" --root="$r" merge --json=short >"$O/json" 2>/dev/null
        grep -q connect "$T/trace" && fail "sextctl --root connected somewhere: $(cat "$T/trace")"
else
        "$SEXTCTL" --root="$r" merge --json=short >"$O/json" 2>/dev/null
fi
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['reload']=='skipped', j" "$O/json" ||
        fail "reload with --root: $(cat "$O/json")"
"$SEXTCTL" --root="$r" unmerge --json=short >"$O/json" 2>/dev/null
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['reload']=='skipped', j" "$O/json" ||
        fail "reload on unmerge with --root: $(cat "$O/json")"

# --- on the host: the request goes to the system bus ---
# The host's own images directories stay out of it: /run is this namespace's tmpfs, and the
# hierarchies are scratch directories ($GRAFT_SYSEXT_HIERARCHIES).
command -v dbus-daemon >/dev/null || { echo "dbus-daemon missing: host reload case not run"; echo ok; exit 0; }
[[ -z $(ls -A /etc/extensions /var/lib/extensions 2>/dev/null) ]] || { echo "host has extensions: host reload case not run"; echo ok; exit 0; }
grep -q '^ID=debian' /etc/os-release && grep -q '^VERSION_ID="\?12' /etc/os-release ||
        { echo "host is not Debian 12: host reload case not run"; echo ok; exit 0; }
cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$T/bus.conf" --fork --print-pid=3 3>"$T/bus.pid"
trap 'rc_=$?; kill "$(cat "$T/bus.pid")" 2>/dev/null; (exit $rc_); cleanup' EXIT
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock
mkdir -p /run/extensions "$T/hier/usr"
mkext /run/extensions/units units ID=debian VERSION_ID=12 EXTENSION_RELOAD_MANAGER=1
# An image ships content for a hierarchy at the same path inside the image.
mkdir -p "/run/extensions/units/$T/hier/usr/share/units" && echo units >"/run/extensions/units/$T/hier/usr/share/units/file"
GRAFT_SYSEXT_HIERARCHIES=$T/hier/usr "$SEXTCTL" merge --json=short >"$O/json" 2>/dev/null || fail "host merge failed"
python3 - "$O/json" <<'PY' || fail "host reload: $(cat "$O/json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["reload"] == "failed" and "org.freedesktop.systemd1" in j["reloadError"], j
PY
[[ -e $T/hier/usr/share/units/file ]] || fail "the merge does not stand after a failed reload"
GRAFT_SYSEXT_HIERARCHIES=$T/hier/usr "$SEXTCTL" --no-reload unmerge --json=short >"$O/json" 2>/dev/null
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['reload']=='not-asked', j" "$O/json" ||
        fail "--no-reload: $(cat "$O/json")"
echo ok
