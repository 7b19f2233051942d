//! Findings from the property tests and the fuzz targets, each pinned as a
//! test with the input that showed it.

mod common;

use std::io::Read;

use common::*;
use kernel_probe::{error, ProbeError, ProbeOptions};

fn opts() -> ProbeOptions {
    ProbeOptions::default()
}

/// Deflate bits, LSB first; Huffman codes go in MSB first.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, v: u64, n: u32) {
        self.acc |= v << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    fn code(&mut self, code: u64, n: u32) {
        let rev = (0..n).fold(0, |r, i| r | ((code >> i) & 1) << (n - 1 - i));
        self.put(rev, n);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Found by the bit-flip property (tests/properties.rs): a flipped distance
/// that reaches before the start of the output. RFC 1951 forbids it; zlib
/// says "invalid distance too far back"; kernel-probe says corrupt deflate
/// (EBADMSG). flate2's miniz_oxide keeps a zero-filled window and decodes it
/// as zeros, and GNU gzip does the same, so an image whose bytes there are
/// zero "decodes" for them. kernel-probe stays strict: it is the checker
/// that must not accept what the format forbids.
#[test]
fn distance_before_the_start_is_corrupt_even_where_flate2_reads_zeros() {
    let img = kernel(5000);
    // A stored block with the image, then a fixed-Huffman final block with
    // one match: length 3, distance 5003 (> 5000 bytes of output so far).
    let mut b = Bits::default();
    b.put(0, 1); // BFINAL 0
    b.put(0, 2); // stored
    b.put(0, 5); // pad to the byte
    let len = img.len() as u64;
    b.put(len, 16);
    b.put(!len & 0xFFFF, 16);
    for &x in &img {
        b.put(u64::from(x), 8);
    }
    b.put(1, 1); // BFINAL 1
    b.put(1, 2); // fixed Huffman
    b.code(0b000_0001, 7); // symbol 257: length 3
    b.code(24, 5); // distance code 24: 4097 + 11 extra bits
    b.put(5003 - 4097, 11);
    b.code(0, 7); // end of block
    let deflate = b.finish();
    let mut want = img.clone();
    want.extend([0, 0, 0]);
    let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend(&deflate);
    gz.extend(crc32fast::hash(&want).to_le_bytes());
    gz.extend((want.len() as u32).to_le_bytes());
    // flate2 accepts it and reads zeros from before the start.
    let mut lax = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut lax)
        .expect("flate2 is lax here");
    assert_eq!(lax, want);
    // kernel-probe refuses it, in one shot and streamed.
    let v = oneshot(&gz, opts()).0;
    assert_eq!(v.result, Err(ProbeError::CorruptDeflate));
    assert_eq!(v.errno(), error::EBADMSG);
    assert_eq!(streamed(&gz, &[1, 7, 100], opts()).0, v);
    // The same block with a distance inside the output is fine.
    let mut ok = Bits::default();
    ok.put(1, 1);
    ok.put(1, 2);
    ok.code(0b000_0001, 7);
    ok.code(24, 5);
    ok.put(4100 - 4097, 11);
    ok.code(0, 7);
    let mut stored_then_ok = deflate[..5 + img.len()].to_vec();
    stored_then_ok.extend(ok.finish());
    let mut want = img.clone();
    let at = want.len() - 4100;
    want.extend_from_within(at..at + 3);
    let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend(&stored_then_ok);
    gz.extend(crc32fast::hash(&want).to_le_bytes());
    gz.extend((want.len() as u32).to_le_bytes());
    let (v, out, _) = oneshot(&gz, opts());
    assert!(v.result.is_ok(), "{:?}", v.result);
    assert_eq!(out, want);
}

/// zboot with `payload_size` larger than the file: `zboot()` writes the
/// payload size at 0x0C.
fn zboot_payload_size(z: &mut [u8], size: u32) {
    z[12..16].copy_from_slice(&size.to_le_bytes());
}

