#!/bin/bash
# Benchmark: building a signed DPS image of a ~300 MiB tree. graft-image build against the
# pipeline of peer tools doing the same job in the same run: gensquashfs (same compressor and
# level, as many jobs as CPUs), veritysetup format, openssl smime, the signature JSON by printf
# and base64, sfdisk for the GPT and dd to put the pieces in place, then an fsync of the image as
# graft-image does. Prints the median wall and CPU time of RUNS runs of each (interleaved, so
# that load from elsewhere hits both alike), the ratio, and the load average before and after.
# Not part of the test suite. Run as root:
#   tests/bench/bench-build.sh [RUNS=3] [TREE_MIB=300]
# GRAFT_BENCH_LEVEL sets the zstd level of both (default: libsquashfs's, graft-image's default);
# GRAFT_BENCH_BUILD_DIR picks the build directory (default: build; set up and built as needed);
# GRAFT_BENCH_BASELINE=/path/to/graft-image also times another build of graft-image (e.g. an
# older commit's) on the same tree, to see what a change saved. Last, squashfs-probe.c shows
# block by block, in one thread, what the writer's incompressibility probe saves on this tree
# (about a minute; GRAFT_BENCH_PROBE=0 leaves it out). On a shared machine the wall times move
# with the load; the per-run ratios (each run's graft time over the pipeline run right after
# it) and the single-thread probe figures are the steadier numbers.
# The tree: regular files of this machine's /usr/lib and /usr/share (each at most 16 MiB) in a
# fixed pseudo-random order (sort -R with a constant random source) until TREE_MIB is reached,
# copied with their modes and owners, plus an extension-release file so that it is a sysext.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
tree_mib=${2:-300}
build=${GRAFT_BENCH_BUILD_DIR:-build}

for t in gensquashfs veritysetup sfdisk openssl base64 sha256sum bc cc; do
        command -v "$t" >/dev/null || { echo "$t is missing (tools/install-deps)" >&2; exit 1; }
done
# Only what the benchmark runs, so that work in progress elsewhere in the tree does not stop it.
[[ -f $build/build.ninja ]] || meson setup "$build" >/dev/null
ninja -C "$build" graft-image/graft-image images/libgraft-images.a common/libgraft-common.a >/dev/null ||
        { echo "building graft-image in $build failed" >&2; exit 1; }
G=$PWD/$build/graft-image/graft-image
B=${GRAFT_BENCH_BASELINE:-}
jobs=$(nproc)
# graft-image's default is libsquashfs's default zstd level; the pipeline is told that level, or
# both the one GRAFT_BENCH_LEVEL gives.
level=$(awk '/define SQFS_ZSTD_DEFAULT_LEVEL/ { gsub(/[()]/, "", $3); print $3 }' \
        /usr/include/sqfs/compressor.h 2>/dev/null || true)
level=${GRAFT_BENCH_LEVEL:-${level:-15}}
level_opt=()
[[ -z ${GRAFT_BENCH_LEVEL:-} ]] || level_opt=(--compression-level="$level")
export SOURCE_DATE_EPOCH=1700000000 LC_ALL=C

w=$(mktemp -d /var/tmp/graft-bench-build.XXXXXX)
trap 'rm -rf "$w"' EXIT
tree=$w/tree

echo "making a ${tree_mib} MiB tree in $tree"
find /usr/lib /usr/share -xdev -type f -readable -size -16385k -printf '%s %p\n' 2>/dev/null |
        sort -R --random-source=<(yes graft-bench) |
        awk -v cap=$((tree_mib << 20)) 't < cap { t += $1; print substr($0, index($0, " ") + 2) }' |
        sort >"$w/files.txt"
mkdir "$tree"
tar -C / --no-recursion --verbatim-files-from -cf - -T "$w/files.txt" 2>/dev/null | tar -C "$tree" -xf -
mkdir -p "$tree/usr/lib/extension-release.d"
printf 'ID=_any\n' >"$tree/usr/lib/extension-release.d/extension-release.bench"
read -r n_files tree_bytes < <(find "$tree" -type f -printf '%s\n' | awk '{ n++; t += $1 } END { printf "%d %.0f\n", n, t }')

mkdir -p "$w/keys" "$w/root/etc/verity.d" "$w/p"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/keys/k.pem" -out "$w/keys/c.pem" -subj /CN=bench -days 30 2>/dev/null
cp "$w/keys/c.pem" "$w/root/etc/verity.d/bench.crt"

graft_build() { # graft-image binary
        rm -f "$w/A.raw"
        "$1" build "$tree" -o "$w/A.raw" --name bench --version 1 --key "$w/keys/k.pem" --cert "$w/keys/c.pem" -q \
                --compression=zstd "${level_opt[@]}"
}

# The pipeline, as one script so that its time covers every tool it runs.
cat >"$w/pipeline.sh" <<'PIPELINE'
set -euo pipefail
tree=$1 out=$2 key=$3 cert=$4 level=$5 jobs=$6
cd "$(dirname "$out")"
rm -f data.sqfs hash.img roothash.txt roothash.p7s sig.json "$out"
gensquashfs -q -j "$jobs" -c zstd -X "level=$level" --keep-xattr --keep-time --exportable --pack-dir "$tree" data.sqfs
truncate -s %4096 data.sqfs
root=$(veritysetup format --data-block-size=4096 --hash-block-size=4096 data.sqfs hash.img | awk '/Root hash:/ { print $3 }')
truncate -s %4096 hash.img
printf '%s' "$root" >roothash.txt
openssl smime -sign -binary -noattr -in roothash.txt -signer "$cert" -inkey "$key" -outform DER -out roothash.p7s
fp=$(openssl x509 -in "$cert" -outform DER | sha256sum | cut -d' ' -f1)
printf '{"rootHash":"%s","certificateFingerprint":"%s","signature":"%s"}' "$root" "$fp" "$(base64 -w0 roothash.p7s)" >sig.json
truncate -s 16384 sig.json

