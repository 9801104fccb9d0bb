#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark: the refresh gap. A reader stats and reads an extension file in a tight loop while
# REFRESHES refreshes run, first with systemd-sysext refresh (which unmerges, then merges), then
# with sextctl refresh (new overlay mounted beneath the old one); it reports how many reads found
# the file missing and the longest time it stayed missing. Same images (5 plain squashfs
# extensions), same namespace, same run. Not part of the test suite. Run as root:
#   tests/bench/bench-sysext-refresh.sh [REFRESHES=100]
set -euo pipefail
cd "$(dirname "$0")/../.."
refreshes=${1:-100}
B=${GRAFT_BUILD_DIR:-build}

if [[ -z ${GRAFT_BENCH_NS:-} ]]; then
        [[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 1; }
        [[ -d $B ]] || meson setup "$B" >/dev/null
        ninja -C "$B" sysext/sextctl tests/integration/sysext/sysext-reader >/dev/null
        export GRAFT_BENCH_NS=1
        exec unshare -m --propagation unchanged bash -c 'mount --make-rshared / && mount -t tmpfs tmpfs /run && exec "$0" "$@"' "$0" "$@"
fi
S=$PWD/$B/sysext/sextctl
READER=$PWD/$B/tests/integration/sysext/sysext-reader
w=$(mktemp -d /var/tmp/graft-bench-refresh.XXXXXX)
trap 'set +e; grep -o " $w[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done; rm -rf "$w"' EXIT

r=$w/root
mkdir -p "$r/usr/lib" "$r/opt" "$r/var/lib/extensions"
printf 'ID=debian\nVERSION_ID=12\n' >"$r/usr/lib/os-release"
for i in 1 2 3 4 5; do
        t=$w/src/ext$i
        mkdir -p "$t/usr/lib/extension-release.d" "$t/usr/share/ext$i"
        printf 'ID=debian\nVERSION_ID=12\n' >"$t/usr/lib/extension-release.d/extension-release.ext$i"
        seq 1 20000 >"$t/usr/share/ext$i/numbers"
        mksquashfs "$t" "$r/var/lib/extensions/ext$i.raw" -quiet -noappend -all-root >/dev/null
done

# measure NAME CMD...: merge, run the reader during REFRESHES refreshes, unmerge.
measure() {
        local name=$1 s e
        shift
        "$@" merge >/dev/null 2>&1
        rm -f "$w/ready"
        "$READER" "$r/usr/share/ext3/numbers" "$w/ready" >"$w/reader.$name" &
        local pid=$!
        while [[ ! -e $w/ready ]]; do sleep 0.01; done
        s=$(date +%s%N)
        for _ in $(seq "$refreshes"); do "$@" refresh >/dev/null 2>&1; done
        e=$(date +%s%N)
        kill -TERM $pid
        wait $pid
        "$S" --root="$r" unmerge >/dev/null 2>&1
        printf '%-14s %4d refreshes in %6d ms (%5d ms each): %s\n' "$name" "$refreshes" $(((e - s) / 1000000)) \
                $(((e - s) / 1000000 / refreshes)) "$(cat "$w/reader.$name")"
}
measure systemd-sysext systemd-sysext --root="$r"
measure sextctl "$S" --root="$r"
echo "misses: reads that found the extension file missing; max_gap_us: longest stretch without it."
