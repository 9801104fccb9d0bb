#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the full-systemd VM (tests/vm/test-vm-portable.sh), started by graft-vm-test.service
# once the system is up: pctl attach --now of the signed example portable service, whose
# RootImage= systemd itself opens through dm-verity; the checks that the service's root really is
# a dm-verity device with the image's root hash; pctl detach --now and what it leaves. One line
# per check on /dev/ttyS1 ("@@ ok NAME", "@@ not ok NAME # detail", "@@ info TEXT", "@@ done");
# the unit powers the VM off when this ends.
. /graft/report.sh
. /graft/env
export GRAFT_NO_PROGRESS=1 NO_COLOR=1 ASAN_OPTIONS UBSAN_OPTIONS

now_ms() { echo $(($(date +%s%N) / 1000000)); }
trap 'echo "@@ done" >&3' EXIT

info "$(systemctl --version | sed -n 1p), kernel $(uname -r), system $(systemctl is-system-running)"
mkdir -p /etc/verity.d /usr/lib/graft /var/lib/portables
cp /graft/example.crt /etc/verity.d/graft-example.crt
cp -r /graft/profiles /usr/lib/graft/profiles
cp /graft/webdemo.raw /var/lib/portables/webdemo.raw
IMG=/var/lib/portables/webdemo.raw

dm_names() { cat /sys/block/dm-*/dm/name 2>/dev/null; }
loops_of() {
        for l in /sys/block/loop*; do
                [ "$(cat "$l/loop/backing_file" 2>/dev/null)" = "$1" ] && basename "$l"
        done
}

t0=$(now_ms)
"$PCTL" $PCTL_DIRECT attach --now webdemo >/tmp/attach.out 2>&1
rc=$?
t1=$(now_ms)
info "pctl attach --now (signed GPT image, systemd opens it through dm-verity): $((t1 - t0)) ms"
cat /tmp/attach.out

page() {
        i=0
        while [ $i -lt 100 ]; do
                busybox wget -q -O /tmp/page.html http://127.0.0.1:8080/ 2>/dev/null && return 0
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}
attached() {
        [ $rc -eq 0 ] || { cat /tmp/attach.out; return 1; }
        [ "$(systemctl is-active webdemo.service)" = active ] || { systemctl status --no-pager webdemo.service; return 1; }
        page || { echo "nothing answers on port 8080"; journalctl --no-pager -n 30; return 1; }
        cmp /tmp/page.html /graft/index.html || { echo "the service does not serve the image's page"; return 1; }
}
check "pctl attach --now starts the portable service from the signed image" attached

# The service's root: the "/" line of its mount table, and the block device below it.
root_on_dm() {
        pid=$(systemctl show -p MainPID --value webdemo.service)
        [ "$pid" -gt 0 ] || { echo "no main process"; return 1; }
        line=$(awk '$5 == "/" { print; exit }' "/proc/$pid/mountinfo")
        set -- $line
        mm=$3
        echo "service root: $line"
        [ -e "/sys/dev/block/$mm/dm/name" ] || { echo "the service's root ($mm) is not on a dm device"; return 1; }
        name=$(cat "/sys/dev/block/$mm/dm/name")
        uuid=$(cat "/sys/dev/block/$mm/dm/uuid")
        echo "dm device $name, uuid $uuid"
        case $uuid in CRYPT-VERITY-*) ;; *) echo "not a verity device: $uuid"; return 1 ;; esac
        # systemd names it after the root hash; libcryptsetup's table carries it too.
        case $name in "$ROOT_HASH"*) ;; *) echo "device $name is not named after root hash $ROOT_HASH"; return 1 ;; esac
        ls "/sys/dev/block/$mm/slaves" | tr '\n' ' ' >/tmp/dm-slaves
        [ -s /tmp/dm-slaves ] || { echo "no devices below $name"; return 1; }
        echo "$name" >/tmp/dm-name
}
check "the service's root is a dm-verity device carrying the image's root hash" root_on_dm
info "service root device: $(cat /tmp/dm-name 2>/dev/null) over $(cat /tmp/dm-slaves 2>/dev/null)"

t0=$(now_ms)
"$PCTL" $PCTL_DIRECT detach --now webdemo >/tmp/detach.out 2>&1
rc=$?
t1=$(now_ms)
info "pctl detach --now: $((t1 - t0)) ms"
cat /tmp/detach.out
detached() {
        [ $rc -eq 0 ] || { cat /tmp/detach.out; return 1; }
        [ "$(systemctl is-active webdemo.service)" != active ] || { echo "still active"; return 1; }
        [ ! -e /etc/systemd/system.attached/webdemo.service ] || { echo "unit file left behind"; return 1; }
        [ ! -e /etc/systemd/system.attached/webdemo.service.d ] || { echo "drop-ins left behind"; return 1; }
        name=$(cat /tmp/dm-name 2>/dev/null)
        i=0
        while [ $i -lt 100 ]; do
                if ! grep -qsx "$name" /sys/block/dm-*/dm/name && [ -z "$(loops_of "$IMG")" ]; then
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        echo "after 10 s: dm devices $(dm_names | tr '\n' ' '); loops over $IMG: $(loops_of "$IMG" | tr '\n' ' ')"
        return 1
}
check "pctl detach --now stops the service, removes its files, the dm-verity and loop devices go" detached
