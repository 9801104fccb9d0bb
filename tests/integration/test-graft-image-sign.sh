#!/bin/bash
# graft-image sign: adds a signature partition to an unsigned image, replaces an existing one,
# refuses to sign a damaged image and leaves it as it was.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
need openssl sfdisk

make_cert "$T/keys" one
make_cert "$T/keys" two
mkdir -p "$T/r1/etc/verity.d" "$T/r2/etc/verity.d"
cp "$T/keys/one.crt" "$T/r1/etc/verity.d/"
cp "$T/keys/two.crt" "$T/r2/etc/verity.d/"
make_sysext_tree "$T/ext" hello
"$GRAFT_IMAGE" build -q "$T/ext" -o "$T/hello.raw" --name hello --version 1

"$GRAFT_IMAGE" inspect "$T/hello.raw" >"$T/i0.txt"
assert_contains "$T/i0.txt" "Signature: none"
"$GRAFT_IMAGE" sign "$T/hello.raw" --key "$T/keys/one.key" --cert "$T/keys/one.crt" >"$T/s1.txt"
assert_contains "$T/s1.txt" "Wrote a signature of $T/hello.raw into partition 3"
"$GRAFT_IMAGE" verify -q --root="$T/r1" --image-policy=root=signed "$T/hello.raw"
sfdisk --verify "$T/hello.raw" >/dev/null || fail "sfdisk finds the GPT broken after sign"

"$GRAFT_IMAGE" sign --json=short "$T/hello.raw" --key "$T/keys/two.key" --cert "$T/keys/two.crt" >"$T/s2.json"
assert_contains "$T/s2.json" '"replaced":true'
run_expect 5 "trusted certificate" "$GRAFT_IMAGE" verify --root="$T/r1" "$T/hello.raw"
"$GRAFT_IMAGE" verify -q --root="$T/r2" "$T/hello.raw"

# A damaged image is not signed, and not changed.
cp "$T/hello.raw" "$T/bad.raw"
flip_byte "$T/bad.raw" $(($(part_offset "$T/bad.raw" 1) + 5000))
before=$(sha256sum "$T/bad.raw")
run_expect 4 "refusing to sign" "$GRAFT_IMAGE" sign "$T/bad.raw" --key "$T/keys/one.key" --cert "$T/keys/one.crt"
assert_eq "$(sha256sum "$T/bad.raw")" "$before" "sign modified a damaged image"

# Key problems name the file.
before=$(sha256sum "$T/hello.raw")
run_expect 7 "$T/keys/missing.key" "$GRAFT_IMAGE" sign "$T/hello.raw" --key "$T/keys/missing.key" --cert "$T/keys/one.crt"
run_expect 2 "sign needs --key=KEY.pem and --cert=CERT.pem" "$GRAFT_IMAGE" sign "$T/hello.raw" --key "$T/keys/one.key"
assert_eq "$(sha256sum "$T/hello.raw")" "$before" "a refused sign modified the image"
echo ok
