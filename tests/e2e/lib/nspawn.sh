# SPDX-License-Identifier: LGPL-2.1-or-later
# A real systemd for the end-to-end tests: a Debian root built once with debootstrap and cached
# under /var/cache/graft-test, booted with systemd-nspawn (--volatile=overlay: every boot starts
# from the cached tree, nothing the test does is kept), commands run inside with nsenter.
#
# Source tests/lib/lib.sh first (it gives the private mount namespace, $T, skip and fail), then
# this file:
#
#   root=$(nspawn_root)                     # the cached root (built on first use), or skip
#   nspawn_boot "$root" NAME [NSPAWN_ARGS…] # boots it; sets NSPAWN_LEADER (the container's PID 1)
#   nspawn_run CMD…                         # runs CMD inside (all namespaces of PID 1)
#   nspawn_bus                              # the container's system bus address, seen from here
#   nspawn_stop                             # powers it off (also done at exit)
#
# Packages: NSPAWN_PACKAGES (below) are what every graft e2e test needs: systemd, D-Bus, the
# libraries graft's programs link to, and the sanitizer runtimes (so a binary from a normal or an
# ASan/UBSan build directory runs inside when that directory is bound in), systemd-container (portablectl, for side-by-side runs),
# busybox-static and squashfs-tools. Extra packages for one test: GRAFT_E2E_EXTRA_PACKAGES (a
# space-separated list; a different list makes a different cached root). The mirror is the
# Debian one configured for apt on this machine (read from /etc/apt), or GRAFT_E2E_MIRROR.
# GRAFT_E2E_CACHE overrides /var/cache/graft-test.
#
# One container at a time per test script. Each step that cannot work here (no debootstrap, no
# mirror, nspawn refuses to boot) skips the test with the reason (exit 77), never passes it.

NSPAWN_SUITE=bookworm
NSPAWN_PACKAGES=(systemd systemd-sysv dbus systemd-container
        libsquashfs1 libcryptsetup12 libfdisk1 libmount1 libjson-c5 libssl3 libsystemd0
        libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-rc0 libtss2-mu0 libtss2-sys1
        libasan8 libubsan1
        busybox-static squashfs-tools)
NSPAWN_CACHE=${GRAFT_E2E_CACHE:-/var/cache/graft-test}
NSPAWN_PID=
NSPAWN_LEADER=
NSPAWN_NAME=
NSPAWN_LOG=

# The Debian mirror apt uses here for $NSPAWN_SUITE (deb822 .sources or one-line .list files).
nspawn_mirror() {
        if [[ -n ${GRAFT_E2E_MIRROR:-} ]]; then
                echo "$GRAFT_E2E_MIRROR"
                return 0
        fi
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
                [[ -r $f ]] || continue
                # Stanzas are separated by blank lines; take the first whose Suites list the suite.
                awk -v suite="$NSPAWN_SUITE" '
                        BEGIN { RS = ""; FS = "\n" }
                        {
                                uri = ""; ok = 0
                                for (i = 1; i <= NF; i++) {
                                        if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                                        if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
                                }
                                if (ok && uri != "") { print uri; exit }
                        }' "$f"
        done | awk 'NR == 1 { print; found = 1 } END { exit !found }' && return 0
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [[ -r $f ]] || continue
                awk -v suite="$NSPAWN_SUITE" '$1 == "deb" { u = ""; for (i = 2; i <= NF; i++) { if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; continue } if (u == "") { u = $i; continue } if ($i == suite) { print u; exit } break } }' "$f"
        done | awk 'NR == 1 { print; found = 1 } END { exit !found }'
}

