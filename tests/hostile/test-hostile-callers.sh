#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An unprivileged caller (uid 65534) on the bus, without polkit: it reaches the images of the search
# directories with the host's image policy, and nothing else. Reads that name a path (image,
# extension, profile) or pass an image policy are refused before anything is resolved, with the
# same words whether the path exists or not; graftd opens, parses and mounts nothing of what such
# a caller names. Root may. (The authorization model: graftd(8), org.graft.Manager1(5).)
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"
need mkfs.erofs losetup

portable_image demo
bus_start
graftd_start
A=org.freedesktop.DBus.Error.AccessDenied
INSPECT="needs root, or polkit's authorization for org.graft.inspect-images: no polkit authority is running"
# meta IMAGE [PROFILE] [EXTENSIONS] [POLICY]: GetImageMetadata's arguments, into the array M.
meta() { M=(Manager1.GetImageMetadata "$1" "@as []" "${2:-}" "" 0 "${3:-@as []}" "${4:-}"); }

# A secret image in a directory uid 65534 may not enter, and a root-only block device on it.
mkdir -m 0700 "$R/srv/secret"
portable_image secretapp "$R/srv/secret/secretapp.raw"
loop=$(losetup --find --show --read-only "$R/srv/secret/secretapp.raw")
trap 'rc=$?; losetup -d "$loop" 2>/dev/null; (exit $rc); graftd_cleanup' EXIT
chmod 0600 "$loop"

# An erofs image uid 65534 wrote itself (erofs is read by mounting it).
nobody_dir "$T/home"
mkdir -p "$T/evil/usr/lib/systemd/system"
printf 'ID=evil\n' >"$T/evil/usr/lib/os-release"
printf '[Service]\nExecStart=/bin/sh\n' >"$T/evil/usr/lib/systemd/system/evil.service"
mkfs.erofs -q "$T/home/evil.raw" "$T/evil" >/dev/null 2>&1 || mkfs.erofs "$T/home/evil.raw" "$T/evil" >/dev/null
chown 65534:65534 "$T/home/evil.raw"
nobody_dir "$T/home/profile"
printf '[Service]\nUser=root\n' >"$T/home/profile/service.conf"
chown 65534:65534 "$T/home/profile/service.conf"
mkdir -m 0700 "$R/srv/secret/profile"
printf '[Service]\n' >"$R/srv/secret/profile/service.conf"

host_snapshot "$T/before"
mounts_before=$(wc -l </proc/self/mountinfo)

# (a) Images by path: refused, whether they exist, are secret, a device, or nothing at all.
for path in "$R/srv/secret/secretapp.raw" "$loop" "$T/home/evil.raw" "$R/srv/secret/nothing.raw" /nonexistent/x.raw; do
        meta "$path"
        nobody_gcall_error $A "GetImageMetadata $path $INSPECT" "${M[@]}"
        nobody_gcall_error $A "GetImageState $path $INSPECT" Manager1.GetImageState "$path"
done
# The same words for a secret file that exists and one that does not.
meta "$R/srv/secret/secretapp.raw"
nobody_gcall_error $A "$INSPECT" "${M[@]}"
exists=$(sed "s|$R/srv/secret/secretapp.raw|PATH|" "$T/nobody-out/gerr")
meta "$R/srv/secret/missing.raw"
nobody_gcall_error $A "$INSPECT" "${M[@]}"
missing=$(sed "s|$R/srv/secret/missing.raw|PATH|" "$T/nobody-out/gerr")
assert_eq "$exists" "$missing" "the refusal tells an existing secret file from a missing one"

# (b) A policy of its own, even for an image of the search directories.
meta demo "" "@as []" "*"
nobody_gcall_error $A "GetImageMetadata demo $INSPECT" "${M[@]}"
# Extensions and profiles by path.
meta demo "" "['$T/home/evil.raw']"
nobody_gcall_error $A "$INSPECT" "${M[@]}"
for p in "$T/home/profile" "$R/srv/secret/profile" "$R/srv/secret/nothing"; do
        meta demo "$p"
        nobody_gcall_error $A "$INSPECT" "${M[@]}"
done
# (d) No trace of what the secret directory holds in any refusal.
grep -rq "service.conf\|No such file\|Permission denied" "$T/nobody-out/gerr" && fail "a refusal reveals a file: $(cat "$T/nobody-out/gerr")"

# (c) Nothing was mounted, no loop device was set up for the caller's file, nothing changed.
assert_eq "$(wc -l </proc/self/mountinfo)" "$mounts_before" "graftd mounted something for uid 65534"
out=$(losetup -j "$T/home/evil.raw")
[[ -z $out ]] || fail "a loop device was attached to uid 65534's image: $out"
grep -q "GetImageMetadata $T/home/evil.raw (uid 65534): refused" "$GRAFTD_LOG" || fail "the refusal is not logged with the uid"

# What uid 65534 may do: the images of the search directories, with the host's policy.
as_nobody "$PCTL" inspect demo >"$O/nobody.out" || fail "uid 65534 cannot inspect demo"
assert_contains "$O/nobody.out" "demo.service"
as_nobody "$PCTL" list >/dev/null || fail "uid 65534 cannot list"
# The same refusal through pctl, whose hint points at --direct.
run_expect 1 "pctl --direct reads with the caller's own privileges" as_nobody "$PCTL" inspect "$T/home/evil.raw"
# In-process, uid 65534 reads what its own privileges reach, and no more.
run_expect 7 "" as_nobody "$PCTL" --direct inspect "$R/srv/secret/secretapp.raw"
assert_host_unchanged "$T/before"
assert_responsive

# Root may name paths: an image in the secret directory is inspected.
"$PCTL" inspect "$R/srv/secret/secretapp.raw" >"$O/root.out" || fail "root cannot inspect by path"
assert_contains "$O/root.out" "secretapp.service"
echo ok
