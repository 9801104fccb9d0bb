# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared setup of the graftd tests, sourced after tests/lib/lib.sh (private mount namespace, $T):
# a private system bus (dbus-daemon) whose policy is a system bus's (method calls denied unless a
# policy file allows them) plus graft's own daemon/org.graft.Manager1.conf and
# org.graft.portable1.conf (in the order system.d is read), a scratch root $R like the pctl and
# sextctl tests use, and graftd serving that root on that bus. Nothing touches the machine's /usr,
# /etc, /run or its system bus.
#
#   bus_start [EXTRA-POLICY-XML]   starts dbus-daemon; exports DBUS_SYSTEM_BUS_ADDRESS
#   graftd_start [ARGS…]           starts graftd --root=$R and waits for its name
#   graftd_stop                    SIGTERM, and waits
#   call IFACE METHOD SIG ARGS…    busctl call to graftd (JSON reply on stdout)
#   gcall IFACE.METHOD ARGS…       gdbus call (errors name the D-Bus error: "GDBus.Error:NAME: …")
#   as_nobody CMD…                 runs CMD as uid/gid 65534

need dbus-daemon busctl gdbus setpriv mksquashfs openssl python3
GRAFTD=$GRAFT_BUILD_DIR/daemon/graftd
PCTL=$GRAFT_BUILD_DIR/portable/pctl
SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
[[ -x $GRAFTD && -x $PCTL && -x $SEXTCTL ]] || skip "graftd, pctl or sextctl is not built"

# sysext merges below $R need a /run we may mount below, and shared propagation (as sysext-lib.sh).
mount --make-rshared /
mount -t tmpfs tmpfs /run

# Non-root callers must reach the bus socket and the programs.
chmod 0755 "$T"
BUS_DIR=$T/bus
BUS_PID=
GRAFTD_PID=
GRAFTD_LOG=$T/graftd.log

bus_start() {
        mkdir -p "$BUS_DIR/services"
        cat >"$BUS_DIR/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$BUS_DIR/socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$BUS_DIR/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  ${1:-}
  <include>$GRAFT_SOURCE_DIR/daemon/org.graft.Manager1.conf</include>
  <include>$GRAFT_SOURCE_DIR/daemon/org.graft.portable1.conf</include>
</busconfig>
EOF
        dbus-daemon --config-file="$BUS_DIR/bus.conf" --fork --print-pid=3 3>"$BUS_DIR/pid" ||
                fail "dbus-daemon did not start"
        BUS_PID=$(cat "$BUS_DIR/pid")
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS_DIR/socket
}

# Stops graftd and the bus at exit (before lib.sh removes $T).
graftd_cleanup() {
        local rc=$?
        set +e
        [[ -n $GRAFTD_PID ]] && kill -TERM "$GRAFTD_PID" 2>/dev/null && wait "$GRAFTD_PID" 2>/dev/null
        [[ -n $BUS_PID ]] && kill -TERM "$BUS_PID" 2>/dev/null
        if [[ $rc -ne 0 && $rc -ne 77 && -s $GRAFTD_LOG ]]; then
                echo "--- graftd log (last 30 lines)" >&2
                tail -n 30 "$GRAFTD_LOG" >&2
        fi
        (exit $rc)
        cleanup
}
trap graftd_cleanup EXIT

name_owned() {
        grep -q true <<<"$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                NameHasOwner s org.graft.Manager1 2>/dev/null)"
}

graftd_start() {
        "$GRAFTD" --root="$R" --idle-timeout=0 "$@" >>"$GRAFTD_LOG" 2>&1 &
        GRAFTD_PID=$!
        local i
        for ((i = 0; i < 100; i++)); do
                name_owned && return 0
                kill -0 "$GRAFTD_PID" 2>/dev/null || { cat "$GRAFTD_LOG" >&2; fail "graftd exited while starting"; }
                sleep 0.05
        done
        fail "graftd did not take its name"
}

