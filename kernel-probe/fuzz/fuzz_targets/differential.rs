//! Differential against flate2 (a different miniz_oxide version behind its own
//! gzip framing), on two kinds of input:
//!
//! - generated: an arm64 Image built from the fuzz bytes behind a valid
//!   header, gzip'd by flate2 at a fuzzer-chosen level into one or two
//!   members, optionally with one fuzzer-chosen byte changed;
//! - raw: the fuzz bytes themselves.
//!
//! Rules, for every input that starts with the gzip magic:
//! - kernel-probe accepts => flate2 decodes every member, the rest is zero
//!   padding, and the bytes are identical;
//! - flate2 decodes everything (and the rest is zero padding) => kernel-probe
//!   accepts with the same bytes, or rejects for an arm64 header rule or the
//!   size bound, or for one of the places where it is deliberately stricter
//!   than flate2 (each checked here, not assumed): reserved FLG bits
//!   (RFC 1952 says a decoder must refuse them) and a match distance that
//!   reaches before the start of the member's output (RFC 1951; zlib refuses
//!   it too, flate2 reads zeros from its fresh window);
//! - an unmodified generated input is accepted by both.
#![no_main]

use std::io::{Read, Write};

use kernel_probe::gzip::HeaderParser;
use kernel_probe::{Format, ProbeError};
use kernel_probe_fuzz::{oneshot, Crc, MAX_IMAGE_SIZE};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
enum Ref {
    /// Every member decoded; the output and each member's bytes.
    Ok(Vec<u8>, Vec<(usize, usize)>),
    TooBig,
    Bad,
}

/// flate2, member by member, with kernel-probe's container rule (zero
/// padding after the last member).
fn reference(input: &[u8]) -> Ref {
    let limit = MAX_IMAGE_SIZE as usize;
    let mut out = Vec::new();
    let mut spans = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        let mut d = flate2::bufread::GzDecoder::new(rest);
        let room = (limit + 1 - out.len()) as u64;
        if (&mut d).take(room).read_to_end(&mut out).is_err() {
            return Ref::Bad;
        }
        if out.len() > limit {
            return Ref::TooBig;
        }
        let left = d.into_inner().len();
        spans.push((pos, input.len() - left));
        pos = input.len() - left;
        match input.get(pos) {
            None => return Ref::Ok(out, spans),
            Some(0) if input[pos..].iter().all(|&b| b == 0) => return Ref::Ok(out, spans),
            Some(0) => return Ref::Bad,
            Some(_) => {}
        }
    }
}

/// Does some member use a match distance that reaches before its start?
/// Decode its deflate data behind a 32 KiB stored block of 0xA5: such a
/// distance then copies 0xA5 instead of flate2's zeros.
fn reaches_before_start(input: &[u8], spans: &[(usize, usize)]) -> bool {
    spans.iter().any(|&(s, e)| {
        let member = &input[s..e];
        let mut h = HeaderParser::new();
        let Ok(hlen) = h.feed(member, &mut Crc) else {
            return false;
        };
        if !h.is_done() || member.len() < hlen + 8 {
            return false;
        }
        let deflate = &member[hlen..member.len() - 8];
        let plain = {
            let mut o = Vec::new();
            let _ = flate2::read::DeflateDecoder::new(deflate).read_to_end(&mut o);
            o
        };
        let mut pre = vec![0x00, 0x00, 0x80, 0xFF, 0x7F];
        pre.resize(5 + 32768, 0xA5);
        pre.extend_from_slice(deflate);
        let mut o = Vec::new();
        let _ = flate2::read::DeflateDecoder::new(&pre[..]).read_to_end(&mut o);
        o.get(32768..) != Some(&plain[..])
    })
}

fn header_or_size_rule(e: ProbeError) -> bool {
    use ProbeError::*;
    matches!(
        e,
        ImageTooShort
            | NotArm64Image
            | ImageSizeZero
            | EndianMismatch
            | PageSizeUnsupported
            | ImageLongerThanImageSize
            | ImageSizeOverflow
            | BadPeHeader
            | TooBig
    )
}

fn generate(data: &[u8]) -> Option<(Vec<u8>, Vec<u8>, bool)> {
    let (&[ctl, level, split, at0, at1, x], body) = data.split_first_chunk::<6>()?;
    let mut img = vec![0u8; 64];
    img[0..4].copy_from_slice(&[0x1F, 0x20, 0x03, 0xD5]);
    let size = (64 + body.len() as u64 + 0xFFFF) & !0xFFFF;
    img[16..24].copy_from_slice(&size.to_le_bytes());
    img[24..32].copy_from_slice(&0b1010u64.to_le_bytes());
    img[0x38..0x3C].copy_from_slice(b"ARM\x64");
    img.extend_from_slice(body);
    let level = u32::from(level % 10);
    let cut = if ctl & 4 != 0 {
        usize::from(split) * img.len() / 255
    } else {
        img.len()
    };
    let mut gz = Vec::new();
    for part in [&img[..cut], &img[cut..]] {
        if part.is_empty() && !gz.is_empty() {
            continue;
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let mutated = ctl & 2 != 0 && x != 0;
    if mutated {
        let at = usize::from(u16::from_le_bytes([at0, at1])) % gz.len();
        gz[at] ^= x;
    }
    Some((gz, img, mutated))
}

fn check(input: &[u8]) {
    if !input.starts_with(&[0x1F, 0x8B]) {
        return;
    }
    let (v, img) = oneshot(input);
    let r = reference(input);
    match (&v.result, &r) {
        (Ok(rep), Ref::Ok(out, _)) => {
            assert_eq!(rep.format, Format::Gzip);
            assert!(
                img.as_deref() == Some(&out[..]),
                "accepted, but the bytes differ from flate2's"
            );
        }
        (Ok(_), _) => panic!("kernel-probe accepts what flate2 refuses: {r:?}"),
        (Err(e), Ref::Ok(_, spans)) => {
            let ok = header_or_size_rule(*e)
                || (*e == ProbeError::GzipReservedFlags)
                || (*e == ProbeError::CorruptDeflate && reaches_before_start(input, spans));
            assert!(ok, "flate2 decodes it, kernel-probe says {e:?}");
        }
        (Err(e), Ref::TooBig) => {
            assert!(header_or_size_rule(*e), "over the bound: {e:?}");
        }
        (Err(_), Ref::Bad) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Some((gz, img, mutated)) = generate(rest) {
            if !mutated {
                let (v, out) = oneshot(&gz);
                assert!(v.result.is_ok(), "generated input refused: {:?}", v.result);
                assert!(out.as_deref() == Some(&img[..]));
            }
            check(&gz);
        }
    } else {
        check(rest);
    }
});
