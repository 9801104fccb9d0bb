#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graft-update against a real systemd 252 in an nspawn-booted Debian, pulling the example portable
# service (webdemo: busybox httpd) from lighttpd over TLS (a test CA) on the loopback of the
# test's own network namespace, which the container shares:
#   1. a good update (1 → 2): switched (reattached, restarted), healthy (unit active for
#      HealthGraceSec=, the page answers), the downtime clients saw measured;
#   2. a bad one (2 → 3, whose service dies a second after it starts): the unit check fails, graft
#      goes back to 2 without anybody's help, marks 3 bad, exits 11 naming the unit; the downtime
#      of the rollback measured;
#   3. the container restarted: 2 runs at boot, graft-update.service (the unit as installed) does
#      not take 3 again;
#   4. the container killed in the middle of a health check (2 → 4): at the next boot
#      graft-update-resolve.service rolls 4 back before the service starts, 4 is marked bad.
# The figures go to stdout (downtime, wall time). The images are the example's data partition as a
# bare squashfs file (RootImage= of a GPT image needs partition devices, which a container does not
# get here) with no trust store in the container: the download is checked against the signed
# SHA256SUMS. State that must survive a restart (images, attachments, marks, transfer file) lives
# in directories of the test bound into the container (--volatile=overlay forgets the rest).
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/root-before-netns.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/update-hosts.sh"
need mksquashfs unsquashfs python3 sfdisk
[[ -x $PCTL ]] || skip "pctl is not built"
PROBE=$GRAFT_SOURCE_DIR/tests/e2e/lib/http-probe.py
MACHINE=graft-e2e-update

root=$(nspawn_root)

# The versions, made on this side and served.
webdemo_base
cp "$T/webdemo-1.raw" "$WWW/webdemo_1.raw"
variant() { webdemo_variant "$WWW/webdemo_$1.raw" "$@"; }
variant 2
variant 3 "/usr/bin/busybox sh -c 'sleep 1; exit 3'"
sign_index
start_server

# What outlives a restart of the container, and the units as installed (pointed at this build).
P=$T/persist
mkdir -p "$P/portables" "$P/graft" "$P/attached" "$P/sysupdate.d"
cp "$KEYS/pubring.gpg" "$P/pubring.gpg"
test_profiles
webdemo_transfer "$P/sysupdate.d/webdemo.transfer" "$URL/" 8080 3
update_units "$P/units"

