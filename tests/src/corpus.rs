//! The test corpus: valid and adversarial inputs derived from one real arm64
//! Image, each with the errno the probe must answer. The host tests run it
//! through probe-run; the kernel-module tests feed the same files to the
//! module inside QEMU and compare with probe-run.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

pub const OK: i32 = 0;
pub const EINVAL: i32 = 22;
pub const EBADMSG: i32 = 74;
pub const EFBIG: i32 = 27;
pub const EADDRNOTAVAIL: i32 = 99;

/// One input and what the probe must say about it.
pub struct Case {
    pub name: String,
    pub class: &'static str,
    pub errno: i32,
    pub data: Vec<u8>,
}

fn gz(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Kinds of empty deflate block for the floods.
#[derive(Clone, Copy)]
enum Empty {
    /// BTYPE=01 and the end-of-block code: 10 bits.
    Fixed,
    /// BTYPE=10 with the smallest header (code-length codes for symbols 1
    /// and 18, litlen = {256}, dist = {0}) and end of block: 90 bits.
    Dynamic,
}

/// A gzip member whose deflate stream starts with `blocks` empty blocks of
/// `kind`, then an empty stored block (to reach a byte boundary) and the
/// deflate data of `data`: valid, and as costly per input byte as a decoder
/// that rebuilds its tables per block makes it (issue 11 item 2).
fn gz_flood(data: &[u8], kind: Empty, blocks: usize) -> Vec<u8> {
    /// Deflate's bit order: values least significant bit first.
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, bits: u32) {
            self.acc |= v << self.n;
            self.n += bits;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        fn align(&mut self) {
            if self.n > 0 {
                self.put(0, 8 - self.n);
            }
        }
    }
    let mut b = Bits {
        out: vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3],
        acc: 0,
        n: 0,
    };
    for _ in 0..blocks {
        match kind {
            Empty::Fixed => {
                b.put(0, 1);
                b.put(1, 2);
                b.put(0, 7); // end of block: fixed code 0000000
            }
            Empty::Dynamic => {
                b.put(0, 1);
                b.put(2, 2);
                b.put(0, 5); // HLIT 257
                b.put(0, 5); // HDIST 1
                b.put(14, 4); // HCLEN 18
                for s in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
                    b.put(u64::from(s == 1 || s == 18), 3);
                }
                // Code-length code: symbol 1 is "0", 18 is "1" (one bit each).
                b.put(1, 1); // 18: 11 + 127 zeros
                b.put(127, 7);
                b.put(1, 1); // 18: 11 + 107 zeros
                b.put(107, 7);
                b.put(0, 1); // litlen 256: length 1
                b.put(0, 1); // dist 0: length 1
                b.put(0, 1); // end of block
            }
        }
    }
    // Empty stored block: header, pad to the byte, LEN 0, NLEN 0xFFFF.
    b.put(0, 3);
    b.align();
    b.out.extend([0, 0, 0xFF, 0xFF]);
    let plain = gz(data, 6);
    b.out.extend_from_slice(&plain[10..]); // its deflate data and trailer
    b.out
}

/// A gzip member with every optional header field and a correct FHCRC.
fn gz_all_fields(data: &[u8]) -> Vec<u8> {
    let plain = gz(data, 6);
    let deflate = &plain[10..plain.len() - 8];
    let mut h = vec![0x1F, 0x8B, 8, 0b0001_1110, 0x10, 0x20, 0x30, 0x40, 2, 3];
    h.extend_from_slice(&6u16.to_le_bytes());
    h.extend_from_slice(b"AB\x02\x00hi");
    h.extend_from_slice(b"Image\0");
    h.extend_from_slice(b"built by kernel-probe tests\0");
    let hcrc = crc32fast::hash(&h) as u16;
    h.extend_from_slice(&hcrc.to_le_bytes());
    h.extend_from_slice(deflate);
    h.extend_from_slice(&plain[plain.len() - 8..]);
    h
}

