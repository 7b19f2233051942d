//! zstd through the prober: Image.zst and zstd zboot (both names), one-shot
//! and streamed, the frame options real tools write, and the ways a stream
//! can be wrong (each with its errno).

mod common;

use common::*;
use kernel_probe::{error, Format, ProbeError, ProbeOptions};

fn opts() -> ProbeOptions {
    ProbeOptions {
        max_image_size: 64 << 20,
        ..ProbeOptions::default()
    }
}

fn quick(input: &[u8], opts: ProbeOptions) -> Result<kernel_probe::Report, ProbeError> {
    let mut p = Box::new(kernel_probe::Prober::new(opts));
    kernel_probe::quick_probe(&mut p, input, &mut Crc)
}

fn err(v: &kernel_probe::Verdict) -> ProbeError {
    v.result.unwrap_err()
}

fn zst(data: &[u8], level: i32, checksum: bool, size: bool) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(level).unwrap();
    use zstd::zstd_safe::CParameter as P;
    c.set_parameter(P::ChecksumFlag(checksum)).unwrap();
    c.set_parameter(P::ContentSizeFlag(size)).unwrap();
    c.compress(data).unwrap()
}

/// What Makefile.zboot's zstd22_with_size writes: the Image padded to
/// image_size, piped into zstd (no content size), the le32 size appended;
/// the zboot header's payload size leaves those 4 bytes out.
fn zstd_zboot(img: &[u8], name: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut padded = img.to_vec();
    let image_size = u64::from_le_bytes(img[16..24].try_into().unwrap());
    padded.resize(image_size as usize, 0);
    let payload = zst(&padded, 19, true, false);
    let mut z = zboot(&payload, name);
    let end = 0x1000 + payload.len();
    z.splice(end..end, (padded.len() as u32).to_le_bytes());
    (z, padded)
}

#[test]
fn quick_probe_of_image_zst() {
    let img = kernel(2_000_000);
    for size in [true, false] {
        let z = zst(&img, 19, true, size);
        let mut p = Box::new(kernel_probe::Prober::new(opts()));
        let q = kernel_probe::quick_probe(&mut p, &z, &mut Crc).unwrap();
        assert!(q.quick);
        assert_eq!(q.format, Format::Zstd);
        assert!(p.input_size() < 150_000, "read {} bytes", p.input_size());
        let full = oneshot(&z, opts()).0.result.unwrap();
        assert_eq!(q.header, full.header);
        assert_eq!(
            q.zstd.unwrap().content_size,
            size.then_some(img.len() as u64)
        );
    }
}

#[test]
fn image_zst_at_levels_and_frame_options() {
    let img = kernel(300_000);
    for (level, checksum, size) in [
        (1, true, true),
        (3, false, true),
        (19, true, false),
        (-5, false, false),
    ] {
        let z = zst(&img, level, checksum, size);
        let (v, out, reserves) = oneshot(&z, opts());
        let r = v.result.unwrap();
        assert_eq!(r.format, Format::Zstd);
        assert_eq!(out, img, "level {level}");
        assert_eq!(reserves.len(), 1);
        let info = r.zstd.unwrap();
        assert_eq!(info.frames, 1);
        assert_eq!(info.checksummed, checksum);
        assert_eq!(info.content_size, size.then_some(img.len() as u64));
        for chunks in [&[1usize][..], &[4095, 1], &[7, 100_000], &[65536]] {
            let (s, sout) = streamed(&z, chunks, opts());
            assert_eq!(s, v, "level {level} chunks {chunks:?}");
            assert_eq!(sout, img);
        }
    }
}

