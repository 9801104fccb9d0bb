#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Many hosts pulling from one origin, with a canary stage: three nspawn-booted systemd hosts run
# the example portable service and update themselves from one lighttpd (TLS from a test CA, on
# the test's loopback) with graft-update.service, as their timers would start it. The origin has
# two channels: canary/ (the canary host pulls from it) and stable/ (the others do); a release is
# published to canary/ first and promoted to stable/ only when every canary runs it and found it
# healthy (the release step reads the canaries' state with graft-update --json, as an operator's
# tool would). Release 2 is good: it reaches every host. Release 3 is bad (its page is gone): the
# canary takes it, its health check fails, it rolls back to 2 by itself and marks 3 bad; 3 is
# never promoted, the other hosts never fetch it and keep serving 2.
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/root-before-netns.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn-fleet.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/update-hosts.sh"
need mksquashfs unsquashfs python3 sfdisk
[[ -x $PCTL ]] || skip "pctl is not built"

root=$(nspawn_root)
CANARIES=(graft-e2e-upd-canary)
OTHERS=(graft-e2e-upd-host1 graft-e2e-upd-host2)
declare -A WEB_PORT=([graft-e2e-upd-canary]=8081 [graft-e2e-upd-host1]=8082 [graft-e2e-upd-host2]=8083)

# The origin: every version in pool/, the channels hold links to the released ones, each with its
# own signed SHA256SUMS.
webdemo_base
mkdir -p "$WWW/pool" "$WWW/canary" "$WWW/stable"
cp "$T/webdemo-1.raw" "$WWW/pool/webdemo_1.raw"
webdemo_variant "$WWW/pool/webdemo_2.raw" 2
webdemo_variant "$WWW/pool/webdemo_3.raw" 3 no-page
sign_channel() {
        (cd "$WWW/$1" && find . -maxdepth 1 -name '*.raw' -printf '%f\n' | LC_ALL=C sort | xargs -r sha256sum) \
                >"$WWW/$1/SHA256SUMS"
        rm -f "$WWW/$1/SHA256SUMS.gpg"
        gpg --batch --quiet --detach-sign -o "$WWW/$1/SHA256SUMS.gpg" "$WWW/$1/SHA256SUMS"
}
publish() { # CHANNEL VERSION
        ln -sfn "../pool/webdemo_$2.raw" "$WWW/$1/webdemo_$2.raw"
        sign_channel "$1"
}
publish canary 1
publish stable 1
start_server

test_profiles
update_units "$T/units"
for h in "${CANARIES[@]}" "${OTHERS[@]}"; do
        d=$T/hosts/$h
        mkdir -p "$d/sysupdate.d" "$d/webdemo.service.d"
        channel=stable
        [[ " ${CANARIES[*]} " == *" $h "* ]] && channel=canary
        webdemo_transfer "$d/sysupdate.d/webdemo.transfer" "$URL/$channel/" "${WEB_PORT[$h]}" 2
        # The hosts share one network namespace: each serves on a port of its own.
        printf '[Service]\nExecStart=\nExecStart=/usr/bin/busybox httpd -f -p %s -h /usr/share/webdemo/www\n' "${WEB_PORT[$h]}" \
                >"$d/webdemo.service.d/port.conf"
        fleet_boot "$h" --bind-ro="$GRAFT_BUILD_DIR" --bind-ro="$T/profiles:/usr/lib/graft/profiles" \
                --bind-ro="$KEYS/ca.crt:/etc/graft-test-ca.crt" --bind-ro="$KEYS/pubring.gpg:/etc/systemd/import-pubring.gpg" \
                --bind="$d/sysupdate.d:/etc/sysupdate.d" --bind-ro="$d/webdemo.service.d:/etc/systemd/system/webdemo.service.d" \
                --bind-ro="$T/units:/usr/local/lib/systemd/system"
        fleet_run "$h" env CURL_CA_BUNDLE=/etc/graft-test-ca.crt "$GRAFT_UPDATE" --quiet update 1 >/dev/null 2>&1 ||
                fail "$h: update 1 failed"
        fleet_run "$h" "$PCTL" attach --enable --now /var/lib/portables/webdemo_1.raw >/dev/null
done

served() { # HOST: the version its page names ("none": it does not answer)
        local body re='<!-- version ([0-9]+) -->' i
        for ((i = 0; i < 30; i++)); do
                if body=$(curl -fsS -m 1 "http://127.0.0.1:${WEB_PORT[$1]}/" 2>/dev/null); then
                        [[ $body =~ $re ]] && echo "${BASH_REMATCH[1]}" || echo 1
                        return 0
                fi
                sleep 0.1
        done
        echo none
}
# The unattended update of a host (what its timer starts); its exit status is the unit's.
pull() {
        fleet_run "$1" systemctl start graft-update.service
}
# HOST: the version in use and whether it is healthy (in use, not marked bad), from the host.
state_of() {
        fleet_run "$1" env CURL_CA_BUNDLE=/etc/graft-test-ca.crt "$GRAFT_UPDATE" --json=short list 2>/dev/null |
                python3 -c 'import json,sys; l=json.load(sys.stdin); print(" ".join(v["version"] + ":" + v["state"] for v in l))'
}
# The release step: publish to the canaries, let them pull, promote only if all run it healthily.
release() {
        local v=$1 h ok=1
        publish canary "$v"
        for h in "${CANARIES[@]}"; do
                pull "$h" || true
                [[ " $(state_of "$h") " == *" $v:current,"* ]] || ok=0
        done
        if ((ok)); then
                publish stable "$v"
                echo "release $v: healthy on the canaries, promoted"
        else
                echo "release $v: not healthy on the canaries, not promoted"
        fi
        for h in "${OTHERS[@]}"; do pull "$h" || fail "$h: graft-update.service failed"; done
}

for h in "${CANARIES[@]}" "${OTHERS[@]}"; do assert_eq "$(served "$h")" 1 "$h before"; done

release 2 | tee "$T/release2"
assert_contains "$T/release2" "release 2: healthy on the canaries, promoted"
for h in "${CANARIES[@]}" "${OTHERS[@]}"; do assert_eq "$(served "$h")" 2 "$h after release 2"; done

release 3 | tee "$T/release3"
assert_contains "$T/release3" "release 3: not healthy on the canaries, not promoted"
for h in "${CANARIES[@]}"; do
        assert_eq "$(served "$h")" 2 "canary $h after the bad release"
        [[ " $(state_of "$h") " == *" 3:available,bad "* ]] || fail "$h: 3 is not marked bad: $(state_of "$h")"
        fleet_run "$h" journalctl -u graft-update.service -o cat --no-pager >"$O/journal"
        assert_contains "$O/journal" "3 failed: health check \"busybox wget -q -O /dev/null http://127.0.0.1:${WEB_PORT[$h]}/\" failed"
        assert_contains "$O/journal" "rolled back to 2, and 3 is marked bad"
done
for h in "${OTHERS[@]}"; do
        assert_eq "$(served "$h")" 2 "$h after the bad release"
        [[ " $(state_of "$h") " == *" 2:current,installed,available "* ]] || fail "$h: $(state_of "$h")"
done
stop_server TERM # flushes the access log
grep -q "GET /canary/webdemo_3.raw " "$T/access.log" || fail "the canary never fetched 3"
if grep -q "webdemo_3.raw" <(grep "GET /stable/" "$T/access.log"); then
        fail "a host of the stable channel fetched 3: $(grep "GET /stable/" "$T/access.log")"
fi
echo "ok"
