#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One implementation, two paths: pctl and sextctl print the same (stdout, stderr, exit code) and
# leave the same tree whether the work runs in-process (--root=R) or in graftd (serving R on a
# private system bus), for successes and for each kind of refusal. Also: the CLIs really use
# graftd when it is there and fall back to in-process when it is not; --direct and --root never
# use it; -H and -M never fall back.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"

# Images: portable demo (signed) and variants, extensions (signed, and one for another OS).
portable_image demo
portable_image demo "$R/srv/demo_2.raw"
"$GRAFT_IMAGE" build "$T/src-demo" -o "$R/srv/unsigned.raw" --name demo --version 1 --type portable >/dev/null
cp "$R/var/lib/portables/demo.raw" "$R/srv/tampered.raw"
flip_byte "$R/srv/tampered.raw" $(($(part_offset "$R/srv/tampered.raw" 1) + 200))
cp -a "$T/src-demo" "$T/src-noid"
printf 'NAME=noid\n' >"$T/src-noid/usr/lib/os-release"
mksquashfs "$T/src-noid" "$R/srv/noid.raw" -quiet -noappend -all-root >/dev/null
mkdir -p "$T/src-fed/usr/lib/extension-release.d" "$T/src-fed/usr/lib/systemd/system"
printf 'ID=fedora\nVERSION_ID=39\n' >"$T/src-fed/usr/lib/extension-release.d/extension-release.fed"
"$GRAFT_IMAGE" build "$T/src-fed" -o "$R/var/lib/portables/fed.raw" --name fed --version 1 --type sysext \
        --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null
sysext_image ext1
sysext_image ext2

bus_start
graftd_start --log-level=debug

used_graftd() { # the number of requests graftd logged so far
        grep -cE ": (done in|failed after) " "$GRAFTD_LOG" || true
}

# The outputs of both paths, equal but for the loop device numbers (a refresh takes new devices
# while the old merge still holds its own).
compare() {
        local f
        for f in out err; do
                sed -i -E 's#/dev/loop[0-9]+#/dev/loopN#g' "$O/d.$f" "$O/b.$f"
                diff -u "$O/d.$f" "$O/b.$f" >&2 || fail "'$1': std$f differs between in-process and graftd"
        done
}

# same CODE CMD ARGS…: a read (or a refusal that changes nothing), in-process and through graftd.
same() {
        local code=$1 cmd=$2 rc1=0 rc2=0 n
        shift 2
        "$cmd" --root="$R" "$@" >"$O/d.out" 2>"$O/d.err" || rc1=$?
        n=$(used_graftd)
        "$cmd" "$@" >"$O/b.out" 2>"$O/b.err" || rc2=$?
        [[ $(used_graftd) -gt $n ]] || fail "'$cmd $*' did not go through graftd"
        [[ $rc1 -eq $code ]] || { cat "$O/d.out" "$O/d.err" >&2; fail "in-process '$cmd $*' exited $rc1, expected $code"; }
        [[ $rc2 -eq $code ]] || { cat "$O/b.out" "$O/b.err" >&2; fail "'$cmd $*' through graftd exited $rc2, expected $code"; }
        compare "$cmd $*"
}

# change CODE UNDO CMD ARGS…: a change in-process, its undo (in-process), then the same change
# through graftd: same output, same tree afterwards. UNDO is a command line in a string ("" for none).
change() {
        local code=$1 undo=$2 cmd=$3 rc1=0 rc2=0 n
        shift 3
        local before
        before=$(state_of_root)
        "$cmd" --root="$R" "$@" >"$O/d.out" 2>"$O/d.err" || rc1=$?
        local after_direct
        after_direct=$(state_of_root)
        [[ -z $undo ]] || eval "$undo" >/dev/null 2>&1 || fail "undo '$undo' failed"
        assert_eq "$(state_of_root)" "$before" "undo '$undo' did not restore the tree"
        n=$(used_graftd)
        "$cmd" "$@" >"$O/b.out" 2>"$O/b.err" || rc2=$?
        [[ $(used_graftd) -gt $n ]] || fail "'$cmd $*' did not go through graftd"
        [[ $rc1 -eq $code ]] || { cat "$O/d.out" "$O/d.err" >&2; fail "in-process '$cmd $*' exited $rc1, expected $code"; }
        [[ $rc2 -eq $code ]] || { cat "$O/b.out" "$O/b.err" >&2; fail "'$cmd $*' through graftd exited $rc2, expected $code"; }
        compare "$cmd $*"
        assert_eq "$(state_of_root)" "$after_direct" \
                "'$cmd $*' left another tree through graftd"
}
P=$PCTL
S=$SEXTCTL
state_of_root() { # what the operations here may change: files below etc/ and run/, mounts below $R
        tree_state "$R/etc"
        tree_state "$R/run" | grep -v -e '^\./graft' -e '  \./graft/' # staging and lock directories stay
        findmnt -rn -o TARGET | grep "^$R" || true
}
undo_p() { "$PCTL" --root="$R" detach "$@"; }

