#!/usr/bin/env python3
"""Generate gzip files whose deflate stream carries a flood of empty blocks.

  flood-gen.py OUT --kind fixed|stored|dynamic|fixed1 --bytes N
               [--where before|after|only|only-final] [--payload FILE|--payload-size N]

kind:
  fixed    empty fixed-Huffman block: BFINAL=0 BTYPE=01 + EOB (10 bits)
  stored   empty stored block: BFINAL=0 BTYPE=00, pad, LEN=0 NLEN=0xffff
  dynamic  empty dynamic block: minimal header (HCLEN=14, litlen = {256:1},
           dist = {0:1}) + EOB (90 bits); valid for zlib as well
  fixed1   fixed block holding ONE literal (output-producing flood, 19 bits/byte)
where:
  before      flood, then the payload's deflate data (default)
  after       the first --split bytes of payload (default 8 KiB: the 4 KiB
              head is complete), the flood, the rest
  only        only the flood, no final block: the stream is truncated
  only-final  the flood, then an empty final block: a valid empty stream
The payload is an arm64-Image-like buffer ("ARM\\x64" at 0x38, image_size at
0x10) of --payload-size bytes (default 1 MiB), or --payload FILE.
N is the size of the flood in bytes of compressed data (K/M suffixes).
"""
import argparse
import os
import random
import struct
import zlib


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value, count):
        self.acc |= (value & ((1 << count) - 1)) << self.n
        self.n += count
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def huff(self, code, length):
        # Huffman codes are sent most significant bit first.
        rev = int(format(code, "0%db" % length)[::-1], 2)
        self.bits(rev, length)

    def raw(self, data):
        if self.n == 0:
            self.out += data
            return
        for b in data:
            self.bits(b, 8)

    def align(self):
        if self.n:
            self.bits(0, 8 - self.n)

    def bitlen(self):
        return len(self.out) * 8 + self.n


def fixed_lit(w, sym):
    if sym < 144:
        w.huff(0x30 + sym, 8)
    elif sym < 256:
        w.huff(0x190 + sym - 144, 9)
    elif sym < 280:
        w.huff(sym - 256, 7)
    else:
        w.huff(0xC0 + sym - 280, 8)


def empty_fixed(w, final=0):
    w.bits(final, 1)
    w.bits(1, 2)
    fixed_lit(w, 256)


def empty_stored(w):
    w.bits(0, 1)
    w.bits(0, 2)
    w.align()
    w.bits(0, 16)
    w.bits(0xFFFF, 16)


CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


def empty_dynamic(w):
    w.bits(0, 1)
    w.bits(2, 2)
    w.bits(0, 5)  # HLIT = 257
    w.bits(0, 5)  # HDIST = 1
    # code-length code: symbol 1 and symbol 18 both of length 1
    # (canonical: 1 -> 0, 18 -> 1); 18 entries needed to reach symbol 1.
    lens = {1: 1, 18: 1}
    w.bits(18 - 4, 4)
    for s in CL_ORDER[:18]:
        w.bits(lens.get(s, 0), 3)
    code = {1: (0, 1), 18: (1, 1)}
    # 256 zeros: 18 x138, 18 x118; then 256 -> length 1; dist 0 -> length 1
    w.huff(*code[18]); w.bits(138 - 11, 7)
    w.huff(*code[18]); w.bits(118 - 11, 7)
    w.huff(*code[1])
    w.huff(*code[1])
    # litlen code has the single symbol 256, code "0"
    w.huff(0, 1)


def one_literal_fixed(w, byte):
    w.bits(0, 1)
    w.bits(1, 2)
    fixed_lit(w, byte)
    fixed_lit(w, 256)


def image_payload(size, seed=1, image_size=None):
    rnd = random.Random(seed)
    buf = bytearray()
    # Something kernel-ish: mostly compressible text and code-like bytes.
    words = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(2, 12))) for _ in range(512)]
    while len(buf) < size:
        buf += rnd.choice(words)
    buf = buf[:size]
    hdr = bytearray(64)
    struct.pack_into("<I", hdr, 0, 0x14000000 | 0x10)  # b +0x40-ish (code0)
    struct.pack_into("<Q", hdr, 0x08, 0)  # text_offset
    struct.pack_into("<Q", hdr, 0x10, image_size or size)  # image_size
    struct.pack_into("<Q", hdr, 0x18, 0xA)  # flags: LE, 4K, anywhere
    hdr[0x38:0x3C] = b"ARM\x64"
    buf[:64] = hdr
    return bytes(buf)


def deflate_sync(c, data):
    """Non-final deflate blocks ending on a byte boundary (sync flush)."""
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


def parse_size(s):
    m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if s[-1].upper() in m:
        return int(float(s[:-1]) * m[s[-1].upper()])
    return int(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--kind", default="fixed", choices=["fixed", "stored", "dynamic", "fixed1"])
    ap.add_argument("--bytes", default="10M", type=parse_size)
    ap.add_argument("--where", default="before", choices=["before", "after", "only", "only-final"])
    ap.add_argument("--payload")
    ap.add_argument("--payload-size", default="1M", type=parse_size)
    ap.add_argument("--level", default=6, type=int)
    ap.add_argument("--split", default="8K", type=parse_size,
                    help="--where after: payload bytes before the flood (4K: right at the head)")
    a = ap.parse_args()

    payload = open(a.payload, "rb").read() if a.payload else image_payload(
        a.payload_size, image_size=a.payload_size + 8 * a.bytes if a.kind == "fixed1" else None)
    if a.where in ("only", "only-final"):
        payload = b""

    block = {
        "fixed": (empty_fixed, 10),
        "stored": (empty_stored, 40),  # + alignment, accounted for by bitlen below
        "dynamic": (empty_dynamic, 90),
        "fixed1": (lambda w: one_literal_fixed(w, 0x41), 18),
    }[a.kind][0]

    w = BitWriter()
    c = zlib.compressobj(a.level, zlib.DEFLATED, -15, 9)
    head, rest = (payload[:a.split], payload[a.split:]) if a.where == "after" else (b"", payload)
    if head:
        w.raw(deflate_sync(c, head))
    start = w.bitlen()
    blocks = 0
    while w.bitlen() - start < a.bytes * 8:
        block(w)
        blocks += 1
    if a.where != "only":
        # zlib's output may hold stored blocks, which assume byte alignment:
        # realign with one empty stored block (a no-op for the stream).
        if w.n:
            empty_stored(w)
        if rest:
            if a.kind == "fixed1":
                # The literals moved the output: no reference may reach
                # across them, so the rest is a fresh compression.
                c = zlib.compressobj(a.level, zlib.DEFLATED, -15, 9)
            w.raw(deflate_sync(c, rest))
        empty_fixed(w, final=1)
    w.align()
    body = bytes(w.out)

    if a.kind == "fixed1" and a.where != "only":
        # The literals are part of the output.
        lit = b"\x41" * blocks
        payload = head + lit + rest if a.where == "after" else lit + payload
    gz = bytearray(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
    gz += body
    if a.where != "only":
        gz += struct.pack("<II", zlib.crc32(payload) & 0xFFFFFFFF, len(payload) & 0xFFFFFFFF)
    with open(a.out, "wb") as f:
        f.write(gz)
    print("%s: %d bytes, %d %s blocks, payload %d" % (a.out, len(gz), blocks, a.kind, len(payload)))
    if a.where != "only":
        # Self-check with zlib.
        d = zlib.decompressobj(31)
        got = d.decompress(bytes(gz))
        assert d.eof and got == payload, "zlib disagrees"


if __name__ == "__main__":
    main()
