# SPDX-License-Identifier: LGPL-2.1-or-later
# Results of a VM test, sourced by the guest scripts from /graft/report.sh (the test copies it
# there): one line per check on /dev/ttyS1, which tap-run.sh turns into TAP:
#   "@@ ok NAME", "@@ not ok NAME # detail", "@@ info TEXT", and "@@ done" at the end.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1

ok() { echo "@@ ok $*" >&3; }
info() { echo "@@ info $*" >&3; }
# not_ok NAME FILE: the check failed; the end of FILE (its output) goes into the detail.
not_ok() {
        echo "@@ not ok $1 # $(tail -n 4 "$2" 2>/dev/null | tr '\n' ' ' | cut -c1-400)" >&3
        echo "---- $1 failed:" && cat "$2"
}
# check NAME CMD…: one result; the command's output is kept in /tmp/out for the detail.
check() {
        check_name_=$1 # (sh has no locals: the checked functions may use any other name)
        shift
        if "$@" >/tmp/out 2>&1; then ok "$check_name_"; else not_ok "$check_name_" /tmp/out; fi
}