# Portable: reads.
same 0 "$P" list
same 0 "$P" --json=short list
same 0 "$P" --no-legend list
same 0 "$P" inspect demo
same 0 "$P" --json=pretty inspect demo
same 0 "$P" --profile=strict --copy=copy --runtime inspect demo
same 1 "$P" is-attached demo
same 8 "$P" --json=short --extension=fed inspect demo

# Portable: changes, and the list and state after them.
change 0 "undo_p demo" "$P" attach demo
same 0 "$P" list
same 0 "$P" --json=short list
same 0 "$P" is-attached demo
same 1 "$P" is-attached --extension=fed demo
same 10 "$P" attach demo
same 10 "$P" attach "$R/srv/demo_2.raw"
change 0 "undo_p demo_2; $P --root=$R attach demo" "$P" reattach "$R/srv/demo_2.raw"
change 0 "$P --root=$R attach $R/srv/demo_2.raw" "$P" --json=short detach "$R/srv/demo_2.raw"
change 0 "undo_p demo" "$P" attach --runtime --profile=trusted --copy=copy demo
"$P" detach demo >/dev/null
change 0 "undo_p demo" "$P" --json=pretty attach --enable demo
change 0 "$P --root=$R attach demo" "$P" -q detach demo
change 0 "undo_p demo" "$P" attach --image-policy='root=signed+verity' demo
# detach IMAGE PREFIX… and --extension (DetachImageMatching through graftd).
same 7 "$P" detach demo nope
same 7 "$P" detach --extension=fed demo
change 0 "$P --root=$R attach demo" "$P" detach demo demo

# Portable: refusals, each kind (exit codes 2, 3, 4, 6, 7, 8, 10) with the library's message.
same 4 "$P" attach "$R/srv/tampered.raw"
same 6 "$P" attach "$R/srv/unsigned.raw"
same 3 "$P" --image-policy='*' attach "$R/srv/noid.raw"
same 8 "$P" attach --extension=fed demo
same 6 "$P" attach demo other
same 2 "$P" attach demo ../../etc/x
same 2 "$P" attach ..
same 2 "$P" attach $'a\nb'
same 7 "$P" attach passwd
same 7 "$P" detach demo
# (A relative path reaches graftd made absolute, so the message names that: not compared.)
run_expect 7 "/../../../../etc/passwd is not attached" "$P" detach ../../../../etc/passwd
same 1 "$P" is-attached "$R/srv/nothing.raw"
same 2 "$P" --image-policy='*' remove "$R/srv/noid.raw"

# A relative path is the caller's: graftd gets it made absolute.
(cd "$R/srv" && "$P" attach ./demo_2.raw >"$O/rel.out") || fail "attach of a relative path through graftd failed"
assert_contains "$O/rel.out" "Created symlink /etc/portables/demo_2.raw → /srv/demo_2.raw."
"$P" detach "$R/srv/demo_2.raw" >/dev/null

# Remove and read-only (through graftd; in-process for comparison).
cp "$R/srv/demo_2.raw" "$R/var/lib/portables/spare.raw"
change 0 "" "$P" read-only spare
run_expect 10 "image spare is read-only; mark it writable first to remove it" "$P" remove spare
change 0 "" "$P" read-only spare no
change 0 "cp $R/srv/demo_2.raw $R/var/lib/portables/spare.raw" "$P" remove spare
[[ ! -e $R/var/lib/portables/spare.raw ]] || fail "remove through graftd left the image"
"$P" attach demo >/dev/null
same 10 "$P" remove demo
"$P" detach demo >/dev/null

