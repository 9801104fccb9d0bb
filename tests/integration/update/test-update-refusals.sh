#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every check graft-update makes before a file is renamed into place, each against a real web
# server: a download that does not match SHA256SUMS, a good checksum over an image whose hash
# tree is broken, an image signed by a key the host does not trust, SHA256SUMS signed by an
# unknown OpenPGP key, SHA256SUMS changed after it was signed, no signature with Verify=yes, an
# extension that does not fit the host. Each refusal names the file and the check, exits with
# the check's code, leaves the host on its old version with nothing partial on disk; when an
# older candidate passes, it is taken instead and the newer one's reason is said.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"
need sfdisk python3

r=$T/root
new_host "$r" foo
build_ext foo 1
sign_index
start_server
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update
assert_eq "$(installed "$r" foo)" "foo_1.raw"
before=$(tree_state "$r")

# expect_refusal CODE NEEDLE: update fails with CODE naming the check, nothing changes.
expect_refusal() {
        run_expect "$1" "$2" "$GRAFT_UPDATE" --root="$r" update
        assert_eq "$(tree_state "$r")" "$before" "a refused update changed the host"
        no_partial "$r" foo
}

# 1. Tampered download: the file on the server is not the one SHA256SUMS lists.
build_ext foo 2
sign_index
build_ext foo 2 # same name, other bytes (new random blob), index not re-signed
expect_refusal 4 "foo_2.raw: SHA-256"
assert_contains "$O/err" "which SHA256SUMS lists for it"
# The only candidate's error is said once (no "passed over" line before it).
assert_eq "$(grep -c "does not match" "$O/err")" 1 "the error of the only candidate, printed"

# 2. Good checksum, broken verity: a byte of the data partition flipped before the index is made.
build_ext foo 2
off=$(part_offset "$WWW/foo_2.raw" 1)
flip_byte "$WWW/foo_2.raw" $((off + 8192))
sign_index
expect_refusal 4 "does not match the hash tree"
assert_contains "$O/err" "foo_2.raw"

# 3. Signed, but by a key the host does not trust: the default policy wants a trusted signature.
make_cert "$KEYS" stranger
build_ext foo 2
"$GRAFT_IMAGE" sign "$WWW/foo_2.raw" --key "$KEYS/stranger.key" --cert "$KEYS/stranger.crt" >/dev/null 2>&1 ||
        fail "re-signing failed"
sign_index
expect_refusal 6 "foo_2.raw"
assert_contains "$O/err" "signed"

# 4. SHA256SUMS signed by an OpenPGP key that is not in the host's keyring.
build_ext foo 2
sign_index
other=$KEYS/other-gnupg
mkdir -m 700 "$other"
GNUPGHOME=$other gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
        --quick-gen-key "intruder <x@y>" ed25519 sign never 2>/dev/null
rm "$WWW/SHA256SUMS.gpg"
GNUPGHOME=$other gpg --batch --quiet --detach-sign -o "$WWW/SHA256SUMS.gpg" "$WWW/SHA256SUMS"
expect_refusal 5 "which is not in the keyring"
assert_contains "$O/err" "SHA256SUMS.gpg: signed by key"

# 5. SHA256SUMS changed after it was signed.
sign_index
echo "0000000000000000000000000000000000000000000000000000000000000000  foo_9.raw" >>"$WWW/SHA256SUMS"
expect_refusal 5 "BADSIG"

# 6. Verify=yes and no signature at all.
sign_index
rm "$WWW/SHA256SUMS.gpg"
expect_refusal 5 "is not signed"
# …which --verify=no accepts (the images are still checked by graft).
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" --verify=no check-new
assert_contains "$O/out" "2"

# 7. The newest does not fit the host (extension-release ID=fedora); alone, it is refused…
rm -f "$WWW"/foo_2.raw
build_ext foo 3 ID=fedora VERSION_ID=40
sign_index
expect_refusal 8 "ID=fedora"
# …with an older good candidate, that one is taken and the newer one's reason said.
build_ext foo 2
sign_index
run_expect 0 "passed over 3" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/err" "ID=fedora"
assert_contains "$O/out" "Updated to 2 (was 1)"
assert_eq "$(installed "$r" foo | tr '\n' ' ')" "foo_1.raw foo_2.raw "
no_partial "$r" foo

