#!/bin/bash
# pctl against a real systemd 252 in an nspawn-booted Debian: attach --now of the example portable
# service (webdemo: busybox httpd) starts it inside the image under the default profile's sandbox,
# the strict profile really takes capabilities and network away, detach --now stops the service and
# leaves no file behind, reattach --now moves a running service to a new version (files first,
# restart after), --enable goes through systemd, and the signed example verifies against its key.
#
# The service runs from the example's data partition as a bare squashfs file: systemd mounts
# RootImage= of a GPT image through partition devices, which a container here does not get (no
# udev), and through dm-verity, which this kernel lacks. The signed GPT image itself is attached
# and verified (not started).
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
need mksquashfs unsquashfs python3 sfdisk
PCTL=$GRAFT_BUILD_DIR/portable/pctl
[[ -x $PCTL ]] || skip "pctl is not built"

examples=$(example_images)
root=$(nspawn_root)

# Images, made on this side.
mkdir -p "$T/img"
example_data_partition "$examples/webdemo.raw" "$T/img/webdemo.raw"
unsquashfs -q -d "$T/v2" "$T/img/webdemo.raw" >/dev/null
sed -i 's|<head>|<head><!-- version 2 -->|' "$T/v2/usr/share/webdemo/www/index.html"
mksquashfs "$T/v2" "$T/img/webdemo_2.raw" -quiet -noappend -all-root >/dev/null
cp "$T/img/webdemo.raw" "$T/img/webdemo_1.raw"
unsquashfs -q -d "$T/sleeper" "$T/img/webdemo.raw" >/dev/null
rm -r "$T/sleeper/usr/share/webdemo" "$T/sleeper/usr/lib/systemd/system/webdemo.service"
printf 'ID=sleeper-os\nVERSION_ID=1\nPORTABLE_PREFIXES=sleeper\n' >"$T/sleeper/usr/lib/os-release"
printf '[Service]\nExecStart=/usr/bin/busybox sleep 1000\n' >"$T/sleeper/usr/lib/systemd/system/sleeper.service"
mksquashfs "$T/sleeper" "$T/img/sleeper.raw" -quiet -noappend -all-root >/dev/null
unsquashfs -q -d "$T/page" "$T/img/webdemo.raw" usr/share/webdemo/www/index.html >/dev/null

nspawn_boot "$root" graft-e2e-pctl --bind-ro="$GRAFT_BUILD_DIR"
CR=/proc/$NSPAWN_LEADER/root
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables" "$CR/srv"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$CR/usr/lib/graft/profiles"
rm -f "$CR/usr/lib/graft/profiles/meson.build"
cp "$T/img/webdemo.raw" "$T/img/webdemo_1.raw" "$T/img/webdemo_2.raw" "$T/img/sleeper.raw" "$CR/var/lib/portables/"
cp "$examples/webdemo.raw" "$CR/srv/webdemo_1.0.raw"

C() { nspawn_run "$@"; }
P() { nspawn_run "$PCTL" "$@"; }
# What attach may touch, inside the container.
# (Directory sizes change when the overlay copies a directory up: only files have theirs listed.)
state() {
        C find /etc /run/systemd/system.attached /run/portables -xdev \( -type f -printf '%p f %m %s\n' \) -o \
                -printf '%p %y %m %l\n' 2>/dev/null | LC_ALL=C sort || true
}
# The main process once it runs the service's binary (Type=simple: the start job is done at fork,
# while systemd's child "(busybox)" still sets up the sandbox as root).
main_pid() {
        local i pid
        for ((i = 0; i < 100; i++)); do
                pid=$(C systemctl show -p MainPID --value "$1")
                if [[ $pid -gt 0 ]] && ! C grep -q '^Name:	(' "/proc/$pid/status" 2>/dev/null; then
                        echo "$pid"
                        return 0
                fi
                sleep 0.05
        done
        fail "$1 has no main process running its binary"
}
page() { # wait for httpd, print the page
        local i
        for ((i = 0; i < 50; i++)); do
                C timeout 2 busybox wget -q -O- http://127.0.0.1:8080/ 2>/dev/null && return 0
                sleep 0.1
        done
        C systemctl status --no-pager webdemo.service >&2 || true
        C journalctl --no-pager -n 20 >&2 || true
        fail "nothing answers on port 8080"
}
elapsed() { # CMD…: runs it, prints its wall time in ms to fd 3
        local s e
        s=$(date +%s%N)
        "$@"
        e=$(date +%s%N)
        echo "$(((e - s) / 1000000)) ms: ${*:2}" >&3
}
exec 3>"$T/times.txt"
before=$(state)