/// Found by the `stream_vs_oneshot` fuzz target in its first minute (input:
/// the zboot seed with payload_size raised to 0x3C000, past the end of the
/// 4885-byte file). The one-shot probe refused such a payload up front with
/// `Truncated`; the streaming probe, which cannot see the file length, read
/// on and reported the first error inside the declared payload
/// (`TrailingGarbage`: the PE tail after the gzip member). Fix: the one-shot
/// probe no longer takes a shortcut for compressed input, it is one write
/// into the streaming path.
#[test]
fn zboot_payload_past_the_end_same_error_streamed_and_one_shot() {
    let mut k = kernel(3000);
    k.resize(0x8000, 0);
    let mut z = zboot(&gzip(&k, 9), b"gzip");
    zboot_payload_size(&mut z, 0x3C000);
    let (a, _, _) = oneshot(&z, opts());
    for chunks in [&[7usize, 4096][..], &[1], &[100_000]] {
        assert_eq!(streamed(&z, chunks, opts()).0, a, "chunks {chunks:?}");
    }
    assert_eq!(a.result, Err(ProbeError::TrailingGarbage));
}

/// The other half of the same finding: a declared payload that runs past the
/// end of the file, where the gzip member inside is complete and only zero
/// bytes follow up to the end. The streaming probe used to accept it (the
/// zero bytes looked like padding and the input just ended); the one-shot
/// probe said `Truncated`. Now both say `Truncated` (EBADMSG): the payload
/// the header declares is not all there.
#[test]
fn zboot_payload_past_the_end_after_a_complete_member_is_truncated() {
    let mut k = kernel(3000);
    k.resize(0x8000, 0);
    let gz = gzip(&k, 9);
    let mut z = zboot(&gz, b"gzip");
    z.truncate(0x1000 + gz.len());
    z.extend([0u8; 64]);
    zboot_payload_size(&mut z, (gz.len() + 1000) as u32);
    let (a, _, _) = oneshot(&z, opts());
    assert_eq!(a.result, Err(ProbeError::Truncated));
    for chunks in [&[7usize, 4096][..], &[1], &[100_000]] {
        assert_eq!(streamed(&z, chunks, opts()).0, a, "chunks {chunks:?}");
    }
    // With the right payload size the same file is fine.
    zboot_payload_size(&mut z, gz.len() as u32);
    assert!(oneshot(&z, opts()).0.result.is_ok());
    assert!(streamed(&z, &[7], opts()).0.result.is_ok());
}

/// Found by the `stream_vs_oneshot` fuzz target: 60-63 bytes with "ARM\x64"
/// at 0x38. One-shot: a raw Image that is too short (`ImageTooShort`, format
/// "image"); streaming: `UnknownFormat` with no format, because it decided
/// only once 64 bytes had arrived. Now both say `ImageTooShort`.
#[test]
fn short_input_with_the_arm64_magic_is_image_too_short_both_ways() {
    for len in 60..64 {
        let input = &kernel(4096)[..len];
        let (a, _, _) = oneshot(input, opts());
        assert_eq!(a.result, Err(ProbeError::ImageTooShort), "len {len}");
        assert_eq!(a.format, Some(kernel_probe::Format::Image));
        assert_eq!(streamed(input, &[7, 4096], opts()).0, a, "len {len}");
        assert_eq!(streamed(input, &[1], opts()).0, a, "len {len}");
    }
}

fn member(deflate: &[u8], data: &[u8]) -> Vec<u8> {
    let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend(deflate);
    gz.extend(crc32fast::hash(data).to_le_bytes());
    gz.extend((data.len() as u32).to_le_bytes());
    gz
}

