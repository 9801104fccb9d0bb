#!/bin/bash
# Hostile and damaged images: each is refused with a message that says what is wrong and where,
# with the documented exit code, and neither verify nor inspect changes anything on disk.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
need openssl python3 sfdisk

make_cert "$T/keys" test
make_cert "$T/keys" stranger
mkdir -p "$T/root/etc/verity.d" "$T/strange/etc/verity.d"
cp "$T/keys/test.crt" "$T/root/etc/verity.d/"
cp "$T/keys/stranger.crt" "$T/strange/etc/verity.d/"
make_sysext_tree "$T/ext" hello
head -c 1000000 /dev/urandom >"$T/ext/usr/share/hello/big" # > 128 data blocks: a two-level tree
export SOURCE_DATE_EPOCH=1700000000
"$GRAFT_IMAGE" build -q "$T/ext" -o "$T/good.raw" --name hello --version 1 --key "$T/keys/test.key" --cert "$T/keys/test.crt"
"$GRAFT_IMAGE" build -q "$T/ext" -o "$T/unsigned.raw" --name hello --version 1
"$GRAFT_IMAGE" verify -q --root="$T/root" "$T/good.raw" || fail "the good image does not verify"

data_off=$(part_offset "$T/good.raw" 1)
hash_off=$(part_offset "$T/good.raw" 2)
sig_off=$(part_offset "$T/good.raw" 3)

# hostile NAME CODE NEEDLE [verify options]: copies good.raw to NAME.raw for the caller to damage
# first (via $img), then checks verify's refusal and that the refused image was not modified.
# dir_state IMAGE: its hash and its directory's entries (not ls: its column widths follow the
# link count of the parent, which other tests change meanwhile).
dir_state() {
        sha256sum "$1"
        find "$(dirname "$1")" -maxdepth 1 -printf '%P %y %m %s %T@\n' | LC_ALL=C sort
}

check_refused() {
        local img=$1 code=$2 needle=$3
        shift 3
        local before after
        before=$(dir_state "$img")
        run_expect "$code" "$needle" "$GRAFT_IMAGE" verify "$@" "$img"
        after=$(dir_state "$img")
        assert_eq "$after" "$before" "verify changed $img or its directory"
}
copy() { mkdir -p "$T/$1"; cp "$T/good.raw" "$T/$1/hello.raw"; echo "$T/$1/hello.raw"; }

# A flipped byte in the data partition: the block is named.
img=$(copy data); flip_byte "$img" $((data_off + 2 * 4096 + 100))
check_refused "$img" 4 "data block 2 of partition 1 does not match the hash tree" --root="$T/root"

# A flipped byte in a leaf hash block (the tree starts one 4 KiB block after the superblock).
img=$(copy hash); flip_byte "$img" $((hash_off + 4096 + 4096 + 7))
check_refused "$img" 4 "of partition 2 does not match the hash tree" --root="$T/root"

# A byte in the zero padding at the end of the last leaf hash block.
img=$(copy padding)
# The superblock says how many data blocks there are; leaves are stored last, 128 digests each.
last_leaf_end=$(python3 - "$img" "$hash_off" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb"); off = int(sys.argv[2]); f.seek(off)
sb = f.read(512)
n = struct.unpack_from("<Q", sb, 72)[0]
assert n % 128, "no padding in the last leaf block"
blocks, level = 0, n
while True:
    level = -(-level // 128)
    blocks += level
    if level == 1:
        break
print(off + 4096 + blocks * 4096)
PY
)
flip_byte "$img" $((last_leaf_end - 1))
check_refused "$img" 4 "has non-zero padding" --root="$T/root"

# The signature JSON: a key renamed, a byte after the JSON, the signed root hash changed.
img=$(copy sigkey); flip_byte "$img" $((sig_off + 2))
check_refused "$img" 5 "lacks rootHash" --root="$T/root"
img=$(copy sigtail); flip_byte "$img" $((sig_off + 16000))
check_refused "$img" 5 "non-NUL bytes after the JSON" --root="$T/root"
img=$(copy sighash)
python3 - "$img" "$sig_off" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off); j = f.read(16384)
    i = j.index(b'"rootHash":"') + len(b'"rootHash":"')
    c = b"0" if j[i:i+1] != b"0" else b"1"
    f.seek(off + i); f.write(c)
