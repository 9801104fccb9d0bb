#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd in a real systemd 252 (nspawn-booted Debian) with its real files: the bus policy, the
# D-Bus service file (SystemdService=graftd.service) and graftd.service (Type=notify). pctl and
# sextctl, run without --root, find org.graft.Manager1 activatable and go through it: the bus
# asks systemd to start graftd; `pctl attach --now` through it starts the service (which really
# serves from the image); `sextctl merge` through it merges into the container's /usr; graftd logs
# to the journal with priorities and exits when idle. -H works over a stand-in ssh to the
# container's systemd-stdio-bridge, -M through sd-bus's machine transport, and both print what
# the container's own pctl prints.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
need mksquashfs python3 sfdisk
PCTL=$GRAFT_BUILD_DIR/portable/pctl
SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
GRAFTD=$GRAFT_BUILD_DIR/daemon/graftd
[[ -x $PCTL && -x $SEXTCTL && -x $GRAFTD ]] || skip "pctl, sextctl or graftd is not built"
[[ -f $GRAFT_BUILD_DIR/daemon/graftd.service && -f $GRAFT_BUILD_DIR/daemon/org.graft.Manager1.service ]] ||
        skip "the daemon's unit files are not built"

examples=$(example_images)
root=$(nspawn_root)
mkdir -p "$T/img"
example_data_partition "$examples/webdemo.raw" "$T/img/webdemo.raw"
mkdir -p "$T/hello/usr/lib/extension-release.d" "$T/hello/usr/bin"
printf 'ID=debian\nVERSION_ID=12\n' >"$T/hello/usr/lib/extension-release.d/extension-release.hello"
printf '#!/bin/sh\necho hello from an extension\n' >"$T/hello/usr/bin/graft-hello"
chmod 755 "$T/hello/usr/bin/graft-hello"
mksquashfs "$T/hello" "$T/img/hello.raw" -quiet -noappend -all-root >/dev/null

nspawn_boot "$root" graft-e2e-graftd --bind-ro="$GRAFT_BUILD_DIR"
CR=/proc/$NSPAWN_LEADER/root
C() { nspawn_run "$@"; }

# Install graftd as a package would, but running from the build directory, idle after 3 s.
cp "$GRAFT_SOURCE_DIR/daemon/org.graft.Manager1.conf" "$CR/usr/share/dbus-1/system.d/"
cp "$GRAFT_BUILD_DIR/daemon/org.graft.Manager1.service" "$CR/usr/share/dbus-1/system-services/"
sed "s|^ExecStart=.*|ExecStart=$GRAFTD --idle-timeout=3|" "$GRAFT_BUILD_DIR/daemon/graftd.service" \
        >"$CR/etc/systemd/system/graftd.service"
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables" "$CR/var/lib/extensions"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$CR/usr/lib/graft/profiles"
rm -f "$CR/usr/lib/graft/profiles/meson.build"
cp "$T/img/webdemo.raw" "$CR/var/lib/portables/"
cp "$T/img/hello.raw" "$CR/var/lib/extensions/"
C systemctl daemon-reload
C busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
assert_eq "$(C systemctl is-active graftd.service || true)" inactive

# 1. pctl attach --now through graftd: activated by the bus, starts the service.
C "$PCTL" attach --now webdemo >"$T/out.txt" 2>&1 || { cat "$T/out.txt" >&2; fail "pctl attach --now failed"; }
assert_contains "$T/out.txt" "Started webdemo.service."
assert_eq "$(C systemctl is-active graftd.service)" active
assert_eq "$(C systemctl show -p Type --value graftd.service)" notify
assert_eq "$(C systemctl show -p StatusText --value graftd.service)" "Serving org.graft.Manager1"
C journalctl -u graftd.service -o cat --no-pager >"$T/journal.txt"
assert_contains "$T/journal.txt" "AttachImage webdemo (uid 0): done in"
grep -q "PRIORITY=6" <<<"$(C journalctl -u graftd.service -p info -o verbose --no-pager)" ||
        fail "graftd's lines did not reach the journal with their priority"
assert_eq "$(C systemctl is-active webdemo.service)" active
for _ in $(seq 50); do C timeout 2 busybox wget -q -O- http://127.0.0.1:8080/ >"$T/page.html" 2>/dev/null && break; sleep 0.1; done
grep -qi "<html" "$T/page.html" || fail "the attached service does not serve its page"
assert_eq "$(C "$PCTL" is-attached webdemo)" running
assert_eq "$(C "$PCTL" --direct is-attached webdemo)" running

