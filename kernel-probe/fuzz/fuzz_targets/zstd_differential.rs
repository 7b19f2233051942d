//! Differential against libzstd (the reference C decoder, through the
//! `zstd` crate), one-pass into a bounded buffer: `ZSTD_decompressDCtx`,
//! what the kernel's zboot stub calls, against `kernel_probe::zstd::decode`.
//!
//! Inputs, chosen by the first byte:
//! - generated: the rest of the fuzz bytes compressed by libzstd with
//!   fuzzer-chosen parameters (level, checksum, content size in the header,
//!   window log, one to three frames, a skippable frame), optionally with one
//!   fuzzer-chosen byte changed or the stream cut short;
//! - raw: the fuzz bytes themselves.
//!
//! Rule: both decode, to the same bytes, or both refuse. The differences
//! allowed, each narrowly: an empty input (libzstd decodes it to nothing, we
//! call it truncated: no image is empty); `ZstdBlockTooLarge` where libzstd's
//! one-pass path decodes (its streaming decoder must then refuse too: that is
//! checked); `ZstdLiteralsNotExact` where libzstd decodes (its fast
//! four-stream Huffman loop does not check a stream's framing; its one-stream
//! path and the RFC do). An unmodified generated input is decoded by both.
//! Streaming in fuzzer-chosen chunks gives the one-pass answer.
#![no_main]

use std::cell::RefCell;

use kernel_probe::zstd::{decode, Status, ZstdDecoder};
use kernel_probe::ProbeError;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

thread_local! {
    static DEC: RefCell<Box<ZstdDecoder>> = RefCell::new(Box::default());
    static OUT: RefCell<(Vec<u8>, Vec<u8>)> = RefCell::new((vec![0; LIMIT], vec![0; LIMIT]));
}

fn generated(params: &[u8], data: &[u8]) -> Option<(Vec<u8>, bool)> {
    let p = |i: usize| params.get(i).copied().unwrap_or(0);
    // Mostly fast levels (a high level costs milliseconds per call in
    // table set-up alone); 19 and 22 (--ultra) one time in 16 each.
    let level = match p(0) % 32 {
        0 => -5,
        30 => 19,
        31 => 22,
        n => i32::from(n % 9) + 1,
    };
    let mut out = Vec::new();
    let frames = 1 + usize::from(p(1) % 3);
    let part = data.len().div_ceil(frames).max(1);
    let empty: [&[u8]; 1] = [&[]];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        empty.to_vec()
    } else {
        data.chunks(part).collect()
    };
    for (i, chunk) in chunks.into_iter().enumerate() {
        if p(2) & 1 != 0 && i == 1 {
            // A skippable frame between the frames.
            out.extend_from_slice(&(0x184D_2A50u32 | u32::from(p(3) & 0xF)).to_le_bytes());
            out.extend_from_slice(&3u32.to_le_bytes());
            out.extend_from_slice(&[1, 2, 3]);
        }
        let mut c = zstd::bulk::Compressor::new(level).ok()?;
        use zstd::zstd_safe::CParameter as P;
        c.set_parameter(P::ChecksumFlag(p(2) & 2 != 0)).ok()?;
        c.set_parameter(P::ContentSizeFlag(p(2) & 4 == 0)).ok()?;
        if p(2) & 8 != 0 {
            c.set_parameter(P::WindowLog(10 + u32::from(p(4) % 18))).ok()?;
        }
        if p(2) & 16 != 0 {
            c.set_parameter(P::EnableLongDistanceMatching(true)).ok()?;
        }
        out.extend_from_slice(&c.compress(chunk).ok()?);
    }
    let mut modified = false;
    match p(5) % 4 {
        1 if !out.is_empty() => {
            let at = (usize::from(p(6)) << 8 | usize::from(p(7))) % out.len();
            out[at] ^= p(8).max(1);
            modified = true;
        }
        2 if !out.is_empty() => {
            let cut = (usize::from(p(6)) << 8 | usize::from(p(7))) % out.len();
            out.truncate(cut);
            modified = true;
        }
        _ => {}
    }
    Some((out, !modified))
}

