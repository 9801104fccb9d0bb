#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What was verified is what is used: graft refuses images, sidecars and profiles that anybody but
# root could change after verification (another owner, group or world write, an open writable
# descriptor or shared mapping), and paths that somebody else could point elsewhere later (a
# directory above them writable by another user), before anything in them is read. That is what
# makes the verification cache sound, and the loop-mounted merge without dm-verity too. Through
# graftd and in-process; each refusal names the file and who could write it, and changes nothing.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"
need veritysetup

P=$R/var/lib/portables
portable_image demo
portable_image other
sysext_image ext1
sysext_image ext2
sleep 1.1 # (files changed within the last second are not remembered by the cache)
bus_start
graftd_start
stats() { prop Manager1 VerificationCache | cut -d' ' -f2-; } # entries hits misses invalidated

# 1. The issue's attack: verified (and remembered) while only root could write it, then made
# writable by mistake, then rewritten by uid 65534 through a shared mapping (which leaves the
# times alone): graftd refuses it, and never reads the rewritten bytes.
"$PCTL" inspect demo >/dev/null || fail "inspect demo failed"
assert_eq "$(stats)" "1 0 1 0" "demo is not remembered"
chmod 0666 "$P/demo.raw"
as_nobody /usr/bin/python3 - "$P/demo.raw" <<'PY'
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    i = m.find(b"ExecStart=/usr/bin/true")
    if i < 0:
        sys.exit(0)  # compressed: any byte will do
    m[i:i + 23] = b"ExecStart=/bin/evil---!"
    m.flush()
PY
run_expect 6 "$P/demo.raw is writable by everyone, who could change it after graft checked it" \
        "$PCTL" attach demo
run_expect 6 "$P/demo.raw is writable by everyone" "$PCTL" --root="$R" attach demo
[[ ! -e $R/etc/systemd/system.attached/demo.service ]] || fail "demo was attached"
portable_image demo
host_snapshot "$T/before"

# 2. Another owner; group write (an ACL granting write shows there too).
chown 65534:65534 "$P/other.raw"
run_expect 6 "$P/other.raw is writable by uid 65534 (its owner)" "$PCTL" attach other
chown 0:0 "$P/other.raw"
chmod 0664 "$P/other.raw"
run_expect 6 "$P/other.raw is writable by group 0" "$PCTL" --root="$R" inspect other
chmod 0644 "$P/other.raw"

mkdir -p "$T/nobody-out"
chown 65534 "$T/nobody-out"

# hold_mapping: uid 65534 maps other.raw shared and writable (while it may) and keeps it; $holder.
hold_mapping() {
        rm -f "$T/nobody-out/mapped"
        # (setpriv itself in the background, not the as_nobody function: $! is then the mapping's holder)
        setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import mmap, sys, time
f = open(sys.argv[1], "r+b"); m = mmap.mmap(f.fileno(), 0); f.close()
open(sys.argv[2], "w").close(); time.sleep(60)' "$P/other.raw" "$T/nobody-out/mapped" &
        holder=$!
        for ((i = 0; i < 100; i++)); do [[ -e $T/nobody-out/mapped ]] && break; sleep 0.05; done
}

# 3. Writable by root only now, but uid 65534 still holds a shared writable mapping it took while
# it could: refused while the mapping lives, accepted once it is gone.
chmod 0666 "$P/other.raw"
hold_mapping
chmod 0644 "$P/other.raw"
run_expect 6 "$P/other.raw is open for writing by another process" "$PCTL" attach other
run_expect 6 "$P/other.raw is open for writing by another process" "$PCTL" --root="$R" attach other
kill "$holder"
wait "$holder" 2>/dev/null || true
"$PCTL" attach other >/dev/null || fail "other could not be attached once the mapping was gone"
"$PCTL" detach other >/dev/null
assert_host_unchanged "$T/before"