/// A gzip stream of `total` zero bytes behind `head`, written without
/// holding the whole output in memory (a decompression bomb). Cached under
/// target/, keyed by its inputs: making one takes seconds.
pub fn gz_bomb(head: &[u8], total: u64) -> Vec<u8> {
    let key = format!("{:08x}-{}-{total}", crc32fast::hash(head), head.len());
    let cache = crate::repo()
        .join("target/test-cache")
        .join(format!("bomb-{key}.gz"));
    if let Ok(b) = fs::read(&cache) {
        return b;
    }
    let b = make_bomb(head, total);
    if fs::create_dir_all(cache.parent().unwrap()).is_ok() {
        let tmp = cache.with_extension(format!("{}.tmp", std::process::id()));
        if fs::write(&tmp, &b).is_ok() {
            let _ = fs::rename(&tmp, &cache);
        }
    }
    b
}

fn make_bomb(head: &[u8], total: u64) -> Vec<u8> {
    // Level 6: ~1000:1 on zeros (2 MB for 2 GiB); level 1 only reaches ~230:1.
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(head).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = total - head.len() as u64;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        e.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    e.finish().unwrap()
}

fn set_u64(img: &mut [u8], off: usize, v: u64) {
    img[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// An EFI zboot file around `payload`, laid out like zboot-header.S.
pub fn zboot(payload: &[u8], name: &[u8]) -> Vec<u8> {
    let off = 0x1000u32;
    let mut f = vec![0u8; off as usize];
    f[..8].copy_from_slice(b"MZ\0\0zimg");
    f[8..12].copy_from_slice(&off.to_le_bytes());
    f[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    f[0x18..0x18 + name.len()].copy_from_slice(name);
    f[0x38..0x3C].copy_from_slice(&0x8182_23cdu32.to_le_bytes());
    f[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    f.extend_from_slice(payload);
    f.extend_from_slice(&[0u8; 512]);
    f
}

/// Every case, from the raw Image `img`.
pub fn cases(img: &[u8]) -> Vec<Case> {
    let mut v = Vec::new();
    let mut add = |name: &str, class: &'static str, errno: i32, data: Vec<u8>| {
        v.push(Case {
            name: name.to_string(),
            class,
            errno,
            data,
        })
    };
    let image_size = u64::from_le_bytes(img[16..24].try_into().unwrap());
    let good = gz(img, 9);
    let n = good.len();

    // Valid inputs.
    add("valid-raw.Image", "valid", OK, img.to_vec());
    add("valid-gzip9.gz", "valid", OK, good.clone());
    add("valid-gzip1.gz", "valid", OK, gz(img, 1));
    add(
        "valid-stored.gz",
        "valid",
        OK,
        gz(&img[..img.len().min(1 << 20)], 0),
    );
    let mut multi = gz(&img[..img.len() / 3], 6);
    multi.extend(gz(&img[img.len() / 3..], 9));
    add("valid-multimember.gz", "valid", OK, multi);
    let mut padded = good.clone();
    padded.extend([0u8; 4096]);
    add("valid-zero-padding.gz", "valid", OK, padded);
    // Floods of empty deflate blocks before the image: valid, and linear in
    // their size (10 MiB of fixed blocks, 1 MiB of dynamic ones).
    add(
        "valid-flood-fixed-blocks.gz",
        "valid",
        OK,
        gz_flood(img, Empty::Fixed, 8 << 20),
    );
    add(
        "valid-flood-dynamic-blocks.gz",
        "valid",
        OK,
        gz_flood(img, Empty::Dynamic, (1 << 20) * 8 / 90),
    );
    add(
        "valid-all-header-fields.gz",
        "valid",
        OK,
        gz_all_fields(img),
    );
    let mut inner = img.to_vec();
    inner.resize(image_size as usize, 0);
    add(
        "valid-zboot.efi",
        "valid",
        OK,
        zboot(&gz(&inner, 9), b"gzip"),
    );

    // Truncation anywhere: header, deflate data, trailer.
    for cut in [
        2usize,
        5,
        10,
        11,
        100,
        4096,
        n / 2,
        n - 9,
        n - 8,
        n - 5,
        n - 1,
    ] {
        add(
            &format!("trunc-at-{cut}.gz"),
            "truncation",
            EBADMSG,
            good[..cut].to_vec(),
        );
    }
    // Bit flips in the deflate data (away from the header's blocks).
    for (i, at) in [n / 5, n / 3, n / 2, 2 * n / 3, n - 64]
        .into_iter()
        .enumerate()
    {
        let mut f = good.clone();
        f[at] ^= 1 << (i % 8);
        add(&format!("bitflip-at-{at}.gz"), "bit flip", EBADMSG, f);
    }
    // Trailer lies.
    let mut crc = good.clone();
    crc[n - 8] ^= 0x01;
    add("crc32-lie.gz", "crc/isize lie", EBADMSG, crc);
    let mut hi = good.clone();
    hi[n - 4] = hi[n - 4].wrapping_add(1);
    add("isize-lie-high.gz", "crc/isize lie", EBADMSG, hi);
    let mut lo = good.clone();
    lo[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
    add("isize-lie-low.gz", "crc/isize lie", EBADMSG, lo);
    let mut hcrc = gz_all_fields(img);
    hcrc[10] ^= 1;
    add("fhcrc-lie.gz", "crc/isize lie", EBADMSG, hcrc);

    // Decompression bombs: 2 GiB of zeros behind a real header.
    let mut head = img[..4096].to_vec();
    set_u64(&mut head, 16, 3 << 30); // claims 3 GiB: stops at the 256 MiB bound
    add("bomb-2g.gz", "bomb", EFBIG, gz_bomb(&head, 2 << 30));
    let mut lying = gz_bomb(&head, 2 << 30);
    let m = lying.len();
    lying[m - 4..].copy_from_slice(&4096u32.to_le_bytes());
    add("bomb-2g-isize-lies-low.gz", "bomb", EFBIG, lying);
    // A header that claims 40 MiB: stops there, kexec could never load more.
    set_u64(&mut head, 16, 40 << 20);
    add(
        "bomb-2g-small-image_size.gz",
        "bomb",
        EINVAL,
        gz_bomb(&head, 2 << 30),
    );
    add(
        "bomb-zeros-no-header.gz",
        "bomb",
        EINVAL,
        gz_bomb(&[], 1 << 30),
    );

    // Wrong magics.
    add("empty", "wrong magic", EINVAL, Vec::new());
    add(
        "random.bin",
        "wrong magic",
        EINVAL,
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    let mut nomagic = img.to_vec();
    nomagic[0x38..0x3C].copy_from_slice(b"ARMx");
    add("no-arm64-magic.gz", "wrong magic", EINVAL, gz(&nomagic, 6));
    add("short-image.gz", "wrong magic", EINVAL, gz(&img[..60], 6));
    let mut not_gzip = good.clone();
    not_gzip[1] = 0x8C;
    add("gzip-magic-off-by-one.gz", "wrong magic", EINVAL, not_gzip);

    // Other compressions (magic + data; the real tools' output starts the same).
    for (name, magic) in [
        ("Image.xz", &b"\xFD7zXZ\x00\x00\x04"[..]),
        ("Image.bz2", b"BZh91AY&SY"),
        ("Image.lz4", b"\x02\x21\x4C\x18"),
        ("Image.lzma", b"\x5D\x00\x00\x80\x00"),
        ("Image.lzo", b"\x89LZO\x00\r\n\x1a\n"),
    ] {
        let mut f = magic.to_vec();
        f.extend_from_slice(&good[10..20_000]);
        add(&format!("other-{name}"), "other compression", EINVAL, f);
    }
    add(
        "zboot-xz.efi",
        "other compression",
        EINVAL,
        zboot(&good[..1000], b"xzkern"),
    );

    zstd_cases(img, &mut add);
    uki_cases(img, &good, &mut add);

    // Header rules.
    let mut legacy = img.to_vec();
    set_u64(&mut legacy, 16, 0);
    set_u64(&mut legacy, 8, 0x80000);
    add(
        "legacy-image_size-0.gz",
        "header rule",
        EINVAL,
        gz(&legacy, 6),
    );
    let mut be = img.to_vec();
    be[24] |= 1;
    add("big-endian-flag.gz", "header rule", EINVAL, gz(&be, 6));
    let mut long = img.to_vec();
    set_u64(&mut long, 16, img.len() as u64 / 2);
    add(
        "longer-than-image_size.gz",
        "header rule",
        EINVAL,
        gz(&long, 6),
    );
    // Page sizes: valid for a CPU with every granule (probe-run's default);
    // a kernel on a CPU without the granule refuses them (image_load()'s
    // system_supports_*kb_granule()), which the module's parity run checks.
    for (name, bits) in [("page-size-16k.gz", 2u64), ("page-size-64k.gz", 3)] {
        let mut pg = img.to_vec();
        let flags = u64::from_le_bytes(pg[24..32].try_into().unwrap());
        set_u64(&mut pg, 24, (flags & !0b110) | (bits << 1));
        add(name, "header rule", OK, gz(&pg, 6));
    }
    // sanity_check_segment_list(): the segment starts text_offset into a
    // page-aligned buffer, so an unaligned text_offset cannot be placed.
    let mut unaligned = img.to_vec();
    set_u64(&mut unaligned, 8, 0x800);
    add(
        "text_offset-unaligned.gz",
        "header rule",
        EADDRNOTAVAIL,
        gz(&unaligned, 6),
    );
    // text_offset moves the segment into its buffer: the file may be only
    // ALIGN(text_offset + image_size, PAGE_SIZE) - text_offset long.
    let mut offset_long = img.to_vec();
    set_u64(&mut offset_long, 8, 0x80000);
    set_u64(
        &mut offset_long,
        16,
        (img.len() as u64).saturating_sub(0x80000).max(0x1000),
    );
    add(
        "longer-than-segment-after-text_offset.gz",
        "header rule",
        EINVAL,
        gz(&offset_long, 6),
    );
    let mut badpe = img.to_vec();
    let pe = u32::from_le_bytes(img[0x3C..0x40].try_into().unwrap()) as usize;
    badpe[pe + 4] ^= 0xFF;
    add("bad-pe-machine.gz", "header rule", EINVAL, gz(&badpe, 6));

    // gzip header rules.
    for bit in [0x20u8, 0x80] {
        let mut f = good.clone();
        f[3] |= bit;
        add(
            &format!("reserved-flag-{bit:#04x}.gz"),
            "reserved gzip flags",
            EINVAL,
            f,
        );
    }
    let mut cm = good.clone();
    cm[2] = 7;
    add("method-not-deflate.gz", "reserved gzip flags", EINVAL, cm);

    // Trailing garbage.
    let mut junk = good.clone();
    junk.extend_from_slice(b"garbage");
    add("trailing-garbage.gz", "trailing garbage", EINVAL, junk);
    let mut junk_after_pad = good.clone();
    junk_after_pad.extend([0u8; 100]);
    junk_after_pad.push(0x42);
    add(
        "garbage-after-padding.gz",
        "trailing garbage",
        EINVAL,
        junk_after_pad,
    );
    let mut half_member = good.clone();
    half_member.extend_from_slice(&[0x1F, 0x8B, 8, 0]);
    add(
        "truncated-second-member.gz",
        "truncation",
        EBADMSG,
        half_member,
    );
    let mut zb_short = zboot(&good, b"gzip");
    zb_short.truncate(0x1000 + n / 2);
    add(
        "zboot-payload-beyond-file.efi",
        "truncation",
        EBADMSG,
        zb_short,
    );
    v
}

/// A UKI-shaped PE as ukify lays one out: headers, then each section's
/// contents at a 512-byte file alignment, VirtualSize the exact length.
pub fn uki(sections: &[(&str, &[u8])]) -> Vec<u8> {
    let mut f = vec![0u8; 0x400];
    f[..2].copy_from_slice(b"MZ");
    f[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    f[0x80..0x84].copy_from_slice(b"PE\0\0");
    f[0x84..0x86].copy_from_slice(&0xAA64u16.to_le_bytes());
    f[0x86..0x88].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    f[0x94..0x96].copy_from_slice(&240u16.to_le_bytes());
    f[0x98..0x9A].copy_from_slice(&0x20Bu16.to_le_bytes());
    let table = 0x98 + 240;
    for (i, (name, data)) in sections.iter().enumerate() {
        let at = table + i * 40;
        let off = f.len() as u32;
        f[at..at + name.len()].copy_from_slice(name.as_bytes());
        f[at + 8..at + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let raw = data.len().div_ceil(512) * 512;
        f[at + 16..at + 20].copy_from_slice(&(raw as u32).to_le_bytes());
        f[at + 20..at + 24].copy_from_slice(&off.to_le_bytes());
        f.extend_from_slice(data);
        f.resize(off as usize + raw, 0);
    }
    f
}

/// UKIs around the image (the module reports them as probe-run does).
fn uki_cases(img: &[u8], good_gz: &[u8], add: &mut impl FnMut(&str, &'static str, i32, Vec<u8>)) {
    let around = |linux: &[u8]| {
        uki(&[
            (".osrel", b"ID=kernel-probe\n"),
            (".cmdline", b"console=ttyAMA0 panic=-1\n"),
            (".uname", b"7.3.4"),
            (".linux", linux),
            (".initrd", &[0x07; 5000]),
        ])
    };
    add("valid-uki-raw.efi", "valid", OK, around(img));
    add("valid-uki-gzip.efi", "valid", OK, around(good_gz));
    let image_size = u64::from_le_bytes(img[16..24].try_into().unwrap());
    let mut padded = img.to_vec();
    padded.resize(image_size as usize, 0);
    add(
        "valid-uki-zboot.efi",
        "valid",
        OK,
        around(&zboot(&gz(&padded, 6), b"gzip")),
    );
    let whole = around(good_gz);
    add(
        "uki-truncated.efi",
        "truncation",
        EBADMSG,
        whole[..whole.len() / 2].to_vec(),
    );
    add(
        "uki-no-linux.efi",
        "wrong magic",
        EINVAL,
        uki(&[(".text", &[0x11; 4096])]),
    );
    add(
        "uki-in-uki.efi",
        "wrong magic",
        EINVAL,
        around(&around(img)),
    );
}

/// libzstd (the `zstd` crate) at `level`, with or without the checksum and
/// the content size in the frame header.
fn zst(data: &[u8], level: i32, checksum: bool, size: bool) -> Vec<u8> {
    use zstd::zstd_safe::CParameter as P;
    let mut c = zstd::bulk::Compressor::new(level).unwrap();
    c.set_parameter(P::ChecksumFlag(checksum)).unwrap();
    c.set_parameter(P::ContentSizeFlag(size)).unwrap();
    c.compress(data).unwrap()
}

/// A zboot file as Makefile.zboot's zstd22_with_size makes it: the Image
/// padded to image_size, zstd-compressed without a content size (the build
/// pipes it), the le32 size after the payload, outside the header's size.
/// `level`: the build uses -22 --ultra; the corpus a faster level.
pub fn zstd_zboot(img: &[u8], names: &[&[u8]], level: i32) -> Vec<Vec<u8>> {
    let image_size = u64::from_le_bytes(img[16..24].try_into().unwrap());
    let mut padded = img.to_vec();
    padded.resize(image_size as usize, 0);
    let payload = zst(&padded, level, true, false);
    names
        .iter()
        .map(|name| {
            let mut f = zboot(&payload, name);
            let end = 0x1000 + payload.len();
            f.splice(end..end, (padded.len() as u32).to_le_bytes());
            f
        })
        .collect()
}

/// The zstd cases: what real tools write, and every way a stream can be
/// wrong, each with the errno the kernel-side answer must have.
fn zstd_cases(img: &[u8], add: &mut impl FnMut(&str, &'static str, i32, Vec<u8>)) {
    let good = zst(img, 9, true, true);
    let n = good.len();
    add("valid-zstd9.zst", "valid", OK, good.clone());
    add(
        "valid-zstd1-no-checksum.zst",
        "valid",
        OK,
        zst(img, 1, false, true),
    );
    add(
        "valid-zstd3-no-content-size.zst",
        "valid",
        OK,
        zst(img, 3, true, false),
    );
    let mut frames = vec![0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 0xAA, 0xBB];
    frames.extend(zst(&img[..img.len() / 3], 3, true, true));
    frames.extend(zst(&img[img.len() / 3..], 6, false, false));
    add("valid-zstd-frames-and-skippable.zst", "valid", OK, frames);
    let [zb, zb22]: [Vec<u8>; 2] = zstd_zboot(img, &[b"zstd", b"zstd22"], 6)
        .try_into()
        .unwrap();
    add("valid-zboot-zstd.efi", "valid", OK, zb);
    add("valid-zboot-zstd22.efi", "valid", OK, zb22);

    for cut in [4usize, 9, 100, n / 2, n - 5, n - 4, n - 1] {
        add(
            &format!("zstd-trunc-at-{cut}.zst"),
            "truncation",
            EBADMSG,
            good[..cut].to_vec(),
        );
    }
    for (i, at) in [n / 5, n / 3, n / 2, 2 * n / 3, n - 20]
        .into_iter()
        .enumerate()
    {
        let mut f = good.clone();
        f[at] ^= 1 << (i % 8);
        add(&format!("zstd-bitflip-at-{at}.zst"), "bit flip", EBADMSG, f);
    }
    let mut cksum = good.clone();
    cksum[n - 1] ^= 0x80;
    add("zstd-checksum-lie.zst", "crc/isize lie", EBADMSG, cksum);
    // Frame header: FHD, the window byte unless single segment, then the
    // content size (4 bytes for an image of this size).
    let fhd = good[4];
    let after_window = 5 + usize::from(fhd & 0x20 == 0);
    assert_eq!(fhd >> 6, 2, "a 4-byte content size");
    for (name, delta) in [
        ("zstd-content-size-lie-high.zst", 1i64),
        ("zstd-content-size-lie-low.zst", -4096),
    ] {
        let mut f = good.clone();
        let at = after_window;
        let v = u32::from_le_bytes(f[at..at + 4].try_into().unwrap()) as i64 + delta;
        f[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        add(name, "crc/isize lie", EBADMSG, f);
    }
    let mut reserved = good.clone();
    reserved[4] |= 0x08;
    add(
        "zstd-reserved-bit.zst",
        "reserved zstd bits",
        EINVAL,
        reserved,
    );
    let mut dict = good.clone();
    dict[4] |= 0x01;
    dict.insert(after_window, 0x2A);
    add("zstd-dictionary-id.zst", "reserved zstd bits", EINVAL, dict);
    // Window_Log 32: more than any decoder accepts.
    let mut wide = vec![0x28, 0xB5, 0x2F, 0xFD, 0x04, (32 - 10) << 3];
    wide.extend_from_slice(&good[9..]);
    add(
        "zstd-window-too-large.zst",
        "reserved zstd bits",
        EINVAL,
        wide,
    );
    let mut junk = good.clone();
    junk.extend_from_slice(b"garbage");
    add(
        "zstd-trailing-garbage.zst",
        "trailing garbage",
        EINVAL,
        junk,
    );
    // A 2 GiB bomb: a real header (claiming 3 GiB) in a raw block, then
    // 128 KiB RLE blocks (4 bytes each); stops at the bound, EFBIG.
    let mut head = img[..4096].to_vec();
    set_u64(&mut head, 16, 3 << 30);
    let mut bomb = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, (27 - 10) << 3];
    bomb.extend_from_slice(&((head.len() as u32) << 3).to_le_bytes()[..3]);
    bomb.extend_from_slice(&head);
    let rle = (1u32 << 1) | ((128 << 10) << 3);
    for _ in 0..((2u64 << 30) / (128 << 10)) {
        bomb.extend_from_slice(&rle.to_le_bytes()[..3]);
        bomb.push(0);
    }
    add("zstd-bomb-2g.zst", "bomb", EFBIG, bomb);
}

/// Write the corpus and its manifest (`cases.tsv`: file, errno, class).
pub fn write(img: &[u8], dir: &Path) -> io::Result<Vec<Case>> {
    fs::create_dir_all(dir)?;
    let cases = cases(img);
    let mut manifest = String::from("# file\terrno\tclass\n");
    for c in &cases {
        fs::write(dir.join(&c.name), &c.data)?;
        manifest.push_str(&format!("{}\t{}\t{}\n", c.name, c.errno, c.class));
    }
    fs::write(dir.join("cases.tsv"), manifest)?;
    Ok(cases)
}
