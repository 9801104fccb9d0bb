#!/bin/bash
# Images made by the peers: systemd-repart 252 (signed, 512-byte verity blocks; and unsigned, then
# signed by graft-image sign) and veritysetup sidecars next to a bare squashfs are inspected and
# verified; what graft signs, systemd-dissect still recognises.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
need systemd-repart openssl python3

make_cert "$T/keys" rp
mkdir -p "$T/root/etc/verity.d"
cp "$T/keys/rp.crt" "$T/root/etc/verity.d/"
make_sysext_tree "$T/src" rp

write_defs() { # DIR WITH_SIGNATURE
        mkdir -p "$1"
        printf '[Partition]\nType=root\nFormat=squashfs\nCopyFiles=%s:/\nVerity=data\nVerityMatchKey=root\nLabel=rp_1.0\n' "$T/src" >"$1/10-root.conf"
        printf '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\n' >"$1/20-verity.conf"
        if [[ $2 == yes ]]; then
                printf '[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=root\n' >"$1/30-sig.conf"
        fi
}

repart() { # DEFS OUT
        systemd-repart --empty=create --size=auto --definitions="$1" --private-key="$T/keys/rp.key" \
                --certificate="$T/keys/rp.crt" --dry-run=no --json=short "$2" >"$2.json" 2>"$2.log" ||
                { cat "$2.log" >&2; fail "systemd-repart failed"; }
}

# 1. Signed by systemd-repart.
write_defs "$T/defs-signed" yes
mkdir -p "$T/img"
repart "$T/defs-signed" "$T/img/rp.raw"
repart_hash=$(python3 -c "import json; print([p['roothash'] for p in json.load(open('$T/img/rp.raw.json')) if p['roothash']][0])")
"$GRAFT_IMAGE" inspect --json=short "$T/img/rp.raw" >"$T/inspect.json"
python3 - "$T/inspect.json" "$repart_hash" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "rp" and j["version"] == "1.0" and j["verity"] and j["signed"], j
assert j["rootHash"] == sys.argv[2], (j["rootHash"], sys.argv[2])
assert j["extensionRelease"]["ID"] == "debian", j
PY
"$GRAFT_IMAGE" verify --json=short --root="$T/root" --image-policy=root=signed "$T/img/rp.raw" >"$T/verify.json"
python3 - "$T/verify.json" "$repart_hash" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verified"] and v["protection"] == "signed" and v["signer"] == "CN=rp", v
assert v["rootHash"] == sys.argv[2] and v["uuidsMatchRootHash"], v
print("repart verity blocks:", v["dataBlockSize"], v["hashBlockSize"])
PY
# Not trusted without the certificate.
run_expect 5 "no trusted certificates" "$GRAFT_IMAGE" verify --root="$T/img" "$T/img/rp.raw"

# 2. Unsigned by systemd-repart, then signed by graft-image sign.
write_defs "$T/defs-unsigned" no
repart "$T/defs-unsigned" "$T/img/rpu.raw"
"$GRAFT_IMAGE" verify -q --root="$T/root" --image-policy=root=verity "$T/img/rpu.raw"
run_expect 6 "signed" "$GRAFT_IMAGE" verify --root="$T/root" --image-policy=root=signed "$T/img/rpu.raw"
"$GRAFT_IMAGE" sign "$T/img/rpu.raw" --key="$T/keys/rp.key" --cert="$T/keys/rp.crt" >"$T/sign.txt"
assert_contains "$T/sign.txt" "Wrote a signature"
"$GRAFT_IMAGE" verify -q --root="$T/root" --image-policy=root=signed "$T/img/rpu.raw"
sfdisk --verify "$T/img/rpu.raw" >/dev/null || fail "sfdisk finds the re-written GPT broken"
if command -v systemd-dissect >/dev/null; then
        cp "$T/img/rpu.raw" "$T/img/rp.raw"
        systemd-dissect --json=short "$T/img/rp.raw" | python3 -c "
import json, sys
j = json.load(sys.stdin)
m = {x['designator']: x for x in j['mounts']}
assert 'root-verity-sig' in m and m['root']['verity'] == 'signed', m
assert j['useSystemExtension'], j"
fi

# 3. A bare squashfs with veritysetup's sidecars (.verity, .roothash), then a .roothash.p7s by sign.
if command -v veritysetup >/dev/null && command -v mksquashfs >/dev/null; then
        mkdir -p "$T/bare"
        mksquashfs "$T/src" "$T/bare/rp.raw" -quiet -no-progress >/dev/null
        truncate -s %4096 "$T/bare/rp.raw"
        veritysetup format "$T/bare/rp.raw" "$T/bare/rp.verity" >"$T/vs.txt"
        vs_hash=$(awk '/Root hash:/ {print $3}' "$T/vs.txt")
        echo "$vs_hash" >"$T/bare/rp.roothash"
        "$GRAFT_IMAGE" verify --json=short --root="$T/root" "$T/bare/rp.raw" >"$T/bare.json"
        python3 -c "
import json
v = json.load(open('$T/bare.json'))
assert v['protection'] == 'verity' and v['rootHash'] == '$vs_hash', v"
        "$GRAFT_IMAGE" sign -q "$T/bare/rp.raw" --key="$T/keys/rp.key" --cert="$T/keys/rp.crt"
        [[ -s $T/bare/rp.roothash.p7s ]] || fail "sign wrote no .roothash.p7s"
        "$GRAFT_IMAGE" verify -q --root="$T/root" --image-policy=root=signed "$T/bare/rp.raw"
        openssl smime -verify -binary -inform DER -in "$T/bare/rp.roothash.p7s" -content <(printf %s "$vs_hash") \
                -CAfile "$T/keys/rp.crt" -purpose any -out /dev/null 2>/dev/null ||
                fail "openssl does not accept the .roothash.p7s graft wrote"
        echo 0000000000000000000000000000000000000000000000000000000000000000 >"$T/bare/rp.roothash"
        run_expect 5 "signature does not match root hash 0000" "$GRAFT_IMAGE" verify --root="$T/root" "$T/bare/rp.raw"
fi
echo ok