# GPT: data at 1 MiB, then verity, then the signature; the data and verity partition UUIDs are
# the halves of the root hash, as systemd pairs them.
uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
other=$(printf '%s' "$root" | sha256sum)
data_start=2048
data_sectors=$(($(stat -c %s data.sqfs) / 512))
hash_start=$((data_start + data_sectors))
hash_sectors=$(($(stat -c %s hash.img) / 512))
sig_start=$((hash_start + hash_sectors))
sig_sectors=32
truncate -s $(((sig_start + sig_sectors) * 512 + 1048576)) "$out"
sfdisk -q "$out" <<SF
label: gpt
label-id: $(uuid "${other:0:32}")
start=$data_start, size=$data_sectors, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, uuid=$(uuid "${root:0:32}"), name=bench_1, attrs=GUID:60
start=$hash_start, size=$hash_sectors, type=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5, uuid=$(uuid "${root:32:32}"), name=bench_1, attrs=GUID:60
start=$sig_start, size=$sig_sectors, type=41092b05-9fc8-4523-994f-2def0408b176, uuid=$(uuid "${other:32:32}"), name=bench_1, attrs=GUID:60
SF
dd if=data.sqfs of="$out" bs=4M seek=$((data_start * 512)) oflag=seek_bytes conv=notrunc status=none
dd if=hash.img of="$out" bs=4M seek=$((hash_start * 512)) oflag=seek_bytes conv=notrunc status=none
dd if=sig.json of="$out" bs=16k seek=$((sig_start * 512)) oflag=seek_bytes conv=notrunc status=none
sync "$out"
PIPELINE
pipeline() {
        bash "$w/pipeline.sh" "$tree" "$w/p/P.raw" "$w/keys/k.pem" "$w/keys/c.pem" "$level" "$jobs"
}

# Both must produce an image that graft-image verify accepts against the throwaway key.
pipeline
"$G" verify -q --root="$w/root" --image-policy=root=signed "$w/p/P.raw"
graft_build "$G"
"$G" verify -q --root="$w/root" --image-policy=root=signed "$w/A.raw"

time_it() { # appends "wall user+sys" in seconds to $1
        local out=$1 t
        shift
        t=$({ TIMEFORMAT='%R %U %S'; time "$@" >/dev/null; } 2>&1)
        awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<<"$t" >>"$out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$w/graft.t"; : >"$w/pipe.t"; : >"$w/base.t"
for ((i = 0; i < runs; i++)); do
        time_it "$w/graft.t" graft_build "$G"
        graft_size=$(stat -c %s "$w/A.raw")
        time_it "$w/pipe.t" pipeline
        if [[ -n $B ]]; then
                time_it "$w/base.t" graft_build "$B"
                base_size=$(stat -c %s "$w/A.raw")
        fi
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

gw=$(cut -d' ' -f1 "$w/graft.t" | median); gc=$(cut -d' ' -f2 "$w/graft.t" | median)
pw=$(cut -d' ' -f1 "$w/pipe.t" | median); pc=$(cut -d' ' -f2 "$w/pipe.t" | median)
printf 'tree: %d files, %.1f MiB; zstd level %s; %d runs each, median; %d CPUs\n' \
        "$n_files" "$(echo "$tree_bytes / 1048576" | bc -l)" "$level" "$runs" "$jobs"
printf 'graft-image build:  %7.2f s wall  %7.2f s CPU  image %d bytes\n' "$gw" "$gc" "$graft_size"
printf 'pipeline:           %7.2f s wall  %7.2f s CPU  image %d bytes\n' "$pw" "$pc" "$(stat -c %s "$w/p/P.raw")"
printf 'ratio graft/pipeline: %.2f wall, %.2f CPU  (target <= 0.80)\n' \
        "$(echo "$gw / $pw" | bc -l)" "$(echo "$gc / $pc" | bc -l)"
paste -d' ' "$w/graft.t" "$w/pipe.t" | awk '{ printf "%.3f %.3f\n", $1 / $3, $2 / $4 }' >"$w/ratio.t"
printf 'median of per-run ratios: %.2f wall, %.2f CPU\n' \
        "$(cut -d' ' -f1 "$w/ratio.t" | median)" "$(cut -d' ' -f2 "$w/ratio.t" | median)"
if [[ -n $B ]]; then
        bw=$(cut -d' ' -f1 "$w/base.t" | median); bcpu=$(cut -d' ' -f2 "$w/base.t" | median)
        printf 'baseline %s:\n                    %7.2f s wall  %7.2f s CPU  image %d bytes\n' "$B" "$bw" "$bcpu" "$base_size"
        printf 'ratio graft/baseline: %.2f wall, %.2f CPU\n' "$(echo "$gw / $bw" | bc -l)" "$(echo "$gc / $bcpu" | bc -l)"
fi

if [[ ${GRAFT_BENCH_PROBE:-1} != 0 ]]; then
        # shellcheck disable=SC2046 # the flags are words
        cc -O2 -D_GNU_SOURCE -Iimages -Iimages/squashfs -Icommon tests/bench/squashfs-probe.c "$build/images/libgraft-images.a" \
                "$build/common/libgraft-common.a" $(pkg-config --libs libsquashfs1 2>/dev/null || echo -lsquashfs) -o "$w/squashfs-probe"
        (cd "$tree" && find . -type f | sort | "$w/squashfs-probe" zstd)
fi
