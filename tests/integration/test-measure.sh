#!/bin/bash
# Measurement (images/measure.c) against a software TPM: swtpm started by the test on a TCP port
# of its own network namespace (nobody else can reach it). After every merge, refresh, attach and
# reattach, PCR 13 in each bank equals the replay of the event log, and the log's records equal
# what `graft-image measure` predicts for the images, in order: one record per image put in use
# per change, nothing twice, nothing missing; unmerge and detach measure nothing. Then the
# refusals of Require=yes without a TPM (message, exit code, nothing changed) and the one note
# of a host without a TPM.
if [[ -z ${GRAFT_TEST_IN_NETNS:-} ]]; then
        command -v swtpm >/dev/null || { echo "SKIP: swtpm is not installed" >&2; exit 77; }
        command -v tpm2_pcrread >/dev/null || { echo "SKIP: tpm2-tools is not installed" >&2; exit 77; }
        [[ $EUID -eq 0 ]] || { echo "SKIP: needs root" >&2; exit 77; }
        export GRAFT_TEST_IN_NETNS=1
        exec unshare -n bash "$0" "$@"
fi
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/portable/lib-pctl.sh"
need ip python3

ip link set lo up
mkdir -p "$T/tpm"
swtpm socket --tpm2 --tpmstate dir="$T/tpm" --server type=tcp,port=2321,bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=2322,bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
        --pid file="$T/tpm/pid" --daemon 2>"$T/swtpm.err" || skip "swtpm cannot run here: $(cat "$T/swtpm.err")"
swtpm_pid=$(cat "$T/tpm/pid")
trap 'rc=$?; kill "$swtpm_pid" 2>/dev/null; (exit $rc); cleanup' EXIT
export GRAFT_TPM2_TCTI=swtpm:host=127.0.0.1,port=2321 TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321
for _ in $(seq 50); do tpm2_pcrread sha256:13 >/dev/null 2>&1 && break; sleep 0.1; done
tpm2_pcrread sha256:13 >/dev/null 2>&1 || skip "swtpm does not answer"

LOG=$R/run/log/systemd/tpm2-measure.log
sextctl() { "$SEXTCTL" --root="$R" "$@"; }
measure() { "$GRAFT_IMAGE" measure --root="$R" "$@"; }

new_root "$R"
mkext "$T/src/a" alpha
mkext "$T/src/b" beta
build_image "$T/src/a" "$R/var/lib/extensions/alpha.raw" alpha 1.0 sysext
build_image "$T/src/b" "$R/var/lib/extensions/beta.raw" beta 2.1 sysext

# The PCR as the TPM has it, per bank: "sha1 HEX\nsha256 HEX".
pcr_now() {
        tpm2_pcrread sha1:13+sha256:13 | python3 -c '
import sys
bank = None
for line in sys.stdin:
    s = line.strip()
    if s.endswith(":") and not s[0].isdigit():
        bank = s[:-1]
    elif s.startswith("13:"):
        print(bank, s.split("0x", 1)[1].lower())'
}
# The replay of the event log (every record, any content) in the same form; also checks the
# framing (RS, one JSON text, LF), that the sticky bit is off and the mode 0600.
pcr_replay() {
        python3 - "$LOG" <<'PY'
import hashlib, json, os, stat, sys
path = sys.argv[1]
st = os.stat(path)
assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
data = open(path, "rb").read()
assert data.startswith(b"\x1e") and data.endswith(b"\n"), "not JSON-SEQ"
pcr = {"sha1": bytes(20), "sha256": bytes(32)}
for rec in data.split(b"\x1e")[1:]:
    r = json.loads(rec)
    assert r["content_type"] == "systemd" and r["pcr"] == 13, r
    for d in r["digests"]:
        if d["hashAlg"] in pcr:
            pcr[d["hashAlg"]] = hashlib.new(d["hashAlg"], pcr[d["hashAlg"]] + bytes.fromhex(d["digest"])).digest()
for b in ("sha1", "sha256"):
    print(b, pcr[b].hex())
PY
}
# The log's event strings and sha256 digests, one "STRING DIGEST" line per record.
log_events() {
        python3 -c '
import json, sys
for rec in open(sys.argv[1], "rb").read().split(b"\x1e")[1:]:
    r = json.loads(rec)
    d = [x["digest"] for x in r["digests"] if x["hashAlg"] == "sha256"][0]
    print(r["content"]["string"], d)' "$LOG"
}
# What graft-image measure predicts for one image: "STRING DIGEST".
predicted() {
        local out
        out=$(measure "$@")
        awk '$1 == "event" { e = $2 } $1 == "sha256" { d = $2 } END { print e, d }' <<<"$out"
}
check_pcr() {
        assert_eq "$(pcr_now)" "$(pcr_replay)" "PCR 13 after $1 is not the replay of the event log"
}

# 1. Merge: alpha then beta (layer order), one record each.
sextctl merge >/dev/null 2>"$T/err" || { cat "$T/err"; fail "merge failed"; }
! grep -q "measure" "$T/err" || { cat "$T/err"; fail "merge with a TPM said something of measurement"; }
{ predicted alpha; predicted beta; } >"$T/want"
log_events >"$T/got"
diff "$T/want" "$T/got" || fail "the event log after merge is not what graft-image measure predicts"
hash_a=$(root_hash "$R/var/lib/extensions/alpha.raw")
assert_contains "$T/got" "graft-sysext:alpha:1.0:$hash_a"
check_pcr merge

