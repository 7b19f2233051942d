#!/usr/bin/env python3
"""Independent Authenticode SHA-256 of a PE file, as the kernel's
crypto/asymmetric_keys/verify_pefile.c computes it (pefile_digest_pe_contents):
the headers without CheckSum and the certificate directory entry, the sections
sorted by (PointerToRawData, VirtualAddress), skipping empty ones, then what
follows the sections less the certificate table's size.

Used to obtain the digest pinned in kernel-probe/src/authenticode.rs
(`known_authenticode_digest_of_a_tiny_pe`):

    KERNEL_PROBE_AUTHENTICODE_FIXTURE=/tmp/fixture.efi \
        cargo test -p kernel-probe --lib known_authenticode_digest
    python3 kernel-probe/tests/authenticode_digest.py /tmp/fixture.efi

It shares no code with the crate: only Python's struct and hashlib. On a
layout whose sections tile the file in order it gives the same digest as
osslsigncode (`TILED_DIGEST` in the same test module); on overlapping or
out-of-order sections the kernel's per-section hash differs from
Microsoft's linear one, and this script follows the kernel.
"""
import hashlib
import struct
import sys


def authenticode_sha256(pe: bytes) -> str:
    (pe_off,) = struct.unpack_from("<I", pe, 0x3C)
    assert pe[pe_off:pe_off + 4] == b"PE\0\0"
    n_sections, = struct.unpack_from("<H", pe, pe_off + 6)
    opt_size, = struct.unpack_from("<H", pe, pe_off + 20)
    opt = pe_off + 24
    magic, = struct.unpack_from("<H", pe, opt)
    assert magic == 0x20B  # PE32+
    header_size, = struct.unpack_from("<I", pe, opt + 60)
    checksum = opt + 64
    cert_dirent = opt + 112 + 8 * 4  # data directory 4, PE32+
    certs_size, = struct.unpack_from("<I", pe, cert_dirent + 4)
    h = hashlib.sha256()
    h.update(pe[:checksum])
    h.update(pe[checksum + 4:cert_dirent])
    h.update(pe[cert_dirent + 8:header_size])
    table = opt + opt_size
    secs = []
    for i in range(n_sections):
        s = table + 40 * i
        rva, raw_size, raw_ptr = struct.unpack_from("<III", pe, s + 12)
        secs.append((raw_ptr, rva, i, raw_size))
    hashed = header_size
    for raw_ptr, _rva, _i, raw_size in sorted(secs):  # stable: ties keep table order
        if raw_size == 0:
            continue
        h.update(pe[raw_ptr:raw_ptr + raw_size])
        hashed += raw_size
    if len(pe) > hashed:
        h.update(pe[hashed:len(pe) - certs_size])
    return h.hexdigest()


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        print(authenticode_sha256(f.read()))
