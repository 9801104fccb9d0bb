#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A client killed in the middle of a request (while graftd hashes a 384 MiB image for its attach,
# or while its request waits behind another change) leaves the image attached completely or not
# at all, never half: graftd finishes what it started without the caller. The same for detach.
# graftd stopped with SIGTERM finishes the operation that runs and refuses the waiting ones.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
need veritysetup

B=$R/var/lib/portables/big.raw
mkdir -p "$T/src-big/usr/lib/systemd/system" "$T/src-big/etc"
printf 'ID=graft-test\nVERSION_ID=1\n' >"$T/src-big/usr/lib/os-release"
for u in big.service big.socket big-helper.service; do
        printf '[Unit]\nDescription=%s\n[Service]\nExecStart=/usr/bin/true\n' "$u" >"$T/src-big/usr/lib/systemd/system/$u"
done
printf '[Socket]\nListenStream=1234\n' >>"$T/src-big/usr/lib/systemd/system/big.socket"
head -c 384M /dev/urandom >"$T/src-big/blob"
mksquashfs "$T/src-big" "$B" -quiet -noappend -all-root -noI -noD -noF -noX >/dev/null
veritysetup format "$B" "${B%.raw}.verity" | awk '/^Root hash:/ { print $3 }' >"${B%.raw}.roothash"
portable_image demo

bus_start
graftd_start

# The two states there may be: nothing attached, and big attached completely.
empty=$(attached_tree)
"$PCTL" --root="$R" --image-policy='*' attach big >/dev/null
full=$(attached_tree)
"$PCTL" --root="$R" detach big >/dev/null
[[ $(attached_tree) == "$empty" ]] || fail "in-process detach left files"
[[ $full != "$empty" ]] || fail "attach changed nothing"

whole() { # the state is one of the two; prints which
        local s
        s=$(attached_tree)
        if [[ $s == "$empty" ]]; then
                echo detached
        elif [[ $s == "$full" ]]; then
                echo attached
        else
                diff <(echo "$full") <(echo "$s") >&2
                fail "half attached after the client was killed ($1)"
        fi
}

declare -A seen
for delay in 0.02 0.1 0.2 0.3 0.5 0.8; do
        touch "$B" # a change: hashed again every time, never from the cache
        "$PCTL" --image-policy='*' attach big >/dev/null 2>&1 &
        client=$!
        sleep "$delay"
        kill -KILL "$client" 2>/dev/null || true
        wait "$client" 2>/dev/null || true
        graftd_idle
        state=$(whole "attach, killed after $delay s")
        seen[$state]=1
        echo "attach, client killed after $delay s: $state"
        if [[ $state == attached ]]; then
                "$PCTL" --image-policy='*' detach big >/dev/null &
                client=$!
                sleep 0.005
                kill -KILL "$client" 2>/dev/null || true
                wait "$client" 2>/dev/null || true
                graftd_idle
                state=$(whole "detach, killed")
                [[ $state == detached ]] || "$PCTL" detach big >/dev/null
        fi
done
[[ ${seen[attached]:-} ]] || fail "no killed client's attach was completed by graftd"
grep -q "AttachImage big (uid 0): done in" "$GRAFTD_LOG" || fail "graftd did not log the attaches it finished"

# Killed while waiting behind another change: the waiting attach still runs, whole.
touch "$B"
"$PCTL" --image-policy='*' attach big >/dev/null &
first=$!
for _ in $(seq 200); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.01; done
"$PCTL" attach demo >/dev/null 2>&1 &
second=$!
for _ in $(seq 200); do [[ $(prop Manager1 Operations) == "u 2" ]] && break; sleep 0.01; done
[[ $(prop Manager1 Operations) == "u 2" ]] || echo "note: the first attach ended before the second came" >&2
kill -KILL "$second" 2>/dev/null || true
wait "$first" || fail "the first attach failed"
graftd_idle
assert_eq "$("$PCTL" is-attached demo)" attached
"$PCTL" detach demo >/dev/null
"$PCTL" detach big >/dev/null
[[ $(attached_tree) == "$empty" ]] || fail "files left after the detaches"

# SIGTERM while an attach runs and another waits: the running one is finished, the waiting one
# refused with a reason (nothing of it was done), then graftd exits.
touch "$B"
"$PCTL" --image-policy='*' attach big >"$O/first" 2>&1 &
first=$!
for _ in $(seq 200); do [[ $(prop Manager1 Operations) == "u 1" ]] && break; sleep 0.01; done
"$PCTL" attach demo >"$O/second" 2>&1 &
second=$!
for _ in $(seq 200); do [[ $(prop Manager1 Operations) == "u 2" ]] && break; sleep 0.01; done
if [[ $(prop Manager1 Operations) == "u 2" ]]; then
        kill -TERM "$GRAFTD_PID"
        wait "$first" || { cat "$O/first" >&2; fail "the running attach did not finish after SIGTERM"; }
        rc=0
        wait "$second" || rc=$?
        [[ $rc -eq 1 ]] || { cat "$O/second" >&2; fail "the waiting attach exited $rc after SIGTERM"; }
        assert_contains "$O/second" "graftd is shutting down; the request was not started"
        wait "$GRAFTD_PID" || fail "graftd exited with an error after SIGTERM"
        GRAFTD_PID=
        grep -q "Received SIGTERM: finishing 1 operation(s), then exiting." "$GRAFTD_LOG" || fail "SIGTERM not logged"
        assert_eq "$("$PCTL" --root="$R" is-attached big)" attached
        run_expect 1 "" "$PCTL" --root="$R" is-attached demo
else
        echo "note: the first attach ended before the second came; SIGTERM case not checked" >&2
fi
echo ok