# 1. attach --now under the default profile: started, inside the image, sandboxed.
elapsed P attach --now webdemo >"$T/out.txt"
assert_contains "$T/out.txt" "Started webdemo.service."
assert_eq "$(C systemctl is-active webdemo.service)" active
page >"$T/got.html"
cmp "$T/page/usr/share/webdemo/www/index.html" "$T/got.html" || fail "the service does not serve the image's page"
pid=$(main_pid webdemo.service)
C ls -A "/proc/$pid/root" | LC_ALL=C sort >"$T/root-top.txt"
(cd "$T/v2" && ls -A | LC_ALL=C sort) >"$T/image-top.txt"
diff "$T/image-top.txt" "$T/root-top.txt" || fail "the service's root is not the image"
C test -e "/proc/$pid/root/usr/share/webdemo/www/index.html" || fail "the image's files are not in the service's root"
C test ! -e "/proc/$pid/root/usr/bin/systemctl" || fail "the host's files are in the service's root"
C cat "/proc/$pid/status" >"$T/status.txt"
uid=$(awk '/^Uid:/ { print $2 }' "$T/status.txt")
[[ $uid -ne 0 ]] || fail "DynamicUser= is not in effect: the service runs as root"
assert_contains "$T/status.txt" "NoNewPrivs:	1"
assert_contains "$T/status.txt" "Seccomp:	2"
grep -q "^CapBnd:	000001ffffffffff" "$T/status.txt" && fail "the default profile's capability bounding set is not in effect"
assert_eq "$(P is-attached webdemo)" running

# 2. detach refuses an active unit without --now; detach --now stops it and leaves nothing.
run_expect 10 "unit webdemo.service is active; use --now to stop it first, or --force to detach it anyway" \
        P detach webdemo
elapsed P detach --now webdemo >"$T/out.txt"
assert_contains "$T/out.txt" "Stopped webdemo.service."
[[ $(C systemctl is-active webdemo.service || true) != active ]] || fail "webdemo.service still runs after detach --now"
assert_eq "$(state)" "$before" "detach --now left files behind"

# 3. The strict profile: no capabilities, no network, four tasks at most.
P attach --now --profile=strict sleeper >/dev/null
pid=$(main_pid sleeper.service)
C cat "/proc/$pid/status" >"$T/status.txt"
assert_contains "$T/status.txt" "CapEff:	0000000000000000"
assert_contains "$T/status.txt" "CapBnd:	0000000000000000"
assert_contains "$T/status.txt" "NoNewPrivs:	1"
[[ $(awk '/^Uid:/ { print $2 }' "$T/status.txt") -ne 0 ]] || fail "strict: the service runs as root"
C cat "/proc/$pid/net/dev" >"$T/netdev.txt"
[[ $(grep -c ':' "$T/netdev.txt") -eq 1 ]] && assert_contains "$T/netdev.txt" "lo:" ||
        fail "strict: the service sees network devices: $(cat "$T/netdev.txt")"
assert_eq "$(C systemctl show -p TasksMax --value sleeper.service)" 4
P detach --now sleeper >/dev/null
assert_eq "$(state)" "$before" "detach --now of sleeper left files behind"

