//! The probe engine end to end on synthetic images: every container, every
//! error class, one-shot against streaming.

mod common;

use common::*;
use kernel_probe::{
    error, quick_probe, Endian, Format, Granules, ProbeError, ProbeOptions, Prober, Target,
};

fn opts() -> ProbeOptions {
    ProbeOptions::default()
}

fn err(v: &kernel_probe::Verdict) -> ProbeError {
    v.result.expect_err("expected a rejection")
}

#[test]
fn raw_image_in_place() {
    let img = kernel(100_000);
    let (v, out, reserves) = oneshot(&img, opts());
    let r = v.result.unwrap();
    assert_eq!(r.format, Format::Image);
    assert_eq!(r.image_bytes, 100_000);
    assert_eq!(out, img);
    assert!(reserves.is_empty(), "a raw Image is not copied");
    assert_eq!(r.header.image_size, 0x20000);
    assert!(r.pe.is_some_and(|p| !p.signed()));
    assert_eq!(r.kdump_bytes_needed(), 2 << 20);
    assert_eq!(r.crashkernel_min(0), 4 << 20);
    assert_eq!(r.crashkernel_min(3 << 20), 6 << 20);
}

#[test]
fn gzip_reserves_once_at_the_announced_size() {
    let img = kernel(300_000);
    let gz = gzip(&img, 6);
    let (v, out, reserves) = oneshot(&gz, opts());
    let r = v.result.unwrap();
    assert_eq!(r.format, Format::Gzip);
    assert_eq!(out, img);
    assert_eq!(reserves, vec![0x50000]);
    let g = r.gzip.unwrap();
    assert_eq!(g.members, 1);
    assert_eq!(g.isize, 300_000);
    assert_eq!(g.crc32, crc32fast::hash(&img));
    assert_eq!(r.input_size, gz.len() as u64);
}

#[test]
fn multi_member_and_padding() {
    let img = kernel(200_000);
    let mut gz = gzip(&img[..70_000], 9);
    gz.extend(gzip(&img[70_000..], 1));
    gz.extend(gzip(b"", 6));
    let (v, out, _) = oneshot(&gz, opts());
    assert_eq!(v.result.unwrap().gzip.unwrap().members, 3);
    assert_eq!(out, img);
    gz.extend([0u8; 1000]);
    assert!(oneshot(&gz, opts()).0.result.is_ok());
    gz.push(1);
    assert_eq!(err(&oneshot(&gz, opts()).0), ProbeError::TrailingGarbage);
}

#[test]
fn zboot_payload() {
    let img = kernel(150_000);
    let mut padded = img.clone();
    padded.resize(0x30000, 0); // zboot pads the Image to image_size
    let z = zboot(&gzip(&padded, 9), b"gzip");
    let (v, out, _) = oneshot(&z, opts());
    let r = v.result.unwrap();
    assert_eq!(r.format, Format::Zboot);
    assert_eq!(out, padded);
    assert_eq!(r.zboot.unwrap().payload_offset, 0x1000);
    assert_eq!(r.input_size, z.len() as u64);
    for (name, c) in [(&b"xzkern"[..], "xz"), (b"lz4", "lz4"), (b"bzip2", "bzip2")] {
        let v = oneshot(&zboot(b"whatever", name), opts()).0;
        let e = err(&v);
        assert_eq!(e.errno(), error::EINVAL);
        assert!(e.message().contains(c), "{}", e.message());
    }
}

#[test]
fn other_compressions_are_named() {
    for (magic, name) in [
        (&b"\xFD7zXZ\0"[..], "xz"),
        (b"BZh9", "bzip2"),
        (b"\x04\x22\x4D\x18", "lz4"),
        (b"\x02\x21\x4C\x18", "lz4"),
        (b"\x5D\x00\x00\x80", "lzma"),
        (b"\x89LZO\x00", "lzo"),
    ] {
        let mut f = magic.to_vec();
        f.resize(5000, 0x55);
        for v in [oneshot(&f, opts()).0, streamed(&f, &[7], opts()).0] {
            let e = err(&v);
            assert_eq!(e.errno(), 22);
            assert!(e.message().starts_with(name), "{name}: {}", e.message());
        }
    }
    assert_eq!(err(&oneshot(b"", opts()).0), ProbeError::UnknownFormat);
    assert_eq!(
        err(&oneshot(&[0u8; 100], opts()).0),
        ProbeError::UnknownFormat
    );
}

