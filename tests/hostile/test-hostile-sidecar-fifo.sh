#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A FIFO (or socket, or device node) in the place of a sidecar file next to a bare squashfs:
# NAME.verity, NAME.roothash, NAME.roothash.p7s. Opening a FIFO that nobody writes blocks for
# good: before the fix it hung `graft-image verify` and the whole `sextctl merge` (at boot, before
# sysinit.target). Now each is refused at once by name as a bad image, a merge takes the good
# images, names the bad ones and exits 9, and nothing else changes.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
source "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
need mksquashfs

ext=$R/var/lib/extensions
policy='root=verity+signed+unprotected+absent:usr=verity+signed+unprotected+absent'
squash_ext() { # squash_ext NAME: a bare squashfs extension $ext/NAME.raw
        mkdir -p "$T/ext-$1/usr/lib/extension-release.d" "$T/ext-$1/usr/share/$1"
        printf 'ID=debian\nVERSION_ID=12\n' >"$T/ext-$1/usr/lib/extension-release.d/extension-release.$1"
        echo "$1" >"$T/ext-$1/usr/share/$1/file"
        mksquashfs "$T/ext-$1" "$ext/$1.raw" -quiet -noappend -all-root >/dev/null
}

squash_ext good1
squash_ext good2
squash_ext vfifo && mkfifo "$ext/vfifo.verity"
squash_ext hfifo && mkfifo "$ext/hfifo.roothash"
squash_ext sfifo && mkfifo "$ext/sfifo.roothash.p7s"
squash_ext vsock && python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$ext/vsock.verity"
squash_ext vzero && mknod "$ext/vzero.verity" c 1 5 # /dev/zero: endless, and opening a device is an action
squash_ext hlink && ln -s /dev/zero "$ext/hlink.roothash"
# A directory extension whose release file is a FIFO.
mkdir -p "$ext/dirfifo/usr/lib/extension-release.d" "$ext/dirfifo/usr/share/dirfifo"
mkfifo "$ext/dirfifo/usr/lib/extension-release.d/extension-release.dirfifo"

# graft-image verify: ends at once, names the file and what it is, exit 3 (bad image).
check_verify() { # check_verify NAME SIDECAR WHAT
        local start=$SECONDS
        run_expect 3 "$ext/$2 is $3, not a regular file" with_timeout 10 "$GRAFT_IMAGE" verify "$ext/$1.raw"
        ((SECONDS - start <= 3)) || fail "graft-image verify $1 took $((SECONDS - start)) s"
}
check_verify vfifo vfifo.verity "a FIFO"
check_verify hfifo hfifo.roothash "a FIFO"
check_verify sfifo sfifo.roothash.p7s "a FIFO"
check_verify vsock vsock.verity "a socket"
check_verify vzero vzero.verity "a character device"
check_verify hlink hlink.roothash "a character device"
run_expect 3 "is a FIFO, not a regular file" with_timeout 10 "$GRAFT_IMAGE" inspect "$ext/vfifo.raw"

# sextctl --root merge: the good ones merged, every bad one named, exit 9, within seconds.
images_before=$(tree_state "$ext")
start=$SECONDS
run_expect 9 "" with_timeout 20 "$SEXTCTL" --root="$R" --image-policy="$policy" merge
((SECONDS - start <= 5)) || fail "sextctl merge took $((SECONDS - start)) s"
for b in vfifo:vfifo.verity hfifo:hfifo.roothash sfifo:sfifo.roothash.p7s vsock:vsock.verity vzero:vzero.verity; do
        assert_contains "$O/err" "$ext/${b#*:} is a"
done
assert_contains "$O/err" "/usr/lib/extension-release.d/extension-release.dirfifo is a FIFO, not a regular file"
assert_eq "$(cat "$R/usr/share/good1/file")" good1
assert_eq "$(cat "$R/usr/share/good2/file")" good2
[[ ! -e $R/usr/share/vfifo ]] || fail "the image with a FIFO as its hash tree was merged"
run_expect 0 "" with_timeout 20 "$SEXTCTL" --root="$R" unmerge
assert_eq "$(tree_state "$ext")" "$images_before" "the images and their sidecars"
! mountpoint -q "$R/usr" || fail "$R/usr is still merged"

# Through graftd (the staging directory the first merge made is there now: the state to keep): the merge is answered (partial), graftd stays responsive, nothing is left.
snap=$T/host.snap
host_snapshot "$snap"
bus_start
graftd_start
out=$(with_timeout 20 busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Extensions1 Merge sts \
        sysext 0 "$policy") || fail "Merge through graftd failed"
[[ $out == *good1* && $out == *vfifo.verity* ]] || fail "Merge reply lacks the merged or the refused image: $out"
assert_responsive
run_expect 0 "" with_timeout 20 "$SEXTCTL" --root="$R" unmerge
assert_host_unchanged "$snap"
graftd_stop
