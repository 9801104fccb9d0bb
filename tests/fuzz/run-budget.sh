#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every libFuzzer target for a fixed budget and grows the committed corpora. Not part of the
# test suite or CI: run it by hand (it needs clang), then commit what it added to tests/fuzz/corpus.
#
#   tests/fuzz/run-budget.sh [SECONDS-PER-TARGET [TARGET…]]     (default 120 s, every target)
#
# Builds the fuzzers in their own tree ($FUZZ_BUILD_DIR, default build-fuzz-budget: ASan, UBSan,
# libFuzzer), fuzzes each target starting from its committed corpus for the budget (after a crash
# it goes on with the time left, the crash saved), merges the new inputs that add coverage into
# the committed corpus (-merge=1: only those, so the corpus stays minimal), and prints per target
# the executions, the corpus size before and after, and the crashes found (the inputs are kept
# in the work directory it names). Exit status 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/../.."

budget=${1:-120}
shift || true
[[ $budget =~ ^[0-9]+$ && $budget -gt 0 ]] || { echo "usage: $0 [SECONDS-PER-TARGET [TARGET…]]" >&2; exit 2; }
build=${FUZZ_BUILD_DIR:-build-fuzz-budget}
command -v clang >/dev/null || { echo "$0: clang is needed (apt-get install clang)" >&2; exit 2; }

mapfile -t all < <(sed -n "s/^ *'\(fuzz-[a-z0-9-]*\)',$/\1/p" tests/fuzz/meson.build)
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all[@]}")

if [[ ! -f $build/build.ninja ]]; then
        CC=clang meson setup "$build" -Dfuzzers=true -Db_lundef=false -Dbuildtype=debugoptimized \
                -Dc_args=-fsanitize=fuzzer-no-link,address,undefined \
                -Dc_link_args=-fsanitize=address,undefined >/dev/null
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >/dev/null

work=$(mktemp -d /tmp/graft-fuzz-budget.XXXXXX)
echo "budget ${budget} s per target; work directory $work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# A line for the table per target.
report=()
crashed=0
for t in "${targets[@]}"; do
        bin=$build/tests/fuzz/$t
        corpus=tests/fuzz/corpus/$t
        mkdir -p "$corpus" "$work/$t/new" "$work/$t/crashes"
        before=$(find "$corpus" -type f | wc -l)
        extra=(-rss_limit_mb=4096)
        # libsquashfs sizes a file's block list from the size its inode claims before reading it:
        # a large, lazily mapped calloc, not a leak or a crash (see meson.build).
        [[ $t == fuzz-squashfs ]] && extra+=(-malloc_limit_mb=16384)
        execs=0 crashes=0 left=$budget runs=0
        while ((left > 0 && runs < 20)); do
                runs=$((runs + 1))
                start=$SECONDS rc=0
                "$bin" -max_total_time="$left" -print_final_stats=1 -artifact_prefix="$work/$t/crashes/" \
                        "${extra[@]}" "$work/$t/new" "$corpus" >"$work/$t/log.$runs" 2>&1 || rc=$?
                n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log.$runs" | tail -n 1)
                execs=$((execs + ${n:-0}))
                left=$((left - (SECONDS - start)))
                ((rc == 0)) && break
                crashes=$((crashes + 1))
                echo "$t: crash (run $runs, exit $rc), see $work/$t/log.$runs" >&2
                # A crash found again at once would spin: stop then.
                ((SECONDS - start >= 2)) || break
        done
        # Only the new inputs that add coverage join the committed corpus.
        "$bin" -merge=1 "${extra[@]}" "$corpus" "$work/$t/new" >"$work/$t/merge.log" 2>&1 ||
                echo "$t: merge failed, see $work/$t/merge.log" >&2
        after=$(find "$corpus" -type f | wc -l)
        ((crashes == 0)) || crashed=1
        report+=("$(printf '%-24s %12s %8s %8s %8s' "$t" "$execs" "$before" "$after" "$crashes")")
done

printf '%-24s %12s %8s %8s %8s\n' TARGET EXECUTIONS BEFORE AFTER CRASHES
printf '%s\n' "${report[@]}"
shopt -s nullglob
arts=("$work"/*/crashes/*)
((${#arts[@]} == 0)) || printf 'crash input: %s\n' "${arts[@]}"
exit $crashed