PY
check_refused "$img" 5 "" --root="$T/root"

# Signed, but by a certificate the host does not trust; or nobody is trusted at all.
check_refused "$T/good.raw" 5 "trusted certificate" --root="$T/strange"
mkdir -p "$T/empty"
check_refused "$T/good.raw" 5 "no trusted certificates" --root="$T/empty"

# Unsigned under a policy that wants a signature; unprotected where verity is required.
check_refused "$T/unsigned.raw" 6 "signed" --root="$T/root" --image-policy=root=signed
"$GRAFT_IMAGE" verify -q --root="$T/root" --image-policy=root=verity "$T/unsigned.raw" || fail "verity policy refused a verity image"
"$GRAFT_IMAGE" verify -q --root="$T/root" --image-policy=root=verity "$T/good.raw" || fail "a signed image must satisfy a verity policy"

# A wrong --root-hash.
check_refused "$T/good.raw" 4 "root hash" --root="$T/root" --root-hash=$(printf '%064d' 0)

# Truncated: cut inside the hash partition; empty; random bytes.
img=$(copy truncated); truncate -s $((hash_off + 4096)) "$img"
check_refused "$img" 3 "truncated" --root="$T/root"
: >"$T/empty.raw"
check_refused "$T/empty.raw" 3 "$T/empty.raw"
head -c 1048576 /dev/urandom >"$T/random.raw"
check_refused "$T/random.raw" 3 "not a GPT image, squashfs or erofs file, or directory"

# Hand-made GPTs: overlapping partitions, a partition past the end of the disk.
root_type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
verity_type=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5
python3 "$GRAFT_SOURCE_DIR/tests/integration/make-gpt.py" "$T/overlap.raw" $((8 << 20)) \
        $root_type:2048:8191:a_1 $verity_type:6144:10239:a_1
check_refused "$T/overlap.raw" 3 "overlap"
python3 "$GRAFT_SOURCE_DIR/tests/integration/make-gpt.py" "$T/beyond.raw" $((8 << 20)) \
        $root_type:2048:40000:a_1
check_refused "$T/beyond.raw" 3 "partition 1"

# A label of exactly 36 characters is read whole (and one of 37 cannot be built: see refusals).
label=$(printf 'x%.0s' {1..34})
"$GRAFT_IMAGE" build -q "$T/ext" -o "$T/long.raw" --name hello --version "$label" 2>/dev/null && fail "a 40-character label was built"
v=$(printf '9%.0s' {1..30})
"$GRAFT_IMAGE" build -q "$T/ext" -o "$T/label36.raw" --name hello --version "$v"
"$GRAFT_IMAGE" inspect --json=short "$T/label36.raw" | python3 -c "
import json, sys
j = json.load(sys.stdin)
assert j['version'] == '$v' and all(p['label'] == 'hello_$v' and len(p['label']) == 36 for p in j['partitions']), j"

# A squashfs holding an entry named "..": verify and inspect refuse it by name. Built
# uncompressed so the name can be patched in place.
if command -v mksquashfs >/dev/null; then
        mkdir -p "$T/evil/usr/lib/systemd/system"
        printf 'ID=_any\n' >"$T/evil/usr/lib/os-release"
        echo x >"$T/evil/usr/lib/systemd/system/zz"
        mksquashfs "$T/evil" "$T/evil.raw" -noI -noD -noF -noX -quiet -no-progress >/dev/null
        python3 - "$T/evil.raw" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# Directory entries store the name length minus one right before the name: 1 then "zz".
i = data.rindex(b"\x01\x00zz")
data[i + 2:i + 4] = b".."
open(sys.argv[1], "wb").write(data)
PY
        check_refused "$T/evil.raw" 3 'unsafe name'
        before=$(sha256sum "$T/evil.raw")
        run_expect 3 'unsafe name' "$GRAFT_IMAGE" inspect "$T/evil.raw"
        assert_eq "$(sha256sum "$T/evil.raw")" "$before"
else
        echo "mksquashfs missing: traversal entry case not run" >&2
fi
echo ok
