#!/bin/bash
# pctl on a scratch root with signed raw (GPT) images: the exact files attach writes (paths,
# modes, links, drop-in text with the verified root hash), each copy mode, runtime and persistent,
# an image outside the search path (linked), an extension, --enable, reattach to a new version,
# foo_1 / foo_2 kept apart, --json output; every detach leaves the tree byte-identical.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/integration/portable/lib-pctl.sh"

demo_tree "$T/src/demo1" /usr/bin/demo-one
demo_tree "$T/src/demo2" /usr/bin/demo-two
build_image "$T/src/demo1" "$R/var/lib/portables/demo_1.raw" demo 1
build_image "$T/src/demo2" "$R/srv/demo_2.raw" demo 2
mkdir -p "$T/src/ext/usr/lib/extension-release.d" "$T/src/ext/usr/lib/systemd/system"
printf 'ID=graft-test\nVERSION_ID=1\nSYSEXT_SCOPE=portable\n' >"$T/src/ext/usr/lib/extension-release.d/extension-release.demoext"
printf '[Service]\nExecStart=/usr/bin/demoext\n' >"$T/src/ext/usr/lib/systemd/system/demoext.service"
build_image "$T/src/ext" "$R/var/lib/portables/demoext.raw" demoext 1 sysext
hash1=$(root_hash "$R/var/lib/portables/demo_1.raw")
hash2=$(root_hash "$R/srv/demo_2.raw")
hashx=$(root_hash "$R/var/lib/portables/demoext.raw")
before=$(tree_state "$R")

# 1. Attach by name, default copy mode: exactly these files.
pctl attach demo_1 >"$T/out.txt"
attached_tree >"$T/tree.txt"
cat >"$T/want.txt" <<EOF
etc/systemd d 755 
etc/systemd/system.attached d 755 
etc/systemd/system.attached/demo.service f 644 
etc/systemd/system.attached/demo.service.d d 755 
etc/systemd/system.attached/demo.service.d/10-profile.conf l 777 /usr/lib/graft/profiles/default/service.conf
etc/systemd/system.attached/demo.service.d/20-portable.conf f 644 
etc/systemd/system.attached/demo.socket f 644 
etc/systemd/system.attached/demo.socket.d d 755 
etc/systemd/system.attached/demo.socket.d/20-portable.conf f 644 
EOF
diff "$T/want.txt" "$T/tree.txt" || fail "attach wrote other files than expected"
cat >"$T/want.txt" <<EOF
# Drop-in created for image '/var/lib/portables/demo_1.raw', do not edit.
# graft-portable: name=demo_1 version=1 root-hash=$hash1 profile=default created=/etc/systemd,/etc/systemd/system.attached

[Service]
RootImage=/var/lib/portables/demo_1.raw
Environment=PORTABLE=demo_1.raw
BindReadOnlyPaths=/etc/os-release:/run/host/os-release
LogExtraFields=PORTABLE=demo_1.raw
EOF
diff "$T/want.txt" "$R/etc/systemd/system.attached/demo.service.d/20-portable.conf" || fail "20-portable.conf differs"
cmp "$T/src/demo1/usr/lib/systemd/system/demo.service" "$R/etc/systemd/system.attached/demo.service" ||
        fail "the unit file is not the image's"
head -n2 "$R/etc/systemd/system.attached/demo.socket.d/20-portable.conf" >"$T/sock.txt"
head -n2 "$T/want.txt" | diff - "$T/sock.txt" || fail "the socket's marker differs"
[[ $(wc -l <"$R/etc/systemd/system.attached/demo.socket.d/20-portable.conf") -eq 2 ]] || fail "a socket gets no [Service]"
assert_contains "$T/out.txt" "Copied /var/lib/portables/demo_1.raw/usr/lib/systemd/system/demo.service → /etc/systemd/system.attached/demo.service."
assert_eq "$(pctl is-attached demo_1)" attached
pctl detach demo_1 >"$T/out.txt"
assert_contains "$T/out.txt" "Removed /etc/systemd/system.attached."
assert_eq "$(tree_state "$R")" "$before" "detach left the tree changed"

# 2. Copy modes and --runtime, each undone byte for byte.
roundtrip() { # CHECK_PATH WANT_LINK(or -) PCTL-ARGS…
        local path=$1 want=$2
        shift 2
        pctl "$@" >/dev/null
        if [[ $want == - ]]; then
                [[ -f $R/$path && ! -L $R/$path ]] || fail "$path is not a copied file after attach $*"
        else
                assert_eq "$(readlink "$R/$path")" "$want" "$path after attach $*"
        fi
        local img=${*: -1}
        pctl detach "${img%% *}" >/dev/null
        assert_eq "$(tree_state "$R")" "$before" "detach after attach $* left the tree changed"
}
P=etc/systemd/system.attached/demo.service.d/10-profile.conf
roundtrip "$P" - attach --copy=copy demo_1
roundtrip "$P" /usr/lib/graft/profiles/default/service.conf attach --copy=mixed demo_1
roundtrip "$P" /usr/lib/graft/profiles/strict/service.conf attach --copy=auto --profile=strict demo_1
roundtrip run/systemd/system.attached/demo.service - attach --runtime demo_1
roundtrip run/systemd/system.attached/demo.service.d/10-profile.conf /usr/lib/graft/profiles/trusted/service.conf \
        attach --runtime -p trusted demo_1
