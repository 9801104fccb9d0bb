#!/bin/bash
# Benchmark: pctl attach --now + detach --now against portablectl attach --now + detach --now, in
# the same nspawn-booted Debian (systemd 252), on the same image, in the same run, alternating.
# Prints the median of RUNS cycles of each (attach, detach, both) and the ratio. Not part of the
# test suite. Run as root:
#   tests/bench/bench-pctl.sh [RUNS=15]
# GRAFT_BUILD_DIR (default: build, built with tools/build when pctl is missing there) gives pctl.
# The image is the example webdemo service (examples/build.sh) as the bare squashfs of its data
# partition: in this container systemd can run nothing else (no partition devices, no dm-verity).
# Both tools start the unit and wait for the start job; each command runs through nsenter.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-15}
export GRAFT_SOURCE_DIR=$repo
# Absolute: the container binds it at the same path.
export GRAFT_BUILD_DIR=$(realpath -m "${GRAFT_BUILD_DIR:-$repo/build}")
if [[ ! -x $GRAFT_BUILD_DIR/portable/pctl && -z ${GRAFT_TEST_IN_NAMESPACE:-} ]]; then
        "$repo/tools/build" "$GRAFT_BUILD_DIR" >/dev/null
fi
. "$repo/tests/lib/lib.sh"
. "$repo/tests/e2e/lib/nspawn.sh"
. "$repo/tests/e2e/lib/example-image.sh"
need sfdisk bc
PCTL=$GRAFT_BUILD_DIR/portable/pctl

examples=$(example_images)
example_data_partition "$examples/webdemo.raw" "$T/webdemo.raw"
root=$(nspawn_root)
nspawn_boot "$root" graft-bench-pctl --bind-ro="$GRAFT_BUILD_DIR"
CR=/proc/$NSPAWN_LEADER/root
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables"
cp -r "$repo/profiles" "$CR/usr/lib/graft/profiles"
cp "$T/webdemo.raw" "$CR/var/lib/portables/webdemo.raw"

C() { nspawn_run "$@"; }
ms() { # CMD…: wall time in ms
        local s e
        s=$(date +%s%N)
        C "$@" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; echo "FAIL: $*" >&2; exit 1; }
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Warm up both (portabled is started on first use) and check that each really starts the unit.
for tool in "$PCTL" portablectl; do
        C "$tool" attach --now webdemo >/dev/null 2>&1
        [[ $(C systemctl is-active webdemo.service) == active ]] || fail "$tool attach --now did not start webdemo.service"
        C "$tool" detach --now webdemo >/dev/null 2>&1
        [[ $(C systemctl is-active webdemo.service || true) != active ]] || fail "$tool detach --now left it running"
done

: >"$T/pctl" && : >"$T/portablectl"
for ((i = 0; i < runs; i++)); do
        for tool in pctl portablectl; do
                bin=$tool
                [[ $tool == pctl ]] && bin=$PCTL
                a=$(ms "$bin" attach --now webdemo) || fail "$tool attach --now failed"
                d=$(ms "$bin" detach --now webdemo) || fail "$tool detach --now failed"
                echo "$a $d $((a + d))" >>"$T/$tool"
        done
done

echo "systemd $(C systemctl --version | awk 'NR == 1 { print $2 }'), $runs cycles each, medians in ms:"
printf '%-12s %8s %8s %8s\n' tool attach detach both
for tool in pctl portablectl; do
        printf '%-12s %8s %8s %8s\n' "$tool" "$(cut -d' ' -f1 "$T/$tool" | median)" \
                "$(cut -d' ' -f2 "$T/$tool" | median)" "$(cut -d' ' -f3 "$T/$tool" | median)"
done
p=$(cut -d' ' -f3 "$T/pctl" | median)
q=$(cut -d' ' -f3 "$T/portablectl" | median)
echo "ratio pctl / portablectl (attach --now + detach --now): $(echo "scale=3; $p / $q" | bc)"
nspawn_stop