#[test]
fn several_frames_and_skippable_frames() {
    let img = kernel(200_000);
    let mut z = Vec::new();
    z.extend_from_slice(&[0x53, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
    z.extend(zst(&img[..70_000], 3, true, true));
    z.extend(zst(&img[70_000..], 9, false, true));
    z.extend_from_slice(&[0x5F, 0x2A, 0x4D, 0x18, 0, 0, 0, 0]);
    let (v, out, _) = oneshot(&z, opts());
    let r = v.result.unwrap();
    assert_eq!(out, img);
    let info = r.zstd.unwrap();
    assert_eq!((info.frames, info.skippable_frames), (2, 2));
    assert_eq!(info.content_size, Some(img.len() as u64));
    assert!(!info.checksummed, "one frame had no checksum");
    assert_eq!(streamed(&z, &[3, 1000], opts()).0, v);
    // A frame may not refer back into the previous one: the second frame,
    // compressed against the first as a prefix, is corrupt on its own.
    let mut cctx = zstd::zstd_safe::CCtx::create();
    cctx.ref_prefix(&img[..70_000]).unwrap();
    let mut second = vec![0u8; 300_000];
    let n = cctx.compress2(&mut second[..], &img[70_000..]).unwrap();
    second.truncate(n);
    let mut bad = zst(&img[..70_000], 3, true, true);
    bad.extend(second);
    assert_eq!(err(&oneshot(&bad, opts()).0).errno(), error::EBADMSG);
}

#[test]
fn zstd_zboot_by_both_names() {
    let img = kernel(250_000);
    for name in [&b"zstd"[..], b"zstd22"] {
        let (z, padded) = zstd_zboot(&img, name);
        let (v, out, _) = oneshot(&z, opts());
        let r = v.result.unwrap();
        assert_eq!(r.format, Format::Zboot);
        assert_eq!(r.zboot.unwrap().compression.name(), "zstd");
        assert_eq!(out, padded);
        assert_eq!(r.zstd.unwrap().content_size, None);
        assert_eq!(streamed(&z, &[1000, 1], opts()).0, v);
        // Quick: the head and the appended size.
        let q = quick(&z, opts()).unwrap();
        assert!(q.quick);
        assert_eq!(q.header, r.header);
        assert_eq!(q.image_bytes, padded.len() as u64);
        // The payload cut short inside the zboot file.
        let mut cut = z.clone();
        let pay = u32::from_le_bytes(cut[12..16].try_into().unwrap());
        cut[12..16].copy_from_slice(&(pay - 100).to_le_bytes());
        assert_eq!(err(&oneshot(&cut, opts()).0), ProbeError::Truncated);
    }
}

#[test]
fn corrupt_streams_get_their_errnos() {
    let img = kernel(200_000);
    let z = zst(&img, 3, true, true);
    // Truncated anywhere: EBADMSG.
    for cut in [5, 20, z.len() / 2, z.len() - 4, z.len() - 1] {
        let v = oneshot(&z[..cut], opts()).0;
        assert_eq!(
            err(&v).errno(),
            error::EBADMSG,
            "cut at {cut}: {:?}",
            err(&v)
        );
    }
    // The checksum and the content size lie.
    let mut bad = z.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(err(&oneshot(&bad, opts()).0), ProbeError::ZstdChecksum);
    let fhd = z[4];
    assert_eq!(fhd >> 6, 2, "a 4-byte content size");
    let fcs_at = 5 + usize::from(fhd & 0x20 == 0);
    for delta in [1i64, -1] {
        let mut lie = z.clone();
        let v = u32::from_le_bytes(lie[fcs_at..fcs_at + 4].try_into().unwrap()) as i64 + delta;
        lie[fcs_at..fcs_at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        let e = err(&oneshot(&lie, opts()).0);
        assert_eq!(e.errno(), error::EBADMSG, "{delta}: {e:?}");
    }
    // The reserved bit, a dictionary, a window beyond 2^31: EINVAL, named.
    let mut r = z.clone();
    r[4] |= 0x08;
    assert_eq!(err(&oneshot(&r, opts()).0), ProbeError::ZstdReservedBit);
    // A one-byte Dictionary_ID (7) in front of the content size; ID 0
    // means "no dictionary" and is fine.
    for (id, want) in [(7u8, Err(ProbeError::ZstdDictionary)), (0, Ok(()))] {
        let mut with_dict = z.clone();
        with_dict[4] |= 0x01;
        with_dict.insert(5, id);
        let got = oneshot(&with_dict, opts()).0.result.map(|_| ());
        assert_eq!(got, want, "dictionary ID {id}");
    }
    let wide = [0x28, 0xB5, 0x2F, 0xFD, 0x00, (32 - 10) << 3, 1, 0, 0];
    assert_eq!(
        err(&oneshot(&wide, opts()).0),
        ProbeError::ZstdWindowTooLarge
    );
    // Bit flips in the compressed data never pass (and never panic).
    for at in (12..z.len() - 8).step_by(z.len() / 97) {
        let mut f = z.clone();
        f[at] ^= 0x10;
        let v = oneshot(&f, opts()).0;
        assert!(v.result.is_err(), "flip at {at} accepted");
    }
    // Garbage after the last frame.
    let mut g = z.clone();
    g.extend_from_slice(b"junk");
    assert_eq!(err(&oneshot(&g, opts()).0), ProbeError::ZstdTrailingGarbage);
}

/// A zstd bomb (RLE blocks: 3 bytes for 128 KiB each) stops at the bound
/// with EFBIG, having written no more than the bound.
#[test]
fn bomb_stops_at_the_bound() {
    let img = image(8192, 1 << 30, 0b1010, true);
    // No content size, Window_Log 26.
    let mut bomb = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, (26 - 10) << 3];
    // One raw block with the head, then 2 GiB of RLE blocks.
    let head = &img[..4096];
    let hdr = (head.len() as u32) << 3; // raw, not last
    bomb.extend_from_slice(&hdr.to_le_bytes()[..3]);
    bomb.extend_from_slice(head);
    let rle = (1u32 << 1) | ((128 << 10) << 3);
    for _ in 0..(2u64 << 30) / (128 << 10) {
        bomb.extend_from_slice(&rle.to_le_bytes()[..3]);
        bomb.push(0);
    }
    let small = ProbeOptions {
        max_image_size: 16 << 20,
        ..ProbeOptions::default()
    };
    let t = std::time::Instant::now();
    let (v, _, reserves) = oneshot(&bomb, small);
    assert_eq!(err(&v).errno(), error::EFBIG, "{:?}", err(&v));
    assert!(reserves.iter().all(|&r| r <= 16 << 20), "{reserves:?}");
    eprintln!("2 GiB zstd bomb refused in {:?}", t.elapsed());
}
