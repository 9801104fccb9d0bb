#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Ansible module contrib/ansible/library/graft.py (Ansible from Debian) against two
# nspawn-booted systemd hosts, reached with the nsenter connection of community.docker: the hosts
# pull the example portable service from lighttpd (TLS, test CA) with graft-update. The playbook
# (tests/e2e/ansible-graft.yml) checks, on both hosts at once: each task changes the host the
# first time and nothing the second (idempotent); check mode says what would change and changes
# nothing; --diff shows the change (the version, the portable state, the merged extensions);
# an update to a version whose health check fails fails the task with graft-update's message and
# rolled_back, and the host still serves the version before.
# The hosts need Python for Ansible's modules; their root is built before the network namespace.
NSPAWN_ROOT_PACKAGES=python3 source "$GRAFT_SOURCE_DIR/tests/e2e/lib/root-before-netns.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn-fleet.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
source "$GRAFT_SOURCE_DIR/tests/e2e/lib/update-hosts.sh"
need mksquashfs unsquashfs python3 sfdisk ansible-playbook
[[ -d /usr/lib/python3/dist-packages/ansible_collections/community/docker ]] ||
        skip "Ansible's community.docker collection is not installed (package ansible)"
[[ -x $PCTL && -x $SEXTCTL ]] || skip "pctl or sextctl is not built"

# The hosts need Python for Ansible's modules.
root=$(GRAFT_E2E_EXTRA_PACKAGES=python3 nspawn_root)
HOSTS=(graft-e2e-ans-1 graft-e2e-ans-2)
declare -A WEB_PORT=([graft-e2e-ans-1]=8091 [graft-e2e-ans-2]=8092)

webdemo_base
cp "$T/webdemo-1.raw" "$WWW/webdemo_1.raw"
webdemo_variant "$WWW/webdemo_2.raw" 2
webdemo_variant "$WWW/webdemo_3.raw" 3 no-page
sign_index
start_server
test_profiles
# An extension for the merge tasks (a bare squashfs: the hosts have no trust store).
mkdir -p "$T/ext/usr/lib/extension-release.d" "$T/ext/usr/share/tools"
printf 'ID=_any\n' >"$T/ext/usr/lib/extension-release.d/extension-release.tools"
echo tools >"$T/ext/usr/share/tools/file"
mksquashfs "$T/ext" "$T/tools.raw" -quiet -noappend -all-root >/dev/null

inventory=$T/inventory
echo "[hosts]" >"$inventory"
for h in "${HOSTS[@]}"; do
        d=$T/hosts/$h
        mkdir -p "$d/sysupdate.d" "$d/webdemo.service.d" "$d/extensions"
        cp "$T/tools.raw" "$d/extensions/"
        webdemo_transfer "$d/sysupdate.d/webdemo.transfer" "$URL/" "${WEB_PORT[$h]}" 1
        printf '[Service]\nExecStart=\nExecStart=/usr/bin/busybox httpd -f -p %s -h /usr/share/webdemo/www\n' \
                "${WEB_PORT[$h]}" >"$d/webdemo.service.d/port.conf"
        fleet_boot "$h" --bind-ro="$GRAFT_BUILD_DIR" --bind-ro="$T/profiles:/usr/lib/graft/profiles" \
                --bind-ro="$KEYS/ca.crt:/etc/graft-test-ca.crt" --bind-ro="$KEYS/pubring.gpg:/etc/systemd/import-pubring.gpg" \
                --bind="$d/sysupdate.d:/etc/sysupdate.d" --bind-ro="$d/webdemo.service.d:/etc/systemd/system/webdemo.service.d" \
                --bind="$d/extensions:/var/lib/extensions"
        echo "$h ansible_connection=community.docker.nsenter ansible_nsenter_pid=${FLEET_LEADER[$h]} ansible_python_interpreter=/usr/bin/python3 web_port=${WEB_PORT[$h]}" \
                >>"$inventory"
done

export ANSIBLE_LIBRARY=$GRAFT_SOURCE_DIR/contrib/ansible/library ANSIBLE_HOST_KEY_CHECKING=False \
        ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP=$T/ansible-local ANSIBLE_REMOTE_TMP=/tmp/ansible \
        ANSIBLE_FORCE_COLOR=0 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
rc=0
ansible-playbook -i "$inventory" --diff -e "graft_build=$GRAFT_BUILD_DIR" \
        "$GRAFT_SOURCE_DIR/tests/e2e/ansible-graft.yml" >"$T/play.log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]]; then
        tail -n 60 "$T/play.log" >&2
        fail "the playbook failed ($rc)"
fi
# The diffs the module showed.
assert_contains "$T/play.log" "-version: 1"
assert_contains "$T/play.log" "+version: 2"
assert_contains "$T/play.log" "+state: running"
assert_contains "$T/play.log" "+tools"
grep -E "^(PLAY RECAP|graft-e2e)" "$T/play.log" | tail -n 3
echo "ok"
