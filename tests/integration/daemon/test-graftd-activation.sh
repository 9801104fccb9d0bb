#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd's life: started by the bus when a client calls (D-Bus activation), gone again after its
# idle time, started again on the next call; pctl and sextctl find it activatable and use it.
# It tells systemd READY=1 once its name is taken and STOPPING=1 on the way out; a second
# instance cannot take the name; bad options are refused with a reason.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"

portable_image demo
bus_start
# The bus starts graftd itself (as graftd.service would be started for it), on this test's bus.
cat >"$BUS_DIR/services/org.graft.Manager1.service" <<EOF
[D-BUS Service]
Name=org.graft.Manager1
Exec=/bin/sh -c "DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS exec $GRAFTD --root=$R --idle-timeout=2 --log-level=debug 2>>$GRAFTD_LOG"
EOF
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null
name_owned && fail "graftd runs before anyone asked for it"

# pctl sees the name activatable and goes through the bus: graftd is started.
"$PCTL" list >"$O/list" || fail "pctl list through an activated graftd failed"
assert_contains "$O/list" "/var/lib/portables/demo.raw"
name_owned || fail "graftd was not activated"
grep -q "ListImages (uid 0): done in" "$GRAFTD_LOG" || fail "the request did not reach the activated graftd"
pid=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s org.graft.Manager1 | awk '{ print $2 }')
"$PCTL" attach demo >/dev/null
# Idle for 2 s: it exits, and lets go of its name first.
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "graftd did not exit after 2 s without requests"
name_owned && fail "graftd's name is still taken after it exited"
grep -q "^<6>No requests for 2 s, exiting.$" "$GRAFTD_LOG" || fail "the idle exit is not logged"
# The next request starts it again; the state is on disk, not in graftd.
assert_eq "$("$PCTL" is-attached demo)" attached
name_owned || fail "graftd was not activated again"
"$PCTL" detach demo >/dev/null

# A second instance cannot take the name.
run_expect 1 "cannot take the name org.graft.Manager1 on the system bus" "$GRAFTD" --root="$R"

# Readiness and stopping, as systemd (Type=notify) sees them.
python3 - "$T/notify" >"$O/notify" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", " "), flush=True)
    if "STOPPING=1" in m:
        break
PY
listener=$!
for _ in $(seq 100); do [[ -S $T/notify ]] && break; sleep 0.05; done
pid=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s org.graft.Manager1 2>/dev/null | awk '{ print $2 }' || true)
[[ -z $pid ]] || { kill -TERM "$pid"; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done; }
NOTIFY_SOCKET=$T/notify "$GRAFTD" --root="$R" --idle-timeout=0 >>"$GRAFTD_LOG" 2>&1 &
GRAFTD_PID=$!
for _ in $(seq 100); do grep -q READY=1 "$O/notify" && break; sleep 0.05; done
name_owned || fail "graftd said READY=1 before taking its name"
graftd_stop
wait $listener
assert_contains "$O/notify" "READY=1 STATUS=Serving org.graft.Manager1"
assert_contains "$O/notify" "STOPPING=1"

# Options.
run_expect 2 '--root= takes an absolute path, not "rel"' "$GRAFTD" --root=rel
run_expect 2 '--idle-timeout= takes a number up to 31536000, not "soon"' "$GRAFTD" --idle-timeout=soon
run_expect 2 '--log-level= takes err, warning, notice, info or debug, not "loud"' "$GRAFTD" --log-level=loud
run_expect 2 "takes no arguments" "$GRAFTD" extra
run_expect 1 "cannot use $T/nope as the root: No such file or directory" "$GRAFTD" --root="$T/nope"
"$GRAFTD" --help >"$O/help"
awk 'length > 79 { print "line too long: " $0; bad = 1 } END { exit bad }' "$O/help" || fail "--help wider than 80 columns"
echo ok
