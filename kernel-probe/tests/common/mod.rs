//! Shared helpers for kernel-probe's own tests: synthetic arm64 Images and
//! a heap-backed output buffer.
#![allow(dead_code)]

use std::io::Write;

use kernel_probe::{OutputBuffer, ProbeError};

/// A heap output buffer that records how often and how large it was reserved.
#[derive(Default)]
pub struct VecOut {
    pub buf: Vec<u8>,
    pub reserves: Vec<usize>,
    pub cap: Option<usize>,
}

impl OutputBuffer for VecOut {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        self.reserves.push(len);
        if self.cap.is_some_and(|c| len > c) {
            return Err(ProbeError::NoMemory);
        }
        self.buf = vec![0; len];
        Ok(())
    }
    fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

pub struct Crc;
impl kernel_probe::Crc32 for Crc {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(data);
        h.finalize()
    }
}

/// An arm64 Image of `len` bytes: header, optional PE view at 0x40 (like
/// efi-header.S), deterministic compressible body.
pub fn image(len: usize, image_size: u64, flags: u64, pe: bool) -> Vec<u8> {
    let mut d = vec![0u8; len];
    for (i, b) in d.iter_mut().enumerate().skip(64) {
        *b = ((i * 31) ^ (i >> 7)) as u8 & 0x3F;
    }
    d[0..4].copy_from_slice(if pe {
        b"MZ@\xFA"
    } else {
        &[0x1F, 0x20, 0x03, 0xD5]
    });
    d[8..16].copy_from_slice(&0u64.to_le_bytes());
    d[16..24].copy_from_slice(&image_size.to_le_bytes());
    d[24..32].copy_from_slice(&flags.to_le_bytes());
    d[0x20..0x38].fill(0);
    d[0x38..0x3C].copy_from_slice(b"ARM\x64");
    d[0x3C..0x40].copy_from_slice(&(if pe { 0x40u32 } else { 0 }).to_le_bytes());
    if pe {
        let p = 0x40;
        d[p..p + 0x100].fill(0);
        d[p..p + 4].copy_from_slice(b"PE\0\0");
        d[p + 4..p + 6].copy_from_slice(&0xAA64u16.to_le_bytes());
        d[p + 20..p + 22].copy_from_slice(&0xA0u16.to_le_bytes());
        d[p + 0x18..p + 0x1A].copy_from_slice(&0x20Bu16.to_le_bytes());
        d[p + 0x54..p + 0x58].copy_from_slice(&0x200u32.to_le_bytes());
        d[p + 0x84..p + 0x88].copy_from_slice(&6u32.to_le_bytes());
    }
    d
}

/// A typical kernel: 4K pages, placement anywhere, EFI.
pub fn kernel(len: usize) -> Vec<u8> {
    image(len, (len as u64 + 0xFFFF) & !0xFFFF, 0b1010, true)
}

/// Add a certificate table (WIN_CERTIFICATE, PKCS#7) of `size` bytes at the end.
pub fn sign(img: &mut Vec<u8>, size: u32) {
    let off = img.len() as u32;
    let dir = 0x40 + 0x18 + 112 + 8 * 4;
    img[dir..dir + 4].copy_from_slice(&off.to_le_bytes());
    img[dir + 4..dir + 8].copy_from_slice(&size.to_le_bytes());
    let mut cert = vec![0xA5u8; size as usize];
    cert[0..4].copy_from_slice(&size.to_le_bytes());
    cert[4..6].copy_from_slice(&0x0200u16.to_le_bytes());
    cert[6..8].copy_from_slice(&0x0002u16.to_le_bytes());
    // The outer DER SEQUENCE the kernel looks for (its content is filler).
    cert[8..12].copy_from_slice(&[0x30, 0x82, 0, 0]);
    cert[10..12].copy_from_slice(&(size as u16 - 12).to_be_bytes());
    img.extend_from_slice(&cert);
    let n = img.len() as u64;
    let size_field = (n + 0xFFFF) & !0xFFFF;
    img[16..24].copy_from_slice(&size_field.to_le_bytes());
}

pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An EFI zboot file around `payload` (a gzip stream), like zboot-header.S.
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
    f.extend_from_slice(&[0xEE; 512]); // rest of the PE file (e.g. a signature)
    f
}

/// Probe in one shot; the image bytes are returned too.
pub fn oneshot(
    input: &[u8],
    opts: kernel_probe::ProbeOptions,
) -> (kernel_probe::Verdict, Vec<u8>, Vec<usize>) {
    let mut p = Box::new(kernel_probe::Prober::new(opts));
    let mut out = VecOut::default();
    let r = kernel_probe::probe(&mut p, input, &mut out, &mut Crc);
    let (res, img) = match r {
        Ok((rep, img)) => (Ok(rep), img.to_vec()),
        Err(e) => (Err(e), Vec::new()),
    };
    (p.verdict(res, input.len() as u64), img, out.reserves)
}

/// Probe in chunks of the given sizes (cycled).
pub fn streamed(
    input: &[u8],
    chunks: &[usize],
    opts: kernel_probe::ProbeOptions,
) -> (kernel_probe::Verdict, Vec<u8>) {
    let mut p = Box::new(kernel_probe::Prober::new(opts));
    let mut out = VecOut::default();
    let mut pos = 0;
    let mut i = 0;
    let mut res = Ok(());
    while pos < input.len() {
        let n = chunks[i % chunks.len()].max(1).min(input.len() - pos);
        i += 1;
        res = p.write(&input[pos..pos + n], &mut out, &mut Crc);
        if res.is_err() {
            break;
        }
        pos += n;
    }
    let r = match res {
        Ok(()) => p.finish(&out),
        Err(e) => Err(e),
    };
    let img = if r.is_ok() {
        p.image(&out).to_vec()
    } else {
        Vec::new()
    };
    (p.verdict(r, input.len() as u64), img)
}

/// A UKI-shaped PE (as ukify lays one out: headers, then each section's
/// contents at a 512-byte file alignment, VirtualSize the exact length).
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
