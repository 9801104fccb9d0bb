#!/bin/bash
# Benchmark: attach of a 1 GiB portable image through graftd, the first time (graftd hashes
# every block) and the second time (its verification cache knows the image), against pctl
# --direct (in-process: hashes every time) and portablectl (systemd-portabled, which does not
# hash the image in userspace at all), in the same nspawn-booted Debian (systemd 252), on the same
# image file, in the same run. Prints medians of RUNS cycles (wall time of the command, and for
# graftd its own time from its log) and the ratios. Not part of the test suite. Run as root:
#   tests/bench/bench-graftd.sh [RUNS=5] [SIZE_MIB=1024]
# GRAFT_BUILD_DIR (default: build, built with tools/build when graftd is missing there).
#
# The image is a bare squashfs (uncompressed, random data) with a .verity hash tree and a
# .roothash next to it; portablectl gets a hard link to the same file in a directory without the
# sidecars (systemd would otherwise want dm-verity, which this kernel lacks). No --now: systemd
# could not start a unit from it here for the same reason; the attach itself is what is measured.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-5}
size=${2:-1024}
export GRAFT_SOURCE_DIR=$repo
# Absolute: the container binds it at the same path.
export GRAFT_BUILD_DIR=$(realpath -m "${GRAFT_BUILD_DIR:-$repo/build}")
if [[ ! -x $GRAFT_BUILD_DIR/daemon/graftd && -z ${GRAFT_TEST_IN_NAMESPACE:-} ]]; then
        "$repo/tools/build" "$GRAFT_BUILD_DIR" >/dev/null
fi
. "$repo/tests/lib/lib.sh"
. "$repo/tests/e2e/lib/nspawn.sh"
need mksquashfs veritysetup bc
PCTL=$GRAFT_BUILD_DIR/portable/pctl
GRAFTD=$GRAFT_BUILD_DIR/daemon/graftd

# The image, made on this side, bound into the container.
I=$T/img
mkdir -p "$I/pc" "$T/src/usr/lib/systemd/system" "$T/src/etc"
printf 'ID=graft-bench\nVERSION_ID=1\n' >"$T/src/usr/lib/os-release"
printf '[Service]\nExecStart=/usr/bin/true\n' >"$T/src/usr/lib/systemd/system/big.service"
head -c "${size}M" /dev/urandom >"$T/src/blob"
mksquashfs "$T/src" "$I/big.raw" -quiet -noappend -all-root -noI -noD -noF -noX >/dev/null
rm "$T/src/blob"
veritysetup format "$I/big.raw" "$I/big.verity" | awk '/^Root hash:/ { print $3 }' >"$I/big.roothash"
ln "$I/big.raw" "$I/pc/big.raw"
echo "image: $(du -m "$I/big.raw" | cut -f1) MiB squashfs + $(du -k "$I/big.verity" | cut -f1) KiB hash tree"

root=$(nspawn_root)
nspawn_boot "$root" graft-bench-graftd --bind-ro="$GRAFT_BUILD_DIR" --bind="$I:/srv/img"
CR=/proc/$NSPAWN_LEADER/root
C() { nspawn_run "$@"; }
cp "$repo/daemon/org.graft.Manager1.conf" "$CR/usr/share/dbus-1/system.d/"
cp "$GRAFT_BUILD_DIR/daemon/org.graft.Manager1.service" "$CR/usr/share/dbus-1/system-services/"
sed "s|^ExecStart=.*|ExecStart=$GRAFTD --idle-timeout=0|" "$GRAFT_BUILD_DIR/daemon/graftd.service" \
        >"$CR/etc/systemd/system/graftd.service"
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables"
cp -r "$repo/profiles" "$CR/usr/lib/graft/profiles"
C systemctl daemon-reload
C busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig

ms() { # CMD…: wall time in ms of a command run in the container
        local s e
        s=$(date +%s%N)
        C "$@" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "$* failed"; }
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
}
graftd_ms() { # graftd's own time for its last AttachImage
        C journalctl -u graftd.service -o cat --no-pager | sed -n 's/^AttachImage .* done in \([0-9]*\) ms.*/\1/p' | tail -n1
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
G=/srv/img/big.raw
PC=/srv/img/pc/big.raw

# Warm up: graftd activated, portabled started, page cache filled; each tool really attaches.
C "$PCTL" attach "$G" >/dev/null
[[ $(C "$PCTL" is-attached "$G") == attached ]] || fail "pctl attach through graftd did not attach"
C "$PCTL" detach "$G" >/dev/null 2>&1
[[ $(C systemctl is-active graftd.service) == active ]] || fail "graftd is not running"
C portablectl attach "$PC" >/dev/null 2>&1 || { C portablectl attach "$PC"; fail "portablectl attach failed"; }
[[ $(C portablectl is-attached "$PC") == attached ]] || fail "portablectl attach did not attach"
C portablectl detach "$PC" >/dev/null 2>&1

: >"$T/first" && : >"$T/second" && : >"$T/direct" && : >"$T/portablectl"
for ((i = 0; i < runs; i++)); do
        touch "$I/big.raw" && sleep 1.1 # changed: graftd must hash it again (once)
        a=$(ms "$PCTL" attach "$G") && g=$(graftd_ms) && C "$PCTL" detach "$G" >/dev/null 2>&1
        echo "$a $g" >>"$T/first"
        a=$(ms "$PCTL" attach "$G") && g=$(graftd_ms) && C "$PCTL" detach "$G" >/dev/null 2>&1
        echo "$a $g" >>"$T/second"
        a=$(ms "$PCTL" --direct attach "$G") && C "$PCTL" --direct detach "$G" >/dev/null 2>&1
        echo "$a" >>"$T/direct"
        a=$(ms portablectl attach "$PC") && C portablectl detach "$PC" >/dev/null 2>&1
        echo "$a" >>"$T/portablectl"
done
stats=$(C busctl get-property org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 VerificationCache)

f=$(cut -d' ' -f1 "$T/first" | median)
fg=$(cut -d' ' -f2 "$T/first" | median)
s=$(cut -d' ' -f1 "$T/second" | median)
sg=$(cut -d' ' -f2 "$T/second" | median)
d=$(median <"$T/direct")
p=$(median <"$T/portablectl")
echo "systemd $(C systemctl --version | awk 'NR == 1 { print $2 }'), ${size} MiB image, $runs runs, medians in ms (attach only):"
printf '%-38s %8s %8s\n' "" wall graftd
printf '%-38s %8s %8s\n' "pctl through graftd, first attach" "$f" "$fg"
printf '%-38s %8s %8s\n' "pctl through graftd, second attach" "$s" "$sg"
printf '%-38s %8s %8s\n' "pctl --direct (in-process, no cache)" "$d" -
printf '%-38s %8s %8s\n' "portablectl (no userspace hashing)" "$p" -
echo "second / first (graftd's time): $(echo "scale=4; $sg / $fg" | bc)"
echo "second through graftd / portablectl (wall): $(echo "scale=3; $s / $p" | bc)"
echo "verification cache (entries hits misses invalidated): ${stats#(tttt) }"
nspawn_stop
