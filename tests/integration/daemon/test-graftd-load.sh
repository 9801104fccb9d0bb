#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Load: 50 concurrent clients (pctl and sextctl processes) make 1,000 attach, detach, merge,
# refresh and unmerge requests over 5 images (4 portable, 1 extension) through one graftd. Every
# request ends with success or with the refusal its moment calls for (attached already, not
# attached, merged already), never another error; afterwards what graftd reports equals what is on
# disk (read in-process), and once everything is detached and unmerged no file is left behind.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
CLIENTS=${CLIENTS:-50}
OPS=${OPS:-20} # per client

for i in 1 2 3 4; do portable_image "p$i"; done
sysext_image ext1
initial=$(tree_state "$R")
sleep 1.1 # old enough for the verification cache

bus_start
graftd_start

client() { # N: OPS random requests; one line per request: "WHAT EXIT-CODE"
        local n=$1 k op img rc
        RANDOM=$n
        for ((k = 0; k < OPS; k++)); do
                img=p$((RANDOM % 4 + 1))
                case $((RANDOM % 6)) in
                0 | 1) op="pctl attach $img" ;;
                2 | 3) op="pctl detach $img" ;;
                4) op="sextctl $( ((RANDOM % 2)) && echo merge || echo refresh)" ;;
                5) op="sextctl unmerge" ;;
                esac
                rc=0
                # shellcheck disable=SC2086
                case $op in
                pctl*) "$PCTL" ${op#pctl } >/dev/null 2>"$O/err.$n" || rc=$? ;;
                sextctl*) "$SEXTCTL" ${op#sextctl } >/dev/null 2>"$O/err.$n" || rc=$? ;;
                esac
                echo "$op $rc"
                # Every refusal's message, for the report of one the state does not explain.
                [[ $rc -eq 0 ]] || sed "s/^/$op $rc: /" "$O/err.$n" >>"$O/messages.$n"
        done
}

start=$(date +%s%N)
pids=()
for ((c = 0; c < CLIENTS; c++)); do
        client "$c" >"$O/client.$c" &
        pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s%N)
graftd_idle
kill -0 "$GRAFTD_PID" || fail "graftd died under load"

cat "$O"/client.* >"$T/results"
total=$(wc -l <"$T/results")
assert_eq "$total" $((CLIENTS * OPS)) "requests made"
# Only the refusals the state explains: 7 (detach: not attached), 10 (attach: attached already;
# merge: merged already).
bad=$(awk '$NF != 0 && !($NF == 7 && $2 == "detach") && !($NF == 10 && ($2 == "attach" || $2 == "merge"))' "$T/results")
if [[ -n $bad ]]; then
        cat "$O"/messages.* 2>/dev/null | grep -vE "^pctl detach p[0-9] 7: .* is not attached|^pctl attach p[0-9] 10: .* is attached already|^sextctl merge 10: .* is already merged" >&2
        fail "unexpected results: $(echo "$bad" | sort | uniq -c)"
fi
echo "$total requests from $CLIENTS clients in $(((end - start) / 1000000)) ms:"
awk '{ $NF = "exit " $NF; print }' "$T/results" | sed 's/ p[0-9]/ pN/' | sort | uniq -c | sed 's/^/  /'
logged=$(grep -cE "^<[56]>(AttachImage|DetachImage|Merge|Refresh|Unmerge) .*(done in|failed after)" "$GRAFTD_LOG")
assert_eq "$logged" "$total" "requests graftd logged as done or failed"
echo "verification cache (entries hits misses invalidated): $(prop Manager1 VerificationCache | cut -d' ' -f2-)"

# What graftd reports is what is on disk.
"$PCTL" --json=short list >"$O/bus.json"
"$PCTL" --root="$R" --json=short list >"$O/disk.json"
diff "$O/bus.json" "$O/disk.json" || fail "graftd's list differs from the disk's"
for i in 1 2 3 4; do
        s=$(call Manager1 GetImageState s "p$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])')
        if [[ -e $R/etc/systemd/system.attached/p$i.service.d/20-portable.conf ]]; then
                assert_eq "$s" attached "p$i (its marker is on disk)"
                [[ -e $R/etc/systemd/system.attached/p$i.service && -e $R/etc/systemd/system.attached/p$i.socket ]] ||
                        fail "p$i is attached without all its units"
        else
                assert_eq "$s" detached "p$i (no marker on disk)"
                [[ ! -e $R/etc/systemd/system.attached/p$i.service ]] || fail "p$i has a unit but no marker"
        fi
done
"$SEXTCTL" status >"$O/bus.status"
"$SEXTCTL" --root="$R" status >"$O/disk.status"
diff "$O/bus.status" "$O/disk.status" || fail "graftd's status differs from the disk's"
[[ $(grep -c " $R/usr " /proc/self/mountinfo) -le 1 ]] || fail "stacked merges on $R/usr"

# Undone, nothing is left: no unit, drop-in, link, marker, temporary file, mount or loop device.
for i in 1 2 3 4; do "$PCTL" detach "p$i" >/dev/null 2>&1 || true; done
"$SEXTCTL" unmerge >/dev/null
graftd_idle
findmnt -rn -o TARGET | grep "^$R" && fail "mounts left below $R"
[[ -z $(ls -A "$R/run/graft/sysext" 2>/dev/null) ]] || fail "staging left behind: $(ls -A "$R/run/graft/sysext")"
rm -rf "$R/run/graft/sysext" # the (empty) staging directory is sysext's to keep
assert_eq "$(tree_state "$R")" "$initial" "files left behind after the load"
grep -q "$R" <<<"$(losetup -l -n -O BACK-FILE)" && fail "loop devices left on images below $R"
echo ok
