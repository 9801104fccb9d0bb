# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers of the graft-update integration tests. Sourced first: the test re-executes itself in a
# network namespace of its own (only its loopback: the web server's port never collides with
# anything, and nothing leaves the machine), then sources tests/lib/lib.sh (mount namespace,
# scratch directory $T). Offers a real web server (lighttpd, TLS from a test CA made here),
# signed extension images of several versions, a SHA256SUMS index (signed with a test OpenPGP
# key) and a scratch root with a transfer file.

if [[ -z ${GRAFT_TEST_IN_NETNS:-} ]]; then
        if [[ $EUID -ne 0 ]]; then
                echo "SKIP: needs root (namespaces, loop devices)" >&2
                exit 77
        fi
        export GRAFT_TEST_IN_NETNS=1
        exec unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
source "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
# At exit, before lib.sh's cleanup: the web server and gpg's agent go too (both would outlive the
# test, in a network namespace nobody can reach any more). The other libraries' exit traps end in
# cleanup, so this runs whichever of them is last.
eval "lib_$(declare -f cleanup)"
cleanup() {
        local rc=$?
        stop_server 2>/dev/null
        [[ -n ${GNUPGHOME:-} ]] && gpgconf --homedir "$GNUPGHOME" --kill gpg-agent 2>/dev/null
        (exit $rc)
        lib_cleanup
}

GRAFT_UPDATE=$GRAFT_BUILD_DIR/update/graft-update
SEXTCTL=$GRAFT_BUILD_DIR/sysext/sextctl
PCTL=$GRAFT_BUILD_DIR/portable/pctl
[[ -x $GRAFT_UPDATE ]] || skip "graft-update is not built"
need lighttpd gpg gpgv openssl
[[ -e /usr/lib/lighttpd/mod_openssl.so ]] || skip "lighttpd-mod-openssl is not installed"

PORT=8443
URL=https://localhost:$PORT
WWW=$T/www
KEYS=$T/keys
mkdir -p "$WWW" "$KEYS"

# The test CA and the server's certificate for localhost; clients trust the CA through
# CURL_CA_BUNDLE, as the curl tool would.
make_tls() {
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=graft test CA" \
                -keyout "$KEYS/ca.key" -out "$KEYS/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
                -keyout "$KEYS/server.key" -out "$KEYS/server.csr" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$KEYS/san.ext"
        openssl x509 -req -in "$KEYS/server.csr" -CA "$KEYS/ca.crt" -CAkey "$KEYS/ca.key" -CAcreateserial \
                -days 30 -sha256 -extfile "$KEYS/san.ext" -out "$KEYS/server.crt" 2>/dev/null
        cat "$KEYS/server.crt" "$KEYS/server.key" >"$KEYS/server.pem"
}
make_tls
export CURL_CA_BUNDLE=$KEYS/ca.crt

# start_server [KBYTES_PER_SECOND]: lighttpd serving $WWW over TLS on 127.0.0.1:$PORT, throttled
# per connection when asked (so that a test can cut a transfer in the middle).
start_server() {
        local limit=${1:-0}
        cat >"$T/lighttpd.conf" <<CONF
server.document-root = "$WWW"
server.bind = "127.0.0.1"
server.port = $PORT
server.modules = ("mod_openssl", "mod_accesslog")
server.errorlog = "$T/lighttpd-error.log"
server.pid-file = "$T/lighttpd.pid"
accesslog.filename = "$T/access.log"
accesslog.format = "%r %s %b %{Range}i"
ssl.engine = "enable"
ssl.pemfile = "$KEYS/server.pem"
connection.kbytes-per-second = $limit
server.stat-cache-engine = "disable"
mimetype.assign = ("" => "application/octet-stream")
CONF
        rm -f "$T/lighttpd.pid"
        lighttpd -f "$T/lighttpd.conf" || fail "lighttpd did not start: $(cat "$T/lighttpd-error.log" 2>/dev/null)"
        local i
        for i in $(seq 100); do
                [[ -s $T/lighttpd.pid ]] && curl -so /dev/null "$URL/" && return 0
                sleep 0.05
        done
        fail "lighttpd does not answer on $URL"
}

# stop_server [SIGNAL]: kills the server (default SIGKILL: it dies as a crash would, mid-transfer;
# TERM lets it flush its access log).
stop_server() {
        [[ -s $T/lighttpd.pid ]] || return 0
        local pid
        pid=$(cat "$T/lighttpd.pid")
        kill -"${1:-9}" "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
        rm -f "$T/lighttpd.pid"
}

# The OpenPGP key that signs SHA256SUMS, and the keyring hosts check it with.
export GNUPGHOME=$KEYS/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "graft test <test@graft>" \
        ed25519 sign never 2>/dev/null
