#!/bin/bash
# Developer mode: graft-image keygen enrolls a local certificate apart from the vendor's trust
# store; images signed with it (and unsigned root-owned directory extensions) are admitted only
# while `developer-mode on`, and refused otherwise naming the trust root they would need; status,
# list and verify show which trust root admitted each image; leaving the mode unmerges the
# extensions only a developer key admitted and refuses while such a portable image is attached.
# Every refusal: message, exit code, nothing changed.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/sysext/sysext-lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/portable/lib-pctl.sh"

sextctl() { "$SEXTCTL" --root="$R" "$@"; }
new_root "$R"
MODE=$R/etc/graft/developer-mode

# keygen: key and certificate where asked, the certificate enrolled under the root, never twice.
"$GRAFT_IMAGE" keygen --root="$R" -o "$T/keys" dev >"$O/out"
assert_contains "$O/out" "enrolled in $R/etc/graft/developer.d/dev.crt"
[[ -f $T/keys/dev.key && -f $T/keys/dev.crt ]] || fail "keygen wrote no key pair"
assert_eq "$(stat -c %a "$T/keys/dev.key")" 600 "key mode"
cmp "$T/keys/dev.crt" "$R/etc/graft/developer.d/dev.crt" || fail "the enrolled certificate differs"
[[ ! -e $R/etc/verity.d/dev.crt ]] || fail "keygen enrolled in the vendor store"
run_expect 10 "a developer certificate $R/etc/graft/developer.d/dev.crt is enrolled already" \
        "$GRAFT_IMAGE" keygen --root="$R" -o "$T/keys2" dev

mkext "$T/src/a" alpha
mkext "$T/src/d" devext
build_image "$T/src/a" "$R/var/lib/extensions/alpha.raw" alpha 1 sysext pk
build_image "$T/src/d" "$R/var/lib/extensions/devext.raw" devext 1 sysext dev
refusal="signed by CN=dev, a local developer key ($R/etc/graft/developer.d/dev.crt), which only developer mode trusts, and developer mode is off"

# 1. Mode off: the developer's image is refused naming its trust root; the vendor's is merged.
run_expect 5 "$refusal" "$GRAFT_IMAGE" verify --root="$R" "$R/var/lib/extensions/devext.raw"
run_expect 9 "$refusal" sextctl merge
sextctl status --json=short >"$O/st"
python3 - "$O/st" <<'PY' || fail "status with the mode off: $(cat "$O/st")"
import json, sys
h = json.load(open(sys.argv[1]))[0]
assert h["extensions"] == ["alpha"], h
assert h["trust"] == {"alpha": "vendor (CN=pk)"}, h
PY
sextctl unmerge >/dev/null

# 2. An unsigned directory is refused with the mode off, saying what would admit it.
mkext "$R/var/lib/extensions/tree" tree
run_expect 9 "an unsigned directory is admitted only in developer mode, which is off" sextctl merge
sextctl unmerge >/dev/null

# 3. Mode on: visible, and everything merged, each with its trust root.
run_expect 0 "Developer mode is on" sextctl developer-mode on
assert_contains "$MODE" "enabled="
sextctl developer-mode status >"$O/out"
assert_contains "$O/out" "Developer mode: on ($MODE exists)"
assert_contains "$O/out" "Developer keys: 1 in $R/etc/graft/developer.d"
"$GRAFT_IMAGE" verify --root="$R" "$R/var/lib/extensions/devext.raw" >"$O/out"
assert_contains "$O/out" "trust root: local developer, developer mode is on"
sextctl merge >/dev/null 2>"$O/err" || { cat "$O/err"; fail "merge in developer mode failed"; }
sextctl status --json=short >"$O/st"
python3 - "$O/st" <<'PY' || fail "status with the mode on: $(cat "$O/st")"
import json, sys
h = json.load(open(sys.argv[1]))[0]
assert h["trust"] == {"alpha": "vendor (CN=pk)", "devext": "developer (CN=dev)",
                      "tree": "developer (unsigned local directory)"}, h
PY
sextctl status >"$O/out"
assert_contains "$O/out" "developer (CN=dev)"
sextctl developer-mode status >"$O/out"
assert_contains "$O/out" "In use on a developer key's word: system extension devext (CN=dev)"
sextctl unmerge >/dev/null

# 4. A directory somebody else may write is refused even in developer mode.
chown 1000 "$R/var/lib/extensions/tree"
run_expect 9 "$R/var/lib/extensions/tree is writable by uid 1000 (its owner)" sextctl merge
sextctl unmerge >/dev/null
chown 0 "$R/var/lib/extensions/tree"
sextctl merge >/dev/null

# 5. A portable image signed by the developer key, attached in developer mode; list shows it.
demo_tree "$T/src/demo1" /usr/bin/demo-one
build_image "$T/src/demo1" "$R/var/lib/portables/demo_1.raw" demo 1 portable dev
pctl attach demo_1 >/dev/null
pctl list >"$O/out"
assert_contains "$O/out" "developer"
pctl --json=short list >"$O/list.json"
python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); assert [i["trust"] for i in l if i["name"]=="demo_1"]==["developer"], l' \
        "$O/list.json" || fail "pctl list does not say the developer key admitted demo_1: $(cat "$O/list.json")"

# 6. Leaving is refused while the developer's portable image is attached: by either tool, naming
# it; nothing changes.
before=$(tree_state "$R")
run_expect 10 "developer mode stays on: only a local developer key admitted what is in use: portable image demo_1 (CN=dev) is attached; detach it first (pctl detach demo_1)" \
        sextctl developer-mode off
run_expect 10 "system extension devext (CN=dev) is merged; sextctl developer-mode off unmerges it" \
        pctl developer-mode off
assert_contains "$O/err" "portable image demo_1 (CN=dev) is attached"
assert_eq "$(tree_state "$R")" "$before" "a refused developer-mode off changed the root"
pctl detach demo_1 >/dev/null

# A refresh that cannot be made (the lock is held) leaves the mode on, and says so.
hold_lock "$R/run/graft/locks/sysext.lock"
GRAFT_LOCK_TIMEOUT_SEC=1 run_expect 10 "developer mode stays on" sextctl developer-mode off
assert_contains "$O/err" "another sysext operation on $R is still running"
release_lock
[[ -e $MODE ]] || fail "a failed developer-mode off left the mode off"

# 7. sextctl developer-mode off unmerges what only the developer admitted and says so; the
# vendor's extension stays.
run_expect 0 "Unmerged devext (CN=dev): only a local developer key admitted it." sextctl developer-mode off
assert_contains "$O/err" "Developer mode is off"
[[ ! -e $MODE ]] || fail "the mode file is still there"
sextctl status --json=short >"$O/st"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))[0]; assert h["trust"]=={"alpha":"vendor (CN=pk)"}, h' "$O/st" ||
        fail "after developer-mode off: $(cat "$O/st")"
sextctl developer-mode status >"$O/out"
assert_contains "$O/out" "Developer mode: off"
assert_contains "$O/out" "(not trusted while the mode is off)"

# 8. With the mode off, the developer's portable image is refused naming the trust root.
before=$(tree_state "$R")
run_expect 6 "$refusal" pctl attach demo_1
assert_eq "$(tree_state "$R")" "$before" "a refused attach changed the root"
run_expect 2 "developer-mode takes on, off or status, not \"maybe\"" sextctl developer-mode maybe
echo "developer mode: ok"
