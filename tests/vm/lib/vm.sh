# SPDX-License-Identifier: LGPL-2.1-or-later
# The VM tier: Debian's kernel (it has dm-verity, which the host's kernel may lack) booted under
# qemu with TCG (no KVM needed), with a small initramfs built here. Source tests/lib/lib.sh first,
# then this file.
#
#   vm_kernel                       # sets VM_KVER, VM_VMLINUZ (or skips with the reason)
#   vm_stage DIR                    # busybox, merged-/usr layout, /etc/os-release of Debian 12
#   vm_stage_modules DIR MOD…       # the modules and their dependencies, depmod'ed
#   vm_stage_binary DIR PATH…       # programs (in /graft/bin) and their shared libraries
#   vm_pack DIR OUT                 # newc cpio (uncompressed: unpacking is faster than gunzip)
#   vm_boot INITRD LOG RESULTS TIMEOUT [QEMU_ARGS…]
#                                   # boots; the console goes to LOG, what the guest writes to
#                                   # /dev/ttyS1 to RESULTS; returns when the guest powers off
#                                   # (a guest silent for VM_FIRST_WORD s is booted once more)
#   vm_results_to_tap RESULTS       # "@@ ok NAME", "@@ not ok NAME # detail", "@@ skip NAME:
#                                   # reason", "@@ info TEXT", "@@ done" lines of the guest, as
#                                   # TAP on fd 3 (see tap-run.sh)
#
# The guest prints one line per check on /dev/ttyS1 (not the console: kernel messages such as
# dm-verity's corruption reports would interleave with it). GRAFT_VM_KERNEL and GRAFT_VM_KVER
# choose another kernel; GRAFT_VM_QEMU another qemu-system-x86_64.

VM_QEMU=${GRAFT_VM_QEMU:-qemu-system-x86_64}
VM_KVER=
VM_VMLINUZ=
VM_BOOT_SECONDS=
# A guest writes its first line to RESULTS within 5–30 s of boot here. Under TCG a boot has been
# seen to hang once in a few dozen without a word on either serial port (cause not found: the
# same image booted at once the next time); after this many seconds of silence the VM is killed
# and booted once more, and the test's output says so.
VM_FIRST_WORD=${GRAFT_VM_FIRST_WORD:-180}

# The newest installed Debian kernel whose modules include dm-verity.
vm_kernel() {
        local v k
        command -v "$VM_QEMU" >/dev/null || skip "$VM_QEMU is not installed (package qemu-system-x86; tools/install-deps installs it)"
        command -v busybox >/dev/null || skip "busybox is not installed (package busybox-static)"
        if [[ -n ${GRAFT_VM_KERNEL:-} ]]; then
                VM_VMLINUZ=$GRAFT_VM_KERNEL
                VM_KVER=${GRAFT_VM_KVER:?GRAFT_VM_KERNEL needs GRAFT_VM_KVER}
        else
                for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
                        v=${k#/boot/vmlinuz-}
                        if [[ -f /lib/modules/$v/modules.dep ]] && grep -q '/dm-verity\.ko' "/lib/modules/$v/modules.dep"; then
                                VM_KVER=$v
                                VM_VMLINUZ=$k
                                break
                        fi
                done
        fi
        [[ -n $VM_KVER ]] || skip "no kernel with dm-verity modules in /boot and /lib/modules (package linux-image-amd64; tools/install-deps installs it)"
        [[ -r $VM_VMLINUZ ]] || skip "cannot read $VM_VMLINUZ"
}

vm_stage() {
        local d=$1
        mkdir -p "$d"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,etc,proc,sys,dev,run,tmp,var/tmp,mnt,root}
        ln -sfn usr/bin "$d/bin"
        ln -sfn usr/sbin "$d/sbin"
        ln -sfn usr/lib "$d/lib"
        ln -sfn usr/lib64 "$d/lib64"
        cp "$(command -v busybox)" "$d/usr/bin/busybox"
        ln -sfn busybox "$d/usr/bin/sh"
        printf 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="graft VM tier"\n' >"$d/etc/os-release"
        chmod 1777 "$d/tmp" "$d/var/tmp"
}

