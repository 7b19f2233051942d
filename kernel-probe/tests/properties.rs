//! Property tests and exhaustive adversarial sweeps (issue 7, part 2 and 4):
//!
//! (a) random images, gzip'd at random levels into one or more members and
//!     fed in random chunks, come back byte for byte, and the one-shot verdict
//!     equals the streaming verdict (also for damaged inputs);
//! (b) every truncation of a valid Image.gz is rejected with EBADMSG, except
//!     cuts inside trailing zero padding (and, with several members, cuts at a
//!     member boundary: that is a complete, shorter gzip file);
//! (c) every single-bit flip in the deflate data or the trailer is rejected,
//!     except the few that leave the decoded bytes identical (deflate is not
//!     a code with a checksum over its own bits: padding bits after the end
//!     of the final block, and a match distance that points to an identical
//!     earlier copy, are invisible to every inflater); flips in
//!     MTIME/XFL/OS/FTEXT/FNAME text are accepted, unless FHCRC is set;
//! (d) resource bounds: empty stored blocks and a 2 GiB bomb end quickly with
//!     the right errno.

mod common;

use std::io::{Read, Write};
use std::time::Instant;

use common::*;
use kernel_probe::{error, ProbeError, ProbeOptions, Verdict, HEAD_LEN};
use proptest::prelude::*;

fn opts() -> ProbeOptions {
    ProbeOptions::default()
}

/// An arm64 Image: a valid header (with the PE view when `pe`), then
/// `payload` as the body. image_size leaves room for the whole file.
fn image_with(payload: &[u8], pe: bool) -> Vec<u8> {
    let keep = if pe { 0x40 + 0x100 } else { 64 };
    let len = keep + payload.len();
    let size = (len as u64 + 0xFFFF) & !0xFFFF;
    let mut img = image(len, size, 0b1010, pe);
    img[keep..].copy_from_slice(payload);
    img
}

/// gzip of `data` as `splits.len() + 1` members, cut at the given offsets,
/// member i compressed at `levels[i % levels.len()]`.
fn multi_gzip(data: &[u8], splits: &[usize], levels: &[u32]) -> Vec<u8> {
    let mut cuts: Vec<usize> = splits.iter().map(|&s| s % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(data.len());
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &end) in cuts.iter().enumerate() {
        out.extend(gzip(&data[start..end], levels[i % levels.len()]));
        start = end;
    }
    out
}

