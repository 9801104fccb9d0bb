# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared setup of the portable crash and concurrency cases (sourced after lib-hostile.sh): two
# signed versions of one image (foo_1: foo.service with an [Install] section and foo.socket;
# foo_2: a changed foo.service and foo-extra.service instead of the socket), an image outside the
# search directories (srv/bar.raw, linked into the portables directory on attach), and the
# fingerprint of what portable operations may change.
#
#   fingerprint                 etc/, run/ and var/lib/ of $R: every entry (type, mode, size,
#                               link target) and every file's hash; the lock files left out
#   assert_clean WHAT           no staged file (.#pctl*), backup or journal is left in $R
#   landed STATE BEFORE AFTER WHAT  prints "before" or "after" as STATE is one of them, else fails
#                               showing how it differs from AFTER
#   save_root DIR / load_root DIR   copy $R aside, and put such a copy back as $R
#   fault_points CMD…           runs CMD with GRAFT_FAULT_LOG and prints how many points it passed

[[ $(sed -n 's/^#define GRAFT_FAULT_POINTS //p' "$GRAFT_BUILD_DIR/graft-config.h") == 1 ]] ||
        skip "this build has no fault points (configure with -Dfault_points=true)"

make_portable_tree "$T/src-foo_1" foo
printf '[Install]\nWantedBy=multi-user.target\n' >>"$T/src-foo_1/usr/lib/systemd/system/foo.service"
make_portable_tree "$T/src-foo_2" foo
rm "$T/src-foo_2/usr/lib/systemd/system/foo.socket"
printf '[Service]\nExecStart=/usr/bin/false\n[Install]\nWantedBy=multi-user.target\n' \
        >"$T/src-foo_2/usr/lib/systemd/system/foo.service"
printf '[Service]\nExecStart=/usr/bin/true\n' >"$T/src-foo_2/usr/lib/systemd/system/foo-extra.service"
for v in 1 2; do
        "$GRAFT_IMAGE" build "$T/src-foo_$v" -o "$R/var/lib/portables/foo_$v.raw" --name foo --version "$v" \
                --type portable --key "$T/keys/pk.key" --cert "$T/keys/pk.crt" >/dev/null || fail "cannot build foo_$v"
done
portable_image bar "$R/srv/bar.raw"

# (The trust record is written after the change it describes, outside its all-or-nothing: see
# devmode.h.)
fingerprint() {
        local skip=(-path run/graft/locks -prune -o -path 'var/lib/graft/portable.trust*' -prune -o)
        (cd "$R" && find etc run var/lib "${skip[@]}" -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
                find etc run var/lib "${skip[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

assert_clean() {
        local left
        left=$(cd "$R" && find . -name '.#pctl*' -o -name 'portable.journal*')
        [[ -z $left ]] || fail "$1: left behind: $left"
}

landed() {
        if [[ $1 == "$2" ]]; then
                echo before
        elif [[ $1 == "$3" ]]; then
                echo after
        else
                diff <(echo "$3") <(echo "$1") >&2 || true
                fail "$4: neither before nor after"
        fi
}

save_root() {
        rm -rf "$1"
        cp -a "$R" "$1"
}

load_root() {
        rm -rf "$R"
        cp -a "$1" "$R"
}

fault_points() {
        local log=$T/fault.log
        rm -f "$log"
        GRAFT_FAULT_LOG=$log "$@" >/dev/null 2>&1 || fail "'$*' failed without a fault"
        [[ -s $log ]] || fail "'$*' passed no fault point"
        wc -l <"$log"
}
