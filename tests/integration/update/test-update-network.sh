#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What the network and the disk do to a download: a transfer cut in the middle is resumed where
# it stopped (a Range request, seen in the server's log) and never visible under a name graft
# would pick up while it runs; a server that stays down fails the update after the retries; a
# disk that fills up while staging; a server whose certificate is not trusted. Each failure
# leaves the host on its old version with nothing partial on disk and names the file.
source "$GRAFT_SOURCE_DIR/tests/integration/update/lib-update.sh"

r=$T/root
new_host "$r" foo
BLOB_SIZE=100000 build_ext foo 1
sign_index
start_server
run_expect 0 "" "$GRAFT_UPDATE" --root="$r" update
before=$(host_state "$r")

# A 4 MB version 2, served at 1 MB/s per connection.
BLOB_SIZE=4000000 build_ext foo 2
sign_index
size=$(stat -c %s "$WWW/foo_2.raw")
stop_server
start_server 1024

# wait_for_staging: until a staging file has data; meanwhile only hidden names may appear.
wait_for_staging() {
        local i f
        for i in $(seq 200); do
                for f in $(ls -A "$r/var/lib/extensions/foo.v"); do
                        [[ $f == foo_1.raw ]] && continue
                        [[ $f == .* ]] || fail "a download is visible as $f"
                        [[ $(stat -c %s "$r/var/lib/extensions/foo.v/$f") -gt 500000 ]] && return 0
                done
                sleep 0.05
        done
        fail "no download started"
}

# 1. The server dies mid-transfer and comes back: the retry resumes from what arrived.
: >"$T/access.log"
"$GRAFT_UPDATE" --root="$r" update >"$O/out" 2>"$O/err" &
pid=$!
wait_for_staging
stop_server
start_server 4096
wait $pid || { cat "$O/err"; fail "the resumed update failed"; }
assert_contains "$O/err" "retrying in"
assert_contains "$O/err" "resumed"
assert_contains "$O/out" "Updated to 2 (was 1)"
cmp "$r/var/lib/extensions/foo.v/foo_2.raw" "$WWW/foo_2.raw" || fail "the resumed download differs"
stop_server TERM # flushes the access log
grep -q "^GET /foo_2.raw HTTP/[0-9.]* 206 [0-9]* bytes=" "$T/access.log" || { cat "$T/access.log"; fail "no Range request was made"; }
fetched=$(awk '$2 == "/foo_2.raw" { s += $5 } END { print s }' "$T/access.log")
echo "version 2: $size bytes, $fetched fetched by the second connection"
no_partial "$r" foo

# Back to version 1 only.
assert_eq "$(merged_version "$r" foo)" 2
rm "$r/var/lib/extensions/foo.v/foo_2.raw"
"$SEXTCTL" --root="$r" refresh >/dev/null
assert_eq "$(host_state "$r")" "$before"

# 2. The server dies mid-transfer and stays down: after the retries, nothing partial is left.
stop_server
start_server 1024
run_bg() { "$GRAFT_UPDATE" --root="$r" --retries=1 update >"$O/out" 2>"$O/err"; }
run_bg &
pid=$!
wait_for_staging
stop_server
rc=0
wait $pid || rc=$?
[[ $rc -eq 1 ]] || { cat "$O/err"; fail "update with the server gone exited $rc, expected 1"; }
assert_contains "$O/err" "cannot download $URL/foo_2.raw"
assert_eq "$(host_state "$r")" "$before" "a failed download changed the host"
no_partial "$r" foo

# 3. The disk fills up while staging: a 1 MB file system for the versions.
start_server
mount -t tmpfs -o size=1m tmpfs "$r/var/lib/extensions/foo.v"
cp "$WWW/foo_1.raw" "$r/var/lib/extensions/foo.v/"
run_expect 1 "No space left on device" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/err" "cannot write $r/var/lib/extensions/foo.v/foo_2.raw"
assert_eq "$(installed "$r" foo)" "foo_1.raw"
umount "$r/var/lib/extensions/foo.v"

# 4. A server whose certificate no trusted CA signed.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" -keyout "$T/o.key" -out "$T/o.crt" 2>/dev/null
CURL_CA_BUNDLE=$T/o.crt run_expect 1 "cannot download $URL/SHA256SUMS" "$GRAFT_UPDATE" --root="$r" update
assert_contains "$O/err" "certificate"
assert_eq "$(host_state "$r")" "$before"

# 5. Nobody listening at all.
stop_server
run_expect 1 "cannot download $URL/SHA256SUMS" "$GRAFT_UPDATE" --root="$r" --retries=0 update
assert_eq "$(host_state "$r")" "$before"
echo "ok"
