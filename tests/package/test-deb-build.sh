#!/bin/bash
# The Debian package (debian/): dpkg-buildpackage -us -uc -b of a clean copy of the tree (the
# files git knows, so a file missing from git fails here), with the unit suite run inside the
# build; the .deb must hold every program, man page, unit, the bus and polkit policy, the
# profiles and the completions; its maintainer scripts must enable and start nothing on their
# own (a unit is re-enabled only when the admin had enabled it, and an upgrade stops only
# graftd); lintian reports no error and no warning. The .deb is kept in
# $GRAFT_BUILD_DIR/deb/ for the e2e test that installs it (tests/e2e/test-deb-nspawn.sh).
set -euo pipefail
src=${GRAFT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${GRAFT_BUILD_DIR:-$src/build}

skip() { echo "SKIP: $*"; exit 77; }
for p in dpkg-buildpackage dh lintian fakeroot; do
        command -v "$p" >/dev/null || skip "$p is not installed (tools/install-deps installs it)"
done
# The package is built from the source, with its own options: once per tools/test run is enough.
opts=$(cat "$build/meson-info/intro-buildoptions.json")
if python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(sys.stdin)}; sys.exit(o.get("b_sanitize", "none") == "none")' <<<"$opts"; then
        skip "a sanitizer build: the package does not depend on the build tree's options (the plain build's run checks it)"
fi

W=$(mktemp -d /tmp/graft-test-deb.XXXXXX)
trap 'rm -rf "$W"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

version=$(sed -n '1s/^graft (\([^)]*\)).*/\1/p' "$src/debian/changelog")
tree=$W/graft-$version
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$src" ls-files -z --cached --others --exclude-standard | (cd "$src" && tar -c --null -T -) | tar -x -C "$tree"
else
        (cd "$src" && tar -c --exclude=./build\* --exclude=./.git .) | tar -x -C "$tree"
fi

start=$(date +%s)
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1; then
        tail -n 40 "$W/build.log"
        echo "FAIL: dpkg-buildpackage -us -uc -b failed (the end of its log is above)"
        exit 1
fi
echo "dpkg-buildpackage: $(($(date +%s) - start)) s; $(grep -E '^Ok: ' "$W/build.log" | tr -s ' ') unit tests in the build"
deb=$W/graft_${version}_$(dpkg --print-architecture).deb
[[ -f $deb ]] || { echo "FAIL: no $deb"; exit 1; }

# ---- what the package holds ---------------------------------------------------------------------
contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
for f in /usr/bin/pctl /usr/bin/sextctl /usr/bin/graft-image /usr/bin/graft-update /usr/libexec/graftd \
        /usr/share/man/man1/pctl.1.gz /usr/share/man/man1/sextctl.1.gz /usr/share/man/man1/graft-image.1.gz \
        /usr/share/man/man8/graftd.8.gz /usr/share/man/man8/graft-update.8.gz /usr/share/man/man5/org.graft.Manager1.5.gz \
        "$unitdir/graftd.service" "$unitdir/graft-sysext.service" "$unitdir/graft-confext.service" \
        "$unitdir/graft-update.service" "$unitdir/graft-update.timer" "$unitdir/graft-update-resolve.service" \
        /usr/share/dbus-1/system.d/org.graft.Manager1.conf /usr/share/dbus-1/system-services/org.graft.Manager1.service \
        /usr/share/polkit-1/actions/org.graft.policy \
        /usr/lib/graft/profiles/default/service.conf /usr/lib/graft/profiles/nonetwork/service.conf \
        /usr/lib/graft/profiles/strict/service.conf /usr/lib/graft/profiles/trusted/service.conf \
        /usr/share/bash-completion/completions/pctl /usr/share/bash-completion/completions/sextctl \
        /usr/share/bash-completion/completions/graft-image /usr/share/bash-completion/completions/graft-update \
        /usr/share/zsh/vendor-completions/_graft /usr/share/doc/graft/copyright; do
        grep -q -x -F -- "$f" <<<"$contents" || fail "the package lacks $f"
done
# Every man page of man/ is in the package (a new page added to man/ but not to meson fails).
for m in "$src"/man/*.[1-8]; do
        n=${m##*/}
        grep -q -x -F -- "/usr/share/man/man${n##*.}/$n.gz" <<<"$contents" || fail "the package lacks the man page $n"
done
# The bus activates graftd.service, which runs the installed daemon.
dpkg-deb -x "$deb" "$W/root"
grep -q -x 'SystemdService=graftd.service' "$W/root/usr/share/dbus-1/system-services/org.graft.Manager1.service" ||
        fail "org.graft.Manager1.service does not activate graftd.service"
grep -q -x 'ExecStart=/usr/libexec/graftd' "$W/root$unitdir/graftd.service" ||
        fail "graftd.service does not run /usr/libexec/graftd"
grep -q -x 'ExecStart=/usr/bin/sextctl refresh' "$W/root$unitdir/graft-sysext.service" ||
        fail "graft-sysext.service does not run /usr/bin/sextctl"
"$W/root/usr/bin/sextctl" --version >/dev/null || fail "the packaged sextctl does not run"

# ---- the maintainer scripts start and enable nothing ---------------------------------------------
dpkg-deb -e "$deb" "$W/control"
scripts=$(cat "$W"/control/{preinst,postinst,prerm,postrm} 2>/dev/null || true)
enables=$(grep -c 'deb-systemd-helper enable' <<<"$scripts" || true)
guarded=$(grep -c 'deb-systemd-helper --quiet was-enabled' <<<"$scripts" || true)
((enables == guarded)) || fail "a maintainer script enables a unit the admin had not enabled ($enables enable, $guarded was-enabled)"
grep -E 'deb-systemd-invoke (start|restart|try-restart)|systemctl( --system)? (start|enable|restart)' <<<"$scripts" &&
        fail "a maintainer script starts or enables a unit"
stops=$(grep 'deb-systemd-invoke stop' <<<"$scripts" || true)
[[ $stops == *"'graftd.service'"* && $stops != *graft-sysext* && $stops != *graft-confext* && $stops != *graft-update* ]] ||
        fail "an upgrade must stop graftd only (stopping graft-sysext would unmerge): $stops"
grep -q 'rm -rf /var/lib/graft /run/graft' "$W/control/postrm" || fail "purge does not remove graft's state"

# ---- lintian ---------------------------------------------------------------------------------------
lint_rc=0
lint=$(lintian --fail-on error,warning --display-info "$W"/graft_*.changes 2>&1) || lint_rc=$?
lint=$(grep -v 'running with root privileges is not recommended' <<<"$lint" || true)
((lint_rc == 0)) || fail "lintian (exit $lint_rc):"$'\n'"$lint"
echo "lintian: ${lint:-no tags} (overrides in debian/graft.lintian-overrides say why)"

mkdir -p "$build/deb"
rm -f "$build"/deb/graft_*.deb
cp "$deb" "$build/deb/"
((fails == 0)) || exit 1
echo "ok: $(basename "$deb") ($(stat -c %s "$deb") bytes, $(wc -l <<<"$contents") entries) built, complete, lintian clean; kept in $build/deb"