# Extensions: reads, merge, status, refresh, unmerge, with text and JSON.
same 0 "$S" list
same 0 "$S" --json=short list
same 0 "$S" status
same 0 "$S" --confext status
undo_s() { "$SEXTCTL" --root="$R" unmerge; }
change 0 undo_s "$S" merge
same 0 "$S" status
same 0 "$S" --json=short status
same 10 "$S" merge
change 0 "" "$S" refresh
change 0 "$S --root=$R merge" "$S" --json=short unmerge
change 0 undo_s "$S" --json=pretty merge
"$S" unmerge >/dev/null
change 0 "" "$S" unmerge
# An extension for another OS is skipped (exit 9), with its reason on stderr.
mkdir -p "$T/ext-bad/usr/lib/extension-release.d" "$T/ext-bad/usr/share/bad"
printf 'ID=fedora\nVERSION_ID=39\n' >"$T/ext-bad/usr/lib/extension-release.d/extension-release.bad"
"$GRAFT_IMAGE" build "$T/ext-bad" -o "$R/var/lib/extensions/bad.raw" --name bad --version 1 --type sysext \
        --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null
change 9 undo_s "$S" merge
change 9 "" "$S" --json=short refresh
# (Undone by a refresh without --force, so that the second one finds "bad" unmerged again and
# does not leave the merge alone as unchanged.)
change 0 "$S --root=$R refresh || true" "$S" --force --image-policy='root=signed+absent:usr=signed+absent' --no-reload refresh
"$S" unmerge >/dev/null
rm "$R/var/lib/extensions/bad.raw"
# Choosing what is merged, the same through graftd (the dry-run flag, MergeNamed, RefreshNamed,
# SetEnabled): a dry run changes nothing, names pick a subset, disable/enable write the state.
same 0 "$S" merge --dry-run
same 0 "$S" --json=short refresh --dry-run
same 7 "$S" merge nope
run_expect 2 "--dry-run is for merge and refresh" "$S" unmerge --dry-run
change 0 undo_s "$S" merge ext2
"$S" unmerge >/dev/null
change 0 undo_s "$S" refresh ext1
"$S" unmerge >/dev/null
undo_e() { "$SEXTCTL" --root="$R" enable ext1 && rm -r "$R/etc/graft"; }
change 0 undo_e "$S" disable ext1
same 0 "$S" merge --dry-run
undo_e >/dev/null 2>&1
# --mutable travels in the flags.
change 0 undo_s "$S" --mutable=ephemeral merge
[[ -w $R/usr/share ]] && touch "$R/usr/share/eph" || fail "merge --mutable=ephemeral through graftd is not writable"
"$S" unmerge >/dev/null
# A failure of the whole operation (exit 1, GRAFT_ERROR_IO) is reported the same.
rm -rf "$R/run/graft" && echo x >"$R/run/graft"
change 1 "" "$S" merge
rm "$R/run/graft"
run_expect 2 "invalid --image-policy=root=bogus" "$S" --image-policy=root=bogus merge

# Usage errors stay in the CLI.
run_expect 2 "-H/-M go through graftd; they cannot be combined with --root or --direct" "$P" -H root@nowhere --direct list
run_expect 2 "-H/-M go through graftd; they cannot be combined with --root or --direct" "$S" -M box --root="$R" status

# --direct never asks graftd (it would work on this machine's own root, so only --help is run).
n=$(used_graftd)
"$P" --direct --help >/dev/null
"$S" --direct --root="$R" status >/dev/null
[[ $(used_graftd) -eq $n ]] || fail "--direct or --root went through graftd"

# Without graftd on the bus, the CLIs work in-process (here: only with --root, see above; and
# without --root they must not reach graftd, which is gone).
graftd_stop
run_expect 0 "" "$P" --root="$R" list
# -M and -H never fall back to in-process.
run_expect 1 "cannot connect to the system bus of machine nosuchbox" "$P" -M nosuchbox list
echo ok