# The cached root for the package set: built once (≈2–3 min), then reused. Prints its path.
nspawn_root() {
        local pkgs key dir mirror build
        command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is not installed (package systemd-container)"
        command -v nsenter >/dev/null || skip "nsenter is not installed"
        pkgs=$(printf '%s\n' "${NSPAWN_PACKAGES[@]}" ${GRAFT_E2E_EXTRA_PACKAGES:-} | LC_ALL=C sort -u | paste -sd, -)
        key=$(printf '%s %s' "$NSPAWN_SUITE" "$pkgs" | sha256sum | cut -c1-12)
        dir=$NSPAWN_CACHE/roots/$NSPAWN_SUITE-$key
        mkdir -p "$NSPAWN_CACHE/roots" || skip "cannot create $NSPAWN_CACHE/roots"
        # One builder at a time; the others wait and then find the finished root.
        exec {NSPAWN_LOCK_FD}>"$NSPAWN_CACHE/roots/.lock"
        flock "$NSPAWN_LOCK_FD"
        if [[ -e $dir/.graft-root-complete ]]; then
                exec {NSPAWN_LOCK_FD}>&-
                echo "$dir"
                return 0
        fi
        command -v debootstrap >/dev/null || { exec {NSPAWN_LOCK_FD}>&-; skip "debootstrap is not installed (tools/install-deps installs it)"; }
        mirror=$(nspawn_mirror) || { exec {NSPAWN_LOCK_FD}>&-; skip "no Debian $NSPAWN_SUITE mirror configured in /etc/apt (set GRAFT_E2E_MIRROR)"; }
        build=$(mktemp -d "$NSPAWN_CACHE/roots/.build-XXXXXX")
        echo "nspawn: building a $NSPAWN_SUITE root with $pkgs from $mirror (once; cached in $dir)" >&2
        if ! debootstrap --variant=minbase --include="$pkgs" "$NSPAWN_SUITE" "$build/root" "$mirror" \
                >"$build/debootstrap.log" 2>&1; then
                tail -n 20 "$build/debootstrap.log" >&2
                rm -rf "$build"
                exec {NSPAWN_LOCK_FD}>&-
                skip "debootstrap of $NSPAWN_SUITE from $mirror failed (no network to the mirror?)"
        fi
        nspawn_prepare_root "$build/root"
        touch "$build/root/.graft-root-complete"
        rm -rf "$dir"
        mv "$build/root" "$dir"
        rm -rf "$build"
        exec {NSPAWN_LOCK_FD}>&-
        echo "$dir"
}