#[test]
fn header_rules() {
    let t = opts();
    let legacy = image(8192, 0, 0, false);
    assert_eq!(
        err(&oneshot(&gzip(&legacy, 6), t).0),
        ProbeError::ImageSizeZero
    );
    let be = image(8192, 8192, 1, false);
    assert_eq!(
        err(&oneshot(&gzip(&be, 6), t).0),
        ProbeError::EndianMismatch
    );
    let big = ProbeOptions {
        target: Target {
            endian: Endian::Big,
            ..Target::default()
        },
        ..t
    };
    assert!(oneshot(&gzip(&be, 6), big).0.result.is_ok());
    let k64 = image(8192, 8192, 0b110, false);
    let only4k = ProbeOptions {
        target: Target {
            granules: Granules::K4,
            ..Target::default()
        },
        ..t
    };
    assert_eq!(
        err(&oneshot(&k64, only4k).0),
        ProbeError::PageSizeUnsupported
    );
    let r = oneshot(&k64, t).0.result.unwrap();
    assert_eq!(r.header.page_size().bytes(), Some(65536));
    let mut nomagic = kernel(8192);
    nomagic[0x38] = b'B';
    assert_eq!(
        err(&oneshot(&gzip(&nomagic, 6), t).0),
        ProbeError::NotArm64Image
    );
    assert_eq!(
        err(&oneshot(&gzip(&kernel(8192)[..60], 6), t).0),
        ProbeError::ImageTooShort
    );
    // Longer than text_offset + image_size: kexec would refuse the segment.
    let long = image(9000, 8192, 0, false);
    assert_eq!(
        err(&oneshot(&long, t).0),
        ProbeError::ImageLongerThanImageSize
    );
    assert_eq!(
        err(&oneshot(&gzip(&long, 6), t).0),
        ProbeError::ImageLongerThanImageSize
    );
    // The kernel's exact bound (image_load, kexec_add_buffer,
    // sanity_check_segment_list): ALIGN(text_offset + image_size, PAGE_SIZE)
    // - text_offset. text_offset 0x80000 with 4 KiB of image_size leaves room
    // for 4 KiB of file, not 8 KiB...
    let offset_long = image(8192, 4096, 0, false);
    let mut offset_long = offset_long;
    offset_long[8..16].copy_from_slice(&0x80000u64.to_le_bytes());
    assert_eq!(
        err(&oneshot(&offset_long, t).0),
        ProbeError::ImageLongerThanImageSize
    );
    assert_eq!(
        err(&oneshot(&gzip(&offset_long, 6), t).0),
        ProbeError::ImageLongerThanImageSize
    );
    // ... and an image_size that ends inside a page owns that page.
    let unaligned = image(8192, 8192 - 100, 0, false);
    assert!(oneshot(&unaligned, t).0.result.is_ok());
    assert!(oneshot(&gzip(&unaligned, 6), t).0.result.is_ok());
    let over = image(8193, 8192 - 100, 0, false);
    assert_eq!(
        err(&oneshot(&gzip(&over, 6), t).0),
        ProbeError::ImageLongerThanImageSize
    );
    let mut badpe = kernel(8192);
    badpe[0x40] = b'X';
    assert_eq!(
        err(&oneshot(&gzip(&badpe, 6), t).0),
        ProbeError::BadPeHeader
    );
}