/// A body: literal runs and repeats, so that every level finds matches.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 1..300),
            (any::<u8>(), 1usize..5000).prop_map(|(b, n)| vec![b; n]),
            (prop::collection::vec(any::<u8>(), 1..40), 1usize..200)
                .prop_map(|(pat, n)| pat.repeat(n)),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn same_verdict(input: &[u8], chunks: &[usize]) -> Result<(Verdict, Vec<u8>), TestCaseError> {
    let (a, ai, _) = oneshot(input, opts());
    let (b, bi) = streamed(input, chunks, opts());
    prop_assert_eq!(&a, &b, "one-shot vs streaming in chunks {:?}", chunks);
    prop_assert!(
        ai == bi,
        "image bytes differ between one-shot and streaming"
    );
    Ok((a, ai))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// (a) Round trip and one-shot == streaming.
    #[test]
    fn round_trip_any_levels_members_chunks(
        body in payload(),
        pe in any::<bool>(),
        levels in prop::collection::vec(0u32..=9, 1..4),
        splits in prop::collection::vec(any::<usize>(), 0..4),
        chunks in prop::collection::vec(1usize..70_000, 1..6),
        padding in prop_oneof![Just(0usize), 1usize..600],
    ) {
        let img = image_with(&body, pe);
        let mut gz = multi_gzip(&img, &splits, &levels);
        gz.resize(gz.len() + padding, 0);
        let (v, out) = same_verdict(&gz, &chunks)?;
        let r = v.result.map_err(|e| TestCaseError::fail(format!("rejected: {e:?}")))?;
        prop_assert!(out == img, "decompressed image differs");
        prop_assert_eq!(r.image_bytes, img.len() as u64);
        let g = r.gzip.unwrap();
        prop_assert_eq!(g.members as usize, splits.len() + 1);
        prop_assert_eq!(r.pe.is_some(), pe);
        // Same through an EFI zboot wrapper.
        let z = zboot(&multi_gzip(&img, &splits, &levels), b"gzip");
        let (zv, zout) = same_verdict(&z, &chunks)?;
        prop_assert!(zv.result.is_ok(), "zboot rejected: {:?}", zv.result);
        prop_assert!(zout == img);
    }

    /// (a) Damaged inputs: whatever the verdict, both entry points agree on it,
    /// error included.
    #[test]
    fn damaged_inputs_agree(
        body in payload(),
        level in 0u32..=9,
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<usize>()),
        tail in prop::collection::vec(any::<u8>(), 0..20),
        chunks in prop::collection::vec(1usize..5000, 1..6),
        wrap_zboot in any::<bool>(),
    ) {
        let img = image_with(&body, true);
        let mut gz = gzip(&img, level);
        for (at, x) in edits {
            let n = gz.len();
            gz[at % n] ^= x;
        }
        if let Some(c) = cut {
            gz.truncate(c % (gz.len() + 1));
        }
        gz.extend(tail);
        let input = if wrap_zboot { zboot(&gz, b"gzip") } else { gz };
        same_verdict(&input, &chunks)?;
    }
}

fn errno_of(v: &Verdict) -> i32 {
    v.errno()
}

/// (b) Every cut of a small single-member Image.gz: a cut before the magic
/// is complete cannot be recognised as gzip (EINVAL, "unknown format"); every
/// other cut is EBADMSG. Cuts inside trailing zero padding are accepted.
#[test]
fn every_truncation_of_a_small_image_is_ebadmsg() {
    let img = kernel(6000);
    let gz = gzip(&img, 6);
    let n = gz.len();
    let mut padded = gz.clone();
    padded.resize(n + 32, 0);
    for cut in 0..=padded.len() {
        let input = &padded[..cut];
        let (v, out, _) = oneshot(input, opts());
        let (s, _) = streamed(input, &[1 + cut % 7, 4096], opts());
        assert_eq!(v, s, "cut {cut}: one-shot vs streaming");
        match cut {
            0 | 1 => assert_eq!(v.result, Err(ProbeError::UnknownFormat), "cut {cut}"),
            c if c < n => assert_eq!(errno_of(&v), error::EBADMSG, "cut {cut}: {:?}", v.result),
            _ => {
                assert!(v.result.is_ok(), "cut {cut} in padding: {:?}", v.result);
                assert_eq!(out, img);
            }
        }
    }
}

/// (b) A larger image: a sample of cuts, biased to the ends (header, head
/// window, trailer), plus a stride through the middle.
#[test]
fn sampled_truncations_of_a_larger_image() {
    let mut img = noisy_kernel(400_000);
    sign(&mut img, 1500);
    let gz = gzip(&img, 9);
    let n = gz.len();
    let mut cuts: Vec<usize> = (2..64).chain(n - 64..n).collect();
    cuts.extend((64..n - 64).step_by(n / 150));
    let t = Instant::now();
    for &cut in &cuts {
        let v = oneshot(&gz[..cut], opts()).0;
        assert_eq!(errno_of(&v), error::EBADMSG, "cut {cut}: {:?}", v.result);
    }
    for &cut in cuts.iter().step_by(9) {
        let v = streamed(&gz[..cut], &[1000, 3], opts()).0;
        assert_eq!(errno_of(&v), error::EBADMSG, "streamed cut {cut}");
    }
    println!(
        "{} cuts of a {n}-byte Image.gz in {:?}",
        cuts.len(),
        t.elapsed()
    );
}

