#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --mutable= with systemd's modes and layout (v256; systemd-sysext 252 has none, so graft alone):
# writes routed to ROOT/var/lib/extensions.mutable/usr (yes, auto), that directory imported
# read-only (import), an ephemeral upper layer that goes with the merge (ephemeral,
# ephemeral-import), a routing symlink back to the host's /usr. Then the configuration file
# (sysext.conf with drop-ins, as systemd v259 reads it): Mutable= and ImagePolicy=, the command
# line over it, and a bad value refused with its file and line.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need mountpoint

r=$T/root
new_root "$r"
mkext "$r/var/lib/extensions/e" e
M=$r/var/lib/extensions.mutable
S() { "$SEXTCTL" --root="$r" "$@"; }
writable() { (echo "$2" >"$r/usr/share/$1") 2>/dev/null; }

# no (the default): read-only, nothing created.
S merge >/dev/null 2>&1 || fail "merge failed"
writable x x && fail "the default merge is writable"
[[ -e $M ]] && fail "the default merge created $M"
S unmerge >/dev/null 2>&1

# yes: writes land in the routing directory, which is created; they outlive the merge.
S --mutable=yes merge >/dev/null 2>&1 || fail "merge --mutable=yes failed"
writable kept kept || fail "merge --mutable=yes is not writable"
[[ $(cat "$M/usr/share/kept") == kept ]] || fail "the write did not land in $M/usr"
[[ -d $M/.systemd-usr-workdir ]] || fail "no work directory next to the routing directory"
mountpoint -q "$r/opt" && fail "/opt without extension content was merged"
# A refresh (another extension) keeps the writes visible.
mkext "$r/var/lib/extensions/f" f
S --mutable=yes refresh >/dev/null 2>&1 || fail "refresh --mutable=yes failed"
[[ $(cat "$r/usr/share/kept") == kept && $(cat "$r/usr/share/f/file") == f ]] || fail "refresh lost the writes or f"
S unmerge >/dev/null 2>&1
[[ -e $r/usr/share/kept ]] && fail "the write is visible without the merge"
[[ $(cat "$M/usr/share/kept") == kept ]] || fail "unmerge lost the routed write"

# auto: writable because the routing directory exists; import: its content, read-only.
S --mutable=auto merge >/dev/null 2>&1 && writable auto auto || fail "merge --mutable=auto with $M/usr is not writable"
S unmerge >/dev/null 2>&1
S --mutable=import merge >/dev/null 2>&1 || fail "merge --mutable=import failed"
[[ $(cat "$r/usr/share/kept") == kept ]] || fail "import does not show the routing directory's content"
writable imp imp && fail "merge --mutable=import is writable"
S unmerge >/dev/null 2>&1

# ephemeral: writable, nothing of it outlives the merge; the routing directory is not used.
before=$(tree_state "$M")
S --mutable=ephemeral merge >/dev/null 2>&1 && writable eph eph || fail "merge --mutable=ephemeral is not writable"
[[ -e $r/usr/share/kept ]] && fail "ephemeral shows the routing directory's content"
S unmerge >/dev/null 2>&1
[[ -e $r/usr/share/eph ]] && fail "an ephemeral write outlived the merge"
assert_eq "$(tree_state "$M")" "$before" "ephemeral changed the routing directory"
[[ -z $(find "$r/run/graft/sysext" -mindepth 1) ]] || fail "ephemeral left something in the staging directory"
# ephemeral-import: the routing directory's content, writes discarded.
S --mutable=ephemeral-import merge >/dev/null 2>&1 && writable ei ei || fail "ephemeral-import is not writable"
[[ $(cat "$r/usr/share/kept") == kept ]] || fail "ephemeral-import does not show the routing directory's content"
S unmerge >/dev/null 2>&1
assert_eq "$(tree_state "$M")" "$before" "ephemeral-import changed the routing directory"

# A routing symlink back to /usr (inside the root): writes go to the host's /usr itself.
rm -r "$M/usr" && ln -s /usr "$M/usr"
S --mutable=auto merge >/dev/null 2>&1 && writable back back || fail "merge with usr -> /usr is not writable"
[[ $(cat "$r/usr/share/e/file") == e ]] || fail "e is not merged"
S unmerge >/dev/null 2>&1
[[ $(cat "$r/usr/share/back") == back ]] || fail "the write did not land in the host's /usr"
rm "$r/usr/share/back" "$M/usr"

run_expect 2 "--mutable= takes no, yes, auto, import, ephemeral or ephemeral-import (or help), not \"maybe\"" \
        "$SEXTCTL" --root="$r" --mutable=maybe merge
run_expect 0 "" "$SEXTCTL" --mutable=help
assert_contains "$O/out" "ephemeral-import"
echo "ok mutable modes"

# The configuration: main file, a drop-in over it, a masked drop-in, the command line over all.
mkdir -p "$r/etc/systemd/sysext.conf.d" "$r/usr/lib/systemd/sysext.conf.d"
printf '[SysExt]\nMutable=yes\n' >"$r/etc/systemd/sysext.conf"
S merge >/dev/null 2>&1 && writable conf conf || fail "Mutable=yes in sysext.conf did not apply"
S unmerge >/dev/null 2>&1
printf '# later name wins\n[SysExt]\nMutable=ephemeral\n' >"$r/usr/lib/systemd/sysext.conf.d/50-eph.conf"
S merge >/dev/null 2>&1 && writable dropin dropin || fail "merge with the drop-in failed"
S unmerge >/dev/null 2>&1
[[ -e $M/usr/share/dropin ]] && fail "the drop-in's Mutable=ephemeral did not apply"
ln -s /dev/null "$r/etc/systemd/sysext.conf.d/50-eph.conf"
S merge >/dev/null 2>&1 && writable masked masked || fail "merge with the masked drop-in failed"
S unmerge >/dev/null 2>&1
[[ -e $M/usr/share/masked ]] || fail "a drop-in masked by /dev/null in /etc still applied"
S --mutable=no merge >/dev/null 2>&1 || fail "merge --mutable=no failed"
writable cli cli && fail "--mutable=no did not override the configuration"
S unmerge >/dev/null 2>&1
# ImagePolicy= from the configuration: only signed images, so the directory image is skipped.
printf '[SysExt]\nImagePolicy=root=signed+absent:usr=signed+absent\n' >"$r/etc/systemd/sysext.conf.d/60-policy.conf"
run_expect 9 "image policy requires the root partition to be signed or absent, but $r/var/lib/extensions/e has it without verity" "$SEXTCTL" --root="$r" merge
assert_contains "$O/err" "skipped:"
run_expect 0 "" "$SEXTCTL" --root="$r" --image-policy='*' refresh
S unmerge >/dev/null 2>&1
# A value that is none is refused, with its file and line, and nothing changes.
printf '[SysExt]\n\nMutable=bogus\n' >"$r/etc/systemd/sysext.conf.d/70-bad.conf"
before=$(tree_state "$r")
run_expect 2 "$r/etc/systemd/sysext.conf.d/70-bad.conf:3: Mutable=bogus is none of no, yes, auto, import, ephemeral, ephemeral-import" \
        "$SEXTCTL" --root="$r" merge
mountpoint -q "$r/usr" && fail "a bad configuration merged"
assert_eq "$(tree_state "$r")" "$before" "a bad configuration changed the root"
# Unmerge does not read it: a bad file never keeps anybody from unmerging.
run_expect 0 "" "$SEXTCTL" --root="$r" unmerge
echo "ok configuration"