# Small changes that make the root boot quickly and quietly in a container.
nspawn_prepare_root() {
        local root=$1 u
        rm -f "$root"/var/cache/apt/archives/*.deb
        : >"$root/etc/machine-id"
        echo graft-e2e >"$root/etc/hostname"
        # Nothing to log in on, and no network to wait for.
        for u in getty@.service console-getty.service systemd-networkd-wait-online.service \
                apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
                ln -sfn /dev/null "$root/etc/systemd/system/$u"
        done
}

# Loop devices a container may use (images are attached through them inside).
nspawn_loop_binds() {
        local i
        for i in $(seq 0 15); do
                [[ -b /dev/loop$i ]] || mknod -m 0660 "/dev/loop$i" b 7 "$i" 2>/dev/null || true
                [[ -b /dev/loop$i ]] && printf -- '--bind=/dev/loop%s\n' "$i"
        done
        echo --bind=/dev/loop-control
}

# nspawn_loop_nodes [LEADER]: loop device nodes in the container (of PID LEADER, default
# NSPAWN_LEADER) for every number the kernel may hand out (0–1023), with the kernel's minor numbers
# (loop.max_part shifts them). The container's /dev has only the nodes bound at boot, while
# LOOP_CTL_GET_FREE answers with the lowest free number of the whole machine, which other users of
# loop devices push past those: systemd 252 (portabled, RootImage=, systemd-dissect)
# then retries 64 times and fails with EBUSY ("AttachImage failed: Device or resource busy"), or
# succeeds seconds late; graft creates a missing node itself.
nspawn_loop_nodes() {
        nsenter -t "${1:-$NSPAWN_LEADER}" -a sh -c '
                shift=0 max=$(cat /sys/module/loop/parameters/max_part 2>/dev/null || echo 0)
                while [ "$max" -gt 0 ] && [ $((1 << shift)) -le "$max" ]; do shift=$((shift + 1)); done
                i=0
                while [ $i -lt 1024 ]; do
                        [ -e /dev/loop$i ] || mknod -m 0660 /dev/loop$i b 7 $((i << shift)) || exit 1
                        i=$((i + 1))
                done' || fail "cannot create the loop device nodes in the container"
}

# nspawn_boot ROOT NAME [NSPAWN_ARGS…]: boots ROOT in the background and waits until systemd has
# finished starting up (running or degraded), at most 90 s; then gives it the loop device nodes
# (nspawn_loop_nodes).
nspawn_boot() {
        local root=$1 name=$2 i state loops
        shift 2
        [[ -z $NSPAWN_PID ]] || fail "nspawn_boot: a container is already running"
        [[ ${GRAFT_TEST_IN_NAMESPACE:-} ]] || fail "nspawn_boot: source tests/lib/lib.sh first (private mount namespace)"
        # nspawn keeps per-machine state in /run/systemd/nspawn and refuses a /run that is not a
        # tmpfs; this mount lives in the test's private namespace only.
        mkdir -p /run/systemd/nspawn
        mount -t tmpfs -o mode=0755 tmpfs /run/systemd/nspawn || skip "cannot mount a tmpfs on /run/systemd/nspawn"
        NSPAWN_NAME=$name
        NSPAWN_LOG=$T/nspawn-$name.log
        mapfile -t loops < <(nspawn_loop_binds)
        setsid systemd-nspawn -D "$root" -M "$name" --boot --register=no --keep-unit --console=pipe \
                --volatile=overlay "${loops[@]}" "$@" </dev/null >"$NSPAWN_LOG" 2>&1 &
        NSPAWN_PID=$!
        for ((i = 0; i < 900; i++)); do
                kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$NSPAWN_LOG" >&2; NSPAWN_PID=; skip "systemd-nspawn exited while booting $root"; }
                [[ -n $NSPAWN_LEADER ]] || NSPAWN_LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
                if [[ -n $NSPAWN_LEADER ]]; then
                        state=$(nsenter -t "$NSPAWN_LEADER" -a systemctl is-system-running 2>/dev/null || true)
                        case $state in
                        running|degraded) nspawn_loop_nodes; return 0 ;;
                        esac
                fi
                sleep 0.1
        done
        cat "$NSPAWN_LOG" >&2
        nspawn_stop
        fail "the container did not finish booting in 90 s (last state: ${state:-none})"
}

nspawn_run() {
        [[ -n $NSPAWN_LEADER ]] || fail "nspawn_run: no container is running"
        nsenter -t "$NSPAWN_LEADER" -a "$@"
}

# The container's system bus as an address usable from outside (DBUS_SYSTEM_BUS_ADDRESS).
nspawn_bus() {
        echo "unix:path=/proc/$NSPAWN_LEADER/root/run/dbus/system_bus_socket"
}

# Powers the container off (≈2 s) and waits for nspawn; kills it after 20 s.
nspawn_stop() {
        local i
        [[ -n $NSPAWN_PID ]] || return 0
        if [[ -n $NSPAWN_LEADER ]]; then
                nsenter -t "$NSPAWN_LEADER" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
        fi
        for ((i = 0; i < 200; i++)); do
                kill -0 "$NSPAWN_PID" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
                kill -TERM "$NSPAWN_PID" 2>/dev/null || true
                sleep 1
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        fi
        wait "$NSPAWN_PID" 2>/dev/null || true
        NSPAWN_PID=
        NSPAWN_LEADER=
        umount -l /run/systemd/nspawn 2>/dev/null || true
}

# Stop the container before lib.sh's cleanup removes $T (where its log lives).
nspawn_cleanup() {
        local rc=$?
        set +e
        nspawn_stop
        if declare -F cleanup >/dev/null; then
                (exit $rc) # cleanup takes the status from $?
                cleanup
        fi
        exit $rc
}
trap nspawn_cleanup EXIT