vm_stage_modules() {
        local d=$1 m f
        shift
        mkdir -p "$d/lib/modules/$VM_KVER"
        # -a: every argument is a module (without it the rest would be parameters of the first).
        while read -r _ f _; do
                [[ -n $f ]] || continue
                m=${f#/lib/modules/$VM_KVER/}
                mkdir -p "$d/lib/modules/$VM_KVER/$(dirname "$m")"
                cp "$f" "$d/lib/modules/$VM_KVER/$m"
        done < <(modprobe -S "$VM_KVER" -a --show-depends "$@" | grep '^insmod ')
        for f in modules.builtin modules.builtin.modinfo modules.order; do
                [[ -f /lib/modules/$VM_KVER/$f ]] && cp "/lib/modules/$VM_KVER/$f" "$d/lib/modules/$VM_KVER/"
        done
        depmod -b "$d" "$VM_KVER" 2>/dev/null || fail "depmod -b $d $VM_KVER failed"
}

# Copies each program to /graft/bin (not at its own path: a build directory below /tmp would be
# hidden by the guest's tmpfs) and what ldd says it loads, at the same paths (usr-merged: /lib →
# usr/lib).
vm_stage_binary() {
        local d=$1 f lib
        shift
        mkdir -p "$d/graft/bin"
        for f in "$@"; do
                [[ -e $f ]] || fail "vm_stage_binary: $f does not exist"
                cp -L "$f" "$d/graft/bin/"
                while read -r lib; do
                        [[ -e $d/$lib ]] && continue
                        mkdir -p "$d/$(dirname "$lib")"
                        cp -L "$lib" "$d/$lib"
                done < <(ldd "$f" 2>/dev/null | grep -oE '(/[^ ]+) \(0x' | cut -d' ' -f1)
        done
}

vm_pack() {
        (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$2" ||
                fail "cannot pack the initramfs $2"
}

# vm_boot INITRD LOG RESULTS TIMEOUT [QEMU_ARGS…]: q35 under TCG, 2 CPUs, 1 GiB. Fails the test
# when qemu cannot start, or when the guest has not powered off within TIMEOUT seconds (the end
# of the console is shown).
# One boot: 0 when the guest powered off, 124 when TIMEOUT passed, 75 when the guest said nothing
# on RESULTS for VM_FIRST_WORD s (qemu is killed then), another status when qemu failed.
vm_boot_once() {
        local initrd=$1 log=$2 results=$3 timeout=$4 pid rc=0 waited=0
        shift 4
        : >"$results"
        timeout --kill-after=10 "$timeout" "$VM_QEMU" -machine q35,accel=tcg -cpu max -smp 2 -m 1024 \
                -nodefaults -no-reboot -display none -monitor none \
                -serial "file:$log" -serial "file:$results" \
                -kernel "$VM_VMLINUZ" -initrd "$initrd" "$@" </dev/null >"$log.qemu" 2>&1 &
        pid=$!
        while kill -0 "$pid" 2>/dev/null && [[ ! -s $results ]] && ((waited < VM_FIRST_WORD)); do
                sleep 1
                waited=$((waited + 1))
        done
        if [[ ! -s $results ]] && kill -0 "$pid" 2>/dev/null; then
                pkill -KILL -P "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
                return 75
        fi
        wait "$pid" || rc=$?
        return $rc
}

vm_boot() {
        local initrd=$1 log=$2 results=$3 timeout=$4 rc=0 start
        shift 4
        start=$(date +%s%N)
        vm_boot_once "$initrd" "$log" "$results" "$timeout" "$@" || rc=$?
        if [[ $rc -eq 75 ]]; then
                echo "vm: the guest said nothing in $VM_FIRST_WORD s; its console ended with:" >&2
                tail -n 15 "$log" | tr -d '\r' >&2
                echo "vm: booting it once more" >&2
                rc=0
                vm_boot_once "$initrd" "$log" "$results" "$timeout" "$@" || rc=$?
        fi
        VM_BOOT_SECONDS=$(( ($(date +%s%N) - start) / 1000000 ))
        VM_BOOT_SECONDS=$((VM_BOOT_SECONDS / 1000)).$(printf '%03d' $((VM_BOOT_SECONDS % 1000)))
        if [[ $rc -eq 124 || $rc -eq 137 || $rc -eq 75 ]]; then
                tail -n 40 "$log" | tr -d '\r' >&2
                [[ $rc -eq 75 ]] && fail "the VM said nothing in $VM_FIRST_WORD s, twice"
                fail "the VM did not power off within $timeout s"
        fi
        if [[ $rc -ne 0 ]]; then
                cat "$log.qemu" >&2
                # qemu itself could not run here (no TCG, no memory): not graft's failure.
                skip "$VM_QEMU failed to start (exit $rc): $(tail -n 1 "$log.qemu")"
        fi
}

# Turns the guest's result lines into TAP lines on fd 3 (tap-run.sh numbers them) and its info
# lines into comments; fails when the guest never said "done" (it crashed or hung half way), so a
# check that did not run can never pass.
vm_results_to_tap() {
        local results=$1 line n=0 done=0 failed=0
        while IFS= read -r line; do
                case $line in
                "@@ ok "*) n=$((n + 1)); echo "ok - ${line#@@ ok }" >&3 ;;
                "@@ not ok "*) n=$((n + 1)); failed=1; echo "not ok - ${line#@@ not ok }" >&3 ;;
                "@@ skip "*) n=$((n + 1)); line=${line#@@ skip }; echo "ok - ${line%%: *} # SKIP ${line#*: }" >&3 ;;
                "@@ info "*) echo "# ${line#@@ info }" >&3; echo "${line#@@ info }" >&2 ;;
                "@@ done") done=1 ;;
                esac
        done < <(tr -d '\r' <"$results")
        if ((!done)); then
                echo "not ok - the guest ran every check (it stopped after $n; see the console log above)" >&3
                failed=1
        fi
        return $failed
}

