#!/bin/bash
# Benchmark: an update of a 500 MiB signed extension image from lighttpd over TLS (a test CA, on
# the loopback of a network namespace of its own). graft-update update (SHA256SUMS and its OpenPGP
# signature, the download hashed as it is written, graft's check of the whole hash tree and the
# signature, the placement, the refresh of the merge, the health check) against the floor: the
# same file downloaded with curl and checked with sha256sum against SHA256SUMS. Prints, for each of
# RUNS interleaved runs, the wall time of both and the bytes each fetched, then the medians and
# their ratio (graft over the floor). Not part of the test suite. Run as root:
#   tests/bench/bench-update.sh [RUNS=3] [SIZE_MIB=500]
# GRAFT_BENCH_BUILD_DIR picks the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
size_mib=${2:-500}
build=${GRAFT_BENCH_BUILD_DIR:-build}
for t in lighttpd curl sha256sum gpg gpgv openssl unshare ip; do
        command -v "$t" >/dev/null || { echo "$t is missing (tools/install-deps)" >&2; exit 1; }
done
[[ -e /usr/lib/lighttpd/mod_openssl.so ]] || { echo "lighttpd-mod-openssl is missing" >&2; exit 1; }
if [[ -z ${GRAFT_BENCH_IN_NS:-} ]]; then
        [[ -f $build/build.ninja ]] || meson setup "$build" >/dev/null
        ninja -C "$build" update/graft-update graft-image/graft-image sysext/sextctl >/dev/null ||
                { echo "building graft-update in $build failed" >&2; exit 1; }
        # Its own network (only its loopback) and mount namespace (the merge vanishes with it).
        GRAFT_BENCH_IN_NS=1 exec unshare -n -m --propagation private bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
U=$PWD/$build/update/graft-update
G=$PWD/$build/graft-image/graft-image
S=$PWD/$build/sysext/sextctl
w=$(mktemp -d /var/tmp/graft-bench-update.XXXXXX)
unmount_below() {
        local m mounts
        mounts=$(grep -o " $1[^ ]*" /proc/self/mounts || true)
        for m in $(sort -r <<<"$mounts"); do umount -l "$m"; done
}
cleanup() {
        set +e
        [[ -s $w/lighttpd.pid ]] && kill "$(cat "$w/lighttpd.pid")" 2>/dev/null
        gpgconf --homedir "$w/keys/gnupg" --kill gpg-agent 2>/dev/null
        unmount_below "$w"
        rm -rf "$w"
}
trap cleanup EXIT
mkdir -p "$w/www" "$w/keys"

# TLS, the OpenPGP key of SHA256SUMS, the image signer (as tests/integration/update/lib-update.sh).
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=bench CA" -keyout "$w/keys/ca.key" \
        -out "$w/keys/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout "$w/keys/server.key" \
        -out "$w/keys/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >"$w/keys/san.ext"
openssl x509 -req -in "$w/keys/server.csr" -CA "$w/keys/ca.crt" -CAkey "$w/keys/ca.key" -CAcreateserial -days 2 \
        -sha256 -extfile "$w/keys/san.ext" -out "$w/keys/server.crt" 2>/dev/null
cat "$w/keys/server.crt" "$w/keys/server.key" >"$w/keys/server.pem"
export CURL_CA_BUNDLE=$w/keys/ca.crt GNUPGHOME=$w/keys/gnupg GRAFT_NO_PROGRESS=1
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "bench <bench@graft>" ed25519 sign never 2>/dev/null
gpg --batch --export >"$w/keys/pubring.gpg"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/keys/signer.key" -out "$w/keys/signer.crt" -subj "/CN=signer" \
        -days 2 2>/dev/null

echo "building a ${size_mib} MiB extension image (incompressible data)"
src=$w/src
mkdir -p "$src/usr/lib/extension-release.d" "$src/usr/share/big"
printf 'ID=debian\nVERSION_ID=12\n' >"$src/usr/lib/extension-release.d/extension-release.big"
for ((i = 0; i < size_mib / 50; i++)); do head -c 50M /dev/urandom >"$src/usr/share/big/part$i"; done
"$G" build "$src" -o "$w/www/big_1.raw" --name big --version 1 --key "$w/keys/signer.key" \
        --cert "$w/keys/signer.crt" >/dev/null
rm -rf "$src"
(cd "$w/www" && sha256sum big_1.raw >SHA256SUMS)
gpg --batch --quiet --detach-sign -o "$w/www/SHA256SUMS.gpg" "$w/www/SHA256SUMS"
image_bytes=$(stat -c %s "$w/www/big_1.raw")

cat >"$w/lighttpd.conf" <<CONF
server.document-root = "$w/www"
server.bind = "127.0.0.1"
server.port = 8443
server.modules = ("mod_openssl")
server.pid-file = "$w/lighttpd.pid"
server.errorlog = "$w/lighttpd.log"
ssl.engine = "enable"
ssl.pemfile = "$w/keys/server.pem"
mimetype.assign = ("" => "application/octet-stream")
CONF
lighttpd -f "$w/lighttpd.conf"
for i in $(seq 100); do curl -so /dev/null https://localhost:8443/SHA256SUMS && break; sleep 0.05; done

host() { # a fresh root for graft-update
        local r=$w/root
        unmount_below "$r"
        rm -rf "$r"
        mkdir -p "$r/usr/lib" "$r/etc/verity.d" "$r/etc/systemd" "$r/etc/sysupdate.d" "$r/var/lib/extensions"
        printf 'ID=debian\nVERSION_ID=12\n' >"$r/usr/lib/os-release"
        cp "$w/keys/signer.crt" "$r/etc/verity.d/"
        cp "$w/keys/pubring.gpg" "$r/etc/systemd/import-pubring.gpg"
        printf '[Source]\nType=url-file\nPath=https://localhost:8443/\nMatchPattern=big_@v.raw\n[Target]\nType=regular-file\nPath=/var/lib/extensions/big.v\nMatchPattern=big_@v.raw\n[X-Graft]\nHealthGraceSec=0\n' \
                >"$r/etc/sysupdate.d/big.transfer"
        sync
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

declare -a gt ft
echo "image: $image_bytes bytes; $runs runs"
for ((run = 1; run <= runs; run++)); do
        host
        s=$(date +%s%N)
        "$U" --root="$w/root" --json=short update >"$w/out.json" 2>"$w/err" || { cat "$w/err" >&2; exit 1; }
        g=$(ms "$s")
        fetched=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytesFetched"])' "$w/out.json")
        [[ -s $w/root/usr/share/big/part0 ]] || { echo "the image is not merged" >&2; exit 1; }

        rm -f "$w/floor.raw" "$w/SHA256SUMS"
        sync
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
        s=$(date +%s%N)
        curl -fsS -o "$w/SHA256SUMS" https://localhost:8443/SHA256SUMS
        curl -fsS -o "$w/floor.raw" -w '%{size_download}' https://localhost:8443/big_1.raw >"$w/floor.bytes"
        (cd "$w" && sed 's/big_1.raw/floor.raw/' SHA256SUMS | sha256sum -c --quiet -)
        f=$(ms "$s")
        gt+=("$g")
        ft+=("$f")
        printf 'run %d: graft-update %d ms (%s bytes fetched), curl + sha256sum %d ms (%s bytes)\n' "$run" "$g" \
                "$fetched" "$f" "$(cat "$w/floor.bytes")"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mg=$(median "${gt[@]}")
mf=$(median "${ft[@]}")
echo "median: graft-update $mg ms, curl + sha256sum $mf ms, ratio $(python3 -c "print(f'{$mg / $mf:.2f}')")"