# 2. Refresh with a new image: the three images of the new merge, once each.
mkext "$T/src/c" gamma
build_image "$T/src/c" "$R/var/lib/extensions/gamma.raw" gamma 3 sysext
sextctl refresh >/dev/null
{ predicted alpha; predicted beta; predicted alpha; predicted beta; predicted gamma; } >"$T/want"
log_events >"$T/got"
diff "$T/want" "$T/got" || fail "the event log after refresh is not merge + the new merge's images"
check_pcr refresh

# 3. Unmerge puts nothing in use: nothing measured.
sextctl unmerge >/dev/null
log_events >"$T/got2"
diff "$T/got" "$T/got2" || fail "unmerge was measured"
check_pcr unmerge

# 4. Attach and reattach: the portable image, then its extension; detach measures nothing.
demo_tree "$T/src/demo1" /usr/bin/demo-one
demo_tree "$T/src/demo2" /usr/bin/demo-two
build_image "$T/src/demo1" "$R/var/lib/portables/demo_1.raw" demo 1
build_image "$T/src/demo2" "$R/var/lib/portables/demo_2.raw" demo 2
pctl attach demo_1 >/dev/null
pctl reattach demo_2 >/dev/null
pctl detach demo_2 >/dev/null
{ cat "$T/got"; predicted --class=portable demo_1; predicted --class=portable demo_2; } >"$T/want"
log_events >"$T/got"
diff "$T/want" "$T/got" || fail "the event log after attach, reattach, detach is not what graft-image measure predicts"
check_pcr reattach
n=$(grep -c . "$T/got")
assert_eq "$n" 7 "records after merge (2), refresh (3), attach (1), reattach (1)"

# 5. Require=yes without a TPM: merge and attach refused, naming the file and the TCTI; nothing
# changes (the PCR included).
mkdir -p "$R/etc/graft"
printf 'Require=yes\n' >"$R/etc/graft/measure.conf"
pcr_before=$(pcr_now)
before=$(tree_state "$R")
GRAFT_TPM2_TCTI=swtpm:host=127.0.0.1,port=2399 run_expect 1 \
        "measurement is required (Require=yes in $R/etc/graft/measure.conf) but no TPM (TPM at swtpm:host=127.0.0.1,port=2399)" \
        sextctl merge
unset GRAFT_TPM2_TCTI
run_expect 1 "measurement is required (Require=yes in $R/etc/graft/measure.conf) but no TPM is configured for this root" \
        sextctl merge
is_mounted "$R/usr" && fail "a refused merge mounted /usr"
run_expect 1 "measurement is required" pctl attach demo_1
assert_eq "$(tree_state "$R")" "$before" "a refused merge or attach changed the root"
assert_eq "$(pcr_now)" "$pcr_before" "a refused change extended the PCR"

# A TPM that refuses the extend (PCR 17 needs locality 4) fails the change, Require= or not,
# before anything is visible; the log stays complete.
printf 'PCR=17\n' >"$R/etc/graft/measure.conf"
before=$(tree_state "$R")
export GRAFT_TPM2_TCTI=swtpm:host=127.0.0.1,port=2321
run_expect 1 "measuring graft-sysext:alpha:1.0:$hash_a: cannot extend PCR 17" sextctl merge
run_expect 1 "cannot extend PCR 17" pctl attach demo_1
unset GRAFT_TPM2_TCTI
assert_eq "$(tree_state "$R")" "$before" "a refused extend changed the root"
assert_eq "$(pcr_now)" "$pcr_before" "a refused extend changed PCR 13"

# 6. No TPM, not required: the change is made, and said once (not per image). A root for which
# no TCTI is named is not measured, and nothing is said: measurement was not asked for.
printf 'Require=no\n' >"$R/etc/graft/measure.conf"
GRAFT_TPM2_TCTI=swtpm:host=127.0.0.1,port=2399 run_expect 0 \
        "images are not measured: no TPM (TPM at swtpm:host=127.0.0.1,port=2399)" sextctl merge
n=$(grep -c "not measured" "$O/err")
assert_eq "$n" 1 "the no-TPM note, said once for two images"
is_mounted "$R/usr" || fail "merge without a TPM did not merge"
sextctl unmerge >/dev/null
GRAFT_TPM2_TCTI=swtpm:host=127.0.0.1,port=2399 run_expect 0 "images are not measured" pctl attach demo_1
pctl detach demo_1 >/dev/null
run_expect 0 "" sextctl merge
! grep -q "measure" "$O/err" || { cat "$O/err"; fail "a root without a TCTI spoke of measurement"; }
sextctl unmerge >/dev/null
assert_eq "$(log_events | grep -c .)" 7 "records after the changes without a TPM"

# 7. A bad configuration is refused by name.
printf 'PCR=99\n' >"$R/etc/graft/measure.conf"
run_expect 2 "$R/etc/graft/measure.conf: PCR=99 is no PCR number (0…23)" sextctl merge
run_expect 2 "--class= takes sysext, confext or portable" "$GRAFT_IMAGE" measure --class=foo alpha
echo "measurement: ok"