# --- the full-systemd VM -------------------------------------------------------------------------
# A Debian root with systemd and udev (tests/e2e/lib/nspawn.sh builds and caches the debootstrap
# tree; source it too), the kernel's modules for images added, written into an ext4 image and
# cached next to it: vm_systemd_root prints the image's path. The VM boots it read-write over a
# snapshot (qemu's snapshot=on: the cached image never changes) through a small initramfs
# (vm_systemd_initramfs OUT) that loads virtio and ext4 and switches to /sbin/init. The root has
# graft-vm-test.service: when the system is up it mounts the second disk (/dev/vdb, the payload:
# vm_payload_disk DIR OUT) on /graft, runs /graft/guest.sh and powers off, whatever happens.
VM_ROOT_RECIPE=1 # bump when what vm_systemd_root adds to the root changes
VM_ROOT_MODULES=(dm-verity loop squashfs overlay erofs ext4 virtio_blk virtio_pci)

vm_systemd_root() {
        local tree key img build
        tree=$(GRAFT_E2E_EXTRA_PACKAGES="udev kmod ${GRAFT_E2E_EXTRA_PACKAGES:-}" nspawn_root) || exit $?
        key=$(printf '%s %s %s %s' "$tree" "$VM_KVER" "$VM_ROOT_RECIPE" "${VM_ROOT_MODULES[*]}" | sha256sum | cut -c1-12)
        img=$NSPAWN_CACHE/vm/systemd-root-$key.ext4
        mkdir -p "$NSPAWN_CACHE/vm" || skip "cannot create $NSPAWN_CACHE/vm"
        exec {VM_LOCK_FD}>"$NSPAWN_CACHE/vm/.lock"
        flock "$VM_LOCK_FD"
        if [[ ! -s $img ]]; then
                echo "vm: writing the systemd root for kernel $VM_KVER into $img (once)" >&2
                build=$(mktemp -d "$NSPAWN_CACHE/vm/.build-XXXXXX")
                cp -a "$tree" "$build/root" || fail "cannot copy $tree"
                vm_systemd_root_prepare "$build/root"
                mkfs.ext4 -q -F -L graft-vm-root -d "$build/root" "$build/root.ext4" 2G >&2 ||
                        { rm -rf "$build"; fail "mkfs.ext4 -d failed"; }
                mv "$build/root.ext4" "$img"
                rm -rf "$build"
        fi
        exec {VM_LOCK_FD}>&-
        echo "$img"
}

vm_systemd_root_prepare() {
        local r=$1 u
        vm_stage_modules "$r" "${VM_ROOT_MODULES[@]}"
        : >"$r/etc/fstab"
        rm -f "$r/.graft-root-complete"
        echo graft-vm >"$r/etc/hostname"
        # Nothing to log in on: the serial console stays the kernel's.
        for u in serial-getty@.service getty@.service console-getty.service; do
                ln -sfn /dev/null "$r/etc/systemd/system/$u"
        done
        mkdir -p "$r/graft" "$r/etc/systemd/system/multi-user.target.wants"
        cat >"$r/etc/systemd/system/graft-vm-test.service" <<'UNIT'
[Unit]
Description=graft VM test
After=basic.target dbus.service systemd-udevd.service systemd-udev-trigger.service
Wants=dbus.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mount -o ro /dev/vdb /graft && exec /bin/sh /graft/guest.sh'
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
        ln -sfn ../graft-vm-test.service "$r/etc/systemd/system/multi-user.target.wants/graft-vm-test.service"
}

vm_systemd_initramfs() {
        local out=$1 s
        s=$(mktemp -d "$T/initramfs-XXXXXX")
        vm_stage "$s"
        vm_stage_modules "$s" virtio_pci virtio_blk ext4
        cat >"$s/init" <<'INIT'
#!/bin/sh
/usr/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_pci virtio_blk ext4; do modprobe $m; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /newroot
mount -o rw /dev/vda /newroot || { echo "cannot mount /dev/vda"; poweroff -f; }
echo "graft-vm: initramfs done, starting systemd"
umount /proc /sys
exec switch_root /newroot /sbin/init
INIT
        chmod 755 "$s/init"
        vm_pack "$s" "$out"
}

vm_payload_disk() {
        mkfs.ext4 -q -F -L graft-payload -d "$1" "$2" 256M >&2 || fail "cannot write the payload disk"
}
