#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the two example images from Debian packages:
#   debugtools  a system extension carrying strace and the libraries it needs beyond a minimal
#               Debian host, merged over /usr by sextctl;
#   webdemo     a portable service image: busybox httpd serving a static page on port 8080.
# Downloads the packages once (OUTDIR/debs), assembles the trees (OUTDIR/trees), makes a
# throwaway signing key (OUTDIR/keys), then signs and packs both trees with graft-image when it
# is available. Re-running it rebuilds the trees and images and reuses downloads and key.
set -euo pipefail

VERSION=1.0
# Fixed so that the same packages make the same trees and images, byte for byte.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
export LC_ALL=C
umask 022

usage() {
        cat <<EOF
Usage: $0 OUTDIR [GRAFT_IMAGE_BINARY]

Downloads strace and busybox-static with apt-get, prepares the image trees
OUTDIR/trees/debugtools and OUTDIR/trees/webdemo, makes a signing key in
OUTDIR/keys and, if graft-image is given or found, builds
OUTDIR/debugtools.raw and OUTDIR/webdemo.raw (the version is in their
partition labels: systemd 252 takes the file name as the image name).
Runs as root on Debian. See examples/README.md.
EOF
        exit "${1:-2}"
}

say() { printf '==> %s\n' "$*"; }
run() { printf '  + %s\n' "$*"; "$@"; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

[[ $# -ge 1 && ( $1 == -h || $1 == --help ) ]] && usage 0
[[ $# -eq 1 || $# -eq 2 ]] || usage

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SRC")
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
GRAFT_IMAGE=${2:-}
[[ -z $GRAFT_IMAGE || -x $GRAFT_IMAGE ]] || die "$GRAFT_IMAGE is not an executable graft-image"
TREES=$OUT/trees
DEBS=$OUT/debs
KEYS=$OUT/keys

# ---------------------------------------------------------------------------------------------
# Checks

[[ $(id -u) -eq 0 ]] || die "run this as root: the trees must hold root-owned files"
for tool in apt-get apt-cache dpkg dpkg-deb dpkg-query openssl ldd find touch; do
        command -v "$tool" >/dev/null || die "$tool is missing (this script runs on Debian)"
done
[[ -r /etc/os-release ]] || die "/etc/os-release is missing: cannot tell which Debian this is"
# shellcheck source=/dev/null
HOST_ID=$(. /etc/os-release && echo "${ID:-}")
# shellcheck source=/dev/null
HOST_VERSION_ID=$(. /etc/os-release && echo "${VERSION_ID:-}")
[[ $HOST_ID == debian && -n $HOST_VERSION_ID ]] ||
        die "this host is ID=$HOST_ID VERSION_ID=$HOST_VERSION_ID; the examples are built from Debian packages for Debian hosts"

DEB_ARCH=$(dpkg --print-architecture)
# systemd's architecture names (os-release ARCHITECTURE=, as uname and systemd-detect-virt use).
case $DEB_ARCH in
        amd64)   ARCH=x86-64 ;;
        i386)    ARCH=x86 ;;
        arm64)   ARCH=arm64 ;;
        armhf)   ARCH=arm ;;
        riscv64) ARCH=riscv64 ;;
        ppc64el) ARCH=ppc64-le ;;
        s390x)   ARCH=s390x ;;
        *) die "no systemd architecture name known for Debian architecture $DEB_ARCH" ;;
esac

# ---------------------------------------------------------------------------------------------
# Packages

# The package and everything it Depends or Pre-Depends on, recursively (virtual names dropped).
closure() {
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
                --no-replaces --no-enhances "$@" | grep -v -e '^ ' -e '^<' | sort -u
}

check_known() {
        local p
        for p in "$@"; do
                apt-cache show --no-all-versions "$p" >/dev/null 2>&1 ||
                        die "apt knows no package $p: run 'apt-get update' first (and check /etc/apt/sources.list)"
        done
}