#[test]
fn integrity_errors() {
    let img = kernel(100_000);
    let gz = gzip(&img, 6);
    let n = gz.len();
    let mut crc = gz.clone();
    crc[n - 8] ^= 1;
    assert_eq!(err(&oneshot(&crc, opts()).0), ProbeError::CrcMismatch);
    let mut isz = gz.clone();
    isz[n - 4] ^= 1;
    assert_eq!(err(&oneshot(&isz, opts()).0), ProbeError::IsizeMismatch);
    for cut in [1, 4, 8, 9, n / 2, n - 20] {
        let v = oneshot(&gz[..n - cut], opts()).0;
        assert_eq!(err(&v).errno(), error::EBADMSG, "cut {cut}");
    }
    let mut reserved = gz.clone();
    reserved[3] |= 0x20;
    assert_eq!(
        err(&oneshot(&reserved, opts()).0),
        ProbeError::GzipReservedFlags
    );
    let mut cm = gz.clone();
    cm[2] = 7;
    assert_eq!(err(&oneshot(&cm, opts()).0), ProbeError::GzipBadMethod);
}

#[test]
fn bound_is_efbig_and_early() {
    // 64 MiB of zeros behind a header that claims 1 GiB: a bomb.
    let mut bomb = image(64 << 20, 1 << 30, 0, false);
    bomb[64..].fill(0);
    let gz = gzip(&bomb, 9);
    let small = ProbeOptions {
        max_image_size: 1 << 20,
        ..opts()
    };
    let (v, _, reserves) = oneshot(&gz, small);
    assert_eq!(err(&v), ProbeError::TooBig);
    assert_eq!(err(&v).errno(), error::EFBIG);
    assert_eq!(reserves, vec![1 << 20]);
    // Exactly at the bound is fine, one byte over is not.
    let img = image(1 << 20, 1 << 21, 0, false);
    let at = ProbeOptions {
        max_image_size: 1 << 20,
        ..opts()
    };
    assert!(oneshot(&gzip(&img, 6), at).0.result.is_ok());
    assert!(streamed(&gzip(&img, 6), &[1, 4096], at).0.result.is_ok());
    let over = ProbeOptions {
        max_image_size: (1 << 20) - 1,
        ..opts()
    };
    assert_eq!(err(&oneshot(&gzip(&img, 6), over).0), ProbeError::TooBig);
    assert_eq!(err(&oneshot(&img, over).0), ProbeError::TooBig);
    assert_eq!(
        err(&streamed(&gzip(&img, 6), &[1000], over).0),
        ProbeError::TooBig
    );
}

#[test]
fn allocation_failure_is_enomem() {
    let gz = gzip(&kernel(100_000), 6);
    let mut p = Box::new(Prober::new(opts()));
    let mut out = VecOut {
        cap: Some(1000),
        ..Default::default()
    };
    let e = p.write(&gz, &mut out, &mut Crc).unwrap_err();
    assert_eq!(e, ProbeError::NoMemory);
    assert_eq!(e.errno(), error::ENOMEM);
    // Sticky.
    assert_eq!(p.finish(&out), Err(ProbeError::NoMemory));
}

/// A caller's fixed slice is an output buffer of exactly its length: the
/// prober asks for the longest Image the header allows (here image_size
/// 0x20000, a multiple of the page), which fits in 0x20000 bytes and not in
/// one byte less.
#[test]
fn fixed_slice_output_must_hold_the_announced_size() {
    use kernel_probe::OutputBuffer;
    let img = kernel(100_000);
    let gz = gzip(&img, 6);
    let mut buf = vec![0u8; 0x20000];
    let mut p = Box::new(Prober::new(opts()));
    let mut out: &mut [u8] = &mut buf[..];
    let (r, image) = kernel_probe::probe(&mut p, &gz, &mut out, &mut Crc).unwrap();
    assert_eq!(r.image_bytes, 100_000);
    assert_eq!(image, &img[..]);
    let mut p = Box::new(Prober::new(opts()));
    let mut out: &mut [u8] = &mut buf[..0x1FFFF];
    assert_eq!(
        kernel_probe::probe(&mut p, &gz, &mut out, &mut Crc).map(|_| ()),
        Err(ProbeError::OutputTooSmall)
    );
    let mut small = [7u8; 8];
    let mut s: &mut [u8] = &mut small;
    assert_eq!(OutputBuffer::reserve(&mut s, 8), Ok(()));
    assert_eq!(
        OutputBuffer::reserve(&mut s, 9),
        Err(ProbeError::OutputTooSmall)
    );
    assert_eq!(OutputBuffer::as_slice(&s), &[7u8; 8]);
    assert_eq!(OutputBuffer::as_mut_slice(&mut s).len(), 8);
    let mut none = kernel_probe::NoOutput;
    assert_eq!(none.reserve(0), Err(ProbeError::OutputTooSmall));
    assert!(none.as_slice().is_empty() && none.as_mut_slice().is_empty());
}

