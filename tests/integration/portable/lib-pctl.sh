# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared setup of the pctl integration tests (sourced after tests/lib/lib.sh): a scratch root $R
# with graft's profiles, a host os-release and a trust store holding the test key, and signed
# raw images built with graft-image from small trees.
PCTL=$GRAFT_BUILD_DIR/portable/pctl
[[ -x $PCTL ]] || skip "pctl is not built"
need openssl mksquashfs python3

R=$T/root
mkdir -p "$R/etc/verity.d" "$R/usr/lib/graft" "$R/var/lib/portables" "$R/srv"
# graft's state directories (the journal's, the lock's), as on a host where graft is installed.
mkdir -p -m 0700 "$R/var/lib/graft" "$R/run/graft" "$R/run/graft/locks"
make_cert "$T/keys" pk
cp "$T/keys/pk.crt" "$R/etc/verity.d/"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$R/usr/lib/graft/profiles"
rm -f "$R/usr/lib/graft/profiles/meson.build"
printf 'ID=debian\nVERSION_ID=12\n' >"$R/usr/lib/os-release"

pctl() { "$PCTL" --root="$R" "$@"; }

# demo_tree DIR EXEC: a portable service tree named demo (units demo.service, demo.socket).
demo_tree() {
        make_portable_tree "$1" demo
        printf 'ID=graft-test\nVERSION_ID=1\nPORTABLE_PREFIXES="demo demoext"\n' >"$1/usr/lib/os-release"
        printf '[Service]\nExecStart=%s\n[Install]\nWantedBy=multi-user.target\n' "$2" \
                >"$1/usr/lib/systemd/system/demo.service"
}

# build_image TREE OUT NAME VERSION [TYPE] [KEY]: a signed GPT image.
build_image() {
        local key=${6:-pk}
        "$GRAFT_IMAGE" build "$1" -o "$2" --name "$3" --version "$4" --type "${5:-portable}" \
                --key "$T/keys/$key.key" --cert "$T/keys/$key.crt" >/dev/null ||
                fail "graft-image build $2 failed"
}

root_hash() {
        "$GRAFT_IMAGE" inspect --json=short "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootHash"])'
}

# The attached state below $R/etc and $R/run (not graft's own run/graft), one line per entry:
# path, type, mode, link target.
attached_tree() {
        (cd "$R" && { find etc/systemd etc/portables run/systemd run/portables -printf '%p %y %m %l\n' 2>/dev/null || true; } | LC_ALL=C sort)
}