/// Found by the `differential` fuzz target (a generated two-member file with
/// one byte changed in the second member's deflate data): the second
/// member's match distance reached back into the *first* member's output.
/// Each gzip member is an independent deflate stream, so that is a distance
/// before the start of the stream: zlib refuses it, flate2 reads zeros from
/// its fresh window and then fails the CRC. kernel-probe inflated all members
/// into one non-wrapping buffer, so the reference silently read the previous
/// member's bytes, and with periodic data the CRC matched: an invalid file
/// was accepted. Fix: each member's decoder sees only that member's output.
#[test]
fn a_member_cannot_refer_back_into_the_previous_member() {
    let img = kernel(5000);
    // Member 1: the image, one final stored block.
    let mut b = Bits::default();
    b.put(1, 1);
    b.put(0, 2);
    b.put(0, 5);
    let len = img.len() as u64;
    b.put(len, 16);
    b.put(!len & 0xFFFF, 16);
    for &x in &img {
        b.put(u64::from(x), 8);
    }
    let m1 = member(&b.finish(), &img);
    // Member 2: one match, length 3, distance 100: before its own start.
    let mut b = Bits::default();
    b.put(1, 1);
    b.put(1, 2);
    b.code(0b000_0001, 7); // length 3
    b.code(13, 5); // distance code 13: 65 + 5 extra bits
    b.put(100 - 65, 5);
    b.code(0, 7);
    let copied = img[img.len() - 100..img.len() - 97].to_vec();
    let m2 = member(&b.finish(), &copied);
    let mut gz = m1;
    gz.extend(&m2);
    let v = oneshot(&gz, opts()).0;
    assert_eq!(v.result, Err(ProbeError::CorruptDeflate));
    assert_eq!(v.errno(), error::EBADMSG);
    assert_eq!(streamed(&gz, &[1, 7, 4096], opts()).0, v);
    // flate2 refuses it too (it reads zeros, and the CRC is of real bytes).
    let mut out = Vec::new();
    assert!(flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .is_err());
}

impl Bits {
    /// Fixed-Huffman literal or end-of-block symbol (RFC 1951 3.2.6).
    fn fixed_symbol(&mut self, sym: u64) {
        match sym {
            0..=143 => self.code(0x30 + sym, 8),
            144..=255 => self.code(0x190 + sym - 144, 9),
            _ => self.code(sym - 256, 7),
        }
    }
    /// A fixed-Huffman block holding `lits` as literals (none: empty block).
    fn fixed_block(&mut self, last: bool, lits: &[u8]) {
        self.put(u64::from(last), 1);
        self.put(1, 2);
        for &x in lits {
            self.fixed_symbol(u64::from(x));
        }
        self.fixed_symbol(256);
    }
    /// An empty dynamic block with the smallest header: the code-length code
    /// has symbols 1 and 18 (1 bit each), litlen = {256: 1 bit}, dist = {0: 1 bit}.
    fn empty_dynamic_block(&mut self) {
        self.put(0, 1);
        self.put(2, 2);
        self.put(0, 5); // HLIT 257
        self.put(0, 5); // HDIST 1
        self.put(14, 4); // HCLEN 18: up to code-length symbol 1
        for s in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
            self.put(u64::from(s == 1 || s == 18), 3);
        }
        self.code(1, 1); // 18: 138 zeros
        self.put(127, 7);
        self.code(1, 1); // 18: 118 zeros
        self.put(107, 7);
        self.code(0, 1); // litlen 256: length 1
        self.code(0, 1); // dist 0: length 1
        self.code(0, 1); // end of block
    }
}

fn gzip_member(deflate: &[u8], data: &[u8]) -> Vec<u8> {
    let mut gz = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend(deflate);
    gz.extend(crc32fast::hash(data).to_le_bytes());
    gz.extend((data.len() as u32).to_le_bytes());
    gz
}

/// Issue 11 item 2: a long run of empty fixed-Huffman blocks (10 bits each)
/// cost ~26,000 instructions per block (miniz_oxide 0.8.9 rebuilt the fixed
/// tables for every fixed block: 25-40 s for 10 MiB). The vendored
/// miniz_oxide keeps the tables while blocks stay fixed; this pins that the
/// reuse decodes right, also after a dynamic block replaced the tables.
#[test]
fn runs_of_empty_fixed_blocks_decode_and_reuse_tables_correctly() {
    let img = kernel(6000);
    let mut b = Bits::default();
    for _ in 0..100_000 {
        b.fixed_block(false, &[]);
    }
    b.empty_dynamic_block(); // the tables now hold the dynamic code
    b.fixed_block(false, &img[..2000]); // fixed again: rebuilt
    for _ in 0..100_000 {
        b.fixed_block(false, &[]); // reused
    }
    b.fixed_block(false, &img[2000..5000]);
    b.empty_dynamic_block();
    b.fixed_block(true, &img[5000..]);
    let gz = gzip_member(&b.finish(), &img);
    let mut zl = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut zl)
        .expect("valid deflate");
    assert_eq!(zl, img);
    let (v, out, _) = oneshot(&gz, opts());
    assert!(v.result.is_ok(), "{:?}", v.result);
    assert_eq!(out, img);
    assert_eq!(streamed(&gz, &[1, 3, 4096, 77], opts()).0, v);
}

