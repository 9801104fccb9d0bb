#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd's verification cache: an image whose hash tree was verified is not hashed again while its
# files are unchanged (the second attach of a 256 MiB image takes milliseconds); any change (a new
# mtime, a rewritten byte with the old mtime put back: the ctime still moves) makes it hash again
# and a damaged image is refused as ever; the signature is checked against the trust store every
# time; a file changed within the last second is not remembered; sysext merges use it too.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"
need veritysetup

# big: a bare squashfs with .verity and .roothash sidecars, 256 MiB of incompressible data.
B=$R/var/lib/portables/big.raw
mkdir -p "$T/src-big/usr/lib/systemd/system" "$T/src-big/etc"
printf 'ID=graft-test\nVERSION_ID=1\n' >"$T/src-big/usr/lib/os-release"
printf '[Service]\nExecStart=/usr/bin/true\n' >"$T/src-big/usr/lib/systemd/system/big.service"
head -c 256M /dev/urandom >"$T/src-big/blob"
mksquashfs "$T/src-big" "$B" -quiet -noappend -all-root -noI -noD -noF -noX >/dev/null
veritysetup format "$B" "${B%.raw}.verity" | awk '/^Root hash:/ { print $3 }' >"${B%.raw}.roothash"
portable_image demo
sysext_image ext1
sleep 1.1 # (files changed within the last second are not remembered; see below)

bus_start
graftd_start

stats() { prop Manager1 VerificationCache | cut -d' ' -f2-; } # entries hits misses invalidated
ms() { # CMD…: its wall time in ms
        local s e
        s=$(date +%s%N)
        "$@" >/dev/null 2>"$O/ms.err" || { cat "$O/ms.err" >&2; fail "$* failed"; }
        e=$(date +%s%N)
        echo $(((e - s) / 1000000))
}
P() { "$PCTL" --image-policy='*' "$@"; }

first=$(ms P attach big)
P detach big >/dev/null
assert_eq "$(stats)" "1 0 1 0" "after the first attach"
second=$(ms P attach big)
P detach big >/dev/null
assert_eq "$(stats)" "1 1 1 0" "after the second attach"
direct=$(ms "$PCTL" --root="$R" --image-policy='*' attach big)
"$PCTL" --root="$R" detach big >/dev/null
# graftd's own time for each (the CLI's wall time adds the start of a process, ≈60 ms here).
mapfile -t took < <(sed -n 's/^<6>AttachImage big (uid 0): done in \([0-9]*\) ms.*/\1/p' "$GRAFTD_LOG")
echo "attach of a 256 MiB image through graftd: first ${first} ms (graftd: ${took[0]} ms)," \
        "second ${second} ms (graftd: ${took[1]} ms); in-process, no cache: ${direct} ms"
((took[1] * 5 < took[0])) || fail "the second attach (${took[1]} ms in graftd) is not much faster than the first (${took[0]} ms)"

# A new mtime: hashed again (the old entry dropped), then remembered again.
touch -d '30 seconds ago' "$B"
sleep 1.1
again=$(ms P attach big)
P detach big >/dev/null
assert_eq "$(stats)" "1 1 2 1" "after touching the image"
took=$(sed -n 's/^<6>AttachImage big (uid 0): done in \([0-9]*\) ms.*/\1/p' "$GRAFTD_LOG" | tail -n1)
((took * 2 > took[0])) || fail "an attach after touching the image (${took} ms in graftd) did not hash it"

# One rewritten byte with size and mtime put back: the ctime tells, and the damage is found.
cp -p "$B" "$T/big.good"
off=$(($(stat -c %s "$B") / 2))
flip_byte "$B" "$off"
touch -r "$T/big.good" "$B"
before=$(attached_tree)
run_expect 4 "big.raw: data block" P attach big
assert_eq "$(attached_tree)" "$before" "a refused attach changed the tree"
assert_eq "$(stats)" "0 1 3 2" "after the damage"
cp -p "$T/big.good" "$B"

# The signature is checked every time: a trusted signer removed from the trust store (another
# one left, so the default policy still wants signatures) is refused although the image's hash
# tree is remembered.
"$PCTL" attach demo >/dev/null && "$PCTL" detach demo >/dev/null
"$PCTL" attach demo >/dev/null && "$PCTL" detach demo >/dev/null
h=$(stats | cut -d' ' -f2)
make_cert "$T/keys" other
mv "$R/etc/verity.d/pk.crt" "$T/pk.crt.removed"
cp "$T/keys/other.crt" "$R/etc/verity.d/"
run_expect 6 "image policy requires the root partition to be signed" "$PCTL" attach demo
[[ $(stats | cut -d' ' -f2) -eq $h ]] || fail "the refusal came after a cache lookup: the signature was not checked first"
mv "$T/pk.crt.removed" "$R/etc/verity.d/pk.crt"
rm "$R/etc/verity.d/other.crt"

# Changed within the last second: verified, but not remembered.
cp "$R/var/lib/portables/demo.raw" "$R/var/lib/portables/fresh.raw"
e=$(stats | cut -d' ' -f1)
"$PCTL" attach fresh >/dev/null 2>&1 || true # (demo's units: refused after verification, that is enough)
assert_eq "$(stats | cut -d' ' -f1)" "$e" "a file changed just now was remembered"
rm "$R/var/lib/portables/fresh.raw"

# Extensions: merge and refresh find their images verified.
"$SEXTCTL" merge >/dev/null
h=$(stats | cut -d' ' -f2)
"$SEXTCTL" refresh >/dev/null
[[ $(stats | cut -d' ' -f2) -eq $((h + 1)) ]] || fail "refresh did not use the cache: $(stats)"
"$SEXTCTL" unmerge >/dev/null
echo "cache (entries hits misses invalidated): $(stats)"
echo ok