# Downloads each package once into $DEBS; a .deb already there is reused.
fetch() {
        local p partial
        mkdir -p "$DEBS"
        for p in "$@"; do
                if compgen -G "$DEBS/${p}_*.deb" >/dev/null; then
                        say "reusing $(basename "$(deb_of "$p")")"
                        continue
                fi
                say "downloading $p"
                # Into a scratch directory first, so an interrupted download leaves no .deb behind.
                partial=$(mktemp -d "$DEBS/.partial.XXXXXX")
                if ! (cd "$partial" && run apt-get download -q -o APT::Sandbox::User=root "$p"); then
                        rm -rf "$partial"
                        die "downloading $p failed: check the network and the apt sources, and run 'apt-get update'"
                fi
                mv "$partial"/*.deb "$DEBS"/
                rm -rf "$partial"
        done
}

deb_of() {
        local f
        f=$(compgen -G "$DEBS/${1}_*.deb" | sort -V | tail -n1) || true
        [[ -n $f ]] || die "no .deb for $1 in $DEBS"
        printf '%s\n' "$f"
}

# Everything that lives in / is moved into /usr: Debian 12 hosts have a merged /usr, and a system
# extension only ever contributes /usr (and /opt).
merge_usr() {
        local tree=$1 d
        for d in bin sbin lib lib32 lib64 libx32; do
                if [[ -d $tree/$d && ! -L $tree/$d ]]; then
                        mkdir -p "$tree/usr/$d"
                        cp -a "$tree/$d/." "$tree/usr/$d/"
                        rm -rf "${tree:?}/$d"
                fi
        done
}

# Same timestamps and owners everywhere, whatever the download or extraction date.
normalize() {
        chown -hR 0:0 "$1"
        find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---------------------------------------------------------------------------------------------
# debugtools: a system extension

BASE_ROOTS=(base-files base-passwd bash coreutils dpkg apt)

build_debugtools_tree() {
        local tree=$TREES/debugtools tools=() want=() p base
        mapfile -t tools < <(grep -v -e '^#' -e '^[[:space:]]*$' "$SRC/debugtools/packages")
        [[ ${#tools[@]} -gt 0 ]] || die "$SRC/debugtools/packages names no package"
        check_known "${tools[@]}" "${BASE_ROOTS[@]}"

        # What a minimal Debian host has: the packages dpkg and apt cannot work without. The
        # extension carries the tools and whatever they need beyond that.
        say "working out which dependencies of ${tools[*]} a minimal host lacks"
        base=$(closure "${BASE_ROOTS[@]}")
        mapfile -t want < <(closure "${tools[@]}" | grep -v -x -F "$base")
        say "debugtools packages: ${want[*]}"
        fetch "${want[@]}"

        say "assembling $tree"
        rm -rf "$tree"
        mkdir -p "$tree"
        for p in "${want[@]}"; do
                run dpkg-deb -x "$(deb_of "$p")" "$tree"
        done
        merge_usr "$tree"
        # Only /usr and /opt are merged; anything else a package ships would be dead weight.
        for p in "$tree"/*; do
                case ${p##*/} in
                        usr|opt) ;;
                        *) say "dropping /${p##*/} (a system extension only carries /usr and /opt)"
                           rm -rf "$p" ;;
                esac
        done

        mkdir -p "$tree/usr/lib/extension-release.d"
        cat >"$tree/usr/lib/extension-release.d/extension-release.debugtools" <<EOF
ID=$HOST_ID
VERSION_ID=$HOST_VERSION_ID
ARCHITECTURE=$ARCH
SYSEXT_SCOPE=system portable
EOF
        check_libraries "$tree" "$base"
        normalize "$tree"
}

# The package owning a library, under whichever of its merged-/usr names dpkg recorded it.
package_of() {
        local p owner
        for p in "$1" "$(realpath -m "$1")" "/usr${1#/usr}" "${1#/usr}"; do
                owner=$(dpkg-query -S "$p" 2>/dev/null | sed -n '1s/:.*//p') || true
                if [[ -n $owner ]]; then
                        printf '%s\n' "$owner"
                        return 0
                fi
        done
}

