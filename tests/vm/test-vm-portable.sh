#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pctl against a full systemd 252 on a kernel with dm-verity: a debootstrap root (built once and
# cached, see tests/vm/lib/vm.sh) booted under qemu (TCG, ≈40 s), where pctl attach --now runs the
# signed example portable service from its GPT image. systemd opens RootImage= itself, through
# dm-verity from the image's verity and signature partitions; the checks look at the service's
# root device, and that pctl detach --now leaves no unit file, dm device or loop device behind.
# One TAP line per check (run through tap-run.sh).
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
. "$GRAFT_SOURCE_DIR/tests/vm/lib/vm.sh"
trap - EXIT
trap cleanup EXIT # no container to stop here: only lib.sh's cleanup
skip() { echo "SKIP: $*" >&2; exit 77; }
need python3 cpio depmod modprobe ldd mkfs.ext4 unsquashfs sfdisk
PCTL=$GRAFT_BUILD_DIR/portable/pctl
[[ -x $PCTL ]] || skip "pctl is not built"
vm_kernel

examples=$(example_images)
img=$(vm_systemd_root)
start=$(date +%s%N)

# The payload disk: pctl and what it needs, the example image and its certificate, the script.
P=$T/payload
mkdir -p "$P"
# Only pctl itself: its libraries come from the Debian root (the same release as this host).
install -D "$PCTL" "$P/bin/pctl"
cp "$examples/webdemo.raw" "$P/webdemo.raw"
cp "$examples/keys/example.crt" "$P/example.crt"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$P/profiles"
rm -f "$P/profiles/meson.build"
example_data_partition "$examples/webdemo.raw" "$T/data.raw"
unsquashfs -q -d "$T/page" "$T/data.raw" usr/share/webdemo/www/index.html >/dev/null ||
        fail "cannot read the example's page"
cp "$T/page/usr/share/webdemo/www/index.html" "$P/index.html"
cp "$GRAFT_SOURCE_DIR/tests/vm/guest/portable-test.sh" "$P/guest.sh"
cp "$GRAFT_SOURCE_DIR/tests/vm/guest/report.sh" "$P/report.sh"
root_hash=$("$GRAFT_IMAGE" inspect --json=short "$examples/webdemo.raw" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["rootHash"])') || fail "cannot read the root hash"
pctl_direct=
grep -q -- '--direct' <<<"$("$PCTL" --help)" && pctl_direct=--direct
cat >"$P/env" <<ENV
PCTL=/graft/bin/pctl
PCTL_DIRECT=$pctl_direct
ROOT_HASH=$root_hash
ASAN_OPTIONS=${ASAN_OPTIONS:-}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-}
ENV
vm_payload_disk "$P" "$T/payload.ext4"
vm_systemd_initramfs "$T/initrd.cpio"
echo "payload and initramfs: $((($(date +%s%N) - start) / 1000000)) ms" >&2

vm_boot "$T/initrd.cpio" "$T/console.log" "$T/results.log" 900 \
        -drive "file=$img,if=virtio,format=raw,snapshot=on" \
        -drive "file=$T/payload.ext4,if=virtio,format=raw,readonly=on" \
        -append "console=ttyS0 panic=-1 loglevel=6 systemd.show_status=1 rdinit=/init"
echo "VM run (boot systemd, checks, power off): $VM_BOOT_SECONDS s" >&2
echo "# VM run (boot systemd, checks, power off): $VM_BOOT_SECONDS s" >&3
if ! vm_results_to_tap "$T/results.log"; then
        echo "---- console:" >&2
        tr -d '\r' <"$T/console.log" | tail -n 150 >&2
fi
exit 0