gpg --batch --export >"$KEYS/pubring.gpg"

# sign_index: SHA256SUMS of every image in $WWW, and its detached signature.
sign_index() {
        (cd "$WWW" && find . -maxdepth 1 -name '*.raw' -printf '%f\n' | LC_ALL=C sort | xargs -r sha256sum) \
                >"$WWW/SHA256SUMS"
        rm -f "$WWW/SHA256SUMS.gpg"
        gpg --batch --quiet --detach-sign -o "$WWW/SHA256SUMS.gpg" "$WWW/SHA256SUMS"
}

# The key graft's images are signed with, and the host trust store holding its certificate.
make_cert "$KEYS" signer

# build_ext NAME VERSION [RELEASE-LINES…]: a signed extension image NAME_VERSION.raw in $WWW whose
# /usr/share/NAME/version holds VERSION (default release: ID=debian VERSION_ID=12).
build_ext() {
        local name=$1 version=$2 src=$T/src/$1-$2
        shift 2
        (($# > 0)) || set -- ID=debian VERSION_ID=12
        mkdir -p "$src/usr/lib/extension-release.d" "$src/usr/share/$name"
        printf '%s\n' "$@" >"$src/usr/lib/extension-release.d/extension-release.$name"
        echo "$version" >"$src/usr/share/$name/version"
        head -c "${BLOB_SIZE:-200000}" /dev/urandom >"$src/usr/share/$name/blob"
        "$GRAFT_IMAGE" build "$src" -o "$WWW/${name}_$version.raw" --name "$name" --version "$version" \
                --key "$KEYS/signer.key" --cert "$KEYS/signer.crt" >/dev/null 2>&1 ||
                fail "graft-image build $name $version failed"
}

# url_transfer FILE NAME TARGET-PATH [TARGET-LINES] [X-GRAFT-LINES]: a transfer file taking NAME_@v.raw
# from the server into TARGET-PATH, with more [Target] lines and a [X-Graft] section when given.
url_transfer() {
        {
                printf '[Source]\nType=url-file\nPath=%s/\nMatchPattern=%s_@v.raw\n\n' "$URL" "$2"
                printf '[Target]\nType=regular-file\nPath=%s\nMatchPattern=%s_@v.raw\n' "$3" "$2"
                [[ -z ${4:-} ]] || printf '%s\n' "$4"
                [[ -z ${5:-} ]] || printf '\n[X-Graft]\n%s\n' "$5"
        } >"$1"
}

# new_host ROOT NAME: a scratch root with os-release, the trust store, the keyring, and a transfer
# file for extension NAME into /var/lib/extensions/NAME.v/.
new_host() {
        local r=$1 name=$2
        mkdir -p "$r/usr/lib" "$r/etc/verity.d" "$r/etc/systemd" "$r/etc/sysupdate.d" "$r/var/lib/extensions"
        printf 'ID=debian\nVERSION_ID=12\n' >"$r/usr/lib/os-release"
        cp "$KEYS/signer.crt" "$r/etc/verity.d/signer.crt"
        cp "$KEYS/pubring.gpg" "$r/etc/systemd/import-pubring.gpg"
        cat >"$r/etc/sysupdate.d/50-$name.transfer" <<TRANSFER
[Transfer]
Verify=yes

[Source]
Type=url-file
Path=$URL/
MatchPattern=${name}_@v.raw

[Target]
Type=regular-file
Path=/var/lib/extensions/$name.v
MatchPattern=${name}_@v.raw
InstancesMax=3
TRANSFER
}

# host_state ROOT: tree_state of the root, but for the device number a merge records (which
# differs from one merge to the next by nature). Which version is merged shows in the merged /usr.
host_state() {
        local s
        s=$(tree_state "$1")
        grep -v '/usr/\.systemd-sysext/dev$' <<<"$s" || true
}

# merged_version ROOT NAME: the version of extension NAME merged on ROOT's /usr ("none").
merged_version() {
        cat "$1/usr/share/$2/version" 2>/dev/null || echo none
}

# unmerge_root ROOT: removes the merges below ROOT (before a test throws the root away).
unmerge_root() {
        "$SEXTCTL" --root="$1" unmerge >/dev/null 2>&1 || true
        local m
        for m in $(grep -o " $1/[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
}

# installed ROOT NAME: the versions in NAME.v/, one per line, and any hidden file that should not
# be there.
installed() {
        ls -A "$1/var/lib/extensions/$2.v" 2>/dev/null | LC_ALL=C sort
}

# no_partial ROOT NAME: nothing but complete, final images in the target directory.
no_partial() {
        local f
        for f in $(ls -A "$1/var/lib/extensions/$2.v" 2>/dev/null); do
                [[ $f == .* ]] && fail "a partial or staging file is left: $f"
        done
        return 0
}