# 8. A version marked bad is passed over, and refused by name until the mark is cleared.
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" mark-bad 3 "tested by hand"
run_expect 10 "version 3 is marked bad" "$GRAFT_UPDATE" --root="$r" update 3
assert_contains "$O/err" "graft-update unmark 3"
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" unmark 3
run_expect 2 "version 3 is not marked bad" "$GRAFT_UPDATE" --root="$r" unmark 3

# 9. Broken transfer files name the file and line.
printf '[Source]\nType=url-tar\nPath=%s\nMatchPattern=foo_@v.tar\n[Target]\nType=directory\nPath=/x\nMatchPattern=foo_@v\n' \
        "$URL" >"$r/etc/sysupdate.d/60-bad.transfer"
run_expect 1 "[Source] Type=url-tar is not supported by graft" "$GRAFT_UPDATE" --root="$r" list
printf '[Source]\nType=url-file\nPath=%s\nMatchPattern=foo_@v_@v.raw\n[Target]\nType=regular-file\nPath=/x.v\nMatchPattern=x_@v\n' \
        "$URL" >"$r/etc/sysupdate.d/60-bad.transfer"
run_expect 2 "@v is used twice" "$GRAFT_UPDATE" --root="$r" list
printf '[Source]\nType=url-file\nPath=%s\nMatchPattern=foo_@v.raw\n[Target]\nType=regular-file\nPath=/var/lib/extensions\nMatchPattern=foo_@v.raw\n' \
        "$URL" >"$r/etc/sysupdate.d/60-bad.transfer"
run_expect 2 "would all be merged side by side" "$GRAFT_UPDATE" --root="$r" list
printf 'Type=url-file\nnonsense\n' >"$r/etc/sysupdate.d/60-bad.transfer"
run_expect 2 "60-bad.transfer:2: not a Key=Value assignment" "$GRAFT_UPDATE" --root="$r" list
ln -sf /dev/null "$r/etc/sysupdate.d/60-bad.transfer"
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" list

# 10. Transfer files say which commands run as root (HealthCheck=): one that anybody but root
# could change, a drop-in too, or one in a directory another user may write, is refused by name
# before anything in it is used.
rm "$r/etc/sysupdate.d/60-bad.transfer"
before=$(tree_state "$r")
tf=$r/etc/sysupdate.d/50-foo.transfer
chown 65534 "$tf"
expect_refusal 6 "transfer file $tf is writable by uid 65534 (its owner)"
chown 0 "$tf"
mkdir -p "$r/etc/sysupdate.d/50-foo.transfer.d"
printf '[X-Graft]\nHealthCheck=touch %s/ran\n' "$T" >"$r/etc/sysupdate.d/50-foo.transfer.d/health.conf"
chmod g+w "$r/etc/sysupdate.d/50-foo.transfer.d/health.conf"
before=$(tree_state "$r")
expect_refusal 6 "transfer file $r/etc/sysupdate.d/50-foo.transfer.d/health.conf is writable by group 0"
rm -r "$r/etc/sysupdate.d/50-foo.transfer.d"
chmod o+w "$r/etc/sysupdate.d"
before=$(tree_state "$r")
expect_refusal 6 "the directory $r/etc/sysupdate.d is writable by everyone"
chmod o-w "$r/etc/sysupdate.d"
[[ ! -e $T/ran ]] || fail "a health check of a refused transfer file ran"

# 11. Whoever could change the keyring could sign releases.
chown 65534 "$r/etc/systemd/import-pubring.gpg"
before=$(tree_state "$r")
expect_refusal 6 "keyring $r/etc/systemd/import-pubring.gpg is writable by uid 65534 (its owner)"
chown 0 "$r/etc/systemd/import-pubring.gpg"
echo "ok"
