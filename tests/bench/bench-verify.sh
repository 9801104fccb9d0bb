#!/bin/bash
# Benchmark: full verification of a 1 GiB image, graft-image verify against veritysetup verify
# on the same data and hash partitions, in the same run, page cache warm for both. Prints the
# median of RUNS runs of each and the ratio. Not part of the test suite. Run as root:
#   tests/bench/bench-verify.sh [SIZE_MIB=1024] [RUNS=5]
# The image: a GPT with a root partition of random data, its verity partition (made by
# veritysetup format, 4096-byte blocks), and a signature partition added by graft-image sign;
# graft-image verify checks the signature against a scratch trust store, every data and hash
# block, the padding and the root hash. veritysetup verify gets the two partitions as files.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mib=${1:-1024}
runs=${2:-5}

tools/build build
G=$PWD/build/graft-image/graft-image
w=$(mktemp -d /var/tmp/graft-bench-verify.XXXXXX)
trap 'rm -rf "$w"' EXIT

echo "preparing a ${size_mib} MiB image in $w"
head -c $((size_mib << 20)) /dev/urandom >"$w/data.img"
veritysetup format "$w/data.img" "$w/hash.img" >"$w/format.txt"
root_hash=$(awk '/Root hash:/ {print $3}' "$w/format.txt")
hash_size=$(stat -c %s "$w/hash.img")
hash_size=$(((hash_size + 4095) / 4096 * 4096))
truncate -s "$hash_size" "$w/hash.img"

# GPT: data at 1 MiB, hash right after; UUIDs from the root hash as systemd pairs them.
uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
data_start=2048
data_sectors=$((size_mib << 11))
hash_start=$((data_start + data_sectors))
hash_sectors=$((hash_size / 512))
truncate -s $(((hash_start + hash_sectors) * 512 + 1048576)) "$w/bench.raw"
sfdisk -q "$w/bench.raw" <<SF
label: gpt
start=$data_start, size=$data_sectors, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, uuid=$(uuid "${root_hash:0:32}"), name=bench_1, attrs=GUID:60
start=$hash_start, size=$hash_sectors, type=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5, uuid=$(uuid "${root_hash:32:32}"), name=bench_1, attrs=GUID:60
SF
dd if="$w/data.img" of="$w/bench.raw" bs=4M seek=$((data_start * 512)) oflag=seek_bytes conv=notrunc status=none
dd if="$w/hash.img" of="$w/bench.raw" bs=4M seek=$((hash_start * 512)) oflag=seek_bytes conv=notrunc status=none

mkdir -p "$w/keys" "$w/root/etc/verity.d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/keys/k.pem" -out "$w/keys/c.pem" -subj /CN=bench -days 30 2>/dev/null
cp "$w/keys/c.pem" "$w/root/etc/verity.d/bench.crt"
"$G" sign -q "$w/bench.raw" --key "$w/keys/k.pem" --cert "$w/keys/c.pem"

# Warm the page cache for both inputs, then check both tools accept them.
cat "$w/bench.raw" "$w/data.img" "$w/hash.img" >/dev/null
"$G" verify -q --root="$w/root" --image-policy=root=signed "$w/bench.raw"
veritysetup verify "$w/data.img" "$w/hash.img" "$root_hash"

time_it() { # prints seconds
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null
        e=$(date +%s.%N)
        echo "$e - $s" | bc -l
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$w/graft.t"; : >"$w/graft1.t"; : >"$w/vs.t"
for ((i = 0; i < runs; i++)); do
        # Interleaved, so that load from elsewhere hits both alike.
        time_it "$G" verify -q --root="$w/root" "$w/bench.raw" >>"$w/graft.t"
        time_it veritysetup verify "$w/data.img" "$w/hash.img" "$root_hash" >>"$w/vs.t"
        time_it "$G" verify -q --threads=1 --root="$w/root" "$w/bench.raw" >>"$w/graft1.t"
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

g=$(median <"$w/graft.t"); g1=$(median <"$w/graft1.t"); v=$(median <"$w/vs.t")
printf 'image: %d MiB data, 4096-byte blocks, signed; %d runs each, median; %d CPUs\n' "$size_mib" "$runs" "$(nproc)"
printf 'graft-image verify (all cores):    %.3f s\n' "$g"
printf 'graft-image verify --threads=1:    %.3f s\n' "$g1"
printf 'veritysetup verify:                %.3f s\n' "$v"
printf 'ratio graft/veritysetup:           %.2f  (target <= 0.33)\n' "$(echo "$g / $v" | bc -l)"
printf 'ratio graft 1 thread/veritysetup:  %.2f\n' "$(echo "$g1 / $v" | bc -l)"
