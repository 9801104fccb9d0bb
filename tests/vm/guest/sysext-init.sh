#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the sysext VM (tests/vm/test-vm-sysext.sh builds the initramfs around it): a busybox
# system on Debian's kernel, where dm-verity exists. Merges a signed extension through graft and
# checks what the kernel did: one line per check on /dev/ttyS1 ("@@ ok NAME", "@@ not ok NAME #
# detail", "@@ info TEXT", "@@ done"), then powers off. /graft/env says where graft's programs
# are and what to expect.
export PATH=/graft/bin:/usr/sbin:/usr/bin
/usr/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
. /graft/report.sh
. /graft/env
export GRAFT_NO_PROGRESS=1 NO_COLOR=1 ASAN_OPTIONS UBSAN_OPTIONS

# busybox sh runs its own applets whatever PATH says, and its date has no %N: coreutils date.
now_ms() { echo $(($(/graft/bin/date +%s%N) / 1000000)); }
finish() {
        echo "@@ done" >&3
        sync
        poweroff -f
}
trap finish EXIT

# Only what image mounting needs besides dm: dm-mod and dm-verity are left to the kernel's
# on-demand loading (through /sbin/modprobe), as on a host.
for m in loop squashfs overlay; do
        modprobe "$m" || info "modprobe $m failed"
done
info "kernel $(uname -r), $(nproc) CPUs"

mkdir -p /etc/verity.d /var/lib/extensions
mount -t tmpfs tmpfs /var/lib/extensions
cp /graft/vmtest.crt /etc/verity.d/vmtest.crt
EXT=/var/lib/extensions
DM_NAME=graft-$ROOT_HASH

# The names of the active dm devices, one per line.
dm_names() { cat /sys/block/dm-*/dm/name 2>/dev/null; }
# The dm-N of the active device called $1.
dm_kname() {
        for d in /sys/block/dm-*; do
                [ "$(cat "$d/dm/name" 2>/dev/null)" = "$1" ] && basename "$d" && return 0
        done
        return 1
}
# Loop devices backed by file $1.
loops_of() {
        for l in /sys/block/loop*; do
                [ "$(cat "$l/loop/backing_file" 2>/dev/null)" = "$1" ] && basename "$l"
        done
}
# Waits up to 5 s for the dm device $1 and the loop devices over file $2 to go away (deferred
# removal runs in a kernel work queue after the last user has gone).
gone_soon() {
        i=0
        while [ $i -lt 50 ]; do
                if ! grep -qsx "$1" /sys/block/dm-*/dm/name && [ -z "$(loops_of "$2")" ]; then
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        echo "still there after 5 s: dm devices: $(dm_names | tr '\n' ' '); loops over $2: $(loops_of "$2" | tr '\n' ' ')"
        return 1
}

# --- the library's activation paths, case by case (tests/vm/test-verity-device.c) -------------
cp /graft/vmext.raw /tmp/vmext-lib.raw
for c in device_open_shares_and_goes_with_last_user wrong_root_hash_fails_reads image_mount_through_dm_verity; do
        check "library: $c" env GRAFT_VM_IMAGE=/tmp/vmext-lib.raw "$TEST_VERITY_DEVICE" "$c"
done
rm -f /tmp/vmext-lib.raw

# --- graft-image verify sees dm-verity -------------------------------------------------------
cp /graft/vmext.raw "$EXT/vmext.raw"
check "graft-image verify finds kernel dm-verity available" sh -c \
        "'$GRAFT_IMAGE' verify '$EXT/vmext.raw' >/tmp/verify.out; cat /tmp/verify.out >&2; grep -q 'dm-verity: available' /tmp/verify.out"

# --- merge -------------------------------------------------------------------------------------
t0=$(now_ms)
"$SEXTCTL" $SEXTCTL_DIRECT -v merge >/tmp/merge.out 2>&1
rc=$?
t1=$(now_ms)
info "sextctl merge (one signed extension, through dm-verity): $((t1 - t0)) ms"
cat /tmp/merge.out

