//! UKIs through the prober: `.linux` holding a raw Image, an Image.gz, a
//! zboot or an Image.zst, with `.initrd`, `.cmdline`, `.uname` around it;
//! one-shot, streamed and quick agree; what is no UKI is refused by name.

mod common;

use common::*;
use kernel_probe::{quick_probe, Format, ProbeError, ProbeOptions, Prober};

fn opts() -> ProbeOptions {
    ProbeOptions::default()
}

fn with_kernel(linux: &[u8]) -> Vec<u8> {
    uki(&[
        (".osrel", b"ID=kernel-probe\n"),
        (".cmdline", b"console=ttyAMA0 kp.marker=uki\n"),
        (".uname", b"7.3.4-test"),
        (".linux", linux),
        (".initrd", &[0x5A; 3000]),
    ])
}

#[test]
fn every_kernel_format_inside_a_uki() {
    let img = kernel(200_000);
    let mut padded = img.clone();
    padded.resize(0x40000, 0);
    let zst = zstd::bulk::compress(&img, 3).unwrap();
    for (inner, linux, want) in [
        (Format::Image, img.clone(), img.clone()),
        (Format::Gzip, gzip(&img, 6), img.clone()),
        (
            Format::Zboot,
            zboot(&gzip(&padded, 6), b"gzip"),
            padded.clone(),
        ),
        (Format::Zstd, zst, img.clone()),
    ] {
        let f = with_kernel(&linux);
        let (v, out, _) = oneshot(&f, opts());
        let r = v.result.unwrap_or_else(|e| panic!("{inner:?}: {e:?}"));
        assert_eq!(r.format, Format::Uki);
        assert_eq!(v.format, Some(Format::Uki));
        assert_eq!(r.inner_format, Some(inner));
        assert_eq!(out, want, "{inner:?}");
        let u = r.uki.unwrap();
        assert_eq!(u.linux.size as usize, linux.len());
        assert_eq!(u.initrd.unwrap().size, 3000);
        assert_eq!(u.cmdline(), Some(&b"console=ttyAMA0 kp.marker=uki"[..]));
        assert_eq!(u.uname(), Some(&b"7.3.4-test"[..]));
        assert_eq!(v.initrd_size, 3000, "kdump counts the embedded initrd");
        let line = v.json_line(None).unwrap();
        assert!(line.contains("\"format\":\"uki\""), "{line}");
        assert!(
            line.contains("\"cmdline\":\"console=ttyAMA0 kp.marker=uki\""),
            "{line}"
        );
        for chunks in [&[1usize][..], &[100, 4095], &[65536]] {
            let (s, sout) = streamed(&f, chunks, opts());
            assert_eq!(s, v, "{inner:?} chunks {chunks:?}");
            assert_eq!(sout, want);
        }
        let mut p = Box::new(Prober::new(opts()));
        let q = quick_probe(&mut p, &f, &mut Crc).unwrap();
        assert_eq!((q.format, q.inner_format), (Format::Uki, Some(inner)));
        assert_eq!(q.header, r.header);
        // Cut anywhere: in the headers, before, inside and after `.linux`.
        let linux_at = u.linux.offset as usize;
        for cut in [
            100,
            0x300,
            linux_at - 10,
            linux_at + 30,
            linux_at + linux.len() / 2,
            f.len() - 100,
        ] {
            let e = oneshot(&f[..cut], opts()).0.result.unwrap_err();
            assert_eq!(
                e.errno(),
                kernel_probe::error::EBADMSG,
                "{inner:?} cut at {cut}: {e:?}"
            );
        }
    }
}

#[test]
fn what_is_no_uki() {
    let img = kernel(100_000);
    // A PE without .linux (an EFI application).
    let app = uki(&[(".text", &[0x11; 5000])]);
    assert_eq!(
        oneshot(&app, opts()).0.result.unwrap_err(),
        ProbeError::UkiNoLinux
    );
    // A UKI inside a UKI.
    let nested = with_kernel(&with_kernel(&img));
    assert_eq!(
        oneshot(&nested, opts()).0.result.unwrap_err(),
        ProbeError::UkiNested
    );
    // .linux holding something that is no kernel.
    let junk = with_kernel(&[0x42; 10_000]);
    assert_eq!(
        oneshot(&junk, opts()).0.result.unwrap_err(),
        ProbeError::UnknownFormat
    );
    // A section whose VirtualSize runs past its raw data.
    let mut bad = with_kernel(&img);
    let linux = 0x98 + 240 + 3 * 40;
    let raw = u32::from_le_bytes(bad[linux + 16..linux + 20].try_into().unwrap());
    bad[linux + 8..linux + 12].copy_from_slice(&(raw + 1).to_le_bytes());
    assert_eq!(
        oneshot(&bad, opts()).0.result.unwrap_err(),
        ProbeError::BadUkiSection
    );
    // An x86-64 UKI.
    let mut x86 = with_kernel(&img);
    x86[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    assert_eq!(
        oneshot(&x86, opts()).0.result.unwrap_err(),
        ProbeError::UkiNotArm64
    );
}
