//! zstd (RFC 8878) frames, decoded straight into the one output buffer.
//!
//! The output buffer holds the whole image and never wraps, so it is the
//! window: a match reads earlier output of its own frame in place, and no
//! window buffer is allocated whatever Window_Size a frame declares. That is
//! how the kernel's own zboot stub decompresses (`zstd_decompress_dctx()`,
//! one pass into the final buffer), and the checks are those of that
//! one-pass path in the reference decoder (libzstd's `ZSTD_decompressDCtx`),
//! which the differential fuzz target compares against.
//!
//! Input may arrive in pieces of any size. A compressed block is decoded
//! from the caller's input when the whole block is there (the usual case),
//! else gathered in [`ZstdDecoder`]'s 128 KiB block buffer first; its
//! literals are decoded into a second 128 KiB buffer, then its sequences are
//! executed one by one, and execution stops and resumes wherever the output
//! window ends (the prober's 4 KiB head, then the image's bound).

// `ok_or_else(|| corrupt!())`: lazy because the crate's tests trace there.
#![allow(clippy::unnecessary_lazy_evaluations)]

mod bits;
mod fse;
mod huf;
mod xxh64;

use crate::error::ProbeError;
use bits::BackwardBits;
use fse::Table;
use huf::HufTable;
use xxh64::Xxh64;

/// Largest block (decompressed, and compressed content): 128 KiB.
pub const BLOCK_MAX: usize = 128 << 10;
/// A zstd frame's magic number, little-endian.
pub const MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Skippable frames: magic 0x184D2A50..=0x184D2A5F.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// Largest Window_Log the reference decoder accepts (ZSTD_WINDOWLOG_MAX, 64-bit).
const WINDOW_LOG_MAX: u32 = 31;
/// Largest frame header: magic, descriptor, window, dictionary ID, content size.
const FRAME_HEADER_MAX: usize = 4 + 1 + 1 + 4 + 8;

/// Whether `head` starts a zstd frame or a skippable frame.
#[allow(clippy::indexing_slicing)] // four bytes, checked by `get(..4)`
pub fn is_frame_magic(head: &[u8]) -> bool {
    head.get(..4).is_some_and(|m| {
        m == MAGIC || u32::from_le_bytes([m[0], m[1], m[2], m[3]]) & !0xF == SKIPPABLE_MAGIC
    })
}

/// What one call achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// All input was consumed and more is needed (or the input may end here:
    /// see [`ZstdDecoder::at_frame_boundary`]).
    NeedInput,
    /// The output window given to this call is full and more output is due.
    OutputFull,
}

/// One call's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Why the call returned.
    pub status: Status,
    /// Input bytes used.
    pub consumed: usize,
    /// Output bytes written at `pos`.
    pub produced: usize,
}

/// What a probe learned of the zstd frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZstdInfo {
    /// Complete zstd frames (skippable frames not counted).
    pub frames: u32,
    /// Skippable frames.
    pub skippable_frames: u32,
    /// The largest Window_Size declared (Frame_Content_Size for a
    /// single-segment frame).
    pub window_size: u64,
    /// The sum of every frame's Frame_Content_Size, when all declare one.
    pub content_size: Option<u64>,
    /// Every frame carried a content checksum, and each matched.
    pub checksummed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Between frames: the next frame's magic (or the end of the input).
    Magic,
    /// The rest of a frame header.
    FrameHeader,
    /// A skippable frame's size field.
    SkipSize,
    /// Inside a skippable frame.
    Skip,
    BlockHeader,
    Raw,
    /// An RLE block's one byte of content.
    RleByte,
    Rle,
    /// Gathering a compressed block in the block buffer.
    Gather,
    /// Executing a compressed block's sequences.
    Execute,
    /// The frame's 4-byte content checksum.
    Checksum,
}

/// The frame being decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Frame {
    window: u64,
    /// Frame_Content_Size, when declared.
    content_size: Option<u64>,
    checksum: bool,
    block_max: usize,
    /// Where the frame's output starts in the image.
    start: usize,
    /// The frame's output so far.
    produced: u64,
}

/// A compressed block's sequence execution, which survives a full output
/// window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Exec {
    /// The sequence bitstream is `buf[stream_at..stream_at + stream_len]`
    /// (within the call that read the block, possibly the caller's input).
    stream_at: usize,
    stream_len: usize,
    bits: BackwardBits,
    /// Sequences not yet decoded.
    left: u32,
    ll_state: usize,
    of_state: usize,
    ml_state: usize,
    /// The current sequence's literals and match still to be written.
    lit_left: usize,
    match_left: usize,
    offset: usize,
    /// The block's literals: `lits[..lits_len]`, the next at `lit_pos`.
    lits_len: usize,
    lit_pos: usize,
    /// The literals after the last sequence were scheduled.
    tail: bool,
    /// Where the block's output may end: its start + Block_Maximum_Size.
    block_end: usize,
}

/// The tables a frame keeps from block to block.
#[derive(Clone, Default)]
struct Entropy {
    huf: HufTable,
    /// Scratch for FSE-coded Huffman weights.
    weights: Table<64>,
    ll: Table<512>,
    of: Table<256>,
    ml: Table<512>,
    /// A block with sequences came: Repeat mode has tables to repeat.
    tables_set: bool,
    /// Repeat offsets.
    reps: [usize; 3],
}

