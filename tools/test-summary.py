#!/usr/bin/env python3
"""Reads meson's testlog.json of each build directory given and prints skipped tests with their
reason, failed tests with the end of their output, and as the very last line
"N passed, N failed" over all of them. A build directory without a test log counts as one
failure (its build failed). Exit status 0 when nothing failed."""
import json
import os
import sys

passed = failed = 0
skipped = []
failures = []
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1
        failures.append((d, "(no test log: the build or the test run did not happen)"))
        continue
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            name = f"{d}: {t['name']}"
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            if t["result"] == "OK":
                passed += 1
            elif t["result"] == "SKIP":
                lines = [l for l in out.strip().splitlines() if l.strip()]
                skipped.append((name, lines[-1] if lines else "no reason given"))
            else:
                failed += 1
                failures.append((name, "\n    ".join(out.strip().splitlines()[-15:])))

for name, why in skipped:
    print(f"SKIPPED {name}: {why}")
for name, tail in failures:
    print(f"FAILED {name}:\n    {tail}")
print(f"{len(skipped)} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
