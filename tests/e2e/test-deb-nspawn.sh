#!/bin/bash
# The Debian package against a real systemd 252: `apt-get install ./graft_*.deb` (the package the
# package suite built, build/deb/) in an nspawn-booted Debian, then the cases run against the
# installed files only (nothing of the build tree is bound in, so a file missing from the
# package fails here): installing enabled and started nothing; the bus activates the installed
# graftd (its unit, bus policy and activation file); pctl attaches the example web service through
# it with the installed profiles and the service answers; graft-sysext.service, once the admin
# enables and starts it, merges the signed example extension (strace runs from /usr) and stopping
# it unmerges; the completions load; `apt-get purge` leaves no file of the package and none of
# graft's state (/var/lib/graft).
# Machine name graft-e2e-deb.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/example-image.sh"
need python3 sfdisk

debs=("$GRAFT_BUILD_DIR"/deb/graft_*.deb)
[[ -f ${debs[0]} ]] || skip "no package in $GRAFT_BUILD_DIR/deb (the package suite builds it: meson test --suite package)"
deb=${debs[0]}
examples=$(example_images)
root=$(nspawn_root)

mkdir -p "$T/img"
example_data_partition "$examples/webdemo.raw" "$T/img/webdemo.raw"
mkdir -p "$T/share"
cp "$deb" "$T/share/"
nspawn_boot "$root" graft-e2e-deb --bind-ro="$T/share:/mnt/graft"
C() { nspawn_run "$@"; }
CR=/proc/$NSPAWN_LEADER/root

# Everything below /usr, /etc and /var before the package: purge must come back to this.
files() {
        C find /usr /etc /var /lib -xdev \( -path /var/log -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg \
                -o -path /var/lib/systemd -o -path /var/tmp -o -path /etc/ld.so.cache \) -prune -o -print 2>/dev/null |
                LC_ALL=C sort
}
before=$(files)

# ---- install -------------------------------------------------------------------------------------
start=$(date +%s%N)
if ! C env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "/mnt/graft/${deb##*/}" \
        >"$T/install.log" 2>&1; then
        cat "$T/install.log" >&2
        fail "apt-get install ./${deb##*/} failed"
fi
echo "apt-get install: $((($(date +%s%N) - start) / 1000000)) ms"
installed=$(C dpkg -L graft)
for f in /usr/bin/pctl /usr/bin/sextctl /usr/bin/graft-image /usr/bin/graft-update /usr/libexec/graftd; do
        grep -q -x -F "$f" <<<"$installed" || fail "dpkg -L graft lacks $f"
        C test -x "$f" || fail "$f is not installed executable"
done

# Installing enabled and started nothing.
for u in graftd.service graft-sysext.service graft-confext.service graft-update.timer graft-update-resolve.service; do
        state=$(C systemctl is-enabled "$u" 2>&1 || true)
        [[ $state == disabled || $state == static ]] || fail "$u is $state after the install (nothing may be enabled)"
        [[ $(C systemctl is-active "$u" || true) != active ]] || fail "$u was started by the install"
done
assert_eq "$(C systemctl is-enabled graft-sysext.service || true)" disabled

# ---- the bus activates the installed graftd ------------------------------------------------------
C mkdir -p /etc/verity.d /var/lib/portables /var/lib/extensions
cp "$T/img/webdemo.raw" "$CR/var/lib/portables/webdemo.raw"
cp "$examples/debugtools.raw" "$CR/var/lib/extensions/debugtools.raw"
C busctl call org.graft.Manager1 /org/graft/Manager1 org.freedesktop.DBus.Properties Get ss org.graft.Manager1 Version \
        >"$T/version.txt" || fail "the bus did not activate graftd"
assert_eq "$(C systemctl is-active graftd.service)" active
assert_contains "$T/version.txt" "$(C pctl --version | cut -d' ' -f2)"

# ---- a portable service through graftd, with the installed profiles ---------------------------------
C pctl attach --now webdemo >"$T/attach.txt" || fail "pctl attach --now webdemo failed: $(cat "$T/attach.txt")"
assert_contains "$T/attach.txt" "Started webdemo.service."
grep -q 'Attach' <<<"$(C journalctl -u graftd.service -o cat --no-pager)" || fail "the attach did not go through graftd"
got=
for ((i = 0; i < 50; i++)); do
        got=$(C timeout 2 busybox wget -q -O- http://127.0.0.1:8080/ 2>/dev/null) && break
        sleep 0.1
done
[[ $got == *"<html"* ]] || fail "the attached service does not serve its page: $got"
C pctl detach --now webdemo >/dev/null || fail "pctl detach --now webdemo failed"

# ---- graft-sysext.service, enabled by the admin --------------------------------------------------------
# The signed extension against the example's certificate. (The web service above runs from the
# example's bare data partition, which has no verity: with a certificate installed, the default
# policy would want it signed. systemd cannot open the GPT image's partitions in a container.)
cp "$examples/keys/example.crt" "$CR/etc/verity.d/example.crt"
C systemctl enable graft-sysext.service >/dev/null 2>&1 || fail "systemctl enable graft-sysext.service failed"
C systemctl start graft-sysext.service || fail "graft-sysext.service failed: $(C journalctl -u graft-sysext.service -o cat --no-pager)"
C /usr/bin/strace -V >"$T/strace.txt" || fail "strace does not run from the merged /usr"
assert_contains "$T/strace.txt" "strace -- version"
C systemctl stop graft-sysext.service
C test ! -e /usr/bin/strace || fail "stopping graft-sysext.service did not unmerge"

# ---- completions --------------------------------------------------------------------------------------
C bash -c 'source /usr/share/bash-completion/completions/pctl && complete -p pctl sextctl graft-image graft-update' \
        >"$T/complete.txt" || fail "the installed bash completion does not load"
assert_contains "$T/complete.txt" "complete -F _graft pctl"

# ---- purge ------------------------------------------------------------------------------------------------
# (The comparison below sees the package's files now: it would not pass vacuously.)
grep -q -x /usr/libexec/graftd <<<"$(files)" || fail "the file listing does not see the installed files"
C test -d /var/lib/graft || fail "graftd kept no state in /var/lib/graft (then purge is not tested on it)"
C systemctl disable graft-sysext.service >/dev/null 2>&1 || true
C env DEBIAN_FRONTEND=noninteractive apt-get purge -y graft >"$T/purge.log" 2>&1 || { cat "$T/purge.log" >&2; fail "apt-get purge graft failed"; }
rm -f "$CR/etc/verity.d/example.crt" "$CR/var/lib/portables/webdemo.raw" "$CR/var/lib/extensions/debugtools.raw"
C rmdir /etc/verity.d /var/lib/portables /var/lib/extensions 2>/dev/null || true
after=$(files)
left=$(comm -13 <(echo "$before") <(echo "$after"))
[[ -z $left ]] || fail "apt-get purge left behind:"$'\n'"$left"
C test ! -e /var/lib/graft || fail "purge left /var/lib/graft"

echo "ok: ${deb##*/} installs, enables nothing, serves through the bus-activated graftd, merges, purges clean"
