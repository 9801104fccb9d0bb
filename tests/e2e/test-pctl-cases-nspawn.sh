#!/bin/bash
# pctl beside systemd 252's portablectl in an nspawn-booted Debian (machine graft-e2e-pcases), on
# the same images, for the cases of issue 18 (systemd's TEST-29): one base image shared by two
# services through two extensions and a detach naming only the base, detach IMAGE PREFIX…,
# versioned extension file names (app0_1.0.raw with extension-release.app0, reattach to
# app1_2.raw), --force over the extension-release name check, user.extension-release.strict=false,
# --copy=symlink of a raw image, and what inspect --cat, list and is-attached print.
#
# Images are bare squashfs files (systemd mounts RootImage= of a GPT image through partition
# devices, which a container here does not get). Each case runs portablectl first, then pctl, from
# the same state; what each did is kept in $T/cases/ and printed at the end.
. "$GRAFT_SOURCE_DIR/tests/lib/lib.sh"
. "$GRAFT_SOURCE_DIR/tests/e2e/lib/nspawn.sh"
need mksquashfs python3
PCTL=$GRAFT_BUILD_DIR/portable/pctl
[[ -x $PCTL ]] || skip "pctl is not built"
root=$(nspawn_root)

# The images, made on this side: minimal_0/1 (base, minimal-app0.service), app0 (app0.service,
# extension-release.app0), app1 (app1.service, extension-release.app2 marked strict=false, as in
# TEST-29), app0_1.0 / app1_2 (copies), app10 (app0 under another name).
mkdir -p "$T/img"
base_tree() {
        mkdir -p "$1/usr/bin" "$1/usr/lib/systemd/system" "$1/etc" "$1/proc" "$1/sys" "$1/dev" "$1/run" "$1/tmp" \
                "$1/var/tmp"
        cp "$root/bin/busybox" "$1/usr/bin/busybox"
        printf 'ID=debian\nVERSION_ID=12\n' >"$1/usr/lib/os-release"
        : >"$1/etc/resolv.conf"
        : >"$1/etc/machine-id"
        printf '[Service]\nExecStart=/usr/bin/busybox sleep 1000\n' >"$1/usr/lib/systemd/system/minimal-app0.service"
        printf '[Service]\nExecStart=/usr/bin/busybox sleep 1001\n' >"$1/usr/lib/systemd/system/minimal-app0-foo.service"
}
ext_tree() { # DIR RELEASE-NAME UNIT
        mkdir -p "$1/usr/lib/extension-release.d" "$1/usr/lib/systemd/system"
        printf 'ID=debian\nVERSION_ID=12\nSYSEXT_SCOPE=portable\n' >"$1/usr/lib/extension-release.d/extension-release.$2"
        printf '[Service]\nExecStart=/usr/bin/busybox sleep 1002\n' >"$1/usr/lib/systemd/system/$3.service"
}
setxattr() { python3 -c 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$@"; }
base_tree "$T/src/minimal_0"
base_tree "$T/src/minimal_1"
ext_tree "$T/src/app0" app0 app0
ext_tree "$T/src/app1" app2 app1
setxattr "$T/src/app1/usr/lib/extension-release.d/extension-release.app2" user.extension-release.strict false
for i in minimal_0 minimal_1 app0 app1; do
        mksquashfs "$T/src/$i" "$T/img/$i.raw" -quiet -noappend -all-root >/dev/null
done
cp "$T/img/app0.raw" "$T/img/app0_1.0.raw"
cp "$T/img/app1.raw" "$T/img/app1_2.raw"
cp "$T/img/app0.raw" "$T/img/app10.raw"

# The container gets /dev/loop0..15. A loop device number can vanish from the kernel (LOOP_CTL_REMOVE,
# which systemd's loop code calls on devices it added), and then the first free one lies past 15,
# outside the container, where systemd fails with EBUSY: the missing ones are added again (adding
# touches no device anybody uses).
ensure_loops() {
        python3 -c '
import fcntl, os
fd = os.open("/dev/loop-control", os.O_RDWR)
for n in range(16):
    if not os.path.exists("/sys/block/loop%d" % n):
        try:
            fcntl.ioctl(fd, 0x4C80, n)  # LOOP_CTL_ADD
        except OSError:
            pass'
}
ensure_loops
nspawn_boot "$root" graft-e2e-pcases --bind-ro="$GRAFT_BUILD_DIR"
CR=/proc/$NSPAWN_LEADER/root
mkdir -p "$CR/usr/lib/graft" "$CR/var/lib/portables"
cp -r "$GRAFT_SOURCE_DIR/profiles" "$CR/usr/lib/graft/profiles"
rm -f "$CR/usr/lib/graft/profiles/meson.build"
cp "$T/img/"*.raw "$CR/var/lib/portables/"
L=/var/lib/portables

C() { nspawn_run "$@"; }
# What attach may touch, inside the container (files with their sizes, links with their targets).
state() {
        C find /etc/systemd/system.attached /run/systemd/system.attached /etc/portables /run/portables -xdev \
                \( -type f -printf '%p f %m %s\n' \) -o -printf '%p %y %m %l\n' 2>/dev/null | LC_ALL=C sort || true
}
units() { # the attached unit files, one line
        C find /etc/systemd/system.attached /run/systemd/system.attached -maxdepth 1 -type f -printf '%f\n' 2>/dev/null |
                LC_ALL=C sort | paste -sd' ' - || true
}
mkdir -p "$T/cases"
# run TOOL CASE ARGS…: runs portablectl or pctl inside with ARGS; keeps rc, stdout, stderr and the
# attached units after it in $T/cases/CASE.TOOL.
run() {
        local tool=$1 case=$2 rc=0
        shift 2
        local bin=portablectl
        [[ $tool == pctl ]] && bin=$PCTL
        C "$bin" "$@" >"$T/cases/$case.$tool.out" 2>"$T/cases/$case.$tool.err" || rc=$?
        echo "$rc" >"$T/cases/$case.$tool.rc"
        units >"$T/cases/$case.$tool.units"
        return 0
}
rc() { cat "$T/cases/$1.$2.rc"; }
out() { cat "$T/cases/$1.$2.out"; }
left() { cat "$T/cases/$1.$2.units"; }
# cleanup_all: whatever either tool left attached goes (with portablectl, which knows both), and
# the links and directories portablectl leaves behind.
cleanup_all() {
        local u
        C systemctl stop minimal-app0.service minimal-app0-foo.service app0.service app1.service >/dev/null 2>&1 || true
        for u in minimal_0 minimal_1; do
                C portablectl detach --runtime "$u" >/dev/null 2>&1 || true
                C portablectl detach "$u" >/dev/null 2>&1 || true
        done
        C rm -rf /etc/systemd/system.attached /run/systemd/system.attached /etc/portables /run/portables
        C systemctl daemon-reload
        ensure_loops
}
before=$(state)
# pctl_clean CASE: pctl's detaches left nothing behind.
pctl_clean() {
        assert_eq "$(state)" "$before" "pctl left files behind after $1"
}

# 1. Two services on one base through two extensions. Naming one (its prefix and extension)
#    detaches that one with both tools. Naming the base alone: systemd 252 detaches both, pctl
#    refuses and detaches nothing (it cannot tell which one is meant).
for tool in portablectl pctl; do
        for step in 1 2; do
                run "$tool" shared-attach0 attach --runtime --extension=$L/app0.raw $L/minimal_0.raw app0
                run "$tool" shared-attach1 attach --runtime --extension=$L/app1.raw $L/minimal_0.raw app1
                [[ $(rc shared-attach0 "$tool") -eq 0 && $(rc shared-attach1 "$tool") -eq 0 ]] ||
                        fail "$tool: attaching two services on one base failed (step $step): $(rc shared-attach0 "$tool") $(rc shared-attach1 "$tool") $(cat "$T/cases/shared-attach"[01]."$tool".err)"
                if [[ $step -eq 1 ]]; then
                        run "$tool" shared-is-attached0 is-attached --extension=app0 minimal_0
                        run "$tool" shared-is-attached-other is-attached --extension=app0_1.0 minimal_0
                        run "$tool" shared-is-attached-both is-attached --extension=app0 --extension=app1 minimal_0
                        run "$tool" shared-detach-prefix detach --runtime --extension=$L/app0.raw $L/minimal_0.raw app0
                        run "$tool" shared-detach-ext detach --runtime --extension=$L/app1.raw $L/minimal_0.raw app1
                        [[ $tool == pctl ]] && pctl_clean "detaching both one by one"
                else
                        run "$tool" shared-detach detach --runtime $L/minimal_0.raw
                fi
                cleanup_all
        done
done
for c in shared-detach-prefix shared-detach-ext; do
        assert_eq "$(rc $c pctl)" "$(rc $c portablectl)" "exit status of $c: $(cat "$T/cases/$c.pctl.err")"
        assert_eq "$(left $c pctl)" "$(left $c portablectl)" "units left after $c"
done
assert_eq "$(left shared-detach-prefix pctl)" app1.service "detach BASE app0"
# is-attached --extension: the same for the extension attached and for two no attachment has;
# for another version of it (app0_1.0) systemd 252 says attached, pctl keeps versions apart.
for c in shared-is-attached0 shared-is-attached-both; do
        assert_eq "$(out $c pctl)" "$(out $c portablectl)" "$c: $(cat "$T/cases/$c.pctl.err")"
done
assert_eq "$(out shared-is-attached-both pctl)" detached "is-attached with two extensions"
assert_eq "$(out shared-is-attached-other portablectl)" attached-runtime "portablectl 252 is-attached --extension=app0_1.0"
assert_eq "$(out shared-is-attached-other pctl)" detached "pctl is-attached --extension=app0_1.0"
assert_eq "$(out shared-is-attached0 pctl)" attached-runtime "is-attached --extension=app0"
assert_eq "$(left shared-detach portablectl)" "" "portablectl 252 detach of a shared base"
assert_eq "$(rc shared-detach pctl)" 2 "pctl detach of a shared base"
assert_eq "$(left shared-detach pctl)" "app0.service app1.service" "pctl detach of a shared base removed units"
assert_contains "$T/cases/shared-detach.pctl.err" "image $L/minimal_0.raw is attached 2 times: app0.service (runtime, with extension $L/app0.raw); app1.service (runtime, with extension $L/app1.raw)"

# 1b. TEST-29's reattach of a running service to a new base with the same extension.
# (systemd keeps app0.raw open for writing through the running service's loop device.)
for tool in portablectl pctl; do
        run "$tool" same-ext-attach attach --now --runtime --extension=$L/app0.raw $L/minimal_0.raw app0
        run "$tool" same-ext-reattach reattach --now --runtime --extension=$L/app0.raw $L/minimal_1.raw app0
        run "$tool" same-ext-is-attached is-attached --extension=app0 minimal_1
        run "$tool" same-ext-detach detach --now --runtime --extension=$L/app0.raw $L/minimal_1.raw app0
        [[ $tool == pctl ]] && pctl_clean "reattach with the same extension"
        cleanup_all
done
for c in same-ext-attach same-ext-reattach same-ext-detach; do
        assert_eq "$(rc $c pctl)" "$(rc $c portablectl)" "exit status of $c: $(cat "$T/cases/$c.pctl.err")"
        assert_eq "$(rc $c pctl)" 0 "pctl $c: $(cat "$T/cases/$c.pctl.err")"
done
assert_eq "$(out same-ext-is-attached pctl)" "$(out same-ext-is-attached portablectl)" "is-attached after reattach"
assert_eq "$(out same-ext-is-attached pctl)" running-runtime "is-attached after reattach"

# 2. Versioned extension names. app0_1.0.raw ships extension-release.app0: systemd 252 refuses it
#    ("lacks extension-release data"; later systemd strips the version), pctl takes it. Reattach
#    to app1_2.raw (its release file marked strict=false) and back works with both.
for tool in portablectl pctl; do
        run "$tool" version-attach attach --now --runtime --extension=$L/app0_1.0.raw $L/minimal_0.raw app0
        run "$tool" version-is-attached is-attached --extension=app0_1.0 minimal_0
        run "$tool" version-detach detach --now --runtime --extension=$L/app0_1.0.raw $L/minimal_0.raw app0
        cleanup_all
        run "$tool" version-attach1 attach --now --runtime --extension=$L/app1.raw $L/minimal_0.raw app1
        run "$tool" version-reattach reattach --now --runtime --extension=$L/app1_2.raw $L/minimal_1.raw app1
        run "$tool" version-is-attached2 is-attached --extension=app1_2 minimal_1
        run "$tool" version-list list
        run "$tool" version-reattach-back reattach --now --runtime --extension=$L/app1.raw $L/minimal_1.raw app1
        run "$tool" version-detach1 detach --now --runtime --extension=$L/app1.raw $L/minimal_1.raw app1
        [[ $tool == pctl ]] && pctl_clean "reattach to app1_2 and back"
        cleanup_all
done
assert_contains "$T/cases/version-attach.portablectl.err" "Image '$L/app0_1.0.raw' lacks extension-release data, refusing."
for c in version-attach version-detach; do
        assert_eq "$(rc $c pctl)" 0 "pctl $c: $(cat "$T/cases/$c.pctl.err")"
done
assert_eq "$(out version-is-attached pctl)" running-runtime "pctl is-attached with app0_1.0"
for c in version-attach1 version-reattach version-reattach-back version-detach1; do
        assert_eq "$(rc $c pctl)" "$(rc $c portablectl)" "exit status of $c: $(cat "$T/cases/$c.pctl.err")"
done
assert_eq "$(out version-is-attached2 pctl)" "$(out version-is-attached2 portablectl)" "is-attached after reattach to app1_2"
assert_eq "$(out version-is-attached2 pctl)" running-runtime "is-attached after reattach to app1_2"
grep -q "^minimal_1 .* running-runtime app1.service " "$T/cases/version-list.pctl.out" || fail "pctl list: $(out version-list pctl)"
grep -q "^minimal_1 .* running-runtime$" "$T/cases/version-list.portablectl.out" || fail "portablectl list: $(out version-list portablectl)"

# 3. app10.raw ships extension-release.app0: refused without --force, attached with it, by both.
#    inspect --cat names the release file taken (while the service runs).
for tool in portablectl pctl; do
        run "$tool" force-no attach --runtime --extension=$L/app10.raw $L/minimal_0.raw app0
        run "$tool" force-yes attach --force --now --runtime --extension=$L/app10.raw $L/minimal_0.raw app0
        run "$tool" force-inspect inspect --force --cat --extension=$L/app10.raw $L/minimal_0.raw app0
        run "$tool" force-is-attached is-attached --extension=$L/app10.raw $L/minimal_0.raw
        run "$tool" force-detach detach --force --now --runtime --extension=$L/app10.raw $L/minimal_0.raw app0
        [[ $tool == pctl ]] && pctl_clean "attach --force"
        cleanup_all
done
assert_contains "$T/cases/force-no.portablectl.err" "Image '$L/app10.raw' lacks extension-release data, refusing."
assert_contains "$T/cases/force-no.pctl.err" "extension $L/app10.raw has no /usr/lib/extension-release.d/extension-release.app10"
for c in force-no force-yes force-detach; do
        assert_eq "$(( $(rc $c pctl) == 0 ))" "$(( $(rc $c portablectl) == 0 ))" "success of $c: $(cat "$T/cases/$c.pctl.err")"
done
assert_eq "$(out force-is-attached pctl)" "$(out force-is-attached portablectl)" "is-attached of app10"
for tool in portablectl pctl; do
        assert_contains "$T/cases/force-inspect.$tool.out" "Extension Release: $L/app10.raw"
        grep -q -F -x -f "$T/src/app0/usr/lib/extension-release.d/extension-release.app0" "$T/cases/force-inspect.$tool.out" ||
                fail "$tool inspect --cat lacks the release file"
        grep -q -F -x -f "$T/src/app0/usr/lib/systemd/system/app0.service" "$T/cases/force-inspect.$tool.out" ||
                fail "$tool inspect --cat lacks app0.service"
done

# 4. user.extension-release.strict=false (app1.raw ships extension-release.app2 so marked).
for tool in portablectl pctl; do
        run "$tool" xattr attach --runtime --extension=$L/app1.raw $L/minimal_0.raw app1
        run "$tool" xattr-detach detach --runtime --extension=$L/app1.raw $L/minimal_0.raw app1
        [[ $tool == pctl ]] && pctl_clean "attach with a strict=false release file"
        cleanup_all
done
for c in xattr xattr-detach; do
        assert_eq "$(rc $c pctl)" 0 "pctl $c: $(cat "$T/cases/$c.pctl.err")"
        assert_eq "$(rc $c portablectl)" 0 "portablectl $c"
done

# 5. --copy=symlink of a raw image: accepted by both, units copied, the profile linked; list and
#    is-attached say attached-runtime.
for tool in portablectl pctl; do
        run "$tool" symlink attach --copy=symlink --runtime $L/minimal_0.raw
        C find /run/systemd/system.attached -printf '%P %y\n' 2>/dev/null | LC_ALL=C sort >"$T/cases/symlink.$tool.tree" || true
        run "$tool" symlink-list list
        run "$tool" symlink-is-attached is-attached minimal_0
        run "$tool" symlink-detach detach --runtime $L/minimal_0.raw
        [[ $tool == pctl ]] && pctl_clean "attach --copy=symlink"
        cleanup_all
done
assert_eq "$(rc symlink pctl)" 0 "pctl attach --copy=symlink of a raw image: $(cat "$T/cases/symlink.pctl.err")"
assert_eq "$(rc symlink portablectl)" 0 "portablectl attach --copy=symlink of a raw image"
diff "$T/cases/symlink.portablectl.tree" "$T/cases/symlink.pctl.tree" || fail "--copy=symlink of a raw image: other files than portablectl's"
assert_eq "$(out symlink-is-attached pctl)" "$(out symlink-is-attached portablectl)" "is-attached after --copy=symlink"
grep -q "^minimal_0 .* attached-runtime " "$T/cases/symlink-list.pctl.out" || fail "pctl list: $(out symlink-list pctl)"
grep -q "^minimal_0 .* attached-runtime$" "$T/cases/symlink-list.portablectl.out" || fail "portablectl list: $(out symlink-list portablectl)"

assert_eq "$(state)" "$before" "the cases left files behind"
nspawn_stop
for f in "$T"/cases/*.rc; do
        c=${f##*/}
        printf '%s rc=%s units=[%s]\n' "${c%.rc}" "$(cat "$f")" "$(cat "${f%.rc}.units")"
done
for f in "$T"/cases/*.out "$T"/cases/*.err "$T"/cases/*.tree; do
        [[ -s $f ]] || continue
        echo "== ${f##*/}"
        cat "$f"
done
echo ok
