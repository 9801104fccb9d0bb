#!/usr/bin/env python3
"""Writes a GPT by hand, without the checks partitioning tools apply, so tests can make hostile
tables: overlapping partitions, partitions past the end, bad labels.
    make-gpt.py IMAGE SIZE_BYTES TYPE_UUID:FIRST_LBA:LAST_LBA[:LABEL] ...
512-byte sectors, 128 entries, primary and backup header, correct CRCs."""
import struct
import sys
import uuid
import zlib

def guid(s):
    return uuid.UUID(s).bytes_le

def main():
    path, size = sys.argv[1], int(sys.argv[2])
    sectors = size // 512
    entries = bytearray(128 * 128)
    for i, spec in enumerate(sys.argv[3:]):
        t, first, last, *label = spec.split(":")
        name = (label[0] if label else "").encode("utf-16-le")[:72]
        entry = guid(t) + uuid.uuid4().bytes_le + struct.pack("<QQQ", int(first), int(last), 0) + name.ljust(72, b"\0")
        entries[i * 128:(i + 1) * 128] = entry
    entries_crc = zlib.crc32(entries)
    disk = uuid.uuid4().bytes_le

    def header(my_lba, alt_lba, entries_lba):
        h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, my_lba, alt_lba,
                        34, sectors - 34, disk, entries_lba, 128, 128, entries_crc)
        crc = zlib.crc32(h)
        h = h[:16] + struct.pack("<I", crc) + h[20:]
        return h.ljust(512, b"\0")

    mbr = bytearray(512)
    mbr[446:462] = struct.pack("<BBBBBBBBII", 0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, min(sectors - 1, 0xFFFFFFFF))
    mbr[510:512] = b"\x55\xaa"
    with open(path, "r+b" if False else "wb") as f:
        f.truncate(size)
        f.seek(0); f.write(mbr)
        f.seek(512); f.write(header(1, sectors - 1, 2))
        f.seek(1024); f.write(entries)
        f.seek((sectors - 33) * 512); f.write(entries)
        f.seek((sectors - 1) * 512); f.write(header(sectors - 1, 1, sectors - 33))

main()
