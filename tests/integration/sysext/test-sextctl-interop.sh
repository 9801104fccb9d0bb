#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sextctl side by side with systemd-sysext 252 on the same scratch roots: the merged trees (every
# path, type, mode and content hash under /usr and /opt, and the metadata) must be identical, except
# where graft deliberately differs, which each such scenario states and checks. Then each tool must
# recognise and undo the other's merge.
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
source "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
need systemd-sysext mksquashfs mountpoint

scenarios=0

# side_by_side NAME GRAFT_RC same|differ: builds the root with setup_NAME, merges it with both tools
# in turn and compares (same) or leaves the comparison to check_NAME SD_STATE GRAFT_STATE (differ).
side_by_side() {
        local name=$1 want_rc=$2 mode=$3 r=$T/$1 rc=0
        "setup_$name" "$r"
        systemd-sysext --root="$r" merge >"$O/sd.out" 2>&1 || true
        merged_state "$r" >"$T/$name.sd"
        sd_unmerge "$r"
        mountpoint -q "$r/usr" && fail "$name: systemd-sysext unmerge left $r/usr mounted"
        "$SEXTCTL" --root="$r" merge >"$O/g.out" 2>&1 || rc=$?
        [[ $rc -eq $want_rc ]] || { cat "$O/g.out" >&2; fail "$name: sextctl merge exited $rc, expected $want_rc"; }
        merged_state "$r" >"$T/$name.graft"
        "$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
        mountpoint -q "$r/usr" && fail "$name: sextctl unmerge left $r/usr mounted"
        if [[ $mode == same ]]; then
                diff -u "$T/$name.sd" "$T/$name.graft" >&2 || fail "$name: merged trees differ"
        else
                "check_$name" "$T/$name.sd" "$T/$name.graft" "$O/g.out"
        fi
        scenarios=$((scenarios + 1))
        echo "ok $name"
}

# 1. Precedence: /etc/extensions over /run/extensions over /var/lib/extensions.
setup_precedence() {
        new_root "$1"
        mkext "$1/var/lib/extensions/dup" dup && echo var >"$1/var/lib/extensions/dup/usr/share/dup/file"
        mkext "$1/run/extensions/dup" dup && echo run >"$1/run/extensions/dup/usr/share/dup/file"
        mkext "$1/etc/extensions/dup" dup && echo etc >"$1/etc/extensions/dup/usr/share/dup/file"
        mkext "$1/var/lib/extensions/low" low && mkext "$1/run/extensions/low" low
        echo run >"$1/run/extensions/low/usr/share/low/file"
}
side_by_side precedence 0 same
grep -q etc "$T/precedence.graft" || true

# 2. ID mismatch: skipped by both; graft says so and exits 9.
setup_idmismatch() {
        new_root "$1"
        mkext "$1/var/lib/extensions/good" good
        mkext "$1/var/lib/extensions/fedora" fedora ID=fedora VERSION_ID=12
}
side_by_side idmismatch 9 same
assert_contains "$O/g.out" "fedora: extension-release ID=fedora does not match the host's ID=debian"

# 3. ID=_any fits any host, without version checks.
setup_anyid() {
        new_root "$1"
        mkext "$1/var/lib/extensions/static" static ID=_any
}
side_by_side anyid 0 same

# 4. SYSEXT_LEVEL wins over VERSION_ID when both sides set it.
setup_level() {
        new_root "$1" ID=debian VERSION_ID=12 SYSEXT_LEVEL=1.0
        mkext "$1/var/lib/extensions/lvl" lvl ID=debian VERSION_ID=11 SYSEXT_LEVEL=1.0
        mkext "$1/var/lib/extensions/badlvl" badlvl ID=debian VERSION_ID=12 SYSEXT_LEVEL=2.0
        mkext "$1/var/lib/extensions/ver" ver ID=debian VERSION_ID=12
        mkext "$1/var/lib/extensions/badver" badver ID=debian VERSION_ID=11
}
side_by_side level 9 same
assert_contains "$O/g.out" "badlvl: extension-release SYSEXT_LEVEL=2.0 does not match the host's SYSEXT_LEVEL=1.0"
assert_contains "$O/g.out" "badver: extension-release VERSION_ID=11 does not match the host's VERSION_ID=12"