merged_through_dm() {
        grep -q ' /usr .* - overlay sysext ' /proc/self/mountinfo || { echo "no overlay on /usr"; return 1; }
        [ "$(sha256sum /usr/share/vmext/numbers | cut -d' ' -f1)" = "$NUMBERS_SHA256" ] || { echo "numbers differs"; return 1; }
        [ "$(dm_names | grep -c .)" = 1 ] || { echo "dm devices: $(dm_names | tr '\n' ' ')"; return 1; }
        k=$(dm_kname "$DM_NAME") || { echo "no dm device $DM_NAME"; return 1; }
        # Below it: the two loop devices (data, hash tree) over the extension's file.
        slaves=$(ls "/sys/block/$k/slaves" | sort | tr '\n' ' ')
        loops=$(loops_of "$EXT/vmext.raw" | sort | tr '\n' ' ')
        [ -n "$loops" ] && [ "$slaves" = "$loops" ] || { echo "slaves of $k: $slaves; loops over the image: $loops"; return 1; }
        # Held by exactly one user: the squashfs the overlay has as its layer (sextctl is gone).
        open=$(dmsetup info -c --noheadings -o open "$DM_NAME")
        [ "$open" -eq 1 ] || { echo "open count of $DM_NAME: $open"; return 1; }
        echo "$DM_NAME is $k over $slaves, open once"
}
if [ $rc -eq 0 ]; then
        check "signed sysext merges through dm-verity (the overlay's layer is on the graft-ROOTHASH device)" merged_through_dm
else
        not_ok "signed sysext merges through dm-verity" /tmp/merge.out
fi
info "$(grep "Extension 'vmext'" /tmp/merge.out)"
check "sextctl -v says which checks protect the merge" sh -c \
        "grep -E \"Extension 'vmext': dm-verity device $DM_NAME \(/dev/(mapper/$DM_NAME|dm-[0-9]+)\); every read checked by the kernel\" /tmp/merge.out | grep -E 'signature checked (by the kernel|in userspace only)'"

agree() {
        v=$("$GRAFT_IMAGE" verify --json "$EXT/vmext.raw") || { echo "$v"; return 1; }
        case $v in *"\"rootHash\":\"$ROOT_HASH\""*) ;; *) echo "graft-image verify: $v"; return 1 ;; esac
        table=$(dmsetup table "$DM_NAME") || return 1
        set -- $table
        # 0 LEN verity VERSION DATA HASH DBS HBS BLOCKS HASHSTART ALG ROOT SALT …
        [ "$3" = verity ] && [ "${12}" = "$ROOT_HASH" ] || { echo "dm table: $table"; return 1; }
        st=$(veritysetup status "$DM_NAME") || return 1
        [ -n "$(echo "$st" | grep -E "root hash: +$ROOT_HASH")" ] || { echo "veritysetup status: $st"; return 1; }
        echo "root hash $ROOT_HASH in graft-image verify, the dm table and veritysetup status"
}
check "graft-image verify and the kernel agree on the root hash" agree

# --- refresh: the new merge shares the device the old one holds --------------------------------
dev_before=$(cat "/sys/block/$(dm_kname "$DM_NAME")/dev" 2>/dev/null)
t0=$(now_ms)
"$SEXTCTL" $SEXTCTL_DIRECT refresh >/tmp/refresh.out 2>&1
rc=$?
t1=$(now_ms)
info "sextctl refresh (same extension): $((t1 - t0)) ms"
shared() {
        [ $rc -eq 0 ] || { cat /tmp/refresh.out; return 1; }
        [ "$(dm_names | grep -c .)" = 1 ] || { echo "dm devices after refresh: $(dm_names | tr '\n' ' ')"; return 1; }
        dev_after=$(cat "/sys/block/$(dm_kname "$DM_NAME")/dev")
        [ "$dev_after" = "$dev_before" ] || { echo "device $dev_before became $dev_after"; return 1; }
        cat /usr/share/vmext/numbers >/dev/null
}
check "refresh shares the active dm device (one device, same number)" shared

# --- unmerge -------------------------------------------------------------------------------------
t0=$(now_ms)
"$SEXTCTL" $SEXTCTL_DIRECT unmerge >/tmp/unmerge.out 2>&1
rc=$?
t1=$(now_ms)
gone_soon "$DM_NAME" "$EXT/vmext.raw" >/tmp/gone.out 2>&1
gone=$?
t2=$(now_ms)
info "sextctl unmerge: $((t1 - t0)) ms; dm and loop devices gone $((t2 - t1)) ms later"
unmerged() {
        [ $rc -eq 0 ] || { cat /tmp/unmerge.out; return 1; }
        ! grep -q ' /usr .* - overlay sysext ' /proc/self/mountinfo || { echo "overlay still on /usr"; return 1; }
        [ $gone -eq 0 ] || { cat /tmp/gone.out; return 1; }
}
check "unmerge removes the dm device and the loop devices" unmerged