#[test]
fn streaming_matches_oneshot_in_odd_chunks() {
    let mut img = kernel(120_000);
    sign(&mut img, 1000);
    let gz = gzip(&img, 9);
    let z = zboot(&gz, b"gzip");
    for input in [&img, &gz, &z] {
        let (a, ai, _) = oneshot(input, opts());
        assert!(a.result.is_ok());
        for chunks in [
            &[1usize][..],
            &[2, 3, 5],
            &[4095, 1],
            &[65536],
            &[7, 100_000],
        ] {
            let (b, bi) = streamed(input, chunks, opts());
            assert_eq!(a, b, "chunks {chunks:?}");
            assert_eq!(ai, bi);
        }
    }
}

#[test]
fn signed_image() {
    let mut img = kernel(50_000);
    sign(&mut img, 2000);
    let r = oneshot(&gzip(&img, 6), opts()).0.result.unwrap();
    let pe = r.pe.unwrap();
    assert!(pe.signed());
    assert_eq!(pe.signature_size(), 2000);
    assert_eq!(pe.cert.unwrap().offset, 50_000);

    // A sane certificate table whose content is no Authenticode PKCS#7: the
    // report names it instead of leaving every signature field null.
    struct NoHash;
    impl kernel_probe::authenticode::Sha256 for NoHash {
        fn reset(&mut self) {}
        fn update(&mut self, _: &[u8]) {}
        fn finish(&mut self) -> [u8; 32] {
            [0; 32]
        }
    }
    let a = kernel_probe::authenticode::check(&img, &pe, &mut NoHash);
    assert_eq!(
        a.signed,
        Err(kernel_probe::authenticode::SignedDigestError::NotAuthenticodePkcs7)
    );
    assert_eq!(a.digest_matches(), None);
    let mut v = Prober::new(opts()).verdict(Ok(r), 0);
    v.authenticode = Some(a);
    let line = v.json_line(None).unwrap();
    assert!(
        line.contains(
            "\"signed_digest_error\":\"the certificate table holds no readable Authenticode PKCS#7 signature\""
        ),
        "{line}"
    );
    // Unsigned: nothing to name.
    let unsigned = oneshot(&gzip(&kernel(50_000), 6), opts()).0.result.unwrap();
    let upe = unsigned.pe.unwrap();
    let a = kernel_probe::authenticode::check(&kernel(50_000), &upe, &mut NoHash);
    assert_eq!(
        a.signed,
        Err(kernel_probe::authenticode::SignedDigestError::Unsigned)
    );
}

#[test]
fn quick_probe_reads_only_the_head() {
    let mut img = kernel(2_000_000);
    sign(&mut img, 4000);
    let gz = gzip(&img, 6);
    let mut p = Box::new(Prober::new(opts()));
    let r = quick_probe(&mut p, &gz, &mut Crc).unwrap();
    assert!(r.quick);
    assert_eq!(r.image_bytes, img.len() as u64);
    assert!(r.pe.unwrap().signed());
    assert_eq!(r.header.image_size, (img.len() as u64 + 0xFFFF) & !0xFFFF);
    assert!(p.input_size() < 20_000, "read {} bytes", p.input_size());
    // The same with zero padding after the member (ISIZE ends in 0x00 here).
    let mut padded = gz.clone();
    padded.extend([0u8; 512]);
    p.reset(opts());
    assert_eq!(
        quick_probe(&mut p, &padded, &mut Crc).unwrap().image_bytes,
        img.len() as u64
    );
    // Two members: the trailer at the end is the last member's only, so the
    // quick report states no image length (the full probe does).
    let mut two = gzip(&img[..1_000_000], 6);
    two.extend(gzip(&img[1_000_000..], 6));
    p.reset(opts());
    let q = quick_probe(&mut p, &two, &mut Crc).unwrap();
    assert_eq!(q.gzip.unwrap().isize as usize, img.len() - 1_000_000);
    let line = p.verdict(Ok(q), two.len() as u64).json_line(None).unwrap();
    assert!(line.contains("\"image_bytes\":null"), "{line}");
    assert!(line.contains("\"members\":null"), "{line}");
    let line = oneshot(&two, opts()).0.json_line(None).unwrap();
    assert!(
        line.contains(&format!("\"image_bytes\":{}", img.len())),
        "{line}"
    );
    // Header errors surface without inflating the rest.
    let mut be = img.clone();
    be[24] |= 1;
    p.reset(opts());
    assert_eq!(
        quick_probe(&mut p, &gzip(&be, 6), &mut Crc),
        Err(ProbeError::EndianMismatch)
    );
    // zboot.
    let z = zboot(&gzip(&img, 9), b"gzip");
    p.reset(opts());
    let r = quick_probe(&mut p, &z, &mut Crc).unwrap();
    assert_eq!(r.format, Format::Zboot);
    assert_eq!(r.image_bytes, img.len() as u64);
}