# 3b. A read-write loop device over the image is a writer root made (systemd 252 attaches the images
# of a running portable service so): accepted, for reattach and inspect of a running service. A
# read-only loop device excuses nobody: uid 65534's mapping is refused beside it.
loop=$(losetup -f --show "$P/other.raw") || skip "no loop device to be had"
"$PCTL" --root="$R" inspect other >/dev/null || { losetup -d "$loop"; fail "an image under a read-write loop device was refused"; }
losetup -d "$loop"
loop=$(losetup -r -f --show "$P/other.raw") || skip "no loop device to be had"
chmod 0666 "$P/other.raw"
hold_mapping
chmod 0644 "$P/other.raw"
run_expect 6 "$P/other.raw is open for writing by another process" "$PCTL" --root="$R" attach other
kill "$holder"
wait "$holder" 2>/dev/null || true
losetup -d "$loop"
assert_host_unchanged "$T/before"

# 4. A NAME.verity sidecar of another owner, next to a bare squashfs that only root can write.
mkdir -p "$T/src-bare/usr/lib/systemd/system"
printf 'ID=graft-test\n' >"$T/src-bare/usr/lib/os-release"
printf '[Service]\nExecStart=/usr/bin/true\n' >"$T/src-bare/usr/lib/systemd/system/bare.service"
mksquashfs "$T/src-bare" "$P/bare.raw" -quiet -noappend -all-root >/dev/null
veritysetup format "$P/bare.raw" "$P/bare.verity" | awk '/^Root hash:/ { print $3 }' >"$P/bare.roothash"
chown 65534 "$P/bare.verity"
run_expect 6 "$P/bare.verity is writable by uid 65534 (its owner)" "$PCTL" --image-policy='*' attach bare
chown 0 "$P/bare.verity"

# 5. The path systemd opens again at every start: a root-owned image below a directory another
# user may write is refused, naming the directory.
nobody_dir "$R/srv/shared"
mkdir -p "$R/srv/shared/app"
portable_image app "$R/srv/shared/app/app.raw"
host_snapshot "$T/before"
run_expect 6 "image $R/srv/shared/app/app.raw: the directory $R/srv/shared is writable by uid 65534 (its owner), who could replace it" \
        "$PCTL" attach "$R/srv/shared/app/app.raw"
run_expect 6 "the directory $R/srv/shared is writable by uid 65534" "$PCTL" --root="$R" attach "$R/srv/shared/app/app.raw"
assert_host_unchanged "$T/before"

# 6. Profiles given by path: copied, never linked, and only when nobody but root can change them.
mkdir -p "$R/srv/profiles/tight"
printf '[Service]\nPrivateNetwork=yes\n' >"$R/srv/profiles/tight/service.conf"
"$PCTL" --root="$R" attach demo --profile="$R/srv/profiles/tight" >/dev/null || fail "attach with a root-owned profile failed"
f=$R/etc/systemd/system.attached/demo.service.d/10-profile.conf
[[ -f $f && ! -L $f ]] || fail "the profile given by path was not copied: $(ls -l "$f")"
assert_contains "$f" "PrivateNetwork=yes"
"$PCTL" --root="$R" detach demo >/dev/null
cp -r "$R/srv/profiles/tight" "$R/srv/shared/tight"
host_snapshot "$T/before"
run_expect 6 "profile $R/srv/shared/tight: the directory $R/srv/shared is writable by uid 65534" \
        "$PCTL" --root="$R" attach demo --profile="$R/srv/shared/tight"
chown 65534 "$R/srv/profiles/tight/service.conf"
run_expect 6 "$R/srv/profiles/tight/service.conf is writable by uid 65534 (its owner)" \
        "$PCTL" attach demo --profile="$R/srv/profiles/tight"
chown 0 "$R/srv/profiles/tight/service.conf"
chown 65534 "$R/srv/profiles/tight"
run_expect 6 "profile $R/srv/profiles/tight is writable by uid 65534 (its owner)" \
        "$PCTL" attach demo --profile="$R/srv/profiles/tight"
chown 0 "$R/srv/profiles/tight"
# A profile found by name whose directory entry links to a place another user may write.
mkdir -p "$R/etc/graft/profiles"
ln -s ../../../srv/shared/tight "$R/etc/graft/profiles/sneaky"
host_snapshot "$T/before"
run_expect 6 "the directory $R/srv/shared is writable by uid 65534" "$PCTL" --root="$R" attach demo --profile=sneaky
assert_host_unchanged "$T/before"

