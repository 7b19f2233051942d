//! The full probe over any bytes: one shot, then the quick probe, then both
//! report formats. Nothing may panic; an accepted image is self-consistent.
#![no_main]

use kernel_probe::{quick_probe, Format, Prober};
use kernel_probe_fuzz::{oneshot, opts, Crc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (v, img) = oneshot(data);
    if let (Ok(r), Some(img)) = (&v.result, &img) {
        assert_eq!(r.image_bytes, img.len() as u64);
        assert!(r.image_bytes <= opts().max_image_size);
        assert!(r.image_bytes <= r.kdump_bytes_needed());
        assert!(!r.quick);
        let gzip_ok = r.gzip.is_some_and(|g| g.members >= 1);
        let zstd_ok = r.zstd.is_some_and(|z| z.frames >= 1);
        match r.format {
            Format::Image => assert_eq!(&img[..], data),
            Format::Gzip => assert!(gzip_ok),
            Format::Zstd => assert!(zstd_ok),
            Format::Zboot => assert!(gzip_ok || zstd_ok),
            Format::Uki => {
                let u = r.uki.expect("a UKI report has its sections");
                assert!(u64::from(u.linux.size) <= data.len() as u64);
                match r.inner_format {
                    Some(Format::Image) => assert_eq!(img.len(), u.linux.size as usize),
                    Some(Format::Gzip) => assert!(gzip_ok),
                    Some(Format::Zstd) => assert!(zstd_ok),
                    Some(Format::Zboot) => assert!(gzip_ok || zstd_ok),
                    other => panic!("a UKI holding {other:?}"),
                }
            }
        }
    }
    let line = v
        .json_line(Some("fuzz"))
        .expect("a report line always fits");
    assert!(line.starts_with('{') && line.ends_with("}\n"));
    let mut p = Box::new(Prober::new(opts()));
    let q = quick_probe(&mut p, data, &mut Crc);
    if let (Ok(full), Ok(quick)) = (&v.result, &q) {
        // The quick probe reads the same headers.
        assert_eq!(full.header, quick.header);
        assert_eq!(full.format, quick.format);
    }
});