/// The streaming zstd decoder, ~270 KB (two 128 KiB buffers): it lives
/// inside the prober. All-zero memory is a valid decoder waiting for a
/// frame with nothing decoded yet, once [`Self::reset`] ran (the prober's
/// zeroed-allocation contract).
#[derive(Clone)]
pub struct ZstdDecoder {
    stage: Stage,
    hdr: [u8; FRAME_HEADER_MAX],
    hdr_len: usize,
    hdr_need: usize,
    frame: Frame,
    info: ZstdInfo,
    /// Some frame had no content size / no checksum.
    some_unsized: bool,
    some_unchecked: bool,
    any_frame: bool,
    skip_left: u32,
    last_block: bool,
    block_left: usize,
    rle_byte: u8,
    buf: [u8; BLOCK_MAX],
    buf_len: usize,
    lits: [u8; BLOCK_MAX],
    ent: Entropy,
    exec: Exec,
    xxh: Xxh64,
    /// The image position up to which `xxh` has hashed the frame's output.
    hashed: usize,
    cksum: [u8; 4],
    cksum_len: usize,
}

impl Default for ZstdDecoder {
    fn default() -> Self {
        let mut d = Self {
            stage: Stage::Magic,
            hdr: [0; FRAME_HEADER_MAX],
            hdr_len: 0,
            hdr_need: 0,
            frame: Frame::default(),
            info: ZstdInfo::default(),
            some_unsized: false,
            some_unchecked: false,
            any_frame: false,
            skip_left: 0,
            last_block: false,
            block_left: 0,
            rle_byte: 0,
            buf: [0; BLOCK_MAX],
            buf_len: 0,
            lits: [0; BLOCK_MAX],
            ent: Entropy::default(),
            exec: Exec::default(),
            xxh: Xxh64::new(),
            hashed: 0,
            cksum: [0; 4],
            cksum_len: 0,
        };
        d.reset();
        d
    }
}

/// `ProbeError::CorruptZstd`; in the crate's own tests it also says which
/// check refused (the differential fuzz target's findings are replayed so).
macro_rules! corrupt {
    () => {{
        #[cfg(test)]
        if std::env::var_os("KP_ZSTD_TRACE").is_some() {
            std::eprintln!("zstd: corrupt at {}:{}", file!(), line!());
        }
        ProbeError::CorruptZstd
    }};
}

/// Literals_Length_Code -> (baseline, extra bits).
#[rustfmt::skip]
const LL_CODES: [(u32, u8); 36] = [
    (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0),
    (8, 0), (9, 0), (10, 0), (11, 0), (12, 0), (13, 0), (14, 0), (15, 0),
    (16, 1), (18, 1), (20, 1), (22, 1), (24, 2), (28, 2), (32, 3), (40, 3),
    (48, 4), (64, 6), (128, 7), (256, 8), (512, 9), (1024, 10), (2048, 11), (4096, 12),
    (8192, 13), (16384, 14), (32768, 15), (65536, 16),
];
/// Match_Length_Code -> (baseline, extra bits).
#[rustfmt::skip]
const ML_CODES: [(u32, u8); 53] = [
    (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0),
    (11, 0), (12, 0), (13, 0), (14, 0), (15, 0), (16, 0), (17, 0), (18, 0),
    (19, 0), (20, 0), (21, 0), (22, 0), (23, 0), (24, 0), (25, 0), (26, 0),
    (27, 0), (28, 0), (29, 0), (30, 0), (31, 0), (32, 0), (33, 0), (34, 0),
    (35, 1), (37, 1), (39, 1), (41, 1), (43, 2), (47, 2), (51, 3), (59, 3),
    (67, 4), (83, 4), (99, 5), (131, 7), (259, 8), (515, 9), (1027, 10), (2051, 11),
    (4099, 12), (8195, 13), (16387, 14), (32771, 15), (65539, 16),
];
/// Largest symbols and accuracy logs of the three sequence codes
/// (the reference decoder's MaxLL/MaxOff/MaxML and LLFSELog/OffFSELog/MLFSELog).
const LL_MAX: usize = 35;
const OF_MAX: usize = 31;
const ML_MAX: usize = 52;
const LL_LOG: u32 = 9;
const OF_LOG: u32 = 8;
const ML_LOG: u32 = 9;

impl ZstdDecoder {
    /// Start a new stream (the big buffers are left as they are).
    pub fn reset(&mut self) {
        self.stage = Stage::Magic;
        self.hdr_len = 0;
        self.hdr_need = 4;
        self.frame = Frame::default();
        self.info = ZstdInfo::default();
        self.some_unsized = false;
        self.some_unchecked = false;
        self.any_frame = false;
        self.buf_len = 0;
        self.exec = Exec::default();
        self.cksum_len = 0;
    }

    /// The input may end here: between frames, after at least one.
    pub fn at_frame_boundary(&self) -> bool {
        self.stage == Stage::Magic && self.hdr_len == 0 && self.any_frame
    }

    /// What the frames said so far.
    pub fn info(&self) -> ZstdInfo {
        let mut info = self.info;
        info.checksummed = !self.some_unchecked && info.frames > 0;
        if self.some_unsized {
            info.content_size = None;
        }
        info
    }

    /// Decode from `input` into `out[pos..limit]`; `out[..pos]` is the image
    /// so far (the current frame's part of it is the window).
    pub fn step(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        pos: usize,
        limit: usize,
    ) -> Result<Step, ProbeError> {
        let limit = limit.min(out.len());
        let mut used = 0usize;
        let mut at = pos;
        let result = loop {
            let rest = input.get(used..).unwrap_or_default();
            let stage = self.stage;
            match self.advance(rest, out, &mut at, limit) {
                Err(e) => break Err(e),
                Ok((n, true)) => {
                    used = used.saturating_add(n);
                    break Ok(Status::OutputFull);
                }
                Ok((n, false)) => {
                    used = used.saturating_add(n);
                    if n == 0 && stage == self.stage && rest.is_empty() {
                        break Ok(Status::NeedInput);
                    }
                }
            }
        };
        self.hash_to(out, at);
        Ok(Step {
            status: result?,
            consumed: used,
            produced: at.saturating_sub(pos),
        })
    }

