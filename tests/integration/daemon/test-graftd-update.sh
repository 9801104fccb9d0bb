#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# org.graft.Update1 against a real web server and a private system bus: CheckNew and List (reads,
# for anyone), Update (switched, merged, with Progress and Finished signals), a version whose
# health check fails (HealthCheckFailed, rolled back, marked bad, the Finished signal names the
# error), MarkBad and Unmark, refusals for callers polkit does not authorize, and graftd finishing
# at start an update that a crash cut short after the switch.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"

for v in 1 2 3 4; do build_ext foo $v; done
sign_index
start_server
new_host "$R" foo
bus_start
graftd_start

# Signals, as a client sees them.
gdbus monitor --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 >"$T/signals" 2>&1 &
MONITOR=$!
for i in $(seq 100); do grep -q "^Monitoring signals" "$T/signals" && break; sleep 0.05; done
grep -q "^Monitoring signals" "$T/signals" || fail "gdbus monitor did not start: $(cat "$T/signals")"

gcall Update1.CheckNew "" >"$O/r" || fail "CheckNew failed"
assert_eq "$(cat "$O/r")" "('', '4')"
as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Update1.CheckNew "" >"$O/r" || fail "CheckNew is refused to an unprivileged caller"

gcall Update1.Update "" "2" 0 >"$O/r" || fail "Update 2 failed"
assert_contains "$O/r" "('2', '', true, true, '', @as [], ['$R/var/lib/extensions/foo.v/foo_2.raw'], @as [],"
assert_eq "$(merged_version "$R" foo)" 2

call Update1 List s "" >"$O/list" || fail "List failed"
python3 - "$O/list" <<'PY' || fail "List: $(cat "$O/list")"
import json, sys
d = json.load(open(sys.argv[1]))["data"]
assert d[0] == "2", d
states = {v[0]: v[1] for v in d[1]}
assert states["2"] == ["current", "installed", "available"], states
assert "candidate" in states["4"], states
PY

# Not for callers polkit does not authorize (there is no polkit here): nothing changes.
before=$(host_state "$R")
as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Update1.Update "" "" 0 >"$O/gout" 2>"$O/gerr" && fail "an unprivileged Update succeeded"
assert_contains "$O/gerr" "AccessDenied"
assert_contains "$O/gerr" "org.graft.update"
as_nobody gdbus call --system --dest org.graft.Manager1 --object-path /org/graft/Manager1 \
        --method org.graft.Update1.MarkBad "" "4" "" >"$O/gout" 2>"$O/gerr" && fail "an unprivileged MarkBad succeeded"
assert_contains "$O/gerr" "AccessDenied"
assert_eq "$(host_state "$R")" "$before" "a refused call changed the host"
gcall_error org.graft.Error.InvalidArgument "unknown flags 0x8" Update1.Update "" "" 8

# 3 fails its health check: rolled back by graftd, marked bad.
mkdir -p "$R/etc/sysupdate.d/50-foo.transfer.d"
printf '[X-Graft]\nHealthCheck=test "$GRAFT_UPDATE_VERSION" != 3 || { echo "three is bad"; exit 1; }\n' \
        >"$R/etc/sysupdate.d/50-foo.transfer.d/h.conf"
gcall_error org.graft.Error.HealthCheckFailed "3 failed: health check" Update1.Update "" "3" 0
assert_contains "$O/gerr" "three is bad; rolled back to 2, and 3 is marked bad"
assert_eq "$(merged_version "$R" foo)" 2
gcall_error org.graft.Error.Conflict "version 3 is marked bad" Update1.Update "" "3" 0

# MarkBad / Unmark.
gcall Update1.MarkBad "" "4" "not today" >/dev/null || fail "MarkBad failed"
assert_contains "$R/var/lib/graft/update/default.bad" "not today"
gcall Update1.CheckNew "" >"$O/r"
assert_eq "$(cat "$O/r")" "('2', '')"
gcall Update1.Unmark "" "4" >/dev/null || fail "Unmark failed"
gcall_error org.graft.Error.InvalidArgument "version 4 is not marked bad" Update1.Unmark "" "4"
gcall Update1.Update "" "" 0 >"$O/r" || fail "Update to 4 failed"
assert_contains "$O/r" "('4', '2', true, true,"
assert_eq "$(merged_version "$R" foo)" 4

for i in $(seq 100); do grep -q "Finished ('', '4'" "$T/signals" && break; sleep 0.05; done
kill "$MONITOR" 2>/dev/null || true
wait "$MONITOR" 2>/dev/null || true
assert_contains "$T/signals" "org.graft.Update1.Progress ('', 'downloading $URL/foo_2.raw')"
assert_contains "$T/signals" "org.graft.Update1.DownloadProgress ('',"
assert_contains "$T/signals" "org.graft.Update1.Finished ('', '2', '', '', '')"
assert_contains "$T/signals" "org.graft.Update1.Progress ('', 'rolling back from 3 to 2:"
assert_contains "$T/signals" "org.graft.Update1.Finished ('', '', '', 'org.graft.Error.HealthCheckFailed', '3 failed:"

# A crash after the switch, before the health check passed: graftd rolls it back when it starts.
if grep -q '^#define GRAFT_FAULT_POINTS 1' "$GRAFT_BUILD_DIR/graft-config.h"; then
        graftd_stop
        build_ext foo 5
        sign_index
        GRAFT_FAULT_LOG=$T/steps "$GRAFT_UPDATE" --root="$R" update 5 >/dev/null 2>&1 || fail "the counting run failed"
        step=$(grep -n -m1 ' update-refresh$' "$T/steps" | cut -d: -f1)
        # Back to 4 by hand (the counting run took 5 into use), then the crash.
        rm "$R/var/lib/extensions/foo.v/foo_5.raw"
        "$SEXTCTL" --root="$R" refresh >/dev/null 2>&1
        rc=0
        GRAFT_FAULT_STEP=$step "$GRAFT_UPDATE" --root="$R" update 5 >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 137 ]] || fail "expected the crash (137), got $rc"
        assert_eq "$(merged_version "$R" foo)" 5
        graftd_start
        assert_eq "$(merged_version "$R" foo)" 4
        assert_contains "$R/var/lib/graft/update/default.bad" "cut short"
        assert_contains "$GRAFTD_LOG" "before its health check passed; rolled back to 4, and 5 is marked bad"
        [[ ! -e $R/var/lib/graft/update/default.pending ]] || fail "graftd left the pending record"
fi
unmerge_root "$R"
echo "ok"