# 5. ARCHITECTURE: another one is refused, the host's and _any are fine.
setup_arch() {
        new_root "$1"
        mkext "$1/var/lib/extensions/native" native ID=debian VERSION_ID=12 ARCHITECTURE=x86-64
        mkext "$1/var/lib/extensions/anyarch" anyarch ID=debian VERSION_ID=12 ARCHITECTURE=_any
        mkext "$1/var/lib/extensions/arm" arm ID=debian VERSION_ID=12 ARCHITECTURE=arm64
}
[[ $(uname -m) == x86_64 ]] && side_by_side arch 9 same

# 6. An extension with content only for /opt (and its release file in /usr).
setup_optonly() {
        new_root "$1"
        mkext "$1/var/lib/extensions/optonly" optonly
        mkdir -p "$1/var/lib/extensions/optonly/opt/optonly"
        echo opt >"$1/var/lib/extensions/optonly/opt/optonly/file"
        rm -r "$1/var/lib/extensions/optonly/usr/share"
}
side_by_side optonly 0 same

# 7. An empty extension (only its release file), next to a normal one; and an empty host /opt,
# which neither tool adds as a layer.
setup_empty() {
        new_root "$1"
        rm -r "$1/opt/host"
        mkext "$1/var/lib/extensions/empty" empty
        rm -r "$1/var/lib/extensions/empty/usr/share"
        mkext "$1/var/lib/extensions/full" full
        mkdir -p "$1/var/lib/extensions/full/opt/x" && echo x >"$1/var/lib/extensions/full/opt/x/y"
}
side_by_side empty 0 same

# 8. Two extensions shipping the same file: the later in name order (B < a2 < a10 < b, version
# order) is on top; directories merge.
setup_samefile() {
        new_root "$1"
        local n
        for n in a2 a10 B b; do
                mkext "$1/var/lib/extensions/$n" "$n"
                mkdir -p "$1/var/lib/extensions/$n/usr/share/host"
                echo "$n" >"$1/var/lib/extensions/$n/usr/share/host/file"
        done
}
side_by_side samefile 0 same
grep -q "$(echo b | sha256sum | cut -d' ' -f1)  ./share/host/file" "$T/samefile.graft" || fail "samefile: b is not on top"

# 9. Plain squashfs images (.raw), and a directory image, together.
setup_raw() {
        new_root "$1"
        mkext "$T/src-raw1" raw1 && squash "$T/src-raw1" "$1/var/lib/extensions/raw1.raw"
        mkext "$T/src-raw2" raw2 && squash "$T/src-raw2" "$1/etc/extensions/raw2.raw"
        mkext "$1/run/extensions/dir1" dir1
}
side_by_side raw 0 same

# 10. No release file, or the release file of another name: both tools skip the image.
setup_norelease() {
        new_root "$1"
        mkext "$1/var/lib/extensions/ok" ok
        mkext "$1/var/lib/extensions/norel" norel && rm -r "$1/var/lib/extensions/norel/usr/lib"
        mkext "$1/var/lib/extensions/renamed" other
}
side_by_side norelease 9 same
assert_contains "$O/g.out" "renamed: has no /usr/lib/extension-release.d/extension-release.renamed, only extension-release.other"

# 11. Deliberate difference: ID_LIKE. systemd 252 compares ID only; graft (like newer systemd)
# also accepts an extension for an ID the host lists in ID_LIKE.
setup_idlike() {
        new_root "$1" ID=ubuntu ID_LIKE=debian VERSION_ID=12
        mkext "$1/var/lib/extensions/deb" deb
}
check_idlike() {
        grep -q "share/deb/file" "$1" && fail "idlike: systemd-sysext 252 unexpectedly merged an ID_LIKE extension"
        grep -q "share/deb/file" "$2" || fail "idlike: graft did not merge the ID_LIKE extension"
        return 0
}
side_by_side idlike 0 differ

