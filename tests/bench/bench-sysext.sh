#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: sextctl merge against systemd-sysext merge with 1, 10 and 50 extensions, the same
# plain squashfs images, the same namespace setup, in the same run; then unmerge. Also sextctl with
# the same content as signed verity images (GPT, built by graft-image) that it verifies fully
# (signature, every hash block, entry names) before mounting; sextctl keeps no verification cache,
# so that figure is always cold. Prints the median of RUNS runs and the ratios. Not part of the
# test suite. Run as root:
#   tests/bench/bench-sysext.sh [RUNS=5] [COUNTS="1 10 50"]
# GRAFT_BUILD_DIR picks the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
counts=${2:-"1 10 50"}
B=${GRAFT_BUILD_DIR:-build}

if [[ -z ${GRAFT_BENCH_NS:-} ]]; then
        [[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
        [[ -d $B ]] || meson setup "$B" >/dev/null
        ninja -C "$B" sysext/sextctl graft-image/graft-image >/dev/null
        export GRAFT_BENCH_NS=1
        # systemd-sysext merges from a child and needs shared propagation and a /run of its own.
        exec unshare -m --propagation unchanged bash -c 'mount --make-rshared / && mount -t tmpfs tmpfs /run && exec "$0" "$@"' "$0" "$@"
fi
S=$PWD/$B/sysext/sextctl
G=$PWD/$B/graft-image/graft-image
w=$(mktemp -d /var/tmp/graft-bench-sysext.XXXXXX)
trap 'set +e; grep -o " $w[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done; rm -rf "$w"' EXIT
max=0
for n in $counts; do ((n > max)) && max=$n; done

echo "preparing $max extensions (plain squashfs and signed verity GPT) in $w"
mkdir -p "$w/src" "$w/plain" "$w/signed" "$w/keys"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/keys/k.pem" -out "$w/keys/c.pem" -subj /CN=bench -days 30 2>/dev/null
export SOURCE_DATE_EPOCH=1700000000
for i in $(seq "$max"); do
        n=ext$i t=$w/src/ext$i
        mkdir -p "$t/usr/lib/extension-release.d" "$t/usr/bin" "$t/usr/share/$n"
        printf 'ID=debian\nVERSION_ID=12\n' >"$t/usr/lib/extension-release.d/extension-release.$n"
        printf '#!/bin/sh\necho %s\n' "$n" >"$t/usr/bin/$n" && chmod 755 "$t/usr/bin/$n"
        head -c 300000 /dev/urandom >"$t/usr/share/$n/blob"
        seq 1 20000 >"$t/usr/share/$n/numbers"
        mksquashfs "$t" "$w/plain/$n.raw" -quiet -noappend -all-root >/dev/null
        "$G" build -q "$t" -o "$w/signed/$n.raw" --name "$n" --version 1 --key "$w/keys/k.pem" --cert "$w/keys/c.pem"
done

# new_root DIR KIND N: a root with the first N images of KIND.
new_root() {
        mkdir -p "$1/usr/lib" "$1/opt" "$1/etc/verity.d" "$1/var/lib/extensions"
        printf 'ID=debian\nVERSION_ID=12\n' >"$1/usr/lib/os-release"
        [[ $2 == signed ]] && cp "$w/keys/c.pem" "$1/etc/verity.d/bench.crt"
        for i in $(seq "$3"); do cp "$w/$2/ext$i.raw" "$1/var/lib/extensions/"; done
        cat "$1"/var/lib/extensions/* >/dev/null # page cache warm for every tool
}
ms() { # ms CMD...: wall time in microseconds (printed as ms with one decimal: an unmerge takes a
        # few ms, whole milliseconds would round the comparison away); the command must succeed
        local s e
        s=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }
        e=$(date +%s%N)
        echo $(((e - s) / 1000))
}
fmt() { echo "scale=1; $1 / 1000" | bc; }
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sd_unmerge() { SYSTEMD_SYSEXT_HIERARCHIES="$1/usr:$1/opt" systemd-sysext unmerge; }

printf '\n%-5s %12s %12s %12s %9s %9s | %12s %12s %9s\n' N "sd merge" "graft merge" "graft signed" ratio "signed" "sd unmerge" "graft unm." "unm. ratio"
for n in $counts; do
        declare -a sdm=() gm=() gs=() sdu=() gu=()
        new_root "$w/r-plain-$n" plain "$n"
        new_root "$w/r-signed-$n" signed "$n"
        for _ in $(seq "$runs"); do
                r=$w/r-plain-$n
                sdm+=("$(ms systemd-sysext --root="$r" merge)")
                [[ -e $r/usr/bin/ext1 ]] || { echo "systemd-sysext merged nothing" >&2; exit 1; }
                sdu+=("$(ms sd_unmerge "$r")")
                gm+=("$(ms "$S" --root="$r" merge)")
                [[ -e $r/usr/bin/ext$n ]] || { echo "sextctl merged nothing" >&2; exit 1; }
                gu+=("$(ms "$S" --root="$r" unmerge)")
                r=$w/r-signed-$n
                gs+=("$(ms "$S" --root="$r" merge)")
                [[ -e $r/usr/bin/ext$n ]] || { echo "sextctl merged no signed image" >&2; exit 1; }
                "$S" --root="$r" unmerge >/dev/null 2>&1
        done
        a=$(echo "${sdm[*]}" | median) b=$(echo "${gm[*]}" | median) c=$(echo "${gs[*]}" | median)
        d=$(echo "${sdu[*]}" | median) e=$(echo "${gu[*]}" | median)
        printf '%-5s %10s ms %10s ms %10s ms %8.2fx %8.2fx | %10s ms %10s ms %8.2fx\n' "$n" "$(fmt "$a")" "$(fmt "$b")" "$(fmt "$c")" \
                "$(echo "scale=3; $b / $a" | bc)" "$(echo "scale=3; $c / $a" | bc)" "$(fmt "$d")" "$(fmt "$e")" \
                "$(echo "scale=3; $e / ($d + ($d == 0))" | bc)"
done
echo
echo "ratio: graft merge / systemd-sysext merge (plain squashfs, both); unm. ratio: the same for unmerge"
echo "(the bar: merge at most 0.1x at 50, unmerge at most 1x at 1, 10 and 50);"
echo "signed: graft merge of signed verity images (fully verified, no cache) / systemd-sysext merge of the plain ones."
