#!/bin/bash
# graft-image build → inspect → verify of a system extension and a portable service: the exact
# fields inspect shows, that verify checks signer and root hash, that a rebuild with the same
# SOURCE_DATE_EPOCH gives the same bytes, that veritysetup computes the same root hash and that
# systemd-dissect recognises the images for what they are.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
need openssl sfdisk python3

make_cert "$T/keys" test
mkdir -p "$T/root/etc/verity.d"
cp "$T/keys/test.crt" "$T/root/etc/verity.d/test.crt"

make_sysext_tree "$T/ext" hello
make_portable_tree "$T/svc" webby

export SOURCE_DATE_EPOCH=1700000000
"$GRAFT_IMAGE" build "$T/ext" -o "$T/hello.raw" --name hello --version 1.2 --key "$T/keys/test.key" --cert "$T/keys/test.crt" >"$T/build.txt"
assert_contains "$T/build.txt" "Root hash: "
"$GRAFT_IMAGE" build "$T/svc" -o "$T/webby.raw" --name webby --version 3 --type portable \
        --key "$T/keys/test.key" --cert "$T/keys/test.crt" --compression xz --json=short >"$T/build.json"
python3 - "$T/build.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["signed"] is True and j["type"] == "portable" and len(j["rootHash"]) == 64, j
PY

# Reproducible: the same tree and epoch give the same bytes; no temporary files are left.
"$GRAFT_IMAGE" build "$T/ext" -o "$T/hello2.raw" --name hello --version 1.2 --key "$T/keys/test.key" --cert "$T/keys/test.crt" -q
cmp "$T/hello.raw" "$T/hello2.raw" || fail "two builds of the same tree differ"
[[ -z $(find "$T" -maxdepth 1 -name '*#graft*') ]] || fail "temporary files left behind"

# --compression-level: recorded in the file system's compressor options (squashfs-tools reads
# them), a higher level gives a smaller data partition, and the image verifies.
if command -v unsquashfs >/dev/null; then
        for l in 1 19; do
                "$GRAFT_IMAGE" build "$T/ext" -o "$T/level$l.raw" --name hello --version 1.2 --compression-level=$l -q
                "$GRAFT_IMAGE" verify -q "$T/level$l.raw" || fail "the image built with --compression-level=$l does not verify"
                unsquashfs -o "$(part_offset "$T/level$l.raw" 1)" -s "$T/level$l.raw" >"$T/level$l.txt"
                assert_contains "$T/level$l.txt" "Compression zstd"
                assert_contains "$T/level$l.txt" "compression-level $l"
        done
        (($(part_size "$T/level19.raw" 1) <= $(part_size "$T/level1.raw" 1))) ||
                fail "level 19 gave a larger data partition than level 1"
fi

# inspect, text and JSON, without verifying.
"$GRAFT_IMAGE" inspect "$T/hello.raw" >"$T/inspect.txt"
assert_contains "$T/inspect.txt" "Name: hello"
assert_contains "$T/inspect.txt" "Version: 1.2"
assert_contains "$T/inspect.txt" "root-verity-sig"
assert_contains "$T/inspect.txt" "VERSION_ID=12"
"$GRAFT_IMAGE" inspect --json=short "$T/webby.raw" >"$T/inspect.json"
python3 - "$T/inspect.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kind"] == "gpt" and j["name"] == "webby" and j["version"] == "3", j
assert j["verity"] and j["signed"] and j["fileSystem"] == "squashfs", j
assert j["osRelease"]["ID"] == "graft-test" and j["osRelease"]["PORTABLE_PREFIXES"] == "webby", j
assert j["units"] == ["webby.service", "webby.socket"], j["units"]
parts = {p["designator"]: p for p in j["partitions"]}
assert set(parts) == {"root", "root-verity", "root-verity-sig"}, parts
for p in parts.values():
    assert p["readOnly"] and p["label"] == "webby_3" and p["version"] == "3", p
root = parts["root"]
assert root["use"] == "data" and root["verity"] and root["signed"], root
# The data partition's UUID is the first half of the root hash, the verity one's the second.
assert root["uuid"].replace("-", "") == j["rootHash"][:32], (root["uuid"], j["rootHash"])
assert parts["root-verity"]["uuid"].replace("-", "") == j["rootHash"][32:], parts["root-verity"]
PY

# verify: trusted signer → ok; JSON names signer and root hash.
"$GRAFT_IMAGE" verify --root="$T/root" "$T/hello.raw" >"$T/verify.txt"
assert_contains "$T/verify.txt" "Verified $T/hello.raw"
assert_contains "$T/verify.txt" "Signed by: CN=test"
"$GRAFT_IMAGE" verify --root="$T/root" --json=short --image-policy='root=signed' "$T/webby.raw" >"$T/verify.json"
python3 - "$T/verify.json" "$T/build.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert v["verified"] and v["protection"] == "signed" and v["rootHash"] == b["rootHash"], v
assert v["signer"] == "CN=test" and v["uuidsMatchRootHash"] and v["inodesChecked"] > 5, v
PY
# --root-hash must match.
root_hash=$(python3 -c "import json; print(json.load(open('$T/build.json'))['rootHash'])")
"$GRAFT_IMAGE" verify -q --root="$T/root" --root-hash="$root_hash" "$T/webby.raw"

# veritysetup, the peer, computes the same root hash over the same partitions.
if command -v veritysetup >/dev/null; then
        dd if="$T/hello.raw" of="$T/data.img" bs=4096 skip=$(($(part_offset "$T/hello.raw" 1) / 4096)) count=$(($(part_size "$T/hello.raw" 1) / 4096)) status=none
        dd if="$T/hello.raw" of="$T/hash.img" bs=4096 skip=$(($(part_offset "$T/hello.raw" 2) / 4096)) count=$(($(part_size "$T/hello.raw" 2) / 4096)) status=none
        hello_hash=$("$GRAFT_IMAGE" verify --root="$T/root" --json=short "$T/hello.raw" | python3 -c "import json,sys; print(json.load(sys.stdin)['rootHash'])")
        veritysetup verify "$T/data.img" "$T/hash.img" "$hello_hash" || fail "veritysetup does not accept graft's hash tree"
else
        echo "veritysetup missing: peer check of the root hash not run" >&2
fi

# systemd-dissect recognises the images (the name it looks for is the file name without .raw).
if command -v systemd-dissect >/dev/null; then
        mkdir -p "$T/dissect"
        cp "$T/hello.raw" "$T/dissect/hello.raw"
        cp "$T/webby.raw" "$T/dissect/webby.raw"
        systemd-dissect --json=short "$T/dissect/hello.raw" >"$T/d1.json"
        # 252's JSON gets usePortableService wrong (it looks for the key in a flat list), so the
        # portable check reads the table it prints.
        systemd-dissect "$T/dissect/webby.raw" >"$T/d2.txt"
        assert_contains "$T/d2.txt" "✓ portable service"
        python3 - "$T/d1.json" <<'PY'
import json, sys
ext = json.load(open(sys.argv[1]))
assert ext["useSystemExtension"] is True, ext
m = {x["designator"]: x for x in ext["mounts"]}
assert m["root"]["fstype"] == "squashfs" and m["root"]["verity"] == "signed", m
PY
else
        echo "systemd-dissect missing: recognition check not run" >&2
fi
echo "ok"
