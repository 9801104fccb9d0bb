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
# The container has a loop device node for every number the kernel may hand out (nspawn_boot):
# without them systemd 252 fails "AttachImage failed: Device or resource busy" (or is seconds
# late) whenever other users of loop devices on the machine hold the numbers of the bound nodes.
# The container's machine name is this run's own (graft-bench-pctl-PID): nothing else uses it.
# Every failure says what failed and why: the command, its exit code and its output.
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
nspawn_boot "$root" "graft-bench-pctl-$$" --bind-ro="$GRAFT_BUILD_DIR"
CR=/proc/$NSPAWN_LEADER/root
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables" || fail "cannot make the container's image and profile directories"
cp -r "$repo/profiles" "$CR/usr/lib/graft/profiles" || fail "cannot copy the profiles into the container"
cp "$T/webdemo.raw" "$CR/var/lib/portables/webdemo.raw" || fail "cannot copy the image into the container"

C() { nspawn_run "$@"; }
# try CMD…: runs it in the container; on failure prints its exit code and its output, and fails.
try() {
        local rc=0
        C "$@" >"$T/out" 2>&1 || rc=$?
        [[ $rc -eq 0 ]] && return 0
        echo "FAIL: $* (in the container) exited $rc:" >&2
        sed 's/^/  /' "$T/out" >&2
        return 1
}
ms() { # CMD…: wall time in ms (what failed, and why, on stderr)
        local s e
        s=$(date +%s%N)
        try "$@" || return 1
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
}
# unit_state: webdemo.service's ActiveState ("unknown" if systemctl cannot tell).
unit_state() {
        C systemctl show -P ActiveState webdemo.service 2>/dev/null || echo unknown
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Warm up both (portabled is started on first use) and check that each really starts the unit.
for tool in "$PCTL" portablectl; do
        try "$tool" attach --now webdemo || fail "warm-up: $tool attach --now failed (above)"
        [[ $(unit_state) == active ]] || fail "warm-up: $tool attach --now did not start webdemo.service: $(unit_state)"
        try "$tool" detach --now webdemo || fail "warm-up: $tool detach --now failed (above)"
        [[ $(unit_state) != active ]] || fail "warm-up: $tool detach --now left webdemo.service running"
done

: >"$T/pctl" && : >"$T/portablectl"
for ((i = 0; i < runs; i++)); do
        for tool in pctl portablectl; do
                bin=$tool
                [[ $tool == pctl ]] && bin=$PCTL
                a=$(ms "$bin" attach --now webdemo) || fail "run $((i + 1)): $tool attach --now failed (above)"
                d=$(ms "$bin" detach --now webdemo) || fail "run $((i + 1)): $tool detach --now failed (above)"
                echo "$a $d $((a + d))" >>"$T/$tool"
        done
done

version=$(C systemctl --version) || fail "systemctl --version failed in the container"
echo "systemd $(echo "$version" | awk 'NR == 1 { print $2 }'), $runs cycles each, medians in ms:"
printf '%-12s %8s %8s %8s\n' tool attach detach both
for tool in pctl portablectl; do
        printf '%-12s %8s %8s %8s\n' "$tool" "$(cut -d' ' -f1 "$T/$tool" | median)" \
                "$(cut -d' ' -f2 "$T/$tool" | median)" "$(cut -d' ' -f3 "$T/$tool" | median)"
done
p=$(cut -d' ' -f3 "$T/pctl" | median)
q=$(cut -d' ' -f3 "$T/portablectl" | median)
echo "ratio pctl / portablectl (attach --now + detach --now): $(echo "scale=3; $p / $q" | bc)"
nspawn_stop
