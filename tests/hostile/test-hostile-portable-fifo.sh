#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A FIFO, socket or character device where a portable image, the trust store or a profile should
# have a regular file: etc/os-release or a unit file of a directory image in the search directory,
# a unit file inside a signed squashfs, a certificate in etc/verity.d, a profile's service.conf.
# Before the fix a FIFO as etc/os-release hung graftd's workers one by one until none was left.
# Now pctl --root and graftd refuse each at once by name, graftd stays responsive, and nothing
# changes on the host.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"

P=$R/var/lib/portables
SP=/var/lib/portables # how pctl --root names it
E=org.graft.Error
mknode() { # mknode KIND PATH: a FIFO, a socket or /dev/zero's device node at PATH
        case $1 in
        fifo) mkfifo "$2" ;;
        socket) python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$2" ;;
        chr) mknod "$2" c 1 5 ;;
        esac
}
declare -A what=([fifo]="a FIFO" [socket]="a socket" [chr]="a character device")

# Directory images: os-release as each kind of node, and a unit file that is a FIFO.
for k in fifo socket chr; do
        make_portable_tree "$P/rel$k" "rel$k"
        rm "$P/rel$k/etc/os-release" "$P/rel$k/usr/lib/os-release"
        mknode $k "$P/rel$k/etc/os-release"
done
make_portable_tree "$P/unitfifo" unitfifo
rm "$P/unitfifo/usr/lib/systemd/system/unitfifo.service"
mkfifo "$P/unitfifo/usr/lib/systemd/system/unitfifo.service"
# A signed image whose unit is a FIFO inode of its squashfs: passes the host's policy, so that
# even an unprivileged caller reaches it.
make_portable_tree "$T/src-sqfifo" sqfifo
rm "$T/src-sqfifo/usr/lib/systemd/system/sqfifo.socket"
mkfifo "$T/src-sqfifo/usr/lib/systemd/system/sqfifo.socket"
portable_image sqfifo
portable_image demo

snap=$T/host.snap
host_snapshot "$snap"

# expect_refused CODE NEEDLE ARGS…: pctl --root refuses at once (within 5 s) with that message.
expect_refused() {
        local code=$1 needle=$2 start=$SECONDS
        shift 2
        run_expect "$code" "$needle" with_timeout 10 "$PCTL" --root="$R" "$@"
        ((SECONDS - start <= 5)) || fail "pctl $* took $((SECONDS - start)) s"
}

for k in fifo socket chr; do
        msg="$SP/rel$k: /etc/os-release is ${what[$k]}, not a regular file"
        expect_refused 3 "$msg" --image-policy='*' inspect "rel$k"
        expect_refused 3 "$msg" --image-policy='*' attach "rel$k"
done
msg="unit unitfifo.service in image $SP/unitfifo: /usr/lib/systemd/system/unitfifo.service is a FIFO, not a regular file"
expect_refused 3 "$msg" --image-policy='*' attach unitfifo
expect_refused 3 "$msg" --image-policy='*' attach --copy=symlink unitfifo
sqmsg="squashfs path /usr/lib/systemd/system/sqfifo.socket is a FIFO, not a regular file"
expect_refused 3 "$sqmsg" attach sqfifo
assert_host_unchanged "$snap"

# A FIFO as a trusted certificate: refused by name (exit 5), before any image is looked at.
mkfifo "$R/etc/verity.d/x.crt"
expect_refused 5 "trusted certificate $R/etc/verity.d/x.crt is a FIFO, not a regular file" inspect demo
run_expect 5 "trusted certificate $R/etc/verity.d/x.crt is a FIFO" \
        with_timeout 10 "$GRAFT_IMAGE" verify --root="$R" "$P/demo.raw"
rm "$R/etc/verity.d/x.crt"

# A FIFO as a profile's file, by name and by path.
mkdir -p "$R/etc/graft/profiles/pfifo" "$T/pdir"
mkfifo "$R/etc/graft/profiles/pfifo/service.conf" "$T/pdir/service.conf" "$T/pfile"
snap2=$T/host2.snap
host_snapshot "$snap2"
expect_refused 1 "$R/etc/graft/profiles/pfifo/service.conf is a FIFO, not a regular file" --profile=pfifo attach demo
expect_refused 1 "$T/pdir/service.conf is a FIFO, not a regular file" --profile="$T/pdir" attach demo
expect_refused 2 "profile $T/pfile is neither a file nor a directory" --profile="$T/pfile" attach demo
assert_host_unchanged "$snap2"
rm -r "$R/etc/graft"
assert_host_unchanged "$snap"

# graftd: the same refusals, as root and, for what is within its reach, as nobody; still answering.
bus_start
graftd_start
for k in fifo socket chr; do
        for m in GetImageMetadata AttachImage; do
                gcall_error $E.BadImage "/etc/os-release is ${what[$k]}, not a regular file" \
                        Manager1.$m "rel$k" "@as []" "" "" 0 "@as []" "*"
        done
done
gcall_error $E.BadImage "unitfifo.service is a FIFO, not a regular file" \
        Manager1.AttachImage unitfifo "@as []" "" "" 0 "@as []" "*"
gcall_error $E.BadImage "$sqmsg" Manager1.AttachImage sqfifo "@as []" "" "" 0 "@as []" ""
out=$(as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Manager1.GetImageMetadata sqfifo "@as []" "" "" 0 "@as []" "" 2>&1) &&
        fail "GetImageMetadata of sqfifo succeeded for nobody: $out"
[[ $out == *"$sqmsg"* ]] || fail "GetImageMetadata of sqfifo for nobody: $out"
# Many at once from nobody: none hangs a worker.
pids=()
for i in $(seq 1 24); do
        as_nobody timeout 20 gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
                --method org.graft.Manager1.GetImageMetadata sqfifo "@as []" "" "" 0 "@as []" "" >/dev/null 2>&1 &
        pids+=($!)
done
assert_responsive 5
for p in "${pids[@]}"; do
        rc=0
        wait "$p" || rc=$?
        [[ $rc -ne 124 ]] || fail "a GetImageMetadata of nobody's was not answered within 20 s"
done
graftd_idle
assert_responsive
assert_host_unchanged "$snap"
graftd_stop