# --- an unsigned image under a signing policy ---------------------------------------------------
mv "$EXT/vmext.raw" /tmp/vmext.raw
cp /graft/unsigned.raw "$EXT/unsigned.raw"
"$SEXTCTL" $SEXTCTL_DIRECT merge >/tmp/unsigned.out 2>&1
rc=$?
refused() {
        cat /tmp/unsigned.out
        [ $rc -ne 0 ] || { echo "merge of an unsigned image succeeded"; return 1; }
        grep -q "unsigned" /tmp/unsigned.out && grep -qiE "sign" /tmp/unsigned.out || return 1
        [ -z "$(dm_names)" ] || { echo "dm devices appeared: $(dm_names | tr '\n' ' ')"; return 1; }
        [ -z "$(loops_of "$EXT/unsigned.raw")" ] || { echo "loop devices appeared"; return 1; }
        ! grep -q ' /usr .* - overlay ' /proc/self/mountinfo || { echo "something was merged"; return 1; }
}
check "an unsigned image under the signing policy is refused before activation (exit $rc, no dm device)" refused
info "$(grep -m1 unsigned /tmp/unsigned.out)"
rm -f "$EXT/unsigned.raw"
mv /tmp/vmext.raw "$EXT/vmext.raw"

# --- a corrupted data block in a merged extension ------------------------------------------------
"$SEXTCTL" $SEXTCTL_DIRECT merge >/tmp/merge2.out 2>&1 || cat /tmp/merge2.out
dmesg -c >/dev/null
# Under the loop device, the file itself: the kernel reads it again after the caches are dropped.
dd if=/graft/corrupt.byte of="$EXT/vmext.raw" bs=1 seek="$CORRUPT_OFFSET" conv=notrunc 2>/dev/null
sync
echo 3 >/proc/sys/vm/drop_caches
corrupted() {
        if cat /usr/share/vmext/blob >/dev/null 2>/tmp/cat.err; then
                echo "the corrupted file reads fine"
                return 1
        fi
        grep -q "Input/output error" /tmp/cat.err || { cat /tmp/cat.err; return 1; }
        [ "$(sha256sum /usr/share/vmext/numbers | cut -d' ' -f1)" = "$NUMBERS_SHA256" ] || { echo "numbers unreadable"; return 1; }
        /usr/bin/vmext >/dev/null || { echo "/usr/bin/vmext unreadable"; return 1; }
        echo "blob: $(cat /tmp/cat.err); numbers and /usr/bin/vmext read fine"
}
check "a corrupted data block fails reads of its file with EIO, other files stay readable" corrupted
kblock=$(dmesg | sed -n 's/.*verity.*: data block \([0-9]*\) is corrupted.*/\1/p' | sed -n 1p)
info "kernel: $(dmesg | grep 'is corrupted' | sed -n 1p)"
"$GRAFT_IMAGE" verify "$EXT/vmext.raw" >/tmp/verify-bad.out 2>&1
vrc=$?
info "graft-image verify: $(grep -m1 'does not match' /tmp/verify-bad.out)"
same_block() {
        [ $vrc -eq 4 ] || { cat /tmp/verify-bad.out; echo "exit $vrc, expected 4"; return 1; }
        [ -n "$kblock" ] || { echo "the kernel reported no corrupted block"; return 1; }
        grep -q "data block $kblock of partition 1 does not match the hash tree" /tmp/verify-bad.out ||
                { cat /tmp/verify-bad.out; echo "kernel: data block $kblock"; return 1; }
}
check "graft-image verify and the kernel name the same corrupted block" same_block
"$SEXTCTL" $SEXTCTL_DIRECT unmerge >/tmp/unmerge2.out 2>&1
check "unmerge of the corrupted extension still removes its devices" gone_soon "$DM_NAME" "$EXT/vmext.raw"

# --- a kernel that requires signatures ---------------------------------------------------------
cp /graft/vmext.raw "$EXT/vmext.raw"
if rmmod dm_verity && modprobe dm_verity require_signatures=1; then
        check "library: required_signatures" env GRAFT_VM_IMAGE="$EXT/vmext.raw" "$TEST_VERITY_DEVICE" required_signatures
        "$SEXTCTL" $SEXTCTL_DIRECT merge >/tmp/required.out 2>&1
        rc=$?
        required() {
                cat /tmp/required.out
                [ $rc -ne 0 ] && grep -q "refused the signature" /tmp/required.out && [ -z "$(dm_names)" ]
        }
        check "with dm_verity.require_signatures the kernel's refusal is reported, nothing merged" required
        info "$(grep -m1 'refused' /tmp/required.out)"
else
        echo "@@ skip required signatures: cannot reload dm_verity with require_signatures=1" >&3
fi