fn reference(input: &[u8], out: &mut [u8]) -> Result<usize, ()> {
    let mut d = zstd::bulk::Decompressor::new().map_err(|_| ())?;
    d.decompress_to_buffer(input, out).map_err(|e| {
        if std::env::var_os("ZSTD_DIFF_DUMP").is_some() {
            eprintln!("libzstd: {e}");
        }
    })
}

/// libzstd's streaming decoder (window up to 2^31), which checks every
/// block's size against Block_Maximum_Size.
fn streaming_reference(input: &[u8]) -> Result<Vec<u8>, ()> {
    use std::io::Read;
    let mut d = zstd::stream::read::Decoder::new(input).map_err(|_| ())?;
    d.window_log_max(31).map_err(|_| ())?;
    let mut out = Vec::new();
    d.take(LIMIT as u64 + 1).read_to_end(&mut out).map_err(|_| ())?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (input, intact) = if mode & 1 == 0 {
        let (params, payload) = rest.split_at(rest.len().min(9));
        match generated(params, payload) {
            Some(g) => g,
            None => return,
        }
    } else {
        (rest.to_vec(), false)
    };
    DEC.with(|dec| {
        OUT.with(|bufs| {
            let dec = &mut **dec.borrow_mut();
            let (ours_buf, ref_buf) = &mut *bufs.borrow_mut();
            if let Some(path) = std::env::var_os("ZSTD_DIFF_DUMP") {
                let _ = std::fs::write(path, &input);
            }
            let ours = decode(dec, &input, ours_buf);
            let theirs = reference(&input, ref_buf);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "lengths differ");
                    assert!(ours_buf[..*a] == ref_buf[..*b], "bytes differ");
                }
                (Err(_), Err(())) => {}
                (Err(e), Ok(0)) if input.is_empty() => {
                    let _ = e;
                }
                // Stricter than libzstd's one-pass path, which lets a block
                // grow past Block_Maximum_Size unless its literal buffer
                // layout happens to catch it; its streaming decoder checks
                // ("Decompressed Block Size Exceeds Maximum"): it must agree.
                // Stricter than libzstd's fast four-stream Huffman loop,
                // which checks only that each stream filled its quarter
                // (huf_decompress.c: "args.op[i] != segmentEnd"), not that
                // it ended where its bits did, as its one-stream path, the
                // RFC's educational decoder and we do.
                (Err(ProbeError::ZstdLiteralsNotExact), Ok(_)) => {}
                (Err(ProbeError::ZstdBlockTooLarge), Ok(_)) => {
                    assert!(
                        streaming_reference(&input).is_err(),
                        "block too large for us, not for libzstd's streaming decoder"
                    );
                }
                _ => panic!("verdicts differ: ours {ours:?}, libzstd {theirs:?}"),
            }
            if intact {
                assert!(ours.is_ok(), "an intact stream was refused: {ours:?}");
            }
            // Streamed in chunks chosen by the mode byte: the same answer.
            let chunk = 1 + usize::from(mode >> 1) * 97;
            dec.reset();
            let mut pos = 0;
            let mut streamed = Ok(());
            'feed: for piece in input.chunks(chunk) {
                let mut used = 0;
                while used < piece.len() || used == 0 {
                    match dec.step(&piece[used..], ours_buf, pos, LIMIT) {
                        Ok(s) => {
                            used += s.consumed;
                            pos += s.produced;
                            if s.status == Status::OutputFull {
                                streamed = Err(());
                                break 'feed;
                            }
                            if s.status == Status::NeedInput {
                                break;
                            }
                        }
                        Err(_) => {
                            streamed = Err(());
                            break 'feed;
                        }
                    }
                }
            }
            if streamed.is_ok() && !dec.at_frame_boundary() {
                streamed = Err(());
            }
            match (&ours, streamed) {
                (Ok(n), Ok(())) => {
                    assert_eq!(*n, pos, "streamed length differs");
                    assert!(ours_buf[..pos] == ref_buf[..pos], "streamed bytes differ");
                }
                (Err(_), Err(())) => {}
                (o, s) => panic!("one-pass {o:?} but streamed {s:?}"),
            }
        })
    });
});