    fn hash_to(&mut self, out: &[u8], at: usize) {
        if self.frame.checksum && at > self.hashed {
            if let Some(d) = out.get(self.hashed..at) {
                self.xxh.update(d);
            }
            self.hashed = at;
        }
    }

    /// Take bytes into `hdr` up to `hdr_need`; returns bytes taken.
    fn gather_header(&mut self, input: &[u8]) -> usize {
        let want = self.hdr_need.saturating_sub(self.hdr_len).min(input.len());
        let end = self.hdr_len.saturating_add(want);
        if let (Some(d), Some(s)) = (self.hdr.get_mut(self.hdr_len..end), input.get(..want)) {
            d.copy_from_slice(s);
        }
        self.hdr_len = end;
        want
    }

    fn hdr_u32(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        if let Some(s) = self.hdr.get(at..at.saturating_add(4)) {
            b.copy_from_slice(s);
        }
        u32::from_le_bytes(b)
    }

    /// One stage's worth of work. Returns (input used, output window full).
    /// Every call uses input, moves to another stage, or reports a full
    /// window, unless its input is empty.
    fn advance(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        at: &mut usize,
        limit: usize,
    ) -> Result<(usize, bool), ProbeError> {
        match self.stage {
            Stage::Magic => {
                let n = self.gather_header(input);
                if self.hdr_len == 4 {
                    let magic = self.hdr_u32(0);
                    if magic == u32::from_le_bytes(MAGIC) {
                        self.hdr_need = 5;
                        self.stage = Stage::FrameHeader;
                    } else if magic & !0xF == SKIPPABLE_MAGIC {
                        self.hdr_need = 8;
                        self.stage = Stage::SkipSize;
                    } else if self.any_frame {
                        return Err(ProbeError::ZstdTrailingGarbage);
                    } else {
                        return Err(corrupt!());
                    }
                }
                Ok((n, false))
            }
            Stage::SkipSize => {
                let n = self.gather_header(input);
                if self.hdr_len == 8 {
                    self.skip_left = self.hdr_u32(4);
                    self.stage = Stage::Skip;
                }
                Ok((n, false))
            }
            Stage::Skip => {
                let n = input.len().min(bytes_usize(self.skip_left));
                self.skip_left = self
                    .skip_left
                    .saturating_sub(u32::try_from(n).unwrap_or(u32::MAX));
                if self.skip_left == 0 {
                    self.info.skippable_frames = self.info.skippable_frames.saturating_add(1);
                    self.any_frame = true;
                    self.next_frame();
                }
                Ok((n, false))
            }
            Stage::FrameHeader => {
                let n = self.gather_header(input);
                if self.hdr_len == 5 && self.hdr_need == 5 {
                    self.hdr_need = frame_header_len(self.hdr[4]);
                }
                if self.hdr_len == self.hdr_need {
                    self.begin_frame(*at)?;
                }
                Ok((n, false))
            }
            Stage::BlockHeader => {
                let n = self.gather_header(input);
                if self.hdr_len == 3 {
                    self.begin_block()?;
                }
                Ok((n, false))
            }
            Stage::RleByte => match input.first() {
                Some(&b) => {
                    self.rle_byte = b;
                    self.stage = Stage::Rle;
                    Ok((1, false))
                }
                None => Ok((0, false)),
            },
            Stage::Raw => {
                let room = limit.saturating_sub(*at);
                if room == 0 && !input.is_empty() {
                    return Ok((0, true));
                }
                let n = self.block_left.min(input.len()).min(room);
                let end = at.saturating_add(n);
                if let (Some(d), Some(s)) = (out.get_mut(*at..end), input.get(..n)) {
                    d.copy_from_slice(s);
                }
                self.produce(at, n)?;
                self.block_left = self.block_left.saturating_sub(n);
                if self.block_left == 0 {
                    self.end_block()?;
                }
                Ok((n, false))
            }
            Stage::Rle => {
                let room = limit.saturating_sub(*at);
                if self.block_left == 0 {
                    self.end_block()?;
                    return Ok((0, false));
                }
                if room == 0 {
                    return Ok((0, true));
                }
                let n = self.block_left.min(room);
                let end = at.saturating_add(n);
                if let Some(d) = out.get_mut(*at..end) {
                    d.fill(self.rle_byte);
                }
                self.produce(at, n)?;
                self.block_left = self.block_left.saturating_sub(n);
                if self.block_left == 0 {
                    self.end_block()?;
                }
                Ok((0, false))
            }
            Stage::Gather => {
                if self.buf_len == 0 && input.len() >= self.block_left {
                    // The whole block is in the caller's input: read it there.
                    let len = self.block_left;
                    let block = input.get(..len).ok_or_else(|| corrupt!())?;
                    let seq_at = prepare_block(
                        block,
                        *at,
                        self.frame.block_max,
                        &mut self.ent,
                        &mut self.lits,
                        &mut self.exec,
                    )?;
                    let stream = block.get(seq_at..).unwrap_or_default();
                    let full = self.run(stream, out, at, limit)?;
                    if full {
                        // Keep the rest of the bitstream for the next call.
                        let dst = self.buf.get_mut(..stream.len()).ok_or_else(|| corrupt!())?;
                        dst.copy_from_slice(stream);
                        self.exec.stream_at = 0;
                        self.exec.stream_len = stream.len();
                        self.stage = Stage::Execute;
                    }
                    return Ok((len, full));
                }
                let want = self
                    .block_left
                    .saturating_sub(self.buf_len)
                    .min(input.len());
                let end = self.buf_len.saturating_add(want);
                if let (Some(d), Some(s)) = (self.buf.get_mut(self.buf_len..end), input.get(..want))
                {
                    d.copy_from_slice(s);
                }
                self.buf_len = end;
                if self.buf_len < self.block_left {
                    return Ok((want, false));
                }
                let block = self.buf.get(..self.buf_len).ok_or_else(|| corrupt!())?;
                let seq_at = prepare_block(
                    block,
                    *at,
                    self.frame.block_max,
                    &mut self.ent,
                    &mut self.lits,
                    &mut self.exec,
                )?;
                self.exec.stream_at = seq_at;
                self.exec.stream_len = self.buf_len.saturating_sub(seq_at);
                self.stage = Stage::Execute;
                Ok((want, false))
            }
            Stage::Execute => {
                let (from, len) = (self.exec.stream_at, self.exec.stream_len);
                let Self {
                    buf,
                    lits,
                    ent,
                    exec,
                    frame,
                    ..
                } = self;
                let stream = buf
                    .get(from..from.saturating_add(len))
                    .ok_or_else(|| corrupt!())?;
                let before = *at;
                let done = execute(exec, ent, lits, stream, out, at, limit, frame.start)?;
                frame.produced = frame
                    .produced
                    .saturating_add(at.saturating_sub(before) as u64);
                self.check_content_size()?;
                if done {
                    self.end_block()?;
                }
                Ok((0, !done))
            }
            Stage::Checksum => {
                let want = 4usize.saturating_sub(self.cksum_len).min(input.len());
                let end = self.cksum_len.saturating_add(want);
                if let (Some(d), Some(s)) =
                    (self.cksum.get_mut(self.cksum_len..end), input.get(..want))
                {
                    d.copy_from_slice(s);
                }
                self.cksum_len = end;
                if self.cksum_len == 4 {
                    self.hash_to(out, *at);
                    if self.xxh.digest() as u32 != u32::from_le_bytes(self.cksum) {
                        return Err(ProbeError::ZstdChecksum);
                    }
                    self.end_frame()?;
                }
                Ok((want, false))
            }
        }
    }

