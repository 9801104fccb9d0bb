#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# graftd's structured journal entries (graftd(8), JOURNAL): attach, reattach, detach, merge,
# refresh, unmerge and every refusal each send one entry with its MESSAGE_ID and the fields that
# name what changed. No journald runs here, so the test is the journal: in its own mount
# namespace (tmpfs on /run, lib-graftd.sh) it binds /run/systemd/journal/socket, where
# sd_journal_send() writes, and decodes the native protocol (KEY=VALUE lines, or KEY, a 64-bit
# length and the value) that journald would receive. Without the socket the same text still
# reaches stderr (checked first).
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/daemon/lib-graftd.sh"

ATTACH=0d18d0e6c38e41bc8db01e8f7e8e23e2
REATTACH=1b334d638b41456da56f349e6b32f68a
DETACH=2445d5d0b5ce4289a656895e72137dc0
MERGE=8f3301ac26fa4a0583df677dc6d9e99f
REFRESH=4be81fc5a9d74d77a0e7fdec10285743
UNMERGE=f7ccaf5aba224d748b6d06ddc741ecaf
REFUSAL=f2906c4ec5a341ffae458f466339554c
# The IDs the man page documents are the ones graftd sends.
for id in $ATTACH $REATTACH $DETACH $MERGE $REFRESH $UNMERGE $REFUSAL; do
        grep -q "$id" "$GRAFT_SOURCE_DIR/man/graftd.8" || fail "graftd(8) does not list MESSAGE_ID $id"
done

portable_image demo
portable_image demo "$R/srv/demo_2.raw"
sysext_image ext1
# An unsigned extension, which the merge skips (the root trusts a certificate): a refusal.
mkdir -p "$T/ext-ext1/usr/lib/extension-release.d"
cp "$T/ext-ext1/usr/lib/extension-release.d/extension-release.ext1" \
        "$T/ext-ext1/usr/lib/extension-release.d/extension-release.unsigned"
"$GRAFT_IMAGE" build "$T/ext-ext1" -o "$R/var/lib/extensions/unsigned.raw" --name unsigned --version 1 --type sysext >/dev/null
rm "$T/ext-ext1/usr/lib/extension-release.d/extension-release.unsigned"
bus_start
graftd_start

# ---- no journal: the stderr line is there -------------------------------------------------------
call Manager1 AttachImage sassstass demo 0 default copy 0 0 "" >/dev/null || fail "AttachImage demo failed"
grep -q "^<6>Attached portable image /var/lib/portables/demo.raw (root hash [0-9a-f]\{64\}): demo.service demo.socket$" \
        "$GRAFTD_LOG" || fail "without a journal, the attach entry is not on stderr: $(cat "$GRAFTD_LOG")"
call Manager1 DetachImage st demo 0 >/dev/null || fail "DetachImage demo failed"

# ---- a journal socket ----------------------------------------------------------------------------
mkdir -p /run/systemd/journal
JOURNAL=$T/journal.jsonl
python3 - /run/systemd/journal/socket "$JOURNAL" <<'EOF' &
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    data = s.recv(1 << 20)
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:  # binary-safe form: KEY\n, little-endian 64-bit length, value, \n
            k = line
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        entry.setdefault(k.decode(), []).append(v.decode("utf-8", "replace"))
    out.write(json.dumps(entry) + "\n")
EOF
JOURNAL_PID=$!
# The receiver must not outlive the test (it would hold the test's output open).
journal_cleanup() {
        local rc=$?
        kill "$JOURNAL_PID" 2>/dev/null
        (exit $rc)
        graftd_cleanup
}
trap journal_cleanup EXIT
for ((i = 0; i < 100; i++)); do
        [[ -S /run/systemd/journal/socket ]] && break
        sleep 0.05
done
[[ -S /run/systemd/journal/socket ]] || fail "the test's journal socket did not appear"

# entries ID: the entries with that MESSAGE_ID so far, one JSON object per line.
entries() {
        python3 - "$JOURNAL" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("MESSAGE_ID") == [sys.argv[2]]:
        print(json.dumps(e, sort_keys=True))
EOF
}
# expect_entry ID FIELD=VALUE…: an entry with that ID holds every FIELD=VALUE given (a field may
# repeat: each VALUE must be among its values); MESSAGE~TEXT: its message contains TEXT.
expect_entry() {
        local id=$1
        shift
        entries "$id" >"$T/entries.jsonl"
        python3 - "$T/entries.jsonl" "$@" <<'EOF' ||
import json, sys
want = sys.argv[2:]
def ok(e):
    for w in want:
        k, op, v = w.partition("~") if "~" in w.split("=", 1)[0] else w.partition("=")
        if not any((v in x) if op == "~" else (v == x) for x in e.get(k, [])):
            return False
    return True
sys.exit(0 if any(ok(json.loads(l)) for l in open(sys.argv[1]) if l.strip()) else 1)
EOF
                fail "no entry with MESSAGE_ID=$id and $*; those with that ID: $(cat "$T/entries.jsonl")"
}
hash_of() { "$GRAFT_IMAGE" verify --root="$R" --json=short "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rootHash"])'; }
demo_hash=$(hash_of "$R/var/lib/portables/demo.raw")
demo2_hash=$(hash_of "$R/srv/demo_2.raw")
ext1_hash=$(hash_of "$R/var/lib/extensions/ext1.raw")