/// Issue 11 item 2, quick probe: the head must appear within
/// QUICK_HEAD_INPUT bytes of gzip data (real kernels need ~300), so a run of
/// empty blocks in front of it (~110 ns per byte for dynamic ones) stops
/// there with EINVAL instead of being inflated to the end. The full probe
/// still reads such a stream, and a run that starts once the head is full
/// does not stop the quick probe either.
#[test]
fn quick_probe_gives_up_when_the_head_is_deep() {
    let img = kernel(9000);
    let before = |blocks: usize| {
        let mut b = Bits::default();
        for _ in 0..blocks {
            b.empty_dynamic_block();
        }
        b.fixed_block(true, &img);
        gzip_member(&b.finish(), &img)
    };
    let quick = |gz: &[u8]| {
        let mut p = Box::new(kernel_probe::Prober::new(opts()));
        kernel_probe::quick_probe(&mut p, gz, &mut Crc).map(|r| r.image_bytes)
    };
    let budget = kernel_probe::QUICK_HEAD_INPUT as usize;
    // 90 bits per block: the head's first byte comes after blocks * 11.25 bytes.
    let deep = before(budget * 8 / 90 + 10);
    assert_eq!(quick(&deep), Err(ProbeError::QuickHeadTooDeep));
    assert_eq!(ProbeError::QuickHeadTooDeep.errno(), error::EINVAL);
    assert!(oneshot(&deep, opts()).0.result.is_ok());
    let shallow = before(budget * 8 / 90 / 2);
    assert_eq!(quick(&shallow), Ok(img.len() as u64));
    // A run after exactly the 4 KiB head: decided at the budget.
    let mut b = Bits::default();
    b.fixed_block(false, &img[..4096]);
    for _ in 0..(budget * 8 / 90 + 10) {
        b.empty_dynamic_block();
    }
    b.fixed_block(true, &img[4096..]);
    let after = gzip_member(&b.finish(), &img);
    assert_eq!(quick(&after), Ok(img.len() as u64));
    assert!(oneshot(&after, opts()).0.result.is_ok());
}

/// Issue 11 item 2, quick probe: zero padding is looked through for
/// QUICK_PADDING_SCAN bytes at most, so a file that ends in gigabytes of
/// zeros (sparse, say) does not make the quick probe scan them all.
#[test]
fn quick_probe_looks_through_bounded_padding() {
    let img = kernel(9000);
    let mut gz = gzip(&img, 6);
    let quick = |gz: &[u8]| {
        let mut p = Box::new(kernel_probe::Prober::new(opts()));
        kernel_probe::quick_probe(&mut p, gz, &mut Crc).map(|r| r.gzip.map(|g| g.isize))
    };
    gz.resize(gz.len() + kernel_probe::QUICK_PADDING_SCAN - 8, 0);
    assert_eq!(quick(&gz), Ok(Some(img.len() as u32)));
    gz.resize(gz.len() + (1 << 20), 0);
    assert_eq!(quick(&gz), Err(ProbeError::QuickPaddingTooLong));
    // The full probe reads all of it.
    assert!(oneshot(&gz, opts()).0.result.is_ok());
}