# --copy=symlink of a raw image: its units have no host path to link to and are copied, the profile
# linked (as portablectl 252 does).
roundtrip etc/systemd/system.attached/demo.service - attach --copy=symlink demo_1
roundtrip "$P" /usr/lib/graft/profiles/default/service.conf attach --copy=symlink demo_1

# 3. An image outside the search directories is linked into /etc/portables (/run with --runtime).
roundtrip etc/portables/demo_2.raw /srv/demo_2.raw attach "$R/srv/demo_2.raw"
roundtrip run/portables/demo_2.raw /srv/demo_2.raw attach --runtime "$R/srv/demo_2.raw"

# 4. An extension: its units too, ExtensionImages= on every service, its root hash recorded.
pctl attach --extension=demoext demo_1 demo demoext >/dev/null
D=$R/etc/systemd/system.attached/demoext.service.d/20-portable.conf
assert_contains "$D" "# Drop-in created for image '/var/lib/portables/demo_1.raw:/var/lib/portables/demoext.raw', do not edit."
assert_contains "$D" "extension-root-hashes=$hashx "
assert_contains "$D" "Environment=PORTABLE=demoext.raw"
assert_contains "$D" "ExtensionImages=/var/lib/portables/demoext.raw"
assert_contains "$R/etc/systemd/system.attached/demo.service.d/20-portable.conf" "ExtensionImages=/var/lib/portables/demoext.raw"
cmp "$T/src/ext/usr/lib/systemd/system/demoext.service" "$R/etc/systemd/system.attached/demoext.service" ||
        fail "the extension's unit is not the extension's file"
pctl detach demo_1 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detach with an extension left the tree changed"

# 5. --enable without systemd: the [Install] links are made here, and removed by detach.
roundtrip etc/systemd/system.attached/multi-user.target.wants/demo.service /etc/systemd/system.attached/demo.service \
        attach --enable demo_1
pctl attach --enable demo_1 >/dev/null
assert_eq "$(pctl is-attached demo_1)" enabled
pctl detach demo_1 >/dev/null

# 6. foo_1 and foo_2 are never confused; reattach moves to the new version, files first.
pctl attach demo_1 >/dev/null
run_expect 1 "" pctl is-attached "$R/srv/demo_2.raw"
assert_eq "$(cat "$O/out")" detached
run_expect 7 "image /srv/demo_2.raw is not attached (attached: /var/lib/portables/demo_1.raw)" \
        pctl detach "$R/srv/demo_2.raw"
run_expect 10 "unit demo.service is attached already from image /var/lib/portables/demo_1.raw" \
        pctl attach "$R/srv/demo_2.raw"
pctl --json=short list >"$T/list.json"
python3 - "$T/list.json" "$hash1" <<'PY'
import json, sys
l = {i["path"]: i for i in json.load(open(sys.argv[1]))}
assert l["/var/lib/portables/demo_1.raw"]["state"] == "attached", l
assert l["/var/lib/portables/demo_1.raw"]["rootHash"] == sys.argv[2], l
assert l["/var/lib/portables/demo_1.raw"]["units"] == ["demo.service", "demo.socket"], l
assert l["/var/lib/portables/demoext.raw"]["state"] == "detached", l
PY
pctl --json=short reattach "$R/srv/demo_2.raw" >"$T/re.json"
python3 - "$T/re.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["image"] == "/srv/demo_2.raw", j
ch = [(c["type"], c["path"]) for c in j["changes"]]
# New files in place (replacing the old ones, never removing them first); removals come last.
writes = [i for i, c in enumerate(ch) if c[0] != "unlink"]
unlinks = [i for i, c in enumerate(ch) if c[0] == "unlink"]
assert not unlinks or min(unlinks) > max(writes), ch
assert ("copy", "/etc/systemd/system.attached/demo.service") in ch, ch
assert ("write", "/etc/systemd/system.attached/demo.service.d/20-portable.conf") in ch, ch
assert ("symlink", "/etc/portables/demo_2.raw") in ch, ch
assert ("unlink", "/etc/systemd/system.attached/demo.service") not in ch, ch
PY
assert_contains "$R/etc/systemd/system.attached/demo.service" "ExecStart=/usr/bin/demo-two"
assert_contains "$R/etc/systemd/system.attached/demo.service.d/20-portable.conf" "root-hash=$hash2 "
assert_eq "$(readlink "$R/etc/portables/demo_2.raw")" /srv/demo_2.raw
run_expect 1 "" pctl is-attached demo_1
assert_eq "$(pctl is-attached "$R/srv/demo_2.raw")" attached
pctl detach demo_2 >/dev/null
assert_eq "$(tree_state "$R")" "$before" "detach after reattach left the tree changed"

# 7. inspect changes nothing and shows the plan.
pctl inspect demo_1 >"$T/inspect.txt"
assert_contains "$T/inspect.txt" "Root hash: $hash1"
assert_contains "$T/inspect.txt" "Signed by: CN=pk"
assert_contains "$T/inspect.txt" "write   /etc/systemd/system.attached/demo.service.d/20-portable.conf"
pctl --json=short inspect demo_1 >"$T/inspect.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["rootHash"] and len(j["plan"]) == 9 and j["units"][0]["name"] == "demo.service", j' "$T/inspect.json"
assert_eq "$(tree_state "$R")" "$before" "inspect changed the tree"
echo "ok"