    /// Execute the sequences of the block just prepared, reading `stream`.
    /// Returns whether the window filled before the block ended.
    fn run(
        &mut self,
        stream: &[u8],
        out: &mut [u8],
        at: &mut usize,
        limit: usize,
    ) -> Result<bool, ProbeError> {
        let before = *at;
        let done = execute(
            &mut self.exec,
            &mut self.ent,
            &self.lits,
            stream,
            out,
            at,
            limit,
            self.frame.start,
        )?;
        self.frame.produced = self
            .frame
            .produced
            .saturating_add(at.saturating_sub(before) as u64);
        self.check_content_size()?;
        if done {
            self.end_block()?;
        }
        Ok(!done)
    }

    fn produce(&mut self, at: &mut usize, n: usize) -> Result<(), ProbeError> {
        *at = at.saturating_add(n);
        self.frame.produced = self.frame.produced.saturating_add(n as u64);
        self.check_content_size()
    }

    /// Output beyond Frame_Content_Size is corrupt as soon as it appears.
    fn check_content_size(&self) -> Result<(), ProbeError> {
        match self.frame.content_size {
            Some(size) if self.frame.produced > size => Err(ProbeError::ZstdContentSize),
            _ => Ok(()),
        }
    }

    fn next_frame(&mut self) {
        self.stage = Stage::Magic;
        self.hdr_len = 0;
        self.hdr_need = 4;
    }

    fn begin_frame(&mut self, at: usize) -> Result<(), ProbeError> {
        let h = self.hdr;
        let fhd = h[4];
        if fhd & 0x08 != 0 {
            return Err(ProbeError::ZstdReservedBit);
        }
        let single = fhd & 0x20 != 0;
        let le = |from: usize, n: usize| -> Option<u64> {
            let b = h.get(from..from.checked_add(n)?)?;
            Some(b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
        };
        let mut p = 5usize;
        let mut window: u64 = 0;
        if !single {
            let wd = *h.get(p).ok_or_else(|| corrupt!())?;
            p = p.saturating_add(1);
            let log = u32::from(wd >> 3).saturating_add(10);
            if log > WINDOW_LOG_MAX {
                return Err(ProbeError::ZstdWindowTooLarge);
            }
            let base = 1u64 << log;
            window = base.saturating_add((base >> 3).saturating_mul(u64::from(wd & 7)));
        }
        let did_len = did_len(fhd);
        let dict = le(p, did_len).ok_or_else(|| corrupt!())?;
        p = p.saturating_add(did_len);
        if dict != 0 {
            return Err(ProbeError::ZstdDictionary);
        }
        let content_size = match fhd >> 6 {
            0 if single => Some(le(p, 1).ok_or_else(|| corrupt!())?),
            0 => None,
            1 => Some(le(p, 2).ok_or_else(|| corrupt!())?.saturating_add(256)),
            2 => Some(le(p, 4).ok_or_else(|| corrupt!())?),
            _ => Some(le(p, 8).ok_or_else(|| corrupt!())?),
        };
        // An 8-byte Frame_Content_Size of all ones is "unknown" to the
        // reference decoder (ZSTD_CONTENTSIZE_UNKNOWN), and so to the
        // kernel's lib/zstd: the same here.
        let content_size = content_size.filter(|&c| c != u64::MAX);
        if single {
            window = content_size.unwrap_or(0);
        }
        self.frame = Frame {
            window,
            content_size,
            checksum: fhd & 0x04 != 0,
            block_max: usize::try_from(window.min(BLOCK_MAX as u64)).unwrap_or(BLOCK_MAX),
            start: at,
            produced: 0,
        };
        self.info.window_size = self.info.window_size.max(window);
        match content_size {
            Some(c) => {
                self.info.content_size =
                    Some(self.info.content_size.unwrap_or(0).saturating_add(c));
            }
            None => self.some_unsized = true,
        }
        self.some_unchecked |= !self.frame.checksum;
        self.xxh = Xxh64::new();
        self.hashed = at;
        self.ent.huf.clear();
        self.ent.tables_set = false;
        self.ent.reps = [1, 4, 8];
        self.stage = Stage::BlockHeader;
        self.hdr_len = 0;
        self.hdr_need = 3;
        Ok(())
    }

    fn begin_block(&mut self) -> Result<(), ProbeError> {
        let b = u32::from_le_bytes([self.hdr[0], self.hdr[1], self.hdr[2], 0]);
        self.last_block = b & 1 != 0;
        let size = bytes_usize(b >> 3);
        self.block_left = size;
        self.buf_len = 0;
        self.stage = match (b >> 1) & 3 {
            0 if size == 0 => {
                self.end_block()?;
                return Ok(());
            }
            0 | 1 if size > self.frame.block_max => return Err(ProbeError::ZstdBlockTooLarge),
            0 => Stage::Raw,
            1 => Stage::RleByte,
            2 if size > self.frame.block_max => return Err(corrupt!()),
            2 => Stage::Gather,
            _ => return Err(corrupt!()),
        };
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), ProbeError> {
        if !self.last_block {
            self.stage = Stage::BlockHeader;
            self.hdr_len = 0;
            self.hdr_need = 3;
            return Ok(());
        }
        if self.frame.checksum {
            self.stage = Stage::Checksum;
            self.cksum_len = 0;
            return Ok(());
        }
        self.end_frame()
    }

    fn end_frame(&mut self) -> Result<(), ProbeError> {
        if let Some(size) = self.frame.content_size {
            if self.frame.produced != size {
                return Err(ProbeError::ZstdContentSize);
            }
        }
        self.info.frames = self.info.frames.saturating_add(1);
        self.any_frame = true;
        self.next_frame();
        Ok(())
    }
}

/// Dictionary_ID field length from the frame header descriptor.
fn did_len(fhd: u8) -> usize {
    match fhd & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    }
}