/// (b) With several members, a cut exactly at a member boundary leaves a
/// complete gzip file of a shorter image: gzip cannot tell, and neither can
/// the probe (the image is still within its image_size). Every other cut is
/// EBADMSG.
#[test]
fn truncation_at_a_member_boundary_is_a_shorter_image() {
    let img = kernel(20_000);
    let first = gzip(&img[..8000], 6);
    let mut gz = first.clone();
    gz.extend(gzip(&img[8000..], 6));
    let n = gz.len();
    for cut in 2..n {
        let v = oneshot(&gz[..cut], opts()).0;
        if cut == first.len() {
            let r = v
                .result
                .expect("a complete first member is a valid, shorter image");
            assert_eq!(r.image_bytes, 8000);
        } else {
            assert_eq!(errno_of(&v), error::EBADMSG, "cut {cut}: {:?}", v.result);
        }
    }
}

/// Raw deflate of `data` and the gzip trailer, so tests can build members
/// with any header (flate2 cannot write FHCRC).
fn deflate_raw(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn trailer(data: &[u8]) -> [u8; 8] {
    let mut t = [0u8; 8];
    t[..4].copy_from_slice(&crc32fast::hash(data).to_le_bytes());
    t[4..].copy_from_slice(&(data.len() as u32).to_le_bytes());
    t
}

/// A member header: MTIME, XFL, OS, FNAME; FHCRC when asked.
fn member_header(name: &[u8], fhcrc: bool) -> Vec<u8> {
    let flg = 0x08 | if fhcrc { 0x02 } else { 0 };
    let mut h = vec![0x1F, 0x8B, 8, flg, 0x5E, 0x1D, 0x3A, 0x67, 2, 3];
    h.extend_from_slice(name);
    h.push(0);
    if fhcrc {
        let c = crc32fast::hash(&h) as u16;
        h.extend_from_slice(&c.to_le_bytes());
    }
    h
}

/// Is `deflate` a complete, valid raw deflate stream that decodes to exactly
/// `want`, by an independent inflater (flate2: a newer miniz_oxide)?
///
/// flate2's inflater keeps a zero-filled 32 KiB window and does not check
/// that a match distance stays inside the output so far (RFC 1951 forbids
/// reaching before the start; zlib says "invalid distance too far back",
/// kernel-probe says corrupt deflate). So the stream is decoded behind a
/// 32 KiB stored block of 0xA5: a distance that reaches before the real start
/// copies 0xA5 instead of zeros and the output no longer matches.
/// Returns whether the stream is complete and exact, and what it decoded to
/// (up to its end or its first error).
fn decodes_exactly_to(deflate: &[u8], want: &[u8]) -> (bool, Vec<u8>) {
    const PRE: usize = 32 << 10;
    let mut input = vec![0x00, 0x00, 0x80, 0xFF, 0x7F];
    input.resize(5 + PRE, 0xA5);
    input.extend_from_slice(deflate);
    let mut d = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(PRE + want.len() + (64 << 10));
    let st = d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Finish);
    let exact = matches!(st, Ok(flate2::Status::StreamEnd))
        && d.total_in() == input.len() as u64
        && out.len() == PRE + want.len()
        && out[PRE..] == *want;
    (exact, out.split_off(PRE.min(out.len())))
}

/// A kernel-like image whose body is pseudo-random 6-bit values: it
/// compresses to ~80%, so the deflate data is mostly Huffman-coded literals.
fn noisy_kernel(len: usize) -> Vec<u8> {
    let mut img = kernel(len);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for b in img[0x200..].iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 40) as u8 & 0x3F;
    }
    img
}