# 4. reattach --now: the new version's files in place, then systemd reloads and restarts.
P attach --now webdemo_1 >/dev/null
page >/dev/null
old_pid=$(main_pid webdemo.service)
elapsed P reattach --now webdemo_2 >"$T/out.txt"
assert_contains "$T/out.txt" "Reloaded systemd."
assert_contains "$T/out.txt" "Restarted webdemo.service."
page >"$T/got.html"
assert_contains "$T/got.html" "<!-- version 2 -->"
[[ $(main_pid webdemo.service) != "$old_pid" ]] || fail "reattach --now did not restart the service"
P --json=short list >"$T/list.json"
python3 - "$T/list.json" <<'PY'
import json, sys
l = {i["name"]: i for i in json.load(open(sys.argv[1]))}
assert l["webdemo_1"]["state"] == "detached", l
assert l["webdemo_2"]["state"] == "running", l
assert l["webdemo"]["state"] == "detached", l
PY
run_expect 7 "image /var/lib/portables/webdemo_1.raw is not attached" P detach --now webdemo_1
P detach --now webdemo_2 >/dev/null
assert_eq "$(state)" "$before" "detach after reattach left files behind"

# 5. --enable through systemd (EnableUnitFilesWithFlags, portable), undone by detach.
P attach --enable --now webdemo >"$T/out.txt"
assert_contains "$T/out.txt" "Created symlink /etc/systemd/system.attached/multi-user.target.wants/webdemo.service → /etc/systemd/system.attached/webdemo.service."
assert_eq "$(P is-attached webdemo)" running
P detach --now webdemo >/dev/null
assert_eq "$(state)" "$before" "detach of an enabled unit left files behind"

# 6. portablectl and pctl recognise each other's attachments (the same marker line).
P attach webdemo >/dev/null
assert_eq "$(C portablectl is-attached webdemo)" attached
P detach webdemo >/dev/null
C portablectl attach --now webdemo >/dev/null 2>&1
assert_eq "$(P is-attached webdemo)" running
P detach --now webdemo >/dev/null
C test ! -e /etc/systemd/system.attached || fail "pctl left portablectl's attachment behind"
C test ! -e /etc/portables/webdemo.raw || fail "pctl left portablectl's link behind"
C rmdir /etc/portables # portablectl's, which it leaves behind itself
assert_eq "$(state)" "$before" "detach of portablectl's attachment left files behind"

# 7. The signed example image: verified against its key, its root hash recorded.
mkdir -p "$CR/etc/verity.d"
cp "$examples/keys/example.crt" "$CR/etc/verity.d/graft-example.crt"
before=$(state)
hash=$("$GRAFT_IMAGE" inspect --json=short "$examples/webdemo.raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootHash"])')
P attach /srv/webdemo_1.0.raw >/dev/null
C cat /etc/systemd/system.attached/webdemo.service.d/20-portable.conf >"$T/dropin.txt"
assert_contains "$T/dropin.txt" "# Drop-in created for image '/srv/webdemo_1.0.raw', do not edit."
assert_contains "$T/dropin.txt" " version=1.0 root-hash=$hash "
assert_contains "$T/dropin.txt" "RootImage=/srv/webdemo_1.0.raw"
assert_eq "$(C readlink /etc/portables/webdemo_1.0.raw)" /srv/webdemo_1.0.raw
P --json=short inspect /srv/webdemo_1.0.raw >"$T/inspect.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["signer"] == "CN=graft example key", j["signer"]' "$T/inspect.json"
P detach /srv/webdemo_1.0.raw >/dev/null
# Without a signature, under a trust store, the default policy refuses.
run_expect 6 "image policy requires the root partition to be signed" P attach webdemo
assert_eq "$(state)" "$before" "the signed image's detach left files behind"

nspawn_stop
cat "$T/times.txt"
echo ok
