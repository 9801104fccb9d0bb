# SPDX-License-Identifier: LGPL-2.1-or-later
# The example images (examples/build.sh) for the end-to-end tests. Source after tests/lib/lib.sh.
#
#   dir=$(example_images)   # a directory holding webdemo.raw, debugtools.raw and keys/example.crt
#
# Looks in GRAFT_E2E_EXAMPLES, then build/quickstart/images of the source tree (what
# tools/quickstart makes), then the cache (NSPAWN_CACHE or /var/cache/graft-test)/examples, where
# it builds them once with examples/build.sh and this build's graft-image (downloads a few Debian
# packages). Skips the test with the reason if they cannot be had.

example_images() {
        local d cache=${GRAFT_E2E_CACHE:-/var/cache/graft-test}/examples
        for d in ${GRAFT_E2E_EXAMPLES:-} "$GRAFT_SOURCE_DIR/build/quickstart/images" "$cache"; do
                if [[ -s $d/webdemo.raw && -s $d/keys/example.crt ]]; then
                        echo "$d"
                        return 0
                fi
        done
        mkdir -p "$cache" || skip "cannot create $cache"
        exec {EXAMPLE_LOCK_FD}>"$cache/.lock"
        flock "$EXAMPLE_LOCK_FD"
        if [[ ! -s $cache/webdemo.raw ]]; then
                echo "example-image: building the example images in $cache (once)" >&2
                if ! "$GRAFT_SOURCE_DIR/examples/build.sh" "$cache" "$GRAFT_IMAGE" >"$cache/build.log" 2>&1; then
                        tail -n 5 "$cache/build.log" >&2
                        exec {EXAMPLE_LOCK_FD}>&-
                        skip "examples/build.sh could not build the example images (network to the Debian mirror?)"
                fi
        fi
        exec {EXAMPLE_LOCK_FD}>&-
        echo "$cache"
}

# example_data_partition IMAGE OUT: the image's data partition (a squashfs) as a file of its own.
example_data_partition() {
        local off size
        off=$(part_offset "$1" 1) && size=$(part_size "$1" 1) || fail "cannot read the partition table of $1"
        dd if="$1" of="$2" bs=512 skip=$((off / 512)) count=$((size / 512)) status=none ||
                fail "cannot copy the data partition of $1"
}
