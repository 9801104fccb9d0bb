# SPDX-License-Identifier: LGPL-2.1-or-later
# Several containers at once, for the tests of many hosts: each booted like nspawn_boot does it
# (the cached root of nspawn.sh, --volatile=overlay, the loop devices bound), under its own machine
# name, all in the test's network namespace. Source tests/lib/lib.sh and tests/e2e/lib/nspawn.sh
# first.
#
#   fleet_boot NAME [NSPAWN_ARGS…]   # boots $root (set by the caller) as NAME, waits for it
#   fleet_run NAME CMD…              # runs CMD inside NAME
#   fleet_stop NAME                  # powers NAME off (all of them are at exit)

declare -A FLEET_PID=() FLEET_LEADER=()
FLEET_RUN_MOUNTED=

fleet_boot() {
        local name=$1 i state loops pid leader=
        shift
        if [[ -z $FLEET_RUN_MOUNTED ]]; then
                mkdir -p /run/systemd/nspawn
                mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn || skip "cannot mount a tmpfs on /run/systemd/nspawn"
                FLEET_RUN_MOUNTED=1
        fi
        mapfile -t loops < <(nspawn_loop_binds)
        setsid systemd-nspawn -D "$root" -M "$name" --boot --register=no --keep-unit --console=pipe \
                --volatile=overlay "${loops[@]}" "$@" </dev/null >"$T/nspawn-$name.log" 2>&1 &
        pid=$!
        FLEET_PID[$name]=$pid
        for ((i = 0; i < 900; i++)); do
                kill -0 "$pid" 2>/dev/null || { cat "$T/nspawn-$name.log" >&2; skip "systemd-nspawn exited while booting $name"; }
                [[ -n $leader ]] || leader=$(pgrep -P "$pid" -x systemd || true)
                if [[ -n $leader ]]; then
                        state=$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null || true)
                        if [[ $state == running || $state == degraded ]]; then
                                FLEET_LEADER[$name]=$leader
                                nspawn_loop_nodes "$leader"
                                return 0
                        fi
                fi
                sleep 0.1
        done
        cat "$T/nspawn-$name.log" >&2
        fail "$name did not finish booting in 90 s (last state: ${state:-none})"
}

fleet_run() {
        local name=$1
        shift
        [[ -n ${FLEET_LEADER[$name]:-} ]] || fail "fleet_run: $name is not running"
        nsenter -t "${FLEET_LEADER[$name]}" -a "$@"
}

fleet_stop() {
        local name=$1 i pid=${FLEET_PID[$1]:-}
        [[ -n $pid ]] || return 0
        [[ -n ${FLEET_LEADER[$name]:-} ]] &&
                nsenter -t "${FLEET_LEADER[$name]}" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
        for ((i = 0; i < 200; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset "FLEET_PID[$name]" "FLEET_LEADER[$name]"
}

fleet_cleanup() {
        local rc=$? n
        set +e
        for n in "${!FLEET_PID[@]}"; do fleet_stop "$n"; done
        [[ -n $FLEET_RUN_MOUNTED ]] && umount -l /run/systemd/nspawn 2>/dev/null
        (exit $rc)
        nspawn_cleanup
}
trap fleet_cleanup EXIT