/// (c) Every single-bit flip in the deflate data or the trailer is rejected,
/// unless it does not change the decoded bytes at all.
///
/// What is expected, precisely, for each flip:
/// - if the flipped deflate data is still a valid stream that decodes to the
///   original image (checked by flate2, see [`decodes_exactly_to`]), the
///   flip is invisible to any inflater (a padding bit after the final block's
///   end code, a match distance that points to an identical earlier copy in
///   periodic data): the probe must accept it too, with the same bytes.
///   These are counted and printed;
/// - a flip in the trailer is `CrcMismatch` (CRC32 bytes) or `IsizeMismatch`
///   (ISIZE bytes), both EBADMSG;
/// - any other flip in the deflate data is EBADMSG (corrupt deflate,
///   truncated, or a CRC32/ISIZE mismatch), *unless* the flipped stream
///   decodes to something that differs from the original inside the head
///   window (the first HEAD_LEN = 4 KiB, which holds the arm64 and PE
///   headers): the probe checks the header rules as soon as the head is
///   full, before the trailer is reached, so such a flip may fail a header
///   rule instead (EINVAL, or EFBIG if it raised image_size). For those only
///   "rejected" is asserted.
#[test]
fn every_bit_flip_in_deflate_data_or_trailer_is_rejected() {
    // Periodic data (many equivalent match distances) and noisy data.
    for (label, img) in [("periodic", kernel(9000)), ("noisy", noisy_kernel(5000))] {
        bit_flips(label, &img);
    }
}

fn bit_flips(label: &str, img: &[u8]) {
    let name = b"Image";
    let hdr = member_header(name, false);
    let body = deflate_raw(img, 6);
    let mut gz = hdr.clone();
    gz.extend(&body);
    gz.extend(trailer(img));
    assert!(oneshot(&gz, opts()).0.result.is_ok());
    let (d0, t0) = (hdr.len(), hdr.len() + body.len());
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    let mut invisible = Vec::new();
    for byte in d0..gz.len() {
        for bit in 0..8 {
            let mut f = gz.clone();
            f[byte] ^= 1 << bit;
            let (v, out, _) = oneshot(&f, opts());
            let (exact, decoded) = if byte < t0 {
                decodes_exactly_to(&f[d0..t0], img)
            } else {
                (false, Vec::new())
            };
            if exact {
                assert!(
                    v.result.is_ok(),
                    "invisible flip {byte}:{bit}: {:?}",
                    v.result
                );
                assert!(out == img);
                invisible.push((byte - d0, bit));
                continue;
            }
            let e = match v.result {
                Ok(_) => panic!("flip {byte}:{bit} accepted, but it changes the data"),
                Err(e) => e,
            };
            *tally.entry(format!("{e:?}")).or_default() += 1;
            if byte >= t0 {
                let want = if byte < t0 + 4 {
                    ProbeError::CrcMismatch
                } else {
                    ProbeError::IsizeMismatch
                };
                assert_eq!(e, want, "trailer flip {byte}:{bit}");
                continue;
            }
            let head = HEAD_LEN.min(decoded.len());
            let head_intact = decoded[..head] == img[..head];
            if head_intact {
                assert_eq!(e.errno(), error::EBADMSG, "flip {byte}:{bit}: {e:?}");
            }
        }
    }
    let last = body.len() - 1;
    let padding = invisible.iter().filter(|&&(b, _)| b == last).count();
    println!(
        "{label}: {} bit flips in {} bytes of deflate data + trailer: rejected {tally:?}; \
         {} decode identically and are accepted (flate2 agrees): {padding} padding bits \
         in the last byte, {} elsewhere (equivalent matches)",
        (gz.len() - d0) * 8,
        body.len(),
        invisible.len(),
        invisible.len() - padding
    );
}