#[test]
fn json_line_round_trip_fields() {
    let img = kernel(70_000);
    let gz = gzip(&img, 6);
    let (v, _, _) = oneshot(&gz, opts());
    let line = v.json_line(Some("dir/Image.gz")).unwrap();
    assert!(line.starts_with("{\"path\":\"dir/Image.gz\",\"ok\":true,\"errno\":0,\"errno_name\":\"OK\",\"error\":null,\"format\":\"gzip\""));
    assert!(line.contains("\"image_bytes\":70000"));
    assert!(line.contains("\"page_size\":4096"));
    // The whole line, byte for byte: every key, its order and its value.
    let expected = format!(
        "{{\"path\":\"dir/Image.gz\",\"ok\":true,\"errno\":0,\"errno_name\":\"OK\",\"error\":null,\
         \"format\":\"gzip\",\"input_size\":{},\"image_bytes\":70000,\"header\":{{\"text_offset\":0,\
         \"image_size\":131072,\"flags\":10,\"big_endian\":false,\"page_size\":4096,\
         \"phys_placement_anywhere\":true,\"reserved_nonzero\":false,\"exceeds_image_size\":false}},\
         \"pe\":{{\"machine\":43620,\"signed\":false,\"signature_size\":0,\"cert_offset\":null,\
         \"cert_checked\":false,\"cert_problem\":null,\"trailing_bytes\":0}},\"gzip\":{{\"members\":1,\
         \"crc32\":{},\"isize\":70000}},\"zstd\":null,\"zboot\":null,\"uki\":null,\"authenticode\":null,\"uki_authenticode\":null,\"kdump_bytes_needed\":2097152,\
         \"crashkernel_min\":4194304,\"quick\":false}}\n",
        gz.len(),
        crc32fast::hash(&img)
    );
    assert_eq!(line.as_str(), expected);
}

/// The smallest bound is the head: 4096 is a bound, 4095 is not (both entry
/// points), and the prober remembers why it failed.
#[test]
fn bound_of_exactly_the_head() {
    let small = image(3000, 4096, 0, false);
    for (max, ok) in [(4096u64, true), (4095, false)] {
        let o = ProbeOptions {
            max_image_size: max,
            ..opts()
        };
        let (v, _, _) = oneshot(&small, o);
        assert_eq!(v.result.is_ok(), ok, "probe with max {max}: {:?}", v.result);
        let (s, _) = streamed(&gzip(&small, 6), &[100], o);
        assert_eq!(s.result.is_ok(), ok, "write with max {max}: {:?}", s.result);
        if !ok {
            assert_eq!(err(&v), ProbeError::BoundTooSmall);
            let mut p = Box::new(Prober::new(o));
            let mut out = VecOut::default();
            let r = kernel_probe::probe(&mut p, &small, &mut out, &mut Crc);
            assert_eq!(r.err(), Some(ProbeError::BoundTooSmall));
            assert_eq!(p.error(), Some(ProbeError::BoundTooSmall));
        }
    }
}