boot() {
        nspawn_boot "$root" "$MACHINE" --bind-ro="$GRAFT_BUILD_DIR" --bind-ro="$T/profiles:/usr/lib/graft/profiles" \
                --bind-ro="$KEYS/ca.crt:/etc/graft-test-ca.crt" --bind="$P/pubring.gpg:/etc/systemd/import-pubring.gpg" \
                --bind="$P/portables:/var/lib/portables" --bind="$P/graft:/var/lib/graft" \
                --bind="$P/attached:/etc/systemd/system.attached" --bind="$P/sysupdate.d:/etc/sysupdate.d" \
                --bind-ro="$P/units:/usr/local/lib/systemd/system"
}
C() { nspawn_run "$@"; }
U() { nspawn_run env CURL_CA_BUNDLE=/etc/graft-test-ca.crt "$GRAFT_UPDATE" "$@"; }
page_version() { # the version the page names, waiting for the service to answer
        local i body re='<!-- version ([0-9]+) -->'
        for ((i = 0; i < 100; i++)); do
                if body=$(curl -fsS -m 1 http://127.0.0.1:8080/ 2>/dev/null); then
                        [[ $body =~ $re ]] && echo "${BASH_REMATCH[1]}" || echo 1
                        return 0
                fi
                sleep 0.1
        done
        C systemctl status --no-pager webdemo.service >&2 || true
        fail "nothing answers on port 8080"
}
probe_start() {
        rm -f "$T/probe.stop"
        python3 "$PROBE" run http://127.0.0.1:8080/ "$T/probe.$1" "$T/probe.stop" &
        PROBE_PID=$!
        sleep 0.3
}
probe_stop() { # NAME: the report line
        sleep 0.3
        touch "$T/probe.stop"
        wait "$PROBE_PID"
        python3 "$PROBE" report "$T/probe.$1"
}
timed() { # VAR CMD…: runs CMD (its status in rc), its wall time in ms in VAR
        local var=$1 s e
        shift
        s=$(date +%s%N)
        rc=0
        "$@" >"$O/out" 2>"$O/err" || rc=$?
        e=$(date +%s%N)
        printf -v "$var" '%d' $(((e - s) / 1000000))
}

boot
# The first version: placed (nothing is attached yet, so nothing is switched), then attached.
U update 1 >"$O/out" 2>"$O/err" || { cat "$O/err"; fail "update 1 failed"; }
assert_contains "$O/err" "no version of the portable service is attached here; nothing to switch or check"
C "$PCTL" attach --enable --now /var/lib/portables/webdemo_1.raw >/dev/null
assert_eq "$(page_version)" 1

# 1. A good update.
probe_start good
timed good_ms U update 2
good=$(probe_stop good)
[[ $rc -eq 0 ]] || { cat "$O/err"; fail "the update to 2 exited $rc"; }
assert_contains "$O/out" "Updated to 2 (was 1)"
assert_contains "$O/err" "restarted webdemo.service"
assert_contains "$O/err" "health: 1 unit(s) active for 3.0 s: webdemo.service"
assert_contains "$O/err" 'health: "busybox wget -q -O /dev/null http://127.0.0.1:8080/" passed'
assert_eq "$(page_version)" 2
[[ $good == *"versions=1>2" ]] || fail "clients saw $good during the good update"

# 2. A bad update: rolled back by itself.
probe_start bad
timed bad_ms U update
bad=$(probe_stop bad)
[[ $rc -eq 11 ]] || { cat "$O/out" "$O/err"; fail "the update to 3 exited $rc, expected 11"; }
assert_contains "$O/err" "3 failed: unit webdemo.service failed"
assert_contains "$O/err" "rolled back to 2, and 3 is marked bad"
assert_eq "$(page_version)" 2
assert_eq "$(C systemctl is-active webdemo.service)" active
[[ $bad == *"versions=2" ]] || fail "clients saw $bad during the rollback (only 2 may answer)"
U list --no-legend >"$O/list" 2>/dev/null
assert_contains "$O/list" "3 available,bad"
[[ ! -e $P/portables/webdemo_3.raw ]] || fail "the bad image is still in /var/lib/portables"

# 3. After a restart of the container: 2 runs at boot, the unattended update does not take 3.
nspawn_stop
boot
assert_eq "$(page_version)" 2
C systemctl start graft-update.service || { C journalctl -u graft-update.service --no-pager >&2; fail "graft-update.service failed"; }
C journalctl -u graft-update.service -o cat --no-pager >"$O/journal"
assert_contains "$O/journal" "passed over 3: marked bad"
assert_contains "$O/journal" "Up to date: 2"
assert_eq "$(page_version)" 2

# 4. The container goes down in the middle of a health check of 4: the next boot rolls it back
# before webdemo.service starts.
variant 4
sign_index
mkdir -p "$P/sysupdate.d/webdemo.transfer.d"
printf '[X-Graft]\nHealthGraceSec=120\n' >"$P/sysupdate.d/webdemo.transfer.d/slow.conf"
U update >"$O/out" 2>"$O/err" &
for ((i = 0; i < 200; i++)); do
        grep -q "restarted webdemo.service" "$O/err" 2>/dev/null && break
        sleep 0.1
done
assert_contains "$O/err" "restarted webdemo.service"
assert_eq "$(page_version)" 4
assert_contains "$P/graft/update/default.pending" "switched"
# A power cut: the container's PID 1 killed, and with it everything in its PID namespace.
kill -KILL "$NSPAWN_LEADER"
wait || true
nspawn_stop
rm "$P/sysupdate.d/webdemo.transfer.d/slow.conf"
boot
assert_eq "$(page_version)" 2
C journalctl -u graft-update-resolve.service -o cat --no-pager >"$O/journal"
assert_contains "$O/journal" "the update to 4 was cut short (a crash or a reboot) before its health check passed; rolled back to 2, and 4 is marked bad"
[[ ! -e $P/graft/update/default.pending ]] || fail "the pending record is left after the boot"
resolved_at=$(C systemctl show -p ExecMainExitTimestampMonotonic --value graft-update-resolve.service)
started_at=$(C systemctl show -p ExecMainStartTimestampMonotonic --value webdemo.service)
((resolved_at > 0 && resolved_at <= started_at)) || fail "graft-update-resolve.service ($resolved_at) did not finish before webdemo.service started ($started_at)"
assert_contains "$P/graft/update/default.bad" "4	"

echo "good update 1 -> 2: graft-update ${good_ms} ms (HealthGraceSec=3); clients: $good"
echo "bad update 2 -> 3, rolled back: graft-update ${bad_ms} ms; clients: $bad"
echo "ok"