fn bytes_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Frame header length from its descriptor byte (magic included).
fn frame_header_len(fhd: u8) -> usize {
    let single = fhd & 0x20 != 0;
    let window = usize::from(!single);
    let did = did_len(fhd);
    let fcs = match fhd >> 6 {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    5usize
        .saturating_add(window)
        .saturating_add(did)
        .saturating_add(fcs)
}

/// Little-endian value of `n` (<= 8) bytes at `at`.
fn le_at(b: &[u8], at: usize, n: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
}

/// Decode a compressed block's literals section into `lits` and read its
/// sequences section header and tables; returns where the sequence
/// bitstream starts in `block`.
fn prepare_block(
    block: &[u8],
    at: usize,
    block_max: usize,
    ent: &mut Entropy,
    lits: &mut [u8; BLOCK_MAX],
    exec: &mut Exec,
) -> Result<usize, ProbeError> {
    let (used, lits_len) = decode_literals(block, block_max, ent, lits)?;
    *exec = Exec {
        lits_len,
        block_end: at.saturating_add(block_max),
        ..Exec::default()
    };
    // Sequences section.
    let seq = block.get(used..).ok_or_else(|| corrupt!())?;
    let (&first, _) = seq.split_first().ok_or_else(|| corrupt!())?;
    let (count, mut p) = match first {
        0..=127 => (u32::from(first), 1usize),
        255 => (
            u32::try_from(le_at(seq, 1, 2).ok_or_else(|| corrupt!())?)
                .map_err(|_| corrupt!())?
                .saturating_add(0x7F00),
            3,
        ),
        _ => (
            u32::from(first & 0x7F) << 8 | u32::from(*seq.get(1).ok_or_else(|| corrupt!())?),
            2,
        ),
    };
    if count == 0 {
        if p != seq.len() {
            return Err(corrupt!());
        }
        exec.left = 0;
        return Ok(used.saturating_add(p));
    }
    let modes = *seq.get(p).ok_or_else(|| corrupt!())?;
    p = p.saturating_add(1);
    if modes & 3 != 0 {
        return Err(corrupt!());
    }
    let set = ent.tables_set;
    let n = seq_table(
        &mut ent.ll,
        modes >> 6,
        seq.get(p..).ok_or_else(|| corrupt!())?,
        &fse::LL_DEFAULT,
        6,
        LL_LOG,
        LL_MAX,
        set,
    )?;
    p = p.saturating_add(n);
    let n = seq_table(
        &mut ent.of,
        (modes >> 4) & 3,
        seq.get(p..).ok_or_else(|| corrupt!())?,
        &fse::OF_DEFAULT,
        5,
        OF_LOG,
        OF_MAX,
        set,
    )?;
    p = p.saturating_add(n);
    let n = seq_table(
        &mut ent.ml,
        (modes >> 2) & 3,
        seq.get(p..).ok_or_else(|| corrupt!())?,
        &fse::ML_DEFAULT,
        6,
        ML_LOG,
        ML_MAX,
        set,
    )?;
    p = p.saturating_add(n);
    ent.tables_set = true;
    let stream = seq.get(p..).ok_or_else(|| corrupt!())?;
    let mut bits = BackwardBits::new(stream).ok_or_else(|| corrupt!())?;
    exec.ll_state = ent.ll.init_state(&mut bits, stream);
    exec.of_state = ent.of.init_state(&mut bits, stream);
    exec.ml_state = ent.ml.init_state(&mut bits, stream);
    exec.bits = bits;
    exec.left = count;
    Ok(used.saturating_add(p))
}

/// The literals section at the start of `block` into `lits`: returns
/// (bytes of `block` used, literals decoded).
fn decode_literals(
    block: &[u8],
    block_max: usize,
    ent: &mut Entropy,
    lits: &mut [u8; BLOCK_MAX],
) -> Result<(usize, usize), ProbeError> {
    // MIN_CBLOCK_SIZE: a literals header and a sequences header.
    if block.len() < 2 {
        return Err(corrupt!());
    }
    let b0 = *block.first().ok_or_else(|| corrupt!())?;
    let kind = b0 & 3;
    let size_format = (b0 >> 2) & 3;
    if kind <= 1 {
        let (hsize, regen) = match size_format {
            0 | 2 => (1usize, u64::from(b0 >> 3)),
            1 => (2, le_at(block, 0, 2).ok_or_else(|| corrupt!())? >> 4),
            _ => (3, le_at(block, 0, 3).ok_or_else(|| corrupt!())? >> 4),
        };
        let regen = usize::try_from(regen).map_err(|_| corrupt!())?;
        if regen > block_max {
            return Err(corrupt!());
        }
        let dst = lits.get_mut(..regen).ok_or_else(|| corrupt!())?;
        return if kind == 0 {
            let end = hsize.checked_add(regen).ok_or_else(|| corrupt!())?;
            dst.copy_from_slice(block.get(hsize..end).ok_or_else(|| corrupt!())?);
            Ok((end, regen))
        } else {
            dst.fill(*block.get(hsize).ok_or_else(|| corrupt!())?);
            Ok((hsize.saturating_add(1), regen))
        };
    }
    if block.len() < 5 {
        return Err(corrupt!());
    }
    let (hsize, width, single) = match size_format {
        0 => (3usize, 10u32, true),
        1 => (3, 10, false),
        2 => (4, 14, false),
        _ => (5, 18, false),
    };
    let h = le_at(block, 0, hsize).ok_or_else(|| corrupt!())?;
    let mask = (1u64 << width).wrapping_sub(1);
    let regen = usize::try_from((h >> 4) & mask).map_err(|_| corrupt!())?;
    let comp = usize::try_from((h >> (width.saturating_add(4))) & mask).map_err(|_| corrupt!())?;
    if regen > block_max || (!single && regen < 6) {
        return Err(corrupt!());
    }
    let end = hsize.checked_add(comp).ok_or_else(|| corrupt!())?;
    let data = block.get(hsize..end).ok_or_else(|| corrupt!())?;
    let streams = if kind == 2 {
        let tree = ent
            .huf
            .read(data, &mut ent.weights)
            .ok_or_else(|| corrupt!())?;
        data.get(tree..).ok_or_else(|| corrupt!())?
    } else if ent.huf.is_set() {
        data
    } else {
        return Err(corrupt!());
    };
    let dst = lits.get_mut(..regen).ok_or_else(|| corrupt!())?;
    let exact = if single {
        ent.huf.decode_stream(streams, dst)
    } else {
        ent.huf.decode_4_streams(streams, dst)
    };
    if !exact.ok_or_else(|| corrupt!())? {
        return Err(ProbeError::ZstdLiteralsNotExact);
    }
    Ok((end, regen))
}

/// One sequence table (LL, OF or ML) per its mode; returns bytes used.
#[allow(clippy::too_many_arguments)]
fn seq_table<const N: usize>(
    t: &mut Table<N>,
    mode: u8,
    src: &[u8],
    default: &[i16],
    default_log: u32,
    max_log: u32,
    max_symbol: usize,
    repeatable: bool,
) -> Result<usize, ProbeError> {
    match mode {
        0 => {
            t.build(default, default_log).ok_or_else(|| corrupt!())?;
            Ok(0)
        }
        1 => {
            let &sym = src.first().ok_or_else(|| corrupt!())?;
            if usize::from(sym) > max_symbol {
                return Err(corrupt!());
            }
            t.rle(sym);
            Ok(1)
        }
        2 => t.read(src, max_log, max_symbol).ok_or_else(|| corrupt!()),
        _ if repeatable => Ok(0),
        _ => Err(corrupt!()),
    }
}

/// The fast copies' chunk: they write up to `WILD - 1` bytes past the end.
const WILD: usize = 16;

/// `lits[from..from + len]` to `out[at..]` in 16-byte chunks (the caller
/// leaves 16 bytes of room after both).
#[inline(always)]
fn wild_copy_literals(
    out: &mut [u8],
    at: usize,
    lits: &[u8],
    from: usize,
    len: usize,
) -> Option<()> {
    let mut i = 0usize;
    while i < len {
        let s: &[u8; WILD] = lits.get(from.checked_add(i)?..)?.first_chunk()?;
        let d: &mut [u8; WILD] = out.get_mut(at.checked_add(i)?..)?.first_chunk_mut()?;
        *d = *s;
        i = i.wrapping_add(WILD);
    }
    Some(())
}

/// A match at least 16 bytes back, in 16-byte chunks: each chunk's source
/// is complete before it is read (the caller leaves 16 bytes of room).
#[inline(always)]
fn wild_copy_match(out: &mut [u8], at: usize, offset: usize, len: usize) -> Option<()> {
    let src = at.checked_sub(offset)?;
    let mut i = 0usize;
    while i < len {
        let chunk: [u8; WILD] = *out.get(src.checked_add(i)?..)?.first_chunk()?;
        let d: &mut [u8; WILD] = out.get_mut(at.checked_add(i)?..)?.first_chunk_mut()?;
        *d = chunk;
        i = i.wrapping_add(WILD);
    }
    Some(())
}

/// A match fewer than 16 bytes back: its first 16 bytes byte by byte (the
/// pattern repeats every `offset`), the rest in 16-byte chunks from a
/// multiple of `offset` at least 16 back (the caller leaves 16 bytes of
/// room).
#[inline(always)]
fn wild_copy_match_near(out: &mut [u8], at: usize, offset: usize, len: usize) -> Option<()> {
    let src = at.checked_sub(offset)?;
    for i in 0..WILD {
        let b = *out.get(src.checked_add(i)?)?;
        *out.get_mut(at.checked_add(i)?)? = b;
    }
    if len > WILD {
        let period = offset.checked_mul(WILD.div_ceil(offset))?;
        wild_copy_match(out, at.checked_add(WILD)?, period, len.checked_sub(WILD)?)?;
    }
    Some(())
}

/// Copy `len` bytes from `offset` back to `at` (the regions may overlap:
/// then the pattern repeats, as LZ77 means it).
#[inline(always)]
fn copy_match(out: &mut [u8], at: usize, offset: usize, len: usize) -> Option<()> {
    let src = at.checked_sub(offset)?;
    let end = at.checked_add(len)?;
    if end > out.len() {
        return None;
    }
    if offset >= len {
        out.copy_within(src..src.checked_add(len)?, at);
        return Some(());
    }
    // Copy in chunks that never overlap their source: offset, 2 * offset,
    // 4 * offset, ... bytes, each from `src` (a multiple of the period).
    let mut done = 0usize;
    while done < len {
        let chunk = offset.checked_add(done)?.min(len.checked_sub(done)?);
        let dst = at.checked_add(done)?;
        out.copy_within(src..src.checked_add(chunk)?, dst);
        done = done.checked_add(chunk)?;
    }
    Some(())
}

/// Execute the prepared block's sequences (and its last literals) into
/// `out[*at..limit]`. Returns true when the block is complete, false when
/// the window filled first (the state in `ex` resumes it).
#[allow(clippy::too_many_arguments)]
fn execute(
    ex: &mut Exec,
    ent: &mut Entropy,
    lits: &[u8; BLOCK_MAX],
    stream: &[u8],
    out: &mut [u8],
    at: &mut usize,
    limit: usize,
    frame_start: usize,
) -> Result<bool, ProbeError> {
    loop {
        if ex.lit_left > 0 {
            let n = ex.lit_left.min(limit.saturating_sub(*at));
            if n == 0 {
                return Ok(false);
            }
            let src = lits
                .get(ex.lit_pos..ex.lit_pos.saturating_add(n))
                .ok_or_else(|| corrupt!())?;
            out.get_mut(*at..at.saturating_add(n))
                .ok_or_else(|| corrupt!())?
                .copy_from_slice(src);
            ex.lit_pos = ex.lit_pos.saturating_add(n);
            ex.lit_left = ex.lit_left.saturating_sub(n);
            *at = at.saturating_add(n);
            if ex.lit_left > 0 {
                return Ok(false);
            }
        }
        if ex.match_left > 0 {
            let n = ex.match_left.min(limit.saturating_sub(*at));
            if n == 0 {
                return Ok(false);
            }
            copy_match(out, *at, ex.offset, n).ok_or_else(|| corrupt!())?;
            ex.match_left = ex.match_left.saturating_sub(n);
            *at = at.saturating_add(n);
            if ex.match_left > 0 {
                return Ok(false);
            }
        }
        if ex.left == 0 {
            if ex.tail {
                return Ok(true);
            }
            ex.tail = true;
            ex.lit_left = ex.lits_len.saturating_sub(ex.lit_pos);
            continue;
        }
        // Decode one sequence (RFC 8878 4.1.2 and 3.1.1.5).
        let bits = &mut ex.bits;
        let of_code = u32::from(ent.of.cell(ex.of_state).symbol);
        let (ml_base, ml_bits) = *ML_CODES
            .get(usize::from(ent.ml.cell(ex.ml_state).symbol))
            .ok_or_else(|| corrupt!())?;
        let (ll_base, ll_bits) = *LL_CODES
            .get(usize::from(ent.ll.cell(ex.ll_state).symbol))
            .ok_or_else(|| corrupt!())?;
        let of_value = (1u64 << (of_code & 63)).wrapping_add(bits.read(stream, of_code));
        let ml = u64::from(ml_base).wrapping_add(bits.read(stream, u32::from(ml_bits)));
        let ll = u64::from(ll_base).wrapping_add(bits.read(stream, u32::from(ll_bits)));
        ex.left = ex.left.saturating_sub(1);
        if ex.left > 0 {
            ex.ll_state = ent.ll.next_state(ex.ll_state, bits, stream);
            ex.ml_state = ent.ml.next_state(ex.ml_state, bits, stream);
            ex.of_state = ent.of.next_state(ex.of_state, bits, stream);
        } else if !bits.finished_exactly() {
            return Err(corrupt!());
        }
        let ll = usize::try_from(ll).map_err(|_| corrupt!())?;
        let ml = usize::try_from(ml).map_err(|_| corrupt!())?;
        let reps = &mut ent.reps;
        let offset = if of_value > 3 {
            let o = usize::try_from(of_value.wrapping_sub(3)).map_err(|_| corrupt!())?;
            *reps = [o, reps[0], reps[1]];
            o
        } else {
            // Repeat offsets; with no literals the codes shift by one.
            let idx = usize::try_from(of_value)
                .map_err(|_| corrupt!())?
                .saturating_sub(usize::from(ll != 0));
            match idx {
                0 => reps[0],
                1 => {
                    *reps = [reps[1], reps[0], reps[2]];
                    reps[0]
                }
                2 => {
                    *reps = [reps[2], reps[0], reps[1]];
                    reps[0]
                }
                _ => {
                    let o = reps[0]
                        .checked_sub(1)
                        .filter(|&o| o > 0)
                        .ok_or_else(|| corrupt!())?;
                    *reps = [o, reps[0], reps[1]];
                    o
                }
            }
        };
        if ll > ex.lits_len.saturating_sub(ex.lit_pos) {
            return Err(corrupt!());
        }
        // The match may reach back to the frame's first byte, no further.
        let lit_end = at.checked_add(ll).ok_or_else(|| corrupt!())?;
        if offset == 0 || offset > lit_end.saturating_sub(frame_start) {
            return Err(corrupt!());
        }
        let end = lit_end.checked_add(ml).ok_or_else(|| corrupt!())?;
        // The block's output (the literals after the last sequence come on
        // top, and all of them are within Block_Maximum_Size already).
        if end.saturating_add(ex.lits_len.saturating_sub(ex.lit_pos).saturating_sub(ll))
            > ex.block_end
        {
            return Err(ProbeError::ZstdBlockTooLarge);
        }
        if end.saturating_add(WILD) <= limit.min(out.len())
            && ex.lit_pos.saturating_add(ll).saturating_add(WILD) <= BLOCK_MAX
        {
            // Fast path: 16-byte copies that may run up to 15 bytes past
            // their end, into output not written yet (inside the window).
            wild_copy_literals(out, *at, lits, ex.lit_pos, ll).ok_or_else(|| corrupt!())?;
            ex.lit_pos = ex.lit_pos.saturating_add(ll);
            if offset >= WILD {
                wild_copy_match(out, lit_end, offset, ml).ok_or_else(|| corrupt!())?;
            } else {
                wild_copy_match_near(out, lit_end, offset, ml).ok_or_else(|| corrupt!())?;
            }
            *at = end;
        } else if end <= limit {
            let src = lits
                .get(ex.lit_pos..ex.lit_pos.saturating_add(ll))
                .ok_or_else(|| corrupt!())?;
            out.get_mut(*at..lit_end)
                .ok_or_else(|| corrupt!())?
                .copy_from_slice(src);
            ex.lit_pos = ex.lit_pos.saturating_add(ll);
            copy_match(out, lit_end, offset, ml).ok_or_else(|| corrupt!())?;
            *at = end;
        } else {
            ex.lit_left = ll;
            ex.match_left = ml;
            ex.offset = offset;
        }
    }
}

/// Decode a whole zstd stream (frames and skippable frames) into `out`,
/// reusing `decoder`: the bytes written, or why not (`TooBig` when `out`
/// is full before the stream ends). One call, as the kernel's zboot stub
/// decompresses.
pub fn decode(
    decoder: &mut ZstdDecoder,
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, ProbeError> {
    decoder.reset();
    let s = decoder.step(input, out, 0, out.len())?;
    if s.status == Status::OutputFull {
        return Err(ProbeError::TooBig);
    }
    if !decoder.at_frame_boundary() {
        return Err(ProbeError::Truncated);
    }
    Ok(s.produced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// Decode `input` fed in `chunk`-byte pieces into a `cap`-byte buffer.
    pub(crate) fn decode(input: &[u8], cap: usize, chunk: usize) -> Result<Vec<u8>, ProbeError> {
        let mut d = std::boxed::Box::<ZstdDecoder>::default();
        let mut out = vec![0u8; cap];
        let mut pos = 0;
        for piece in input.chunks(chunk.max(1)) {
            let mut used = 0;
            let s = d.step(&piece[used..], &mut out, pos, cap)?;
            used += s.consumed;
            pos += s.produced;
            if s.status == Status::OutputFull {
                return Err(ProbeError::TooBig);
            }
            assert_eq!(used, piece.len());
        }
        if !d.at_frame_boundary() {
            return Err(ProbeError::Truncated);
        }
        out.truncate(pos);
        Ok(out)
    }

    fn sample(n: usize) -> Vec<u8> {
        // Text-like data with repeats at many distances, and some noise.
        let mut v = Vec::with_capacity(n);
        let mut x: u32 = 12345;
        while v.len() < n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            match x >> 29 {
                0..=3 => v.extend_from_slice(b"the quick brown fox "),
                4 => v.extend_from_slice(&[(x >> 8) as u8; 37]),
                5 => {
                    let back = ((x >> 4) as usize % v.len().max(1)).min(v.len());
                    let from = v.len() - back;
                    let take = back.min(300);
                    let copy: Vec<u8> = v[from..from + take].to_vec();
                    v.extend_from_slice(&copy);
                }
                _ => v.push((x >> 16) as u8),
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn matches_libzstd_at_every_level_and_chunking() {
        let data = sample(600_000);
        for level in [-5, 1, 3, 9, 19] {
            let z = zstd::bulk::compress(&data, level).unwrap();
            for chunk in [1usize << 30, 4096, 7, 1] {
                if chunk == 1 && level != 3 {
                    continue;
                }
                let got = decode(&z, data.len(), chunk).unwrap();
                assert!(got == data, "level {level} chunk {chunk}");
            }
        }
    }
}

/// Replays a zstd stream (a fuzz finding) with the check that refuses it
/// traced: `KP_ZSTD_REPLAY=file KP_ZSTD_TRACE=1 cargo test -p kernel-probe
/// --lib replay -- --nocapture`.
#[cfg(test)]
mod replay {
    #[test]
    fn replay() {
        let Some(path) = std::env::var_os("KP_ZSTD_REPLAY") else {
            return;
        };
        let z = std::fs::read(path).unwrap();
        let mut d = std::boxed::Box::<super::ZstdDecoder>::default();
        let mut out = std::vec![0u8; 64 << 20];
        let r = super::decode(&mut d, &z, &mut out);
        std::eprintln!("replay: {r:?}, {:?}", d.info());
    }
}