# Every ELF file of the tree must find its libraries in the tree or in a base package.
check_libraries() {
        local tree=$1 base=$2 f libpath line lib owner
        libpath=$(find "$tree" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)
        say "checking the libraries of the debugtools binaries (ldd)"
        while IFS= read -r -d '' f; do
                cmp -s -n 4 "$f" <(printf '\177ELF') || continue
                while IFS= read -r line; do
                        case $line in
                                *"not found"*) die "${f#"$tree"} needs $(awk '{ print $1 }' <<<"$line"), which neither the tree nor the host has" ;;
                        esac
                        lib=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$line")
                        [[ -n $lib && $lib != "$tree"/* ]] || continue
                        owner=$(package_of "$lib")
                        if [[ -z $owner ]] || ! grep -q -x -F "$owner" <<<"$base"; then
                                die "${f#"$tree"} uses $lib (package ${owner:-unknown}), which a minimal host lacks: add that package to the extension"
                        fi
                done < <(LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null || true)
        done < <(find "$tree/usr/bin" "$tree/usr/sbin" -type f -print0 2>/dev/null)
        LD_LIBRARY_PATH=$libpath "$tree/usr/bin/strace" -V | sed -n '1s/^/  /p'
}

# ---------------------------------------------------------------------------------------------
# webdemo: a portable service

build_webdemo_tree() {
        local tree=$TREES/webdemo stage d
        check_known busybox-static
        fetch busybox-static

        say "assembling $tree"
        rm -rf "$tree" "$TREES/.busybox"
        stage=$TREES/.busybox
        run dpkg-deb -x "$(deb_of busybox-static)" "$stage"
        mkdir -p "$tree/usr/bin" "$tree/usr/share/doc/busybox-static"
        install -m 0755 "$stage/bin/busybox" "$tree/usr/bin/busybox"
        install -m 0644 "$stage/usr/share/doc/busybox-static/copyright" "$tree/usr/share/doc/busybox-static/"
        rm -rf "$stage"
        cp -a "$SRC/webdemo/." "$tree/"

        # What systemd mounts over or binds into a RootImage= service: empty mount points and
        # empty files, plus the merged-/usr links.
        for d in proc sys dev run tmp var/tmp etc usr/sbin usr/lib; do
                mkdir -p "$tree/$d"
        done
        chmod 1777 "$tree/tmp" "$tree/var/tmp"
        : >"$tree/etc/machine-id"
        : >"$tree/etc/resolv.conf"
        ln -sfn ../usr/lib/os-release "$tree/etc/os-release"
        ln -sfn usr/bin "$tree/bin"
        ln -sfn usr/sbin "$tree/sbin"
        ln -sfn usr/lib "$tree/lib"

        say "checking that busybox runs and has httpd"
        grep -q -x httpd <<<"$("$tree/usr/bin/busybox" --list)" || die "this busybox has no httpd applet"
        normalize "$tree"
}

# ---------------------------------------------------------------------------------------------
# Signing key

make_key() {
        mkdir -p "$KEYS"
        if [[ -s $KEYS/example.key && -s $KEYS/example.crt ]]; then
                say "reusing the signing key $KEYS/example.key"
                return
        fi
        say "making a throwaway signing key"
        run openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=graft example key" -days 3650 \
                -keyout "$KEYS/example.key" -out "$KEYS/example.crt" 2>/dev/null ||
                die "openssl could not make the signing key"
        chmod 0600 "$KEYS/example.key"
}

# ---------------------------------------------------------------------------------------------
# Images

find_graft_image() {
        local c
        if [[ -n $GRAFT_IMAGE ]]; then
                [[ -x $GRAFT_IMAGE ]] || die "$GRAFT_IMAGE is not an executable graft-image"
                return 0
        fi
        for c in "$(command -v graft-image || true)" "$REPO/build/graft-image/graft-image"; do
                if [[ -n $c && -x $c ]]; then
                        GRAFT_IMAGE=$c
                        return 0
                fi
        done
        return 1
}

build_image() {
        local name=$1 type=$2 out=$OUT/${1}.raw
        say "building $out"
        rm -f "$out"
        run "$GRAFT_IMAGE" build "$TREES/$name" -o "$out" --name "$name" --version "$VERSION" \
                --type "$type" --key "$KEYS/example.key" --cert "$KEYS/example.crt" ||
                die "graft-image could not build $out"
}

build_debugtools_tree
build_webdemo_tree
make_key

say "trees:"
du -sh "$TREES/debugtools" "$TREES/webdemo" | sed 's/^/  /'

if ! find_graft_image; then
        say "no graft-image binary given or found (PATH, $REPO/build): stopping after the trees."
        say "build the images later with:"
        for spec in debugtools:sysext webdemo:portable; do
                printf '  graft-image build %s -o %s --name %s --version %s --type %s --key %s --cert %s\n' \
                        "$TREES/${spec%%:*}" "$OUT/${spec%%:*}.raw" "${spec%%:*}" "$VERSION" \
                        "${spec##*:}" "$KEYS/example.key" "$KEYS/example.crt"
        done
        exit 0
fi

build_image debugtools sysext
build_image webdemo portable
say "done:"
(cd "$OUT" && ls -l debugtools.raw webdemo.raw && sha256sum debugtools.raw webdemo.raw) |
        sed 's/^/  /'
say "trust the key on a host with: cp $KEYS/example.crt /etc/verity.d/graft-example.crt"
