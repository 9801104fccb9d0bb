#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sextctl and the image library on a kernel with dm-verity: Debian's kernel under qemu (TCG), a
# busybox initramfs holding graft's programs and their libraries, and guest/sysext-init.sh as
# /init. A signed extension merges through a dm-verity device, graft-image verify and the kernel
# agree on the root hash and on a corrupted block, reads of a corrupted block fail with EIO,
# refresh shares the device, unmerge frees it and its loop devices, an unsigned image is refused
# before anything is activated. One TAP line per check (run through tap-run.sh).
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/vm/lib/vm.sh"
skip() { echo "SKIP: $*" >&2; exit 77; }
need openssl python3 cpio depmod modprobe ldd dmsetup veritysetup
SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
TEST_VERITY_DEVICE=$GRAFT_BUILD_DIR/tests/vm/test-verity-device
[[ -x $SEXTCTL && -x $TEST_VERITY_DEVICE ]] || skip "sextctl or test-verity-device is not built"
vm_kernel

# Images: a signed extension, an unsigned one.
make_cert "$T/keys" vmtest
make_sysext_tree "$T/tree" vmext
make_sysext_tree "$T/tree-unsigned" unsigned
mkdir -p "$T/payload"
"$GRAFT_IMAGE" build "$T/tree" -o "$T/payload/vmext.raw" --name vmext --version 1 \
        --key "$T/keys/vmtest.key" --cert "$T/keys/vmtest.crt" >&2 || fail "cannot build the signed extension"
"$GRAFT_IMAGE" build "$T/tree-unsigned" -o "$T/payload/unsigned.raw" --name unsigned --version 1 >&2 ||
        fail "cannot build the unsigned extension"
cp "$T/keys/vmtest.crt" "$T/payload/"
cp "$GRAFT_SOURCE_DIR/tests/vm/guest/report.sh" "$T/payload/"
mkdir -p "$T/trust/etc/verity.d"
cp "$T/keys/vmtest.crt" "$T/trust/etc/verity.d/"
root_hash=$("$GRAFT_IMAGE" verify --json --root "$T/trust" "$T/payload/vmext.raw" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["rootHash"])') || fail "cannot read the root hash"

# Where a byte of blob's second 4 KiB lies in the image (random data: squashfs stores it as is),
# and that byte inverted.
read -r offset byte < <(python3 - "$T/payload/vmext.raw" "$T/tree/usr/share/vmext/blob" <<'PY'
import sys
img = open(sys.argv[1], "rb").read()
blob = open(sys.argv[2], "rb").read()
at = img.find(blob[4096:8192])
if at < 0 or img.find(blob[4096:8192], at + 1) >= 0:
    sys.exit("blob's second 4 KiB is not stored exactly once, uncompressed, in the image")
print(at + 100, img[at + 100] ^ 0xff)
PY
) || fail "cannot find blob's data in the image"
printf "$(printf '\\%03o' "$byte")" >"$T/payload/corrupt.byte"

sextctl_direct=
grep -q -- '--direct' <<<"$("$SEXTCTL" --help)" && sextctl_direct=--direct
cat >"$T/payload/env" <<EOF
GRAFT_IMAGE=/graft/bin/graft-image
SEXTCTL=/graft/bin/sextctl
SEXTCTL_DIRECT=$sextctl_direct
TEST_VERITY_DEVICE=/graft/bin/test-verity-device
ROOT_HASH=$root_hash
NUMBERS_SHA256=$(sha256sum "$T/tree/usr/share/vmext/numbers" | cut -d' ' -f1)
CORRUPT_OFFSET=$offset
ASAN_OPTIONS=${ASAN_OPTIONS:-}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-}
EOF

# The initramfs.
start=$(date +%s%N)
S=$T/initramfs
vm_stage "$S"
vm_stage_modules "$S" dm-verity loop squashfs overlay
cp -r "$T/payload" "$S/graft"
vm_stage_binary "$S" "$GRAFT_IMAGE" "$SEXTCTL" "$TEST_VERITY_DEVICE" "$(command -v dmsetup)" \
        "$(command -v veritysetup)" "$(command -v date)" # coreutils' date: busybox's has no %N
cp "$GRAFT_SOURCE_DIR/tests/vm/guest/sysext-init.sh" "$S/init"
chmod 755 "$S/init"
vm_pack "$S" "$T/initrd.cpio"
echo "initramfs: $(du -h "$T/initrd.cpio" | cut -f1) in $((($(date +%s%N) - start) / 1000000)) ms" >&2

vm_boot "$T/initrd.cpio" "$T/console.log" "$T/results.log" 600 \
        -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init"
echo "VM run (boot, checks, power off): $VM_BOOT_SECONDS s" >&2
echo "# VM run (boot, checks, power off): $VM_BOOT_SECONDS s" >&3
rc=0
vm_results_to_tap "$T/results.log" || rc=$?
if ((rc)); then
        echo "---- console:" >&2
        tr -d '\r' <"$T/console.log" | tail -n 150 >&2
fi
exit 0