/// (c) Header flips without FHCRC: MTIME, XFL, OS, the FTEXT bit of FLG and
/// the FNAME text are informational and are accepted. With FHCRC set, a flip anywhere in the
/// header is rejected: in MTIME/XFL/OS/name text/the CRC16 itself with
/// `GzipHeaderCrc`; in the magic, CM, FLG or the name's NUL the structure
/// changes and some error results.
#[test]
fn header_bit_flips() {
    let img = kernel(5000);
    let name = b"Image-6.12.0-arm64";
    // No byte of the name is a single bit, so no flip turns it into a NUL.
    assert!(name.iter().all(|b| b.count_ones() > 1));
    let body = deflate_raw(&img, 6);
    for fhcrc in [false, true] {
        let hdr = member_header(name, fhcrc);
        let mut gz = hdr.clone();
        gz.extend(&body);
        gz.extend(trailer(&img));
        assert!(oneshot(&gz, opts()).0.result.is_ok());
        let name_text = 10..10 + name.len();
        for byte in 0..hdr.len() {
            for bit in 0..8 {
                let mut f = gz.clone();
                f[byte] ^= 1 << bit;
                let r = oneshot(&f, opts()).0.result;
                let informational =
                    (4..10).contains(&byte) || name_text.contains(&byte) || (byte, bit) == (3, 0);
                match (fhcrc, informational) {
                    (false, true) => assert!(r.is_ok(), "flip {byte}:{bit}: {r:?}"),
                    (true, true) => {
                        assert_eq!(r, Err(ProbeError::GzipHeaderCrc), "flip {byte}:{bit}")
                    }
                    (true, false) if byte >= hdr.len() - 2 => {
                        assert_eq!(r, Err(ProbeError::GzipHeaderCrc), "flip {byte}:{bit}")
                    }
                    (_, false) => assert!(r.is_err(), "structural flip {byte}:{bit} accepted"),
                }
            }
        }
    }
}