graftd_stop() {
        [[ -n $GRAFTD_PID ]] || return 0
        kill -TERM "$GRAFTD_PID"
        wait "$GRAFTD_PID" || fail "graftd exited with $? after SIGTERM"
        GRAFTD_PID=
}

call() {
        local iface=$1
        shift
        busctl --system --json=short call org.graft.Manager1 /org/graft/Manager1 "org.graft.$iface" "$@"
}

gcall() {
        local method=$1
        shift
        gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 --method "org.graft.$method" "$@"
}

# gcall_error ERROR-NAME MESSAGE-PART IFACE.METHOD ARGS…: the call fails with exactly that D-Bus
# error name, and its message holds MESSAGE-PART.
gcall_error() {
        local name=$1 needle=$2 rc=0
        shift 2
        gcall "$@" >"$O/gout" 2>"$O/gerr" || rc=$?
        [[ $rc -ne 0 ]] || fail "$* succeeded, expected $name: $(cat "$O/gout")"
        grep -qF "GDBus.Error:$name: " "$O/gerr" || fail "$*: expected $name, got: $(cat "$O/gerr")"
        grep -qF -- "$needle" "$O/gerr" || fail "$*: message lacks '$needle': $(cat "$O/gerr")"
}

as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# The scratch root: profiles, host os-release, a trust store with the test key, and the search
# directories of both sides.
R=$T/root
mkdir -p "$R/etc/verity.d" "$R/usr/lib/graft" "$R/var/lib/portables" "$R/var/lib/extensions" "$R/srv" \
        "$R/usr/share/host" "$R/opt/host" "$R/run"
# graft's state directories (the journal's, the lock's), as on a host where graft is installed.
mkdir -p -m 0700 "$R/var/lib/graft" "$R/run/graft" "$R/run/graft/locks"
make_cert "$T/keys" pk
cp "$T/keys/pk.crt" "$R/etc/verity.d/"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$R/usr/lib/graft/profiles"
rm -f "$R/usr/lib/graft/profiles/meson.build"
printf 'ID=debian\nVERSION_ID=12\n' >"$R/usr/lib/os-release"
echo host >"$R/usr/share/host/file"
echo host >"$R/opt/host/file"

# portable_image NAME [OUT]: a signed portable image whose units are NAME.service and NAME.socket.
portable_image() {
        local out=${2:-$R/var/lib/portables/$1.raw}
        [[ -d $T/src-$1 ]] || make_portable_tree "$T/src-$1" "$1"
        "$GRAFT_IMAGE" build "$T/src-$1" -o "$out" --name "$1" --version 1 --type portable \
                --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null || fail "graft-image build $out failed"
}

# sysext_image NAME: a signed extension image shipping /usr/share/NAME/file.
sysext_image() {
        mkdir -p "$T/ext-$1/usr/lib/extension-release.d" "$T/ext-$1/usr/share/$1"
        printf 'ID=debian\nVERSION_ID=12\n' >"$T/ext-$1/usr/lib/extension-release.d/extension-release.$1"
        echo "$1" >"$T/ext-$1/usr/share/$1/file"
        "$GRAFT_IMAGE" build "$T/ext-$1" -o "$R/var/lib/extensions/$1.raw" --name "$1" --version 1 --type sysext \
                --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null || fail "graft-image build $1 failed"
}

# What attach may write, below $R (units, drop-ins, links, markers): path, type, mode, target.
attached_tree() {
        (cd "$R" && { find etc/systemd etc/portables run/systemd run/portables -printf '%p %y %m %l\n' 2>/dev/null || true; } |
                LC_ALL=C sort)
}

prop() {
        busctl --system get-property org.graft.Manager1 /org/graft/Manager1 "org.graft.$1" "$2"
}

# Waits until graftd has no operation waiting or running (at most 60 s).
graftd_idle() {
        local i
        for ((i = 0; i < 1200; i++)); do
                [[ $(prop Manager1 Operations 2>/dev/null) == "u 0" ]] && return 0
                sleep 0.05
        done
        fail "graftd still has operations after 60 s: $(prop Manager1 Operations)"
}
