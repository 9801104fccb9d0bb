#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Measures what clients of a web service see while it is updated: "run URL LOG STOPFILE" asks for
# URL every 5 ms (each request with a 0.5 s timeout) until STOPFILE exists, one line per request
# in LOG (monotonic ms, ok or failed, the version the page names in "<!-- version N -->", 1 when
# it names none); "report LOG" prints the requests, the failures, the longest outage (from the
# last answer before a run of failures to the first answer after it) and the versions served,
# in order.
import re
import sys
import time
import urllib.request


def run(url, log, stop):
    import os
    with open(log, "w") as out:
        while not os.path.exists(stop):
            t = time.monotonic() * 1000
            try:
                with urllib.request.urlopen(url, timeout=0.5) as r:
                    body = r.read().decode("utf-8", "replace")
                m = re.search(r"<!-- version (\w+) -->", body)
                out.write(f"{t:.1f} ok {m.group(1) if m else '1'}\n")
            except Exception:
                out.write(f"{t:.1f} failed -\n")
            out.flush()
            time.sleep(0.005)


def report(log):
    rows = [line.split() for line in open(log)]
    n = len(rows)
    failed = sum(1 for r in rows if r[1] == "failed")
    longest, last_ok, in_outage = 0.0, None, False
    versions = []
    for t, state, version in rows:
        t = float(t)
        if state == "ok":
            if in_outage and last_ok is not None:
                longest = max(longest, t - last_ok)
            in_outage = False
            last_ok = t
            if not versions or versions[-1] != version:
                versions.append(version)
        else:
            in_outage = True
    if in_outage and last_ok is not None:
        longest = max(longest, float(rows[-1][0]) - last_ok)
    print(f"requests={n} failed={failed} outage_ms={longest:.0f} versions={'>'.join(versions)}")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(*sys.argv[2:5])
    else:
        report(sys.argv[2])
