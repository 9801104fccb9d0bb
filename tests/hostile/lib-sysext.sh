# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the extension crash and concurrency cases (test-sysext-*.sh), sourced after lib.sh,
# lib-graftd.sh and lib-hostile.sh: extension images of both classes in $R, moved in and out of
# the search directories to make image sets, and the state of the scratch root as the
# before-or-after checks compare it.
#
#   need_fault_points            skips (77) unless the build has fault points
#   sx_images                    builds the images (sysext: a b c z, confext: ca cb cz) in $T/images
#   sx_use CLASS NAME…           the search directory of CLASS holds exactly these images
#   sx CLASS ARGS…               sextctl (--confext for confext) on $R, in-process
#   sx_state                     the state of $R: mounts below it, the hierarchies' content, what
#                                lies in $R/run, and the loop devices backed by files below it
#   sx_expect_state NAME=FILE…   the state is one of those recorded; prints which
#   overlays_on PATH             how many mounts are stacked on PATH now
#   wait_stopped PID             waits until PID is stopped (SIGSTOP at a fault point)

need_fault_points() {
        grep -q "GRAFT_FAULT_POINTS 1" "$GRAFT_BUILD_DIR/graft-config.h" ||
                skip "the build has no fault points (configure with -Dfault_points=true)"
}

# The default policy would demand signatures from the test key once a trust store is there; the
# images here are of every kind (signed GPT, plain squashfs, directories), so none is installed.
rm -f "$R"/etc/verity.d/*

SX_SEARCH_sysext=$R/var/lib/extensions
SX_SEARCH_confext=$R/var/lib/confexts
mkdir -p "$SX_SEARCH_sysext" "$SX_SEARCH_confext" "$R/etc/host" "$T/images/sysext" "$T/images/confext"
echo host >"$R/etc/host/file"

# sx_tree DIR CLASS NAME [opt]: a tree with the release file, a file in the class's hierarchy
# named after the image, and (opt) content in /opt too.
sx_tree() {
        local d=$1 class=$2 n=$3 rel=usr/lib/extension-release.d top=usr/share
        if [[ $class == confext ]]; then
                rel=etc/extension-release.d
                top=etc
        fi
        mkdir -p "$d/$rel" "$d/$top/$n"
        printf 'ID=debian\nVERSION_ID=12\n' >"$d/$rel/extension-release.$n"
        echo "$n" >"$d/$top/$n/file"
        if [[ ${4:-} == opt ]]; then
                mkdir -p "$d/opt/$n"
                echo "$n" >"$d/opt/$n/file"
        fi
}

sx_images() {
        local s=$T/images/sysext c=$T/images/confext
        # a: a signed GPT image with a hash tree (its signer is not trusted: verity-only, allowed)
        sx_tree "$T/src/a" sysext a
        "$GRAFT_IMAGE" build "$T/src/a" -o "$s/a.raw" --name a --version 1 --type sysext \
                --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null || fail "graft-image build a failed"
        # b: a directory with /usr and /opt content; c: a plain squashfs; z: made for another OS
        sx_tree "$s/b" sysext b opt
        sx_tree "$T/src/c" sysext c
        mksquashfs "$T/src/c" "$s/c.raw" -quiet -noappend -all-root >/dev/null
        sx_tree "$s/z" sysext z
        printf 'ID=fedora\nVERSION_ID=40\n' >"$s/z/usr/lib/extension-release.d/extension-release.z"
        sx_tree "$T/src/ca" confext ca
        mksquashfs "$T/src/ca" "$c/ca.raw" -quiet -noappend -all-root >/dev/null
        sx_tree "$c/cb" confext cb
        sx_tree "$c/cz" confext cz
        printf 'ID=fedora\nVERSION_ID=40\n' >"$c/cz/etc/extension-release.d/extension-release.cz"
}

sx_use() {
        local class=$1 dir n
        shift
        dir=SX_SEARCH_$class
        dir=${!dir}
        rm -rf "${dir:?}"/*
        for n in "$@"; do
                cp -a "$T/images/$class/$n" "$dir/" 2>/dev/null || cp -a "$T/images/$class/$n.raw" "$dir/"
        done
}

sx() {
        local class=$1
        shift
        if [[ $class == confext ]]; then
                "$SEXTCTL" --confext --root="$R" "$@"
        else
                "$SEXTCTL" --root="$R" "$@"
        fi
}

sx_state() {
        local h
        echo "== mounts"
        # Mount point, type, source and super options (the layers: their staging paths are the
        # same in every run); a stacked merge shows as a second line for its mount point. Without
        # overlayfs's uuid=: the kernel picks it by whether an upper directory (a mutable merge's)
        # was used before.
        awk -v r="$R" '$5 == r || index($5, r "/") == 1 {
                for (i = 7; $i != "-"; i++);
                o = $(i + 3); gsub(/,uuid=[a-z]+/, "", o)
                print $5, $(i + 1), $(i + 2), o
        }' /proc/self/mountinfo | LC_ALL=C sort
        for h in usr opt etc; do
                echo "== $h"
                (cd "$R/$h" && find . -path './.systemd-*/dev' -prune -o -printf '%p %y %m\n' | LC_ALL=C sort)
                # graft-merge is listed, not hashed: it names the images' inodes and times, which
                # differ for every copy the runs make of the same images.
                (cd "$R/$h" && find . \( -path './.systemd-*/dev' -o -path './.systemd-*/graft-merge' \) -prune -o \
                        -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
        done
        echo "== run"
        # (not the trust record, written after the change it describes: see devmode.h)
        (cd "$R/run" && find . -path './graft/*.trust*' -prune -o -printf '%p %y %m\n' | LC_ALL=C sort)
        echo "== loop devices"
        losetup -l -n -O BACK-FILE | awk -v r="$R" 'index($0, r "/") == 1' | LC_ALL=C sort
}

# sx_expect_state NAME=FILE…: $R's state is one of the recorded ones (a killed process's loop
# devices are let go asynchronously: a moment is allowed for that); prints the NAME that matched.
sx_expect_state() {
        local i pair now
        for ((i = 0; i < 50; i++)); do
                now=$(sx_state)
                for pair in "$@"; do
                        if [[ $now == "$(cat "${pair#*=}")" ]]; then
                                echo "${pair%%=*}"
                                return 0
                        fi
                done
                sleep 0.02
        done
        printf '%s\n' "$now" >"$T/state.unexpected"
        for pair in "$@"; do
                echo "--- differences from ${pair%%=*}:" >&2
                diff -u "${pair#*=}" "$T/state.unexpected" >&2 || true
        done
        return 1
}

overlays_on() {
        awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l
}

wait_stopped() {
        local i st
        for ((i = 0; i < 400; i++)); do
                st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || fail "process $1 is gone"
                [[ $st == T ]] && return 0
                sleep 0.025
        done
        fail "process $1 did not stop at its fault point"
}
