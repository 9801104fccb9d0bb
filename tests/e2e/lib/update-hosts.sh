# SPDX-License-Identifier: LGPL-2.1-or-later
# What the graft-update e2e tests set up on the hosts they boot: versions of the example portable
# service (webdemo), the graft-update units pointed at this build, profiles, and a transfer file.
# Source after tests/integration/update/lib-update.sh and tests/e2e/lib/example-image.sh.
#
#   webdemo_base                          # $T/webdemo-tree: the example's data partition, unpacked
#   webdemo_variant OUT VERSION [EXEC]    # OUT: that tree with the page saying VERSION (and the
#                                         # service's ExecStart= replaced by EXEC); EXEC "no-page"
#                                         # removes the page instead (httpd answers 404)
#   update_units DIR                      # graft-update.service, graft-update-resolve.service
#                                         # (enabled) in DIR, for /usr/local/lib/systemd/system
#   webdemo_transfer FILE URL PORT GRACE  # a transfer file for webdemo_@v.raw from URL, checked
#                                         # by a request to PORT after GRACE seconds
#   test_profiles                         # $T/profiles, for /usr/lib/graft/profiles

webdemo_base() {
        local examples
        examples=$(example_images)
        example_data_partition "$examples/webdemo.raw" "$T/webdemo-1.raw"
        rm -rf "$T/webdemo-tree"
        unsquashfs -q -d "$T/webdemo-tree" "$T/webdemo-1.raw" >/dev/null
}

webdemo_variant() {
        local out=$1 v=$2 exec=${3:-} d=$T/webdemo-v$2
        rm -rf "$d"
        cp -a "$T/webdemo-tree" "$d"
        sed -i "s|<head>|<head><!-- version $v -->|" "$d/usr/share/webdemo/www/index.html"
        if [[ $exec == no-page ]]; then
                rm "$d/usr/share/webdemo/www/index.html"
        elif [[ -n $exec ]]; then
                sed -i "s|^ExecStart=.*|ExecStart=$exec|" "$d/usr/lib/systemd/system/webdemo.service"
        fi
        mksquashfs "$d" "$out" -quiet -noappend -all-root >/dev/null
}

update_units() {
        local dir=$1 u
        mkdir -p "$dir/sysinit.target.wants"
        for u in graft-update.service graft-update-resolve.service; do
                sed -e "s|=/[^ =]*/graft-update |=$GRAFT_UPDATE |" \
                        -e "s|^\[Service\]|[Service]\nEnvironment=CURL_CA_BUNDLE=/etc/graft-test-ca.crt|" \
                        "$GRAFT_BUILD_DIR/update/$u" >"$dir/$u"
                grep -q "^ExecStart=$GRAFT_UPDATE " "$dir/$u" || fail "cannot point $u at $GRAFT_UPDATE"
        done
        ln -sfn ../graft-update-resolve.service "$dir/sysinit.target.wants/graft-update-resolve.service"
}

webdemo_transfer() {
        cat >"$1" <<TRANSFER
[Source]
Type=url-file
Path=$2
MatchPattern=webdemo_@v.raw

[Target]
Type=regular-file
Path=/var/lib/portables
MatchPattern=webdemo_@v.raw
InstancesMax=3

[X-Graft]
HealthGraceSec=$4
HealthCheck=busybox wget -q -O /dev/null http://127.0.0.1:$3/
TRANSFER
}

test_profiles() {
        mkdir -p "$T/profiles"
        cp -r "$GRAFT_SOURCE_DIR/profiles/." "$T/profiles/"
        rm -f "$T/profiles/meson.build"
}