# 12. Deliberate difference: .v/ directories. systemd 252 knows no versioned directories (it takes
# "v.v" for an image of that name without a release file); graft picks the newest version.
setup_versions() {
        new_root "$1"
        mkdir -p "$1/var/lib/extensions/v.v"
        mkext "$1/var/lib/extensions/v.v/v_1.2" v && echo 1.2 >"$1/var/lib/extensions/v.v/v_1.2/usr/share/v/file"
        mkext "$1/var/lib/extensions/v.v/v_1.10" v && echo 1.10 >"$1/var/lib/extensions/v.v/v_1.10/usr/share/v/file"
        mkext "$1/var/lib/extensions/v.v/v_1.9_arm64" v && echo arm >"$1/var/lib/extensions/v.v/v_1.9_arm64/usr/share/v/file"
}
check_versions() {
        grep -q "share/v/file" "$1" && fail "versions: systemd-sysext 252 unexpectedly merged a .v/ directory"
        grep -q "$(echo 1.10 | sha256sum | cut -d' ' -f1)  ./share/v/file" "$2" || fail "versions: graft did not pick v_1.10"
        return 0
}
[[ $(uname -m) == x86_64 ]] && side_by_side versions 0 differ

# 13. Deliberate difference: one broken image. systemd 252 aborts the whole merge; graft merges the
# others, names the broken one and exits 9.
setup_broken() {
        new_root "$1"
        mkext "$1/var/lib/extensions/good" good
        head -c 8192 /dev/urandom >"$1/var/lib/extensions/broken.raw"
}
check_broken() {
        grep -q "share/good/file" "$1" && fail "broken: systemd-sysext 252 unexpectedly merged despite a broken image"
        grep -q "share/good/file" "$2" || fail "broken: graft did not merge the good image"
        assert_contains "$3" "broken.raw"
}
side_by_side broken 9 differ

((scenarios >= 10)) || fail "only $scenarios scenarios ran"

# Each tool recognises and undoes the other's merge.
r=$T/cross
setup_raw "$r"
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1
SYSTEMD_SYSEXT_HIERARCHIES=$(sd_hier "$r") systemd-sysext status >"$O/st" 2>&1
assert_contains "$O/st" "raw1"
SYSTEMD_SYSEXT_HIERARCHIES=$(sd_hier "$r") systemd-sysext status --json=short >"$O/st"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); u=[h for h in s if h['hierarchy'].endswith('/usr')][0]; assert u['extensions']==['dir1','raw1','raw2'], u" "$O/st" ||
        fail "systemd-sysext status does not list graft's merge"
sd_unmerge "$r"
mountpoint -q "$r/usr" && fail "systemd-sysext unmerge did not undo graft's merge"

systemd-sysext --root="$r" merge >/dev/null 2>&1
"$SEXTCTL" --root="$r" status --json=short >"$O/st"
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s[0]['extensions']==['dir1','raw1','raw2'], s" "$O/st" ||
        fail "sextctl status does not list systemd-sysext's merge"
# refresh takes over systemd's merge (beneath it), then unmerge removes it.
"$SEXTCTL" --root="$r" refresh >"$O/out" 2>&1 || { cat "$O/out"; fail "refresh over systemd's merge failed"; }
assert_contains "$O/out" "no gap"
[[ $(grep -c " $r/usr " /proc/self/mountinfo) -eq 1 ]] || fail "refresh left more than one mount on /usr"
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
mountpoint -q "$r/usr" && fail "sextctl unmerge did not undo the merge"
systemd-sysext --root="$r" merge >/dev/null 2>&1
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
mountpoint -q "$r/usr" && fail "sextctl unmerge did not undo systemd-sysext's merge"

# merge on a merged tree is refused (like systemd-sysext), and changes nothing.
"$SEXTCTL" --root="$r" merge >/dev/null 2>&1
run_expect 10 "is already merged; use refresh" "$SEXTCTL" --root="$r" merge
"$SEXTCTL" --root="$r" unmerge >/dev/null 2>&1
echo "all $scenarios scenarios passed"
