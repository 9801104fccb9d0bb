#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What an image holds cannot reach outside it: a unit file or release file that is a symlink,
# absolute or climbing with "..", is resolved inside the image (a raw image and a directory
# image alike) and refused when it points nowhere there, never read from the host. Image names
# a caller sends are names, not paths: ".", "..", a newline, a slash are refused (the slash as
# a path, which needs authorization) before anything is opened.
set -euo pipefail
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
. "$GRAFT_SOURCE_DIR/tests/hostile/lib-hostile.sh"
as_nobody true 2>/dev/null || skip "cannot run commands as uid 65534"

# A host secret outside the root, which the image's symlinks aim at.
mkdir -m 0700 "$T/secret"
echo 'TOPSECRET=1' >"$T/secret/s"
chmod 0600 "$T/secret/s"

# leaky_tree DIR NAME: a portable tree whose socket unit is an absolute symlink to the secret
# and whose second service climbs out with "..".
leaky_tree() {
        make_portable_tree "$1" "$2"
        local units=$1/usr/lib/systemd/system
        rm "$units/$2.socket"
        ln -s "$T/secret/s" "$units/$2.socket"
        ln -s "../../../../../../../../..$T/secret/s" "$units/$2-climb.service"
}
leaky_tree "$T/src-leaky" leaky
portable_image leaky
leaky_tree "$R/var/lib/portables/dirleaky" dirleaky

bus_start
graftd_start
trap 'graftd_cleanup' EXIT
host_snapshot "$T/before"
O=$T/out
mkdir -p "$O"

# As uid 65534, over the bus: the raw image of the search directory is refused naming the unit.
nobody_gcall_error org.graft.Error.BadImage \
        "unit leaky-climb.service in image /var/lib/portables/leaky.raw is a symlink to nothing inside the image" \
        Manager1.GetImageMetadata leaky "@as []" "" "" 0 "@as []" ""

# As root, with a policy that lets the unsigned directory image through: the same for both.
for img in leaky dirleaky; do
        case $img in leaky) where=leaky.raw ;; dirleaky) where=dirleaky ;; esac
        for verb in inspect attach; do
                run_expect 3 "in image /var/lib/portables/$where is a symlink to nothing inside the image" \
                        "$PCTL" --root "$R" --direct --image-policy='*' "$verb" "$img"
        done
done
out=$(grep -rl TOPSECRET "$R" 2>/dev/null || true)
[[ -z $out ]] || fail "the secret reached the root: $out"
assert_host_unchanged "$T/before"

# An entry of the search directory that links to an image in a directory uid 65534 owns: found
# by name, refused by where it really is, over the bus and in-process.
# (Links resolve inside the root, so the directory is one there.)
nobody_dir "$R/srv/home"
portable_image linked "$R/srv/home/linked.raw"
ln -s /srv/home/linked.raw "$R/var/lib/portables/linked.raw"
host_snapshot "$T/before"
nobody_gcall_error org.graft.Error.PolicyViolation "the directory $R/srv/home is writable by uid 65534" \
        Manager1.GetImageMetadata linked "@as []" "" "" 0 "@as []" ""
run_expect 6 "the directory $R/srv/home is writable by uid 65534" "$PCTL" --root "$R" --direct attach linked
run_expect 6 "the directory $R/srv/home is writable by uid 65534" "$PCTL" --root "$R" attach linked
assert_host_unchanged "$T/before"

# Names, not paths.
for n in . .. "$(printf 'leaky\nx')"; do
        nobody_gcall_error org.graft.Error.InvalidArgument "is not a valid image name" \
                Manager1.GetImageMetadata "$n" "@as []" "" "" 0 "@as []" ""
done
for n in a/../leaky leaky/ ../portables/leaky; do
        nobody_gcall_error org.freedesktop.DBus.Error.AccessDenied "needs root, or polkit's authorization" \
                Manager1.GetImageMetadata "$n" "@as []" "" "" 0 "@as []" ""
done
nobody_gcall_error org.graft.Error.InvalidArgument "no image given" \
        Manager1.GetImageMetadata "" "@as []" "" "" 0 "@as []" ""
assert_responsive
assert_host_unchanged "$T/before"
echo "image content stays inside the image; names are names"