# 7. --copy=symlink links the unit files of a directory image, which systemd reads again at every
# load: one that another user owns is refused, naming it (as any file of a directory image is).
make_portable_tree "$P/dirapp" dirapp
host_snapshot "$T/before"
chown 65534 "$P/dirapp/usr/lib/systemd/system/dirapp.service"
run_expect 6 "$P/dirapp: usr/lib/systemd/system/dirapp.service is writable by uid 65534 (its owner)" \
        "$PCTL" --root="$R" --image-policy='*' attach --copy=symlink dirapp
chown 0 "$P/dirapp/usr/lib/systemd/system/dirapp.service"
host_snapshot "$T/before"
"$PCTL" --root="$R" --image-policy='*' attach --copy=symlink dirapp >/dev/null || fail "a root-owned directory image could not be linked"
"$PCTL" --root="$R" detach dirapp >/dev/null
assert_host_unchanged "$T/before"

# 8. Extensions: the one another user owns is skipped and named; the others merge.
chown 65534 "$R/var/lib/extensions/ext2.raw"
run_expect 9 "$R/var/lib/extensions/ext2.raw is writable by uid 65534 (its owner)" "$SEXTCTL" --root="$R" merge
[[ -f $R/usr/share/ext1/file && ! -e $R/usr/share/ext2/file ]] || fail "the merge holds the wrong extensions"
"$SEXTCTL" --root="$R" unmerge >/dev/null
run_expect 9 "ext2.raw is writable by uid 65534 (its owner)" "$SEXTCTL" merge
[[ -f $R/usr/share/ext1/file && ! -e $R/usr/share/ext2/file ]] || fail "graftd's merge holds the wrong extensions"
"$SEXTCTL" unmerge >/dev/null
chown 0 "$R/var/lib/extensions/ext2.raw"

# 9. Directory images are used live (overlaid on /usr, a service's root directory): one file deep
# inside that another user may write refuses the whole tree, naming that file, through graftd
# and in-process, however permissive the image policy.
make_sysext_tree "$R/var/lib/extensions/dirext" dirext
chown 65534 "$R/var/lib/extensions/dirext/usr/bin/dirext"
host_snapshot "$T/before"
for via in --direct ""; do
        run_expect 9 "$R/var/lib/extensions/dirext: usr/bin/dirext is writable by uid 65534 (its owner)" \
                "$SEXTCTL" --root="$R" $via --image-policy='*' merge
        [[ ! -e $R/usr/bin/dirext ]] || fail "the writable directory extension was merged"
        "$SEXTCTL" --root="$R" $via unmerge >/dev/null
done
rm -rf "$R/var/lib/extensions/dirext"
chmod g+w "$P/dirapp/usr/lib/os-release"
host_snapshot "$T/before"
run_expect 6 "$P/dirapp: usr/lib/os-release is writable by group 0" \
        "$PCTL" --root="$R" --direct --image-policy='*' attach dirapp
run_expect 6 "$P/dirapp: usr/lib/os-release is writable by group 0" \
        "$PCTL" --root="$R" --image-policy='*' attach dirapp
assert_host_unchanged "$T/before"

# 10. The trust store: whoever could change a certificate, or add one to its directory, could sign
# images; neither is believed, through graftd and in-process.
host_snapshot "$T/before"
chown 65534 "$R/etc/verity.d/pk.crt"
for via in --direct ""; do
        run_expect 6 "trusted certificate $R/etc/verity.d/pk.crt is writable by uid 65534 (its owner)" \
                "$PCTL" --root="$R" $via attach demo
done
chown 0 "$R/etc/verity.d/pk.crt"
chmod o+w "$R/etc/verity.d"
run_expect 6 "trust store directory $R/etc/verity.d is writable by everyone" "$PCTL" --root="$R" attach demo
chmod o-w "$R/etc/verity.d"
assert_host_unchanged "$T/before"
assert_responsive
echo ok
