# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers of the sextctl integration tests, sourced after tests/lib/lib.sh (which has put the test
# in a private mount namespace). systemd-sysext merges from a forked child and relies on shared
# propagation and on a /run it can mount below, so both are set up here, inside the namespace.

SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
[[ -x $SEXTCTL ]] || skip "sextctl is not built"
mount --make-rshared /
mount -t tmpfs tmpfs /run

# new_root DIR [OS-RELEASE-LINES...]: a scratch root with /usr, /opt and os-release (default
# ID=debian VERSION_ID=12).
new_root() {
        local r=$1
        shift
        mkdir -p "$r/usr/lib" "$r/usr/share/host" "$r/opt/host" "$r/etc" "$r/var/lib/extensions" \
                "$r/run/extensions" "$r/etc/extensions"
        if (($# == 0)); then
                set -- ID=debian VERSION_ID=12
        fi
        printf '%s\n' "$@" >"$r/usr/lib/os-release"
        echo host >"$r/usr/share/host/file"
        echo host >"$r/opt/host/file"
}

# mkext DIR NAME [RELEASE-LINES...]: an extension tree at DIR whose release file is
# extension-release.NAME (default ID=debian VERSION_ID=12) and which ships
# /usr/share/NAME/file (content NAME).
mkext() {
        local d=$1 n=$2
        shift 2
        if (($# == 0)); then
                set -- ID=debian VERSION_ID=12
        fi
        mkdir -p "$d/usr/lib/extension-release.d" "$d/usr/share/$n"
        printf '%s\n' "$@" >"$d/usr/lib/extension-release.d/extension-release.$n"
        echo "$n" >"$d/usr/share/$n/file"
}

# squash DIR OUT: a plain squashfs image of a tree.
squash() {
        mksquashfs "$1" "$2" -quiet -noappend -all-root >/dev/null
}

# merged_state ROOT: every path, type and content hash under the root's /usr and /opt, plus the
# merge metadata except the device number (which differs by nature) and graft's record of what the
# merge is made of (graft-merge: systemd-sysext writes none).
merged_state() {
        local h
        for h in usr opt; do
                echo "== $h"
                (cd "$1/$h" && find . \( -path ./.systemd-sysext/dev -o -path ./.systemd-sysext/graft-merge \) -prune -o \
                        -printf '%p %y %m\n' | LC_ALL=C sort)
                (cd "$1/$h" && find . \( -path ./.systemd-sysext/dev -o -path ./.systemd-sysext/graft-merge \) -prune -o \
                        -type f -exec sha256sum {} + | LC_ALL=C sort)
        done
}

sd_hier() {
        echo "$1/usr:$1/opt"
}

# unmerge_all ROOT: removes whatever merge is there, with systemd-sysext (which must recognise
# graft's too).
sd_unmerge() {
        SYSTEMD_SYSEXT_HIERARCHIES=$(sd_hier "$1") systemd-sysext unmerge >/dev/null 2>&1
}

# is_merged PATH: a mount point right now?
is_mounted() {
        mountpoint -q "$1"
}