# 2. -H: the same graftd over SSH (a stand-in ssh running the container's systemd-stdio-bridge).
mkdir -p "$T/bin"
cat >"$T/bin/ssh" <<EOF
#!/bin/sh
while [ \$# -gt 0 ] && [ "\$1" != "--" ]; do shift; done
shift 2 # "--" and the host
exec nsenter -t $NSPAWN_LEADER -a "\$@"
EOF
chmod 755 "$T/bin/ssh"
PATH=$T/bin:$PATH "$PCTL" -H root@graft-e2e list >"$T/remote.txt" 2>&1 || { cat "$T/remote.txt" >&2; fail "pctl -H failed"; }
C "$PCTL" list >"$T/local.txt"
diff -u "$T/local.txt" "$T/remote.txt" || fail "pctl -H prints otherwise than pctl in the container"
assert_contains "$T/remote.txt" "running"

# -M: the machine transport of sd-bus enters the container and talks to its graftd. It finds the
# container's leader where systemd-machined registers it, /run/systemd/machines/NAME; nspawn runs
# with --register=no and no machined runs here, so the test writes that entry itself, on a tmpfs
# in its own mount namespace (on a host where systemd never ran the directory may be missing: an
# empty one is made then, as nspawn_boot does for /run/systemd/nspawn).
[[ -d /run/systemd/machines ]] || mkdir -p /run/systemd/machines
mount -t tmpfs tmpfs /run/systemd/machines
printf 'LEADER=%s\nCLASS=container\n' "$NSPAWN_LEADER" >/run/systemd/machines/graft-e2e
"$PCTL" -M graft-e2e list >"$T/machine.txt" 2>&1 || { cat "$T/machine.txt" >&2; fail "pctl -M failed"; }
diff -u "$T/local.txt" "$T/machine.txt" || fail "pctl -M prints otherwise than pctl in the container"
"$PCTL" -M graft-e2e is-attached webdemo >"$T/machine.txt" 2>&1 || { cat "$T/machine.txt" >&2; fail "pctl -M is-attached failed"; }
assert_eq "$(cat "$T/machine.txt")" running

# 3. sextctl merge through graftd: into the container's /usr, seen by everyone there.
C "$SEXTCTL" merge >"$T/merge.txt" 2>&1 || { cat "$T/merge.txt" >&2; fail "sextctl merge failed"; }
assert_contains "$T/merge.txt" "Merged extensions into '/usr'."
assert_eq "$(C graft-hello)" "hello from an extension"
C "$SEXTCTL" status >"$T/status.txt"
assert_contains "$T/status.txt" "hello"
grep -q "Merge sysext (uid 0): done in" <<<"$(C journalctl -u graftd.service -o cat --no-pager)" || fail "the merge did not go through graftd"
C "$SEXTCTL" unmerge >/dev/null
C test ! -e /usr/bin/graft-hello || fail "unmerge through graftd left the extension"
# The same from outside, with -M.
"$SEXTCTL" -M graft-e2e merge >"$T/merge.txt" 2>&1 || { cat "$T/merge.txt" >&2; fail "sextctl -M merge failed"; }
assert_eq "$(C graft-hello)" "hello from an extension"
"$SEXTCTL" -M graft-e2e unmerge >/dev/null
C test ! -e /usr/bin/graft-hello || fail "sextctl -M unmerge left the extension"

# 4. detach --now through graftd; then graftd exits when idle and comes back when asked.
C "$PCTL" detach --now webdemo >"$T/out.txt"
assert_contains "$T/out.txt" "Stopped webdemo.service."
for _ in $(seq 100); do [[ $(C systemctl is-active graftd.service || true) == inactive ]] && break; sleep 0.1; done
assert_eq "$(C systemctl is-active graftd.service || true)" inactive
grep -q "No requests for 3 s, exiting." <<<"$(C journalctl -u graftd.service -o cat --no-pager)" || fail "no idle exit in the journal"
assert_eq "$(C systemctl show -p Result --value graftd.service)" success
assert_eq "$(C "$PCTL" is-attached webdemo || true)" detached
assert_eq "$(C systemctl is-active graftd.service)" active

nspawn_stop
echo ok
