#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a VM test script for meson's TAP protocol. The script writes one line per check to fd 3
# ("ok - NAME", "not ok - NAME # detail", "ok - NAME # SKIP reason", "# comment"), everything else
# to stderr, and keeps the exit status convention of the other tiers (77 = skipped, with
# "SKIP: reason" on stderr). This numbers the checks and adds the plan; exit 77 becomes
# "1..0 # SKIP reason", so the summary lists the tier as skipped with its reason; a failure
# without a "not ok" line becomes one, so a script that dies half way never passes.
#   tap-run.sh SCRIPT [ARGS…]
set -uo pipefail
tap=$(mktemp /tmp/graft-tap.XXXXXX)
err=$(mktemp /tmp/graft-tap-err.XXXXXX)
trap 'rm -f "$tap" "$err"' EXIT

bash "$@" 3>"$tap" 2> >(tee "$err" >&2) >&2
rc=$?
sleep 0.1 # let tee finish
if [[ $rc -eq 77 ]]; then
        reason=$(grep -E '^SKIP: ' "$err" | tail -n 1)
        echo "1..0 # SKIP ${reason#SKIP: }"
        exit 0
fi
n=0
failed=0
while IFS= read -r line; do
        case $line in
        "ok - "* | "not ok - "*)
                n=$((n + 1))
                [[ $line == not* ]] && failed=1
                echo "${line%% - *} $n - ${line#* - }"
                ;;
        "# "*) echo "$line" ;;
        esac
done <"$tap"
if [[ $rc -ne 0 ]] && ((!failed)); then
        n=$((n + 1))
        why=$(grep -E '^FAIL: ' "$err" | tail -n 1)
        echo "not ok $n - $(basename "$1") ran to the end (exit $rc${why:+: ${why#FAIL: }})"
fi
echo "1..$n"
exit 0