/// What the prober reports of itself: input consumed, the first error.
#[test]
fn prober_state_accessors() {
    let gz = gzip(&kernel(20_000), 6);
    let mut p = Box::new(Prober::new(opts()));
    let mut out = VecOut::default();
    kernel_probe::probe(&mut p, &gz, &mut out, &mut Crc).unwrap();
    assert_eq!(p.input_size(), gz.len() as u64);
    assert_eq!(p.error(), None);
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xFF; // ISIZE
    p.reset(opts());
    let mut out = VecOut::default();
    let r = kernel_probe::probe(&mut p, &bad, &mut out, &mut Crc);
    assert_eq!(r.err(), Some(ProbeError::IsizeMismatch));
    assert_eq!(p.error(), Some(ProbeError::IsizeMismatch));
}

/// A gzip image that fits in the head is answered in full by the quick probe
/// (nothing to claim: the whole image was inflated).
#[test]
fn quick_probe_of_an_image_inside_the_head() {
    let small = image(3000, 4096, 0, false);
    let mut p = Box::new(Prober::new(opts()));
    let r = quick_probe(&mut p, &gzip(&small, 6), &mut Crc).unwrap();
    assert!(!r.quick);
    assert_eq!(r.image_bytes, 3000);
    assert_eq!(r.gzip.unwrap().members, 1);
}

/// Input that ends while the container is still being recognised: a known
/// compression is named, a zboot header cut short is truncated.
#[test]
fn input_ending_inside_the_sniff() {
    let xz = b"\xFD7zXZ\x00\x00\x04";
    let (v, _) = streamed(xz, &[3], opts());
    assert_eq!(
        err(&v),
        ProbeError::UnsupportedCompression(kernel_probe::Compression::Xz)
    );
    let z = zboot(&gzip(&kernel(5000), 6), b"gzip");
    let (v, _) = streamed(&z[..40], &[7], opts());
    assert_eq!(err(&v), ProbeError::Truncated);
}

/// Bytes after a member whose first byte is not gzip's 0x1F are garbage at
/// once, even when the second byte (0x8B) and the rest look like a member.
#[test]
fn a_member_needs_both_magic_bytes() {
    let img = kernel(9000);
    let mut gz = gzip(&img, 6);
    let mut fake = gzip(&img[..100], 6);
    fake[0] = 0x42;
    gz.extend(&fake);
    assert_eq!(err(&oneshot(&gz, opts()).0), ProbeError::TrailingGarbage);
    assert_eq!(
        err(&streamed(&gz, &[1], opts()).0),
        ProbeError::TrailingGarbage
    );
}

/// An OutputBuffer whose `reserve` succeeds but gives less than asked is
/// caught when the image announces its size, before anything is written past
/// the head (a raw Image would otherwise lose its bytes silently).
#[test]
fn output_buffer_shorter_than_reserved_is_refused() {
    struct Short(Vec<u8>);
    impl kernel_probe::OutputBuffer for Short {
        fn reserve(&mut self, _len: usize) -> Result<(), ProbeError> {
            self.0 = vec![0; kernel_probe::HEAD_LEN + 100];
            Ok(())
        }
        fn as_slice(&self) -> &[u8] {
            &self.0
        }
        fn as_mut_slice(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }
    let img = image(8000, 8192, 0, false);
    for input in [img.clone(), gzip(&img, 6)] {
        let mut p = Box::new(Prober::new(opts()));
        let mut out = Short(Vec::new());
        let r = p.write(&input, &mut out, &mut Crc);
        assert_eq!(r, Err(ProbeError::OutputTooSmall));
    }
}

/// The zboot payload is a window: a gzip member whose last trailer byte lies
/// past the declared payload is truncated there, never completed from the
/// bytes after the payload.
#[test]
fn zboot_payload_is_a_window() {
    let gz = gzip(&kernel(5000), 6);
    let mut z = zboot(&gz, b"gzip");
    let size = (gz.len() as u32 - 1).to_le_bytes();
    z[12..16].copy_from_slice(&size);
    assert_eq!(err(&oneshot(&z, opts()).0), ProbeError::Truncated);
    assert_eq!(err(&streamed(&z, &[1000], opts()).0), ProbeError::Truncated);
}
