#!/usr/bin/env python3
"""Reads meson's test logs (meson-logs/testlog*.json: tools/test writes one per tier) of each build
directory given and prints skipped tests with their reason, failed tests with the end of their
output, the wall time of each tier (from DIR/tier-times.tsv, which tools/test writes), and as the
very last line "N passed, N failed" over all of them.

Tests that speak TAP (the VM tier: one line per check) count one result per check: "ok" passed,
"not ok" failed, "# SKIP" skipped with its reason; a whole script that skipped ("1..0 # SKIP
reason") counts as one skipped test with that reason, never as passed. A build directory without
a test log counts as one failure (its build failed). Exit status 0 when nothing failed."""
import glob
import json
import os
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b\s*\d*\s*(?:-\s*)?(.*?)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$")
TAP_SKIP_ALL = re.compile(r"^1\.\.0\s*#\s*SKIP\b\s*(.*)$", re.I)

passed = failed = 0
skipped = []
failures = []


def last_lines(text, n=15):
    return "\n    ".join(text.strip().splitlines()[-n:])


def count_tap(name, t, out):
    """Counts the checks of a TAP test; False if the output is not TAP."""
    global passed, failed
    lines = [l.rstrip() for l in (t.get("stdout") or "").splitlines()]
    checks = [m for m in (TAP_LINE.match(l) for l in lines) if m]
    skip_all = [m for m in (TAP_SKIP_ALL.match(l) for l in lines) if m]
    if not checks and not skip_all:
        return False
    if skip_all and not checks:
        skipped.append((name, skip_all[0].group(1) or "no reason given"))
        return True
    for m in checks:
        check = f"{name} / {m.group(2)}"
        if m.group(3) == "SKIP":
            skipped.append((check, m.group(4) or "no reason given"))
        elif m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
            failures.append((check, last_lines(out)))
    if t["result"] not in ("OK", "SKIP") and not any(m.group(1) == "not ok" for m in checks):
        failed += 1
        failures.append((f"{name} ({t['result']})", last_lines(out)))
    return True


for d in sys.argv[1:]:
    logs = sorted(glob.glob(os.path.join(d, "meson-logs", "testlog*.json")))
    if not logs:
        failed += 1
        failures.append((d, "(no test log: the build or the test run did not happen)"))
        continue
    for log in logs:
        with open(log) as f:
            for line in f:
                t = json.loads(line)
                name = f"{d}: {t['name']}"
                out = (t.get("stdout") or "") + (t.get("stderr") or "")
                if count_tap(name, t, out):
                    continue
                if t["result"] == "OK":
                    passed += 1
                elif t["result"] == "SKIP":
                    lines = [l for l in out.strip().splitlines() if l.strip()]
                    skipped.append((name, lines[-1] if lines else "no reason given"))
                else:
                    failed += 1
                    failures.append((name, last_lines(out)))

for name, why in skipped:
    print(f"SKIPPED {name}: {why}")
for name, tail in failures:
    print(f"FAILED {name}:\n    {tail}")
for d in sys.argv[1:]:
    times = os.path.join(d, "tier-times.tsv")
    if os.path.exists(times):
        with open(times) as f:
            for line in f:
                tier, seconds = line.split()[:2]
                print(f"TIME {d}: {tier} {seconds} s")
print(f"{len(skipped)} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