/// (d) A classic slow input: one gzip member whose deflate data is 10
/// million empty, non-final stored blocks (`00 00 00 FF FF`, 50 MB). Each
/// costs the inflater a few steps and produces nothing; the probe must stay
/// linear and end with a sensible error.
#[test]
fn empty_stored_blocks_end_quickly() {
    const BLOCK: [u8; 5] = [0x00, 0x00, 0x00, 0xFF, 0xFF];
    let blocks = 10_000_000;
    let mut gz = member_header(b"Image", false);
    gz.reserve(blocks * 5 + 100_000);
    for _ in 0..blocks {
        gz.extend_from_slice(&BLOCK);
    }
    // The stream never ends: truncated.
    let t = Instant::now();
    let (v, _, reserves) = oneshot(&gz, opts());
    println!(
        "50 MB of empty stored blocks, no final block: {:?} in {:?}",
        v.result,
        t.elapsed()
    );
    assert_eq!(v.result, Err(ProbeError::Truncated));
    assert_eq!(errno_of(&v), error::EBADMSG);
    assert!(
        reserves.is_empty(),
        "nothing was produced, nothing reserved"
    );
    let t = Instant::now();
    let (s, _) = streamed(&gz, &[65536], opts());
    println!(
        "  streamed in 64 KiB writes: {:?} in {:?}",
        s.result,
        t.elapsed()
    );
    assert_eq!(s, v);
    // A final block that is invalid (BTYPE 11): corrupt.
    let mut bad = gz.clone();
    bad.extend_from_slice(&[0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let t = Instant::now();
    let v = oneshot(&bad, opts()).0;
    println!(
        "  ... then a reserved block type: {:?} in {:?}",
        v.result,
        t.elapsed()
    );
    assert_eq!(v.result, Err(ProbeError::CorruptDeflate));
    // The same blocks in front of a real image are valid deflate, and the
    // image is accepted: the cost is linear, not a failure mode.
    let img = kernel(20_000);
    let mut ok = gz;
    let rest = deflate_raw(&img, 6);
    ok.extend(&rest);
    ok.extend(trailer(&img));
    let t = Instant::now();
    let (v, out, _) = oneshot(&ok, opts());
    println!(
        "  ... then a real image: ok={} in {:?}",
        v.result.is_ok(),
        t.elapsed()
    );
    assert!(v.result.is_ok(), "{:?}", v.result);
    assert_eq!(out, img);
}

/// The 2 GiB bomb: an arm64 header claiming 2 GiB, then zeros, deflated by
/// flate2 at level 9 in 1 MiB pieces, never more than 1 MiB of plain data in
/// memory (~2 MB compressed). Each piece after the first ends in a sync
/// flush, so it is byte-aligned and refers only to the 32 KiB of zeros before
/// it: compressing 1 MiB of zeros once and repeating that piece is the same
/// stream the encoder would produce in its steady state, and keeps an
/// unoptimised test build from spending ~50 s in the encoder. The trailer is
/// exact (CRC32 combined per piece, ISIZE = 2^31).
fn bomb_2gib() -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    const PIECE: usize = 1 << 20;
    let total: u64 = 2 << 30;
    let t = Instant::now();
    let mut c = Compress::new(Compression::new(9), false);
    let mut deflate = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(64 << 10);
        let start = c.total_in();
        loop {
            let done = (c.total_in() - start) as usize;
            if out.capacity() - out.len() < 4096 {
                out.reserve(64 << 10);
            }
            let st = c.compress_vec(&input[done..], &mut out, flush).unwrap();
            let done = (c.total_in() - start) as usize;
            let full = out.len() == out.capacity();
            if done == input.len() && !full && st != flate2::Status::BufError
                || st == flate2::Status::StreamEnd
            {
                break;
            }
        }
        out
    };
    let mut head = image(PIECE, total, 0b1010, false);
    head[64..].fill(0);
    let zeros = vec![0u8; PIECE];
    let mut gz = member_header(b"bomb", false);
    gz.extend(deflate(&head, FlushCompress::Sync));
    let piece = deflate(&zeros, FlushCompress::Sync);
    for _ in 1..total / PIECE as u64 {
        gz.extend_from_slice(&piece);
    }
    gz.extend(deflate(&[], FlushCompress::Finish));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    let mut zero_crc = crc32fast::Hasher::new();
    zero_crc.update(&zeros);
    for _ in 1..total / PIECE as u64 {
        crc.combine(&zero_crc);
    }
    gz.extend(crc.finalize().to_le_bytes());
    gz.extend((total as u32).to_le_bytes());
    // Spot check with flate2: the first pieces decode to the header and zeros.
    let mut d = flate2::read::GzDecoder::new(&gz[..]);
    let mut first = vec![0u8; 3 * PIECE];
    d.read_exact(&mut first).unwrap();
    assert!(first[..PIECE] == head[..] && first[PIECE..].iter().all(|&b| b == 0));
    println!(
        "built the 2 GiB bomb ({} bytes) in {:?}",
        gz.len(),
        t.elapsed()
    );
    gz
}

/// (d) The bomb is refused with EFBIG at the default 256 MiB bound, having
/// reserved exactly the bound, in one shot and streamed.
#[test]
fn two_gib_bomb_is_efbig_at_the_default_bound() {
    let gz = bomb_2gib();
    assert!(gz.len() < 4 << 20, "bomb is {} bytes", gz.len());
    let t = Instant::now();
    let (v, _, reserves) = oneshot(&gz, opts());
    println!("2 GiB bomb one-shot: {:?} in {:?}", v.result, t.elapsed());
    assert_eq!(v.result, Err(ProbeError::TooBig));
    assert_eq!(errno_of(&v), error::EFBIG);
    assert_eq!(
        reserves,
        vec![kernel_probe::DEFAULT_MAX_IMAGE_SIZE as usize]
    );
    let t = Instant::now();
    let (s, _) = streamed(&gz, &[4096], opts());
    println!(
        "2 GiB bomb streamed in 4 KiB writes: {:?} in {:?}",
        s.result,
        t.elapsed()
    );
    assert_eq!(s, v);
}