# ---- portable: attach, reattach, detach ----------------------------------------------------------
call Manager1 AttachImage sassstass demo 0 default copy 0 0 "" >/dev/null || fail "AttachImage demo failed"
expect_entry $ATTACH IMAGE=/var/lib/portables/demo.raw ROOT_HASH="$demo_hash" UNIT=demo.service UNIT=demo.socket \
        CALLER_UID=0 PRIORITY=6 SYSLOG_IDENTIFIER=graftd "MESSAGE~Attached portable image /var/lib/portables/demo.raw"
call Manager1 ReattachImage sassstass "$R/srv/demo_2.raw" 0 default copy 0 0 "" >/dev/null || fail "ReattachImage failed"
expect_entry $REATTACH IMAGE=/srv/demo_2.raw ROOT_HASH="$demo2_hash" UNIT=demo.service "MESSAGE~Reattached portable image"
call Manager1 DetachImage st "$R/srv/demo_2.raw" 0 >/dev/null || fail "DetachImage failed"
expect_entry $DETACH IMAGE=/srv/demo_2.raw ROOT_HASH="$demo2_hash" UNIT=demo.service UNIT=demo.socket
# With the journal there but not as stderr (no JOURNAL_STREAM), stderr keeps its line too.
grep -q "^<6>Detached portable image /srv/demo_2.raw" "$GRAFTD_LOG" || fail "the detach line is not on stderr"

# ---- extensions: merge (one image skipped: a refusal), refresh, unmerge ----------------------------
call Extensions1 Merge sts sysext 0 "" >/dev/null || fail "Merge failed"
expect_entry $MERGE CLASS=sysext EXTENSION=ext1 IMAGE=/var/lib/extensions/ext1.raw ROOT_HASH="$ext1_hash" HIERARCHY=/usr \
        "MESSAGE~Merged sysext image ext1"
expect_entry $REFUSAL CLASS=sysext EXTENSION=unsigned PRIORITY=5 "MESSAGE~Skipped sysext image unsigned"
call Extensions1 Refresh sts sysext 0 "" >/dev/null || fail "Refresh failed"
expect_entry $REFRESH CLASS=sysext EXTENSION=ext1 ROOT_HASH="$ext1_hash" HIERARCHY=/usr
call Extensions1 Unmerge st sysext 0 >/dev/null || fail "Unmerge failed"
expect_entry $UNMERGE CLASS=sysext HIERARCHY=/usr "MESSAGE~Unmerged sysext from /usr"

# ---- refusals: a failed change, an unauthorized caller ---------------------------------------------
before=$(attached_tree)
rc=0
call Manager1 AttachImage sassstass nope 0 default copy 0 0 "" >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "AttachImage nope succeeded"
expect_entry $REFUSAL IMAGE=nope OPERATION=AttachImage ERROR=org.graft.Error.NoSuchImage CALLER_UID=0 \
        "MESSAGE~no image \"nope\""
rc=0
as_nobody busctl --system call org.graft.Manager1 /org/graft/Manager1 org.graft.Manager1 AttachImage sassstass \
        demo 0 default copy 0 0 "" >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "an unprivileged AttachImage succeeded"
expect_entry $REFUSAL IMAGE=demo OPERATION=AttachImage CALLER_UID=65534 "MESSAGE~refused"
assert_eq "$(attached_tree)" "$before"
[[ -z $(ls -A "$R/usr/share" | grep -v '^host$' || true) ]] || fail "a refused change left files in /usr/share"

# One entry per change: the first attach and detach went to stderr only (no socket yet).
assert_eq "$(entries $ATTACH | wc -l)" 1
assert_eq "$(entries $DETACH | wc -l)" 1

# ---- stderr is the journal (JOURNAL_STREAM): the line is not written twice ------------------------
graftd_stop
: >"$GRAFTD_LOG"
JOURNAL_STREAM=$(stat -c '%d:%i' "$GRAFTD_LOG") graftd_start
call Manager1 AttachImage sassstass demo 0 default copy 0 0 "" >/dev/null || fail "AttachImage demo failed"
assert_eq "$(entries $ATTACH | wc -l)" 2
grep -q "Attached portable image" "$GRAFTD_LOG" && fail "with stderr a journal stream, the attach line is there twice"
grep -q "AttachImage demo (uid 0): done in" "$GRAFTD_LOG" || fail "graftd's other lines still go to stderr"
call Manager1 DetachImage st demo 0 >/dev/null || fail "DetachImage demo failed"
graftd_stop
echo "ok: attach, reattach, detach, merge, refresh, unmerge and refusals each sent their journal entry"
