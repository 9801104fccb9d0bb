#!/bin/bash
# No shell script of the tree pipes a producer into a consumer that may stop reading early
# (tools/check-pipelines says why that fails under pipefail). First proves the checker on
# snippets it must flag (with their line) and snippets it must leave alone, then runs it over
# the source tree; a finding fails the test with FILE:LINE.
set -euo pipefail
src=${GRAFT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$src/tools/check-pipelines
T=$(mktemp -d /tmp/graft-test-pipelines.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# The samples are not scripts (no .sh, no shebang), so the tree scan below skips them.
# bad.sample: one pipeline per line that must be flagged (each ends in "# bad"), including the
# multi-line forms; good.sample: the fixes and look-alikes that must not be.
data=$src/tests/unit/data/shell-pipelines
cp "$data/bad.sample" "$T/bad.sh"
cp "$data/good.sample" "$T/good.sh"

out=$("$check" "$T/bad.sh" 2>/dev/null) && fail "the checker passed bad.sh"
want=$(grep -n '# bad$' "$T/bad.sh" | cut -d: -f1)
got=$(sed -n 's/^[^:]*:\([0-9]*\): .*/\1/p' <<<"$out")
[[ $got == "$want" ]] || fail "bad.sh: flagged lines $(echo $got), expected $(echo $want); output:"$'\n'"$out"
line1=$(sed -n '1s/ # bad$//p' "$T/bad.sh")
[[ $out == *"bad.sh:1: grep can stop reading before the producer ends: $line1"* ]] ||
        fail "the finding does not name file, line, consumer and pipeline: $out"

out=$("$check" "$T/good.sh" 2>&1) || fail "the checker flagged good.sh: $out"

# A script is one by its extension or its shebang; other files are not read.
printf '#!/usr/bin/env bash\nx | head\n' >"$T/tool"
printf 'x | head\n' >"$T/notes.txt"
out=$("$check" "$T/tool" "$T/notes.txt" 2>/dev/null) && fail "a bash shebang without .sh was not checked"
[[ $out == *"tool:2: head can stop"* && $out != *notes.txt* ]] || fail "shebang detection: $out"

# The tree itself.
if ! out=$("$check" "$src" 2>&1); then
        fail "pipelines that can fail under pipefail:"$'\n'"$out"
fi

((fails == 0)) || exit 1
echo "ok: the checker flags every bad form and none of the good ones; the tree has none"