/// zstd_differential finding 1: a frame with a 1 KiB window whose one
/// compressed block decompresses to 6301 bytes. libzstd's one-pass decoder
/// accepted it here (it catches an oversized block only when its literal
/// buffer sits in the way), its streaming decoder refuses it ("Decompressed
/// Block Size Exceeds Maximum"), as RFC 8878 3.1.1.2.4 does: so do we.
#[test]
fn zstd_block_larger_than_its_window() {
    let z = include_bytes!("data/zstd-block-larger-than-window.zst");
    let mut d = Box::<kernel_probe::zstd::ZstdDecoder>::default();
    let mut out = vec![0u8; 1 << 20];
    assert_eq!(
        kernel_probe::zstd::decode(&mut d, z, &mut out),
        Err(ProbeError::ZstdBlockTooLarge)
    );
    let mut r = zstd::stream::read::Decoder::new(&z[..]).unwrap();
    assert!(
        r.read_to_end(&mut Vec::new()).is_err(),
        "libzstd streaming refuses it too"
    );
}

/// zstd_differential finding 2: four Huffman literal streams, the first of
/// which has 6 bits left after its 68 literals. libzstd's fast four-stream
/// loop only counts literals and accepts it; its one-stream path and the
/// RFC's educational decoder require the stream to end exactly: so do we.
#[test]
fn zstd_literals_stream_with_bits_left() {
    let z = include_bytes!("data/zstd-literals-stream-bits-left.zst");
    let mut d = Box::<kernel_probe::zstd::ZstdDecoder>::default();
    let mut out = vec![0u8; 1 << 20];
    let e = kernel_probe::zstd::decode(&mut d, z, &mut out).unwrap_err();
    assert_eq!(e, ProbeError::ZstdLiteralsNotExact);
    assert_eq!(e.errno(), error::EBADMSG);
}

/// zstd_differential finding 3: a four-stream literals section whose second
/// stream's last byte is 0 (no end mark). libzstd's fast loop starts such a
/// stream anyway (HUF_initFastDStream: "lastByte ? ... : 0"); its one-stream
/// path (BIT_initDStream) and the RFC refuse it: so do we.
#[test]
fn zstd_literals_stream_without_end_mark() {
    let z = include_bytes!("data/zstd-literals-stream-without-end-mark.zst");
    let mut d = Box::<kernel_probe::zstd::ZstdDecoder>::default();
    let mut out = vec![0u8; 1 << 20];
    assert_eq!(
        kernel_probe::zstd::decode(&mut d, z, &mut out),
        Err(ProbeError::ZstdLiteralsNotExact)
    );
}

/// zstd_differential finding 4: Huffman weights (FSE-coded) whose tree has
/// no code of weight 1: the sum is a power of two minus a power of two, so
/// the implied last weight exists, but the longest codes do not come in
/// pairs. libzstd's HUF_readStats refuses it ("at least 2 elts of rank 1,
/// must be even"); we decoded it: now refused too.
#[test]
fn zstd_huffman_tree_without_weight_1_codes() {
    let z = include_bytes!("data/zstd-huffman-tree-without-weight-1.zst");
    let mut d = Box::<kernel_probe::zstd::ZstdDecoder>::default();
    let mut out = vec![0u8; 1 << 20];
    assert_eq!(
        kernel_probe::zstd::decode(&mut d, z, &mut out),
        Err(ProbeError::CorruptZstd)
    );
    let mut r = zstd::stream::read::Decoder::new(&z[..]).unwrap();
    assert!(
        r.read_to_end(&mut Vec::new()).is_err(),
        "libzstd refuses it too"
    );
}

/// zstd_differential finding 5: an 8-byte Frame_Content_Size of all ones.
/// libzstd reads it as ZSTD_CONTENTSIZE_UNKNOWN (no check), and so does the
/// kernel's lib/zstd; we called it a content-size lie. Now unknown too.
#[test]
fn zstd_content_size_of_all_ones_is_unknown() {
    let z = include_bytes!("data/zstd-content-size-all-ones.zst");
    let mut d = Box::<kernel_probe::zstd::ZstdDecoder>::default();
    let mut out = vec![0u8; 1 << 20];
    let n = kernel_probe::zstd::decode(&mut d, z, &mut out).unwrap();
    let want = zstd::bulk::decompress(z, 1 << 20).unwrap();
    assert_eq!(&out[..n], &want[..]);
    assert_eq!(d.info().content_size, None);
}
