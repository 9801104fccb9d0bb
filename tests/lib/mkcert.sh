#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes a throwaway RSA key and self-signed certificate for tests:
#   mkcert.sh DIR NAME [SUBJECT_CN [SERIAL]]  ->  DIR/NAME.key, DIR/NAME.crt
# SUBJECT_CN defaults to NAME; SERIAL (decimal) to a random one. Two certificates
# with the same CN and SERIAL but different keys impersonate each other by issuer+serial.
set -eu

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
        echo "usage: $0 DIR NAME [SUBJECT_CN [SERIAL]]" >&2
        exit 2
fi
dir=$1
name=$2
cn=${3:-$2}
serial=${4:-}

mkdir -p "$dir"
set -- req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=$cn" -keyout "$dir/$name.key" -out "$dir/$name.crt"
if [ -n "$serial" ]; then
        set -- "$@" -set_serial "$serial"
fi
if ! out=$(openssl "$@" 2>&1); then
        echo "$0: openssl failed to make $dir/$name.crt:" >&2
        echo "$out" >&2
        exit 1
fi
