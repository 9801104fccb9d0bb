# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared setup of the hostile tier (tests/hostile): sourced after tests/lib/lib.sh (private mount
# namespace, $T) and tests/integration/daemon/lib-graftd.sh (a private system bus, graftd's
# programs, the scratch root $R with a trust store, profiles and search directories). Each case
# sets up an attack as the unprivileged user (uid 65534, "nobody") or as an unlucky operator, and
# asserts the refusal, its message, that graftd still answers, and that nothing changed.
#
#   as_nobody CMD…              runs CMD as uid/gid 65534 (lib-graftd.sh)
#   nobody_dir DIR              makes DIR (and its parents below $T) a place nobody may write
#   host_snapshot FILE          records the state of $R: every file (type, mode, owner, content)
#                               and every mount below it
#   assert_host_unchanged FILE  fails, showing the difference, unless $R is as recorded
#   assert_responsive [SEC]     graftd answers root's ListImages and Status within SEC (default 5)
#   with_timeout SEC CMD…       runs CMD, fails if it has not ended after SEC seconds

# The state of the scratch root: the files (the lock files of run/graft/locks excepted: taking a
# lock is not a change of the host; and the trust records, written after the change they describe
# and outside its all-or-nothing, see devmode.h) and the mounts below it, with their sources and
# options.
host_state() {
        local skip=(-path ./run/graft/locks -prune -o -path './run/graft/*.trust*' -prune -o
                -path './var/lib/graft/portable.trust*' -prune -o)
        (cd "$R" && find . "${skip[@]}" -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort)
        (cd "$R" && find . "${skip[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
        awk -v r="$R" '$5 == r || index($5, r "/") == 1 { print $5, $9, $10 }' /proc/self/mountinfo | LC_ALL=C sort
}

host_snapshot() {
        host_state >"$1"
}

assert_host_unchanged() {
        host_state >"$1.now"
        if ! cmp -s "$1" "$1.now"; then
                diff -u "$1" "$1.now" >&2 || true
                fail "the scratch root changed"
        fi
}

nobody_dir() {
        mkdir -p "$1"
        chown 65534:65534 "$1"
        chmod 0755 "$1"
}

with_timeout() {
        local sec=$1 rc=0
        shift
        timeout --kill-after=2 "$sec" "$@" || rc=$?
        [[ $rc -ne 124 && $rc -ne 137 ]] || fail "'$*' still ran after $sec s"
        return $rc
}

assert_responsive() {
        local sec=${1:-5}
        timeout "$sec" busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 ListImages \
                >/dev/null || fail "graftd did not answer ListImages within $sec s"
        timeout "$sec" busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Extensions1 Status \
                s sysext >/dev/null || fail "graftd did not answer Status within $sec s"
}

# nobody_gcall_error ERROR-NAME MESSAGE-PART IFACE.METHOD ARGS…: as uid 65534, the gdbus call
# fails with exactly that D-Bus error name and its message holds MESSAGE-PART; the message is left
# in $T/nobody-out/gerr.
nobody_gcall_error() {
        mkdir -p "$T/nobody-out"
        chown 65534:65534 "$T/nobody-out"
        as_nobody bash -c "$(declare -f gcall gcall_error fail); O=$T/nobody-out; gcall_error \"\$@\"" _ "$@"
}
