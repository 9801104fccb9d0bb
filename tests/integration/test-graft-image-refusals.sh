#!/bin/bash
# graft-image build and the CLI refuse bad input with a clear message and the documented exit
# code, and write nothing.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"

make_sysext_tree "$T/ext" hello
make_portable_tree "$T/svc" webby
make_cert "$T/keys" test
mkdir -p "$T/out"
before=$(tree_state "$T")

build() { "$GRAFT_IMAGE" build "$@"; }

# Missing release files, named with their path.
run_expect 7 "$T/ext/usr/lib/extension-release.d/extension-release.other is missing" \
        build "$T/ext" -o "$T/out/x.raw" --name other --version 1
rm "$T/svc/usr/lib/os-release" "$T/svc/etc/os-release"
run_expect 7 "$T/svc/etc/os-release (or usr/lib/os-release) is missing" \
        build "$T/svc" -o "$T/out/x.raw" --name webby --version 1 --type portable
printf 'NAME=x\n' >"$T/svc/usr/lib/os-release"
run_expect 7 "$T/svc/usr/lib/os-release lacks ID=" \
        build "$T/svc" -o "$T/out/x.raw" --name webby --version 1 --type portable
rm "$T/svc/usr/lib/os-release"

# Names, versions, labels.
run_expect 2 'image name "a_b" is not valid' build "$T/ext" -o "$T/out/x.raw" --name a_b --version 1
run_expect 2 'image name "../x" is not valid' build "$T/ext" -o "$T/out/x.raw" --name ../x --version 1
run_expect 2 'version "1 2" is not valid' build "$T/ext" -o "$T/out/x.raw" --name hello --version "1 2"
long=$(printf 'v%.0s' {1..31})
run_expect 2 "partition label \"hello_$long\" is 37 characters, GPT labels hold at most 36" \
        build "$T/ext" -o "$T/out/x.raw" --name hello --version "$long"
run_expect 2 "--key and --cert go together" build "$T/ext" -o "$T/out/x.raw" --name hello --version 1 --key "$T/keys/test.key"
run_expect 7 "cannot open source directory $T/nope" build "$T/nope" -o "$T/out/x.raw" --name hello --version 1

# Option and usage errors.
run_expect 2 "build needs -o OUT.raw, --name=NAME and --version=V" build "$T/ext"
run_expect 2 "inspect does not take --key" "$GRAFT_IMAGE" inspect --key=x "$T/out/x.raw"
run_expect 2 "verify does not take --output" "$GRAFT_IMAGE" verify -o x "$T/out/x.raw"
run_expect 2 '--compression= takes zstd, xz, gzip or lz4, not "brotli"' build "$T/ext" -o x --name a --version 1 --compression=brotli
run_expect 2 "--compression-level=23: zstd takes levels 1 to 22 (default 15)" build "$T/ext" -o x --name a --version 1 --compression-level=23
run_expect 2 "--compression-level=3: lz4 compression has no levels" build "$T/ext" -o x --name a --version 1 --compression-level=3 --compression=lz4
run_expect 2 '--compression-level= takes a number, not "max"' build "$T/ext" -o x --name a --version 1 --compression-level=max
run_expect 2 "inspect does not take --compression-level" "$GRAFT_IMAGE" inspect --compression-level=3 "$T/out/x.raw"
run_expect 2 'unknown command "frobnicate"' "$GRAFT_IMAGE" frobnicate
run_expect 2 "--root-hash= takes a hex root hash" "$GRAFT_IMAGE" verify --root-hash=xyz "$T/out/x.raw"
run_expect 2 "" "$GRAFT_IMAGE" verify --image-policy='root=bogus' "$T/out/x.raw"
run_expect 2 "verify takes 1 argument, 0 given" "$GRAFT_IMAGE" verify
run_expect 7 "no such file" "$GRAFT_IMAGE" verify "$T/out/missing.raw"

# Nothing was written by any of the refusals (apart from the two os-release files removed above).
after=$(tree_state "$T")
diff <(echo "$before" | grep -v 'svc/usr/lib/os-release\|svc/etc/os-release') <(echo "$after") ||
        fail "a refused command changed the scratch tree"

# --help fits 80 columns and goes to stdout.
"$GRAFT_IMAGE" --help >"$T/help.txt"
awk 'length > 79 { print "line too long: " $0; bad = 1 } END { exit bad }' "$T/help.txt" || fail "--help wider than 80 columns"

# compare-versions agrees with systemd-analyze, output and exit status.
for pair in "1.2 1.10" "2~rc1 2" "1.0 1.0" "1_2 1.2" "abc 1"; do
        set -- $pair
        rc=0; ours=$("$GRAFT_IMAGE" compare-versions "$1" "$2") || rc=$?
        if command -v systemd-analyze >/dev/null; then
                orc=0; theirs=$(systemd-analyze compare-versions "$1" "$2") || orc=$?
                assert_eq "$ours/$rc" "$theirs/$orc" "compare-versions $1 $2"
        fi
done
"$GRAFT_IMAGE" compare-versions 1.2 lt 1.10 || fail "1.2 lt 1.10 should hold"
run_expect 1 "" "$GRAFT_IMAGE" compare-versions 1.2 gt 1.10
echo ok
