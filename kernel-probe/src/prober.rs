//! The probe engine: bytes in (all at once or in chunks of any size) ->
//! container -> gzip members -> bounded inflate -> arm64 header -> report.
//!
//! Output goes first into a small head buffer inside the prober. Once the head
//! holds the arm64 header, the image announces its own size (the most kexec
//! accepts: `ALIGN(text_offset + image_size, PAGE_SIZE) - text_offset`, see
//! [`Arm64ImageHeader::max_file_len`]); the prober asks the
//! caller's [`OutputBuffer`] once for that many bytes (capped by the caller's
//! maximum), copies the head over and inflates the rest straight into it.

use miniz_oxide::inflate::core::DecompressorOxide;

use crate::bytes;
use crate::container::{sniff, Compression, Format, Sniffed, GZIP_MAGIC, SNIFF_LEN};
use crate::crc::Crc32;
use crate::error::ProbeError;
use crate::gzip::{HeaderParser, Trailer, TRAILER_LEN};
use crate::image::{Arm64ImageHeader, Target};
use crate::inflate::{self, Status};
use crate::pe::PE_HEADER_WINDOW;
use crate::report::{GzipInfo, Report};
use crate::uki::{self, UkiInfo, UKI_HEADER_MAX};
use crate::zboot::ZbootHeader;
use crate::zstd::{self as zst, ZstdDecoder, ZstdInfo};

/// Bytes of decompressed image kept in the prober before the output buffer
/// exists: the arm64 header and the PE headers.
pub const HEAD_LEN: usize = PE_HEADER_WINDOW;

/// The quick probe's budget: gzip data (member headers, deflate data,
/// trailers) it reads while the 4 KiB head is not yet full. Real kernels
/// need ~300 bytes (gzip -1/-9, pigz, busybox, zboot payloads); at the
/// worst cost per input byte (a flood of empty dynamic blocks, ~110 ns/byte
/// on x86-64) 32 KiB is ~4 ms, and 100 times what real kernels need.
pub const QUICK_HEAD_INPUT: u64 = 32 << 10;

/// The quick probe's budget for zstd data while the head is not full: the
/// frame header and the first block, which may be as long as 128 KiB (a
/// `-19` kernel's first block is ~40 KiB) and holds the head.
pub const QUICK_HEAD_INPUT_ZSTD: u64 = zst::BLOCK_MAX as u64 + 1024;

/// The default bound on the decompressed image: 256 MiB.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 256 << 20;

/// What the caller allows and what the target supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Largest decompressed image accepted; more is `EFBIG`.
    pub max_image_size: u64,
    /// Endianness and granules of the kernel that will load the image.
    pub target: Target,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            max_image_size: DEFAULT_MAX_IMAGE_SIZE,
            target: Target::default(),
        }
    }
}

/// Where the decompressed image goes. The prober calls [`Self::reserve`] at
/// most once per probe, with the exact size it needs; it never grows a buffer.
pub trait OutputBuffer {
    /// Make [`Self::as_mut_slice`] at least `len` bytes long. Fail with
    /// [`ProbeError::NoMemory`] when that cannot be done.
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError>;
    /// The reserved bytes (empty before `reserve`).
    fn as_slice(&self) -> &[u8];
    /// The reserved bytes, writable.
    fn as_mut_slice(&mut self) -> &mut [u8];
}

/// A caller-owned slice is an output buffer of fixed size.
impl OutputBuffer for &mut [u8] {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        if self.len() >= len {
            Ok(())
        } else {
            Err(ProbeError::OutputTooSmall)
        }
    }
    fn as_slice(&self) -> &[u8] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        self
    }
}

/// An output buffer that refuses every reservation: for probes that must
/// not inflate past the head (the quick probe).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOutput;

impl OutputBuffer for NoOutput {
    fn reserve(&mut self, _len: usize) -> Result<(), ProbeError> {
        Err(ProbeError::OutputTooSmall)
    }
    fn as_slice(&self) -> &[u8] {
        &[]
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut []
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Stage {
    /// Collecting the first bytes to recognise the container.
    Sniff,
    /// A raw Image: input is output.
    Raw,
    /// zboot: skipping the PE wrapper up to the payload.
    ZbootSkip,
    /// Inside a gzip member header.
    GzipHeader,
    /// Inside a member's deflate data.
    Deflate,
    /// Inside a member's trailer.
    Trailer,
    /// After a trailer: another member, zero padding, or the end.
    AfterMember,
    /// Zero padding after the last member.
    Padding,
    /// zstd frames (the decoder keeps its own stages).
    Zstd,
    /// zboot: the bytes after the payload (rest of the PE file).
    ZbootTail,
    /// The quick probe stopped once the head was full.
    Stopped,
    /// A UKI's PE headers, up to the end of its section table.
    UkiHeader,
    /// A UKI's sections around `.linux` (and, after it, the rest).
    UkiBody,
}

/// Whether the head is still being filled or the caller's buffer is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Sink {
    Head,
    /// The caller's buffer, `len` bytes of it in use as the bound.
    Output {
        len: usize,
    },
}

/// The streaming probe. About 285 KB (the zstd decoder's two 128 KiB block
/// buffers): allocate it where the caller wants it
/// (a heap box in userspace and in the kernel), never on a kernel stack, and
/// reuse it with [`Prober::reset`].
///
/// All-zero memory is a valid (not yet usable) `Prober`, so a kernel caller
/// can get one from a zeroing allocator without building it on the stack,
/// then call [`Prober::reset`]. That holds because every field is an
/// integer, an array of them, a bool, an enum with `#[repr(u8)]` whose
/// variant 0 exists, a struct or `Option` of those, or miniz_oxide's
/// `DecompressorOxide` (integers, arrays and a fieldless state enum whose
/// first variant, `Start`, is 0), and the zstd decoder (the same kinds,
/// its stage enum `#[repr(u8)]` with `Magic` = 0). Keep it so when adding fields;
/// `tests/zeroed.rs` checks it under Miri. miniz_oxide is pinned exactly and
/// vendored (Cargo.toml, vendor/miniz_oxide), so any change to its state is a
/// change in this repository, checked again by that test; a changed size of
/// the state also stops the build (asserted below). (The fixed-tables patch
/// added a `bool`, zero = false, inside existing padding: same size.)
#[derive(Clone)]
pub struct Prober {
    inflater: DecompressorOxide,
    zstd: ZstdDecoder,
    head: [u8; HEAD_LEN],
    sniff: [u8; SNIFF_LEN],
    sniff_len: usize,
    opts: ProbeOptions,
    stage: Stage,
    /// Stop once the head is full instead of asking for output.
    quick: bool,
    /// Quick probe: gzip data consumed while the head is not full.
    head_input: u64,
    format: Option<Format>,
    zboot: Option<ZbootHeader>,
    /// Outer input bytes consumed.
    input_pos: u64,
    /// Image bytes produced.
    out_pos: usize,
    sink: Sink,
    header: Option<Arm64ImageHeader>,
    gz_header: HeaderParser,
    /// CRC32 and length of the current member's output.
    member_crc: u32,
    member_len: u64,
    /// Where the current member's output starts in the image: its deflate
    /// stream may refer back to its own output only (RFC 1952 members are
    /// independent streams), never into the previous member's.
    member_start: usize,
    trailer: [u8; TRAILER_LEN],
    trailer_len: usize,
    members: u32,
    last_trailer: Option<Trailer>,
    error: Option<ProbeError>,
    finished: bool,
    /// A UKI: its headers (`uki_hdr[..uki_hdr_len]`), what they say, and
    /// where its `.linux` (the inner kernel) starts and ends in the input.
    uki_hdr: [u8; UKI_HEADER_MAX],
    uki_hdr_len: usize,
    uki: Option<UkiInfo>,
    /// Offset in the input of the kernel being probed: 0, or `.linux`'s.
    base: u64,
    /// `.linux` was probed to its end.
    inner_done: bool,
}

/// The zeroed-allocation contract was checked (Miri) for this layout of
/// miniz_oxide 0.8.9's state; a change must be checked again.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    core::mem::size_of::<DecompressorOxide>() == 10504
        && core::mem::align_of::<DecompressorOxide>() == 8
);

impl Default for Prober {
    fn default() -> Self {
        Self::new(ProbeOptions::default())
    }
}

impl Prober {
    /// A prober; this value is ~285 KB, so prefer building it in place on
    /// the heap (zeroed) and calling [`Self::reset`].
    pub fn new(opts: ProbeOptions) -> Self {
        Self {
            inflater: DecompressorOxide::default(),
            zstd: ZstdDecoder::default(),
            head: [0; HEAD_LEN],
            sniff: [0; SNIFF_LEN],
            sniff_len: 0,
            opts,
            stage: Stage::Sniff,
            quick: false,
            head_input: 0,
            format: None,
            zboot: None,
            input_pos: 0,
            out_pos: 0,
            sink: Sink::Head,
            header: None,
            gz_header: HeaderParser::new(),
            member_crc: 0,
            member_len: 0,
            member_start: 0,
            trailer: [0; TRAILER_LEN],
            trailer_len: 0,
            members: 0,
            last_trailer: None,
            error: None,
            finished: false,
            uki_hdr: [0; UKI_HEADER_MAX],
            uki_hdr_len: 0,
            uki: None,
            base: 0,
            inner_done: false,
        }
    }

    /// Start a new probe, keeping the allocation. Only the small fields are
    /// reset; the inflate tables are rebuilt per stream anyway.
    pub fn reset(&mut self, opts: ProbeOptions) {
        inflate::reset(&mut self.inflater);
        self.zstd.reset();
        self.sniff_len = 0;
        self.opts = opts;
        self.stage = Stage::Sniff;
        self.quick = false;
        self.head_input = 0;
        self.format = None;
        self.zboot = None;
        self.input_pos = 0;
        self.out_pos = 0;
        self.sink = Sink::Head;
        self.header = None;
        self.gz_header = HeaderParser::new();
        self.member_crc = 0;
        self.member_len = 0;
        self.member_start = 0;
        self.trailer_len = 0;
        self.members = 0;
        self.last_trailer = None;
        self.error = None;
        self.finished = false;
        self.uki_hdr_len = 0;
        self.uki = None;
        self.base = 0;
        self.inner_done = false;
    }

    /// Stop after the head instead of inflating the whole image.
    pub(crate) fn set_quick(&mut self) {
        self.quick = true;
    }

    /// The options of the current probe.
    pub fn options(&self) -> &ProbeOptions {
        &self.opts
    }

    /// The container, once recognised (also after a failure): for a UKI,
    /// `Uki` (the kernel inside is [`Self::inner_format`]).
    pub fn format(&self) -> Option<Format> {
        if self.uki.is_some() {
            return Some(Format::Uki);
        }
        self.format
    }

    /// The kernel's own container: inside a UKI's `.linux`, or the input's.
    pub fn inner_format(&self) -> Option<Format> {
        self.format
    }

    /// A UKI's headers and text sections, once read.
    pub fn uki(&self) -> Option<&UkiInfo> {
        self.uki.as_ref()
    }

    /// Input bytes consumed so far.
    pub fn input_size(&self) -> u64 {
        self.input_pos
    }

    /// The first error, if the probe has failed.
    pub fn error(&self) -> Option<ProbeError> {
        self.error
    }

    /// The decompressed image so far: in the head until the output buffer
    /// was reserved, in `out` after.
    pub fn image<'a>(&'a self, out: &'a impl OutputBuffer) -> &'a [u8] {
        let buf = match self.sink {
            Sink::Head => &self.head[..],
            Sink::Output { .. } => out.as_slice(),
        };
        buf.get(..self.out_pos).unwrap_or_default()
    }

    /// Feed the next chunk of input. Every byte is consumed unless an error
    /// is returned (errors are sticky: later calls return the same one).
    pub fn write<O: OutputBuffer, C: Crc32>(
        &mut self,
        input: &[u8],
        out: &mut O,
        crc: &mut C,
    ) -> Result<(), ProbeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.finished {
            return Err(ProbeError::InvalidState);
        }
        if self.opts.max_image_size < HEAD_LEN as u64 {
            self.error = Some(ProbeError::BoundTooSmall);
            return Err(ProbeError::BoundTooSmall);
        }
        let result = self.write_all(input, out, crc);
        if let Err(e) = result {
            self.error = Some(e);
        }
        result
    }

    fn write_all<O: OutputBuffer, C: Crc32>(
        &mut self,
        input: &[u8],
        out: &mut O,
        crc: &mut C,
    ) -> Result<(), ProbeError> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = input.get(pos..).unwrap_or_default();
            let stage = self.stage;
            let used = self.dispatch(rest, out, crc)?;
            if used == 0 && stage == self.stage {
                // Every stage consumes input or moves on; anything else
                // would loop forever.
                return Err(ProbeError::InvalidState);
            }
            pos = pos.saturating_add(used);
            self.input_pos = self.input_pos.saturating_add(used as u64);
            if let Some(end) = self.inner_end() {
                if self.input_pos >= end && !self.inner_done && self.stage != Stage::Stopped {
                    // `.linux` is complete: its kernel must be, too.
                    self.stream_complete()?;
                    self.inner_done = true;
                    self.stage = Stage::UkiBody;
                }
            }
            if self.stage == Stage::Stopped {
                // Quick probe: the rest of the input is not looked at.
                break;
            }
        }
        Ok(())
    }

    /// Consume some of `input` in the current stage; returns bytes used.
    fn dispatch<O: OutputBuffer, C: Crc32>(
        &mut self,
        input: &[u8],
        out: &mut O,
        crc: &mut C,
    ) -> Result<usize, ProbeError> {
        // A UKI's `.linux` is a window of the input, and a zboot payload a
        // window of that.
        let input = match self.inner_end() {
            Some(end)
                if !self.inner_done && !matches!(self.stage, Stage::UkiHeader | Stage::UkiBody) =>
            {
                let left = end.saturating_sub(self.input_pos);
                input.get(..bytes::usize_sat(left)).unwrap_or(input)
            }
            _ => input,
        };
        let payload_left = self.payload_left();
        let in_payload = match self.stage {
            Stage::GzipHeader
            | Stage::Deflate
            | Stage::Trailer
            | Stage::AfterMember
            | Stage::Padding
            | Stage::Zstd => {
                payload_left.map_or(input.len(), |left| input.len().min(bytes::usize_sat(left)))
            }
            _ => input.len(),
        };
        // Quick probe: the head must appear within QUICK_HEAD_INPUT bytes of
        // gzip data. The slice is cut so that no single inflate call can run
        // past the budget (a flood of empty blocks is one call otherwise).
        let budgeted = self.quick
            && self.sink == Sink::Head
            && matches!(
                self.stage,
                Stage::GzipHeader
                    | Stage::Deflate
                    | Stage::Trailer
                    | Stage::AfterMember
                    | Stage::Zstd
            );
        let in_payload = if budgeted {
            let budget = if self.stage == Stage::Zstd {
                QUICK_HEAD_INPUT_ZSTD
            } else {
                QUICK_HEAD_INPUT
            };
            let left = budget.saturating_sub(self.head_input);
            if left == 0 && in_payload > 0 {
                if matches!(self.stage, Stage::Deflate | Stage::Zstd) && self.out_pos >= HEAD_LEN {
                    // The head is full and the decoder only waits for more
                    // output (a run of empty blocks, say): decide now.
                    self.announce(out)?;
                    return Ok(0);
                }
                return Err(ProbeError::QuickHeadTooDeep);
            }
            in_payload.min(bytes::usize_sat(left))
        } else {
            in_payload
        };
        let data = input.get(..in_payload).unwrap_or_default();
        let used = match self.stage {
            Stage::Sniff => self.sniff_step(input, out, crc)?,
            Stage::Raw => self.emit_raw(input, out)?,
            Stage::ZbootSkip => {
                let skip = self.zboot.map_or(0, |z| {
                    u64::from(z.payload_offset).saturating_sub(self.rel_pos())
                });
                let n = input.len().min(bytes::usize_sat(skip));
                if n == bytes::usize_sat(skip) {
                    self.stage = match self.zboot.map(|z| z.compression) {
                        Some(Compression::Zstd) => Stage::Zstd,
                        _ => Stage::GzipHeader,
                    };
                }
                n
            }
            Stage::GzipHeader => {
                let n = self.gz_header.feed(data, crc)?;
                if self.gz_header.is_done() {
                    inflate::reset(&mut self.inflater);
                    self.member_crc = 0;
                    self.member_len = 0;
                    self.member_start = self.out_pos;
                    self.stage = Stage::Deflate;
                }
                n
            }
            Stage::Deflate => self.inflate(data, out, crc)?,
            Stage::Zstd => self.unzstd(data, out)?,
            Stage::Trailer => self.trailer_step(data)?,
            Stage::AfterMember => match data.first() {
                Some(0) => {
                    self.stage = Stage::Padding;
                    0
                }
                Some(_) => {
                    self.gz_header = HeaderParser::new();
                    self.stage = Stage::GzipHeader;
                    0
                }
                None => 0,
            },
            Stage::Padding => {
                if data.iter().any(|&b| b != 0) {
                    return Err(ProbeError::TrailingGarbage);
                }
                data.len()
            }
            Stage::ZbootTail => input.len(),
            Stage::Stopped => input.len(),
            Stage::UkiHeader => self.uki_header_step(input)?,
            Stage::UkiBody => self.uki_body_step(input),
        };
        if budgeted {
            self.head_input = self.head_input.saturating_add(used as u64);
        }
        // Leaving the zboot payload: the gzip stream must be complete.
        if let Some(left) = payload_left {
            if self.stage != Stage::ZbootSkip
                && u64::try_from(used).is_ok_and(|u| u >= left)
                && left > 0
            {
                match self.stage {
                    Stage::AfterMember | Stage::Padding => self.stage = Stage::ZbootTail,
                    Stage::Zstd if self.zstd.at_frame_boundary() => self.stage = Stage::ZbootTail,
                    Stage::Stopped => {}
                    _ => return Err(ProbeError::Truncated),
                }
            }
        }
        Ok(used)
    }

    /// Input position relative to the kernel being probed (`.linux`'s start
    /// inside a UKI).
    fn rel_pos(&self) -> u64 {
        self.input_pos.saturating_sub(self.base)
    }

    /// Where `.linux` ends in the input, inside a UKI.
    fn inner_end(&self) -> Option<u64> {
        self.uki.map(|u| u.linux.end())
    }

    /// Gather a UKI's headers; parse them once the section table is in.
    fn uki_header_step(&mut self, input: &[u8]) -> Result<usize, ProbeError> {
        let have = self.uki_hdr.get(..self.uki_hdr_len).unwrap_or_default();
        // e_lfanew first (the first 64 bytes), then up to the end of the
        // section table (at most 4 KiB).
        let need = uki::header_len(have)?.unwrap_or(0x40);
        let take = need.saturating_sub(self.uki_hdr_len).min(input.len());
        let end = self.uki_hdr_len.saturating_add(take);
        if let (Some(d), Some(src)) = (
            self.uki_hdr.get_mut(self.uki_hdr_len..end),
            input.get(..take),
        ) {
            d.copy_from_slice(src);
        }
        self.uki_hdr_len = end;
        let have = self.uki_hdr.get(..end).unwrap_or_default();
        if let Some(n) = uki::header_len(have)? {
            if end >= n {
                let info = UkiInfo::parse(have, None)?;
                self.uki = Some(info);
                self.stage = Stage::UkiBody;
            }
        }
        Ok(take)
    }

    /// A UKI's bytes outside `.linux`: keep the text sections' first bytes,
    /// start the inner probe where `.linux` starts.
    fn uki_body_step(&mut self, input: &[u8]) -> usize {
        let Some(mut info) = self.uki else {
            return 0;
        };
        let n = if self.inner_done {
            input.len()
        } else {
            let to_linux = u64::from(info.linux.offset).saturating_sub(self.input_pos);
            input.len().min(bytes::usize_sat(to_linux))
        };
        info.capture(self.input_pos, input.get(..n).unwrap_or_default());
        self.uki = Some(info);
        if !self.inner_done
            && self.input_pos.saturating_add(n as u64) >= u64::from(info.linux.offset)
        {
            // `.linux` begins: probe it as a kernel of its own.
            self.base = u64::from(info.linux.offset);
            self.sniff_len = 0;
            self.stage = Stage::Sniff;
        }
        n
    }

    /// zboot: payload bytes not yet consumed, once the payload has begun.
    fn payload_left(&self) -> Option<u64> {
        let z = self.zboot?;
        if self.stage == Stage::ZbootSkip || self.stage == Stage::ZbootTail {
            return None;
        }
        Some(z.payload_end().saturating_sub(self.rel_pos()))
    }

    fn sniff_step<O: OutputBuffer, C: Crc32>(
        &mut self,
        input: &[u8],
        out: &mut O,
        crc: &mut C,
    ) -> Result<usize, ProbeError> {
        // Take bytes until the container is certain: 2 for gzip, else 64.
        let mut used: usize = 0;
        for &b in input {
            if let Some(slot) = self.sniff.get_mut(self.sniff_len) {
                *slot = b;
            }
            self.sniff_len = self.sniff_len.saturating_add(1);
            used = used.saturating_add(1);
            let head = self.sniff.get(..self.sniff_len).unwrap_or_default();
            if head == GZIP_MAGIC || zst::is_frame_magic(head) || self.sniff_len == SNIFF_LEN {
                break;
            }
        }
        let head = self.sniff.get(..self.sniff_len).unwrap_or_default();
        if head == GZIP_MAGIC {
            self.format = Some(Format::Gzip);
            self.stage = Stage::GzipHeader;
            let magic = GZIP_MAGIC;
            // Replay the sniffed bytes into the member parser.
            self.gz_header.feed(&magic, crc)?;
        } else if zst::is_frame_magic(head) {
            self.format = Some(Format::Zstd);
            self.stage = Stage::Zstd;
            let magic = self.sniff;
            // Replay the four magic bytes into the decoder.
            self.unzstd(magic.get(..4).unwrap_or_default(), out)?;
        } else if self.sniff_len == SNIFF_LEN {
            self.decide_full_sniff(out)?;
        }
        Ok(used)
    }

    fn decide_full_sniff<O: OutputBuffer>(&mut self, out: &mut O) -> Result<(), ProbeError> {
        let sniffed = self.sniff;
        match sniff(&sniffed) {
            Sniffed::Known(Format::Zboot) => {
                self.format = Some(Format::Zboot);
                self.zboot = Some(ZbootHeader::parse(&sniffed, None)?);
                self.stage = Stage::ZbootSkip;
            }
            Sniffed::Known(Format::Image) => {
                self.format = Some(Format::Image);
                self.stage = Stage::Raw;
                // The 64 sniffed bytes fit in the 4 KiB head, so all are
                // taken; anything else is a broken invariant, not a panic.
                if self.emit_raw(&sniffed, out)? != SNIFF_LEN {
                    return Err(ProbeError::InvalidState);
                }
            }
            // Gzip and zstd were decided on their first bytes.
            Sniffed::Known(Format::Gzip | Format::Zstd | Format::Uki) => {
                return Err(ProbeError::InvalidState)
            }
            Sniffed::Unsupported(c) => return Err(ProbeError::UnsupportedCompression(c)),
            // An EFI application that is neither an Image nor zboot: a UKI
            // if it has a `.linux` section. One level only.
            Sniffed::Unknown if sniffed.starts_with(b"MZ") => {
                if self.uki.is_some() {
                    return Err(ProbeError::UkiNested);
                }
                self.format = None;
                self.uki_hdr_len = 0;
                self.stage = Stage::UkiHeader;
                let n = self.uki_header_step(&sniffed)?;
                if n != SNIFF_LEN && self.stage == Stage::UkiHeader {
                    return Err(ProbeError::InvalidState);
                }
            }
            Sniffed::Unknown => return Err(ProbeError::UnknownFormat),
        }
        Ok(())
    }

    /// The output window's end: the head's size until the image announced
    /// its size, then that size.
    fn limit(&self) -> usize {
        match self.sink {
            Sink::Head => HEAD_LEN,
            Sink::Output { len } => len,
        }
    }

    /// The error for an image that wants more room than its bound.
    fn overflow_error(&self) -> ProbeError {
        let page = self.opts.target.page_size;
        match self.header.and_then(|h| h.max_file_len(page).ok()) {
            Some(len) if len <= self.opts.max_image_size => ProbeError::ImageLongerThanImageSize,
            _ => ProbeError::TooBig,
        }
    }

    /// The head is full and more output is coming: validate the header and
    /// get the output buffer it announces. Returns false if the probe stops
    /// here (quick probe).
    fn announce<O: OutputBuffer>(&mut self, out: &mut O) -> Result<bool, ProbeError> {
        let header = Arm64ImageHeader::parse(&self.head)?;
        header.validate(&self.opts.target)?;
        self.header = Some(header);
        if self.quick {
            self.stage = Stage::Stopped;
            return Ok(false);
        }
        let max_len = header.max_file_len(self.opts.target.page_size)?;
        let len = bytes::usize_sat(max_len.min(self.opts.max_image_size));
        if len <= self.out_pos {
            return Err(self.overflow_error());
        }
        out.reserve(len)?;
        let dst = out
            .as_mut_slice()
            .get_mut(..HEAD_LEN)
            .ok_or(ProbeError::OutputTooSmall)?;
        dst.copy_from_slice(&self.head);
        if out.as_slice().len() < len {
            return Err(ProbeError::OutputTooSmall);
        }
        self.sink = Sink::Output { len };
        Ok(true)
    }

    fn emit_raw<O: OutputBuffer>(&mut self, data: &[u8], out: &mut O) -> Result<usize, ProbeError> {
        let mut used = 0;
        while used < data.len() {
            let limit = self.limit();
            let room = limit.saturating_sub(self.out_pos);
            if room == 0 {
                if !self.announce(out)? {
                    return Ok(data.len());
                }
                continue;
            }
            let n = room.min(data.len().saturating_sub(used));
            let end = used.saturating_add(n);
            let (src, pos) = (data.get(used..end).unwrap_or_default(), self.out_pos);
            let buf = match self.sink {
                Sink::Head => &mut self.head[..],
                Sink::Output { .. } => out.as_mut_slice(),
            };
            if let Some(dst) = buf.get_mut(pos..pos.saturating_add(n)) {
                dst.copy_from_slice(src);
            }
            self.out_pos = self.out_pos.saturating_add(n);
            used = end;
        }
        Ok(used)
    }

    fn inflate<O: OutputBuffer, C: Crc32>(
        &mut self,
        data: &[u8],
        out: &mut O,
        crc: &mut C,
    ) -> Result<usize, ProbeError> {
        let mut used = 0;
        loop {
            let limit = self.limit();
            let pos = self.out_pos;
            let buf = match self.sink {
                Sink::Head => &mut self.head[..],
                Sink::Output { .. } => out.as_mut_slice(),
            };
            let rest = data.get(used..).unwrap_or_default();
            // The decoder sees only this member's output, so a distance that
            // reaches before the member's start is corrupt data.
            let base = self.member_start.min(pos);
            let step = inflate::step(
                &mut self.inflater,
                rest,
                buf.get_mut(base..).unwrap_or_default(),
                pos.saturating_sub(base),
                limit.saturating_sub(base),
                inflate::STEP,
            )?;
            let produced = buf
                .get(pos..pos.saturating_add(step.produced))
                .unwrap_or_default();
            // CRC fused per step, while the step's output is still in cache.
            self.member_crc = crc.update(self.member_crc, produced);
            self.member_len = self.member_len.saturating_add(step.produced as u64);
            self.out_pos = self.out_pos.saturating_add(step.produced);
            used = used.saturating_add(step.consumed);
            match step.status {
                Status::StreamEnd => {
                    self.stage = Stage::Trailer;
                    self.trailer_len = 0;
                    return Ok(used);
                }
                Status::NeedInput => return Ok(used),
                Status::OutputFull if self.out_pos < limit => {}
                Status::OutputFull => {
                    // The window is full. With all input consumed the decoder
                    // may only be waiting for the end-of-block code: decide
                    // when more input arrives. Otherwise it holds a byte it
                    // cannot write.
                    if used == data.len() {
                        return Ok(used);
                    }
                    if self.sink == Sink::Head {
                        if !self.announce(out)? {
                            return Ok(data.len());
                        }
                        continue;
                    }
                    return Err(self.overflow_error());
                }
            }
        }
    }

    fn unzstd<O: OutputBuffer>(&mut self, data: &[u8], out: &mut O) -> Result<usize, ProbeError> {
        let mut used = 0;
        loop {
            let limit = self.limit();
            let pos = self.out_pos;
            let buf = match self.sink {
                Sink::Head => &mut self.head[..],
                Sink::Output { .. } => out.as_mut_slice(),
            };
            let rest = data.get(used..).unwrap_or_default();
            let step = self.zstd.step(rest, buf, pos, limit)?;
            self.out_pos = self.out_pos.saturating_add(step.produced);
            used = used.saturating_add(step.consumed);
            match step.status {
                zst::Status::NeedInput => return Ok(used),
                zst::Status::OutputFull => {
                    if self.sink == Sink::Head {
                        if !self.announce(out)? {
                            return Ok(data.len());
                        }
                        continue;
                    }
                    return Err(self.overflow_error());
                }
            }
        }
    }

    fn trailer_step(&mut self, data: &[u8]) -> Result<usize, ProbeError> {
        let take = TRAILER_LEN.saturating_sub(self.trailer_len).min(data.len());
        let end = self.trailer_len.saturating_add(take);
        if let (Some(dst), Some(src)) = (
            self.trailer.get_mut(self.trailer_len..end),
            data.get(..take),
        ) {
            dst.copy_from_slice(src);
        }
        self.trailer_len = end;
        if self.trailer_len == TRAILER_LEN {
            let t = Trailer::parse(self.trailer);
            t.verify(self.member_crc, self.member_len)?;
            self.last_trailer = Some(t);
            self.members = self.members.saturating_add(1);
            self.stage = Stage::AfterMember;
        }
        Ok(take)
    }

    /// The input has ended: check that every stream is complete and build
    /// the report from the whole image.
    pub fn finish<O: OutputBuffer>(&mut self, out: &O) -> Result<Report, ProbeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.finished {
            return Err(ProbeError::InvalidState);
        }
        let result = self.finish_inner(out);
        match result {
            Ok(_) => self.finished = true,
            Err(e) => self.error = Some(e),
        }
        result
    }

    /// The input (or a UKI's `.linux`) ends here: is the kernel's stream
    /// complete?
    fn stream_complete(&mut self) -> Result<(), ProbeError> {
        match self.stage {
            Stage::Sniff => Err(
                match sniff(self.sniff.get(..self.sniff_len).unwrap_or_default()) {
                    Sniffed::Unsupported(c) => ProbeError::UnsupportedCompression(c),
                    Sniffed::Known(Format::Zboot) => ProbeError::Truncated,
                    // 60-63 bytes with the magic at 0x38: what the
                    // one-shot probe says of the same bytes.
                    Sniffed::Known(Format::Image) => {
                        self.format = Some(Format::Image);
                        ProbeError::ImageTooShort
                    }
                    Sniffed::Unknown if self.uki.is_some() && !self.inner_done => {
                        ProbeError::Truncated
                    }
                    _ => ProbeError::UnknownFormat,
                },
            ),
            // The input ended inside a zboot payload: the gzip stream may be
            // complete, but the payload the header declares is not there.
            Stage::AfterMember | Stage::Padding if self.payload_left().is_some_and(|l| l > 0) => {
                Err(ProbeError::Truncated)
            }
            Stage::Zstd if self.payload_left().is_some_and(|l| l > 0) => Err(ProbeError::Truncated),
            Stage::Zstd if !self.zstd.at_frame_boundary() => Err(ProbeError::Truncated),
            Stage::Raw | Stage::AfterMember | Stage::Padding | Stage::ZbootTail | Stage::Zstd => {
                Ok(())
            }
            Stage::ZbootSkip | Stage::GzipHeader | Stage::Deflate | Stage::Trailer => {
                Err(ProbeError::Truncated)
            }
            Stage::UkiHeader => Err(ProbeError::Truncated),
            // Every section the UKI declares must be in the file.
            Stage::UkiBody => {
                let info = self.uki.unwrap_or_default();
                let end = [
                    Some(info.linux),
                    info.initrd,
                    info.cmdline,
                    info.uname,
                    info.osrel,
                ]
                .iter()
                .flatten()
                .map(|s| s.end())
                .max()
                .unwrap_or(0);
                if self.inner_done && self.input_pos >= end {
                    Ok(())
                } else {
                    Err(ProbeError::Truncated)
                }
            }
            Stage::Stopped => Err(ProbeError::InvalidState),
        }
    }

    fn finish_inner<O: OutputBuffer>(&mut self, out: &O) -> Result<Report, ProbeError> {
        self.stream_complete()?;
        if self.uki.is_some() && !self.inner_done {
            // The input ended inside the UKI's `.linux`.
            return Err(ProbeError::Truncated);
        }
        let image = self.image(out);
        let mut report = Report::build(
            image,
            self.opts.target,
            self.opts.max_image_size,
            self.format.unwrap_or(Format::Image),
            self.input_pos,
            self.gzip_info(),
            self.zboot,
        )?;
        report.zstd = self.zstd_info();
        if let Some(u) = self.uki {
            report.format = Format::Uki;
            report.inner_format = self.format;
            report.uki = Some(u);
        }
        Ok(report)
    }

    pub(crate) fn gzip_info(&self) -> Option<GzipInfo> {
        let t = self.last_trailer?;
        Some(GzipInfo {
            members: self.members,
            crc32: t.crc32,
            isize: t.isize,
        })
    }

    /// zstd facts, for zstd and zstd zboot.
    pub(crate) fn zstd_info(&self) -> Option<ZstdInfo> {
        let zstd = self.format == Some(Format::Zstd)
            || self
                .zboot
                .is_some_and(|z| z.compression == Compression::Zstd);
        zstd.then(|| self.zstd.info())
    }

    /// Quick probe state: the head (whatever was inflated of it) and the zboot header.
    pub(crate) fn head(&self) -> &[u8] {
        self.head
            .get(..self.out_pos.min(HEAD_LEN))
            .unwrap_or_default()
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stage == Stage::Stopped
    }

    pub(crate) fn zboot(&self) -> Option<ZbootHeader> {
        self.zboot
    }
}

/// The whole input is present: probe it in one call. A raw Image is checked
/// in place (no copy); a compressed one is inflated into `out`, which is
/// reserved once at the size the image announces.
pub fn probe<'a, O: OutputBuffer, C: Crc32>(
    prober: &'a mut Prober,
    input: &'a [u8],
    out: &'a mut O,
    crc: &mut C,
) -> Result<(Report, &'a [u8]), ProbeError> {
    if prober.opts.max_image_size < HEAD_LEN as u64 {
        prober.error = Some(ProbeError::BoundTooSmall);
        return Err(ProbeError::BoundTooSmall);
    }
    if let Sniffed::Known(Format::Image) = sniff(input.get(..SNIFF_LEN).unwrap_or(input)) {
        prober.format = Some(Format::Image);
        prober.input_pos = input.len() as u64;
        let opts = prober.opts;
        let report = Report::build(
            input,
            opts.target,
            opts.max_image_size,
            Format::Image,
            input.len() as u64,
            None,
            None,
        )
        .inspect_err(|&e| prober.error = Some(e))?;
        prober.finished = true;
        return Ok((report, input));
    }
    // Compressed input goes through the streaming path in one write, so
    // the one-shot verdict is the streaming verdict by construction. (A
    // zboot payload that extends past the end of the file is therefore not
    // refused up front: the first error inside the payload wins, as it must
    // for a writer that cannot see the file length; see `finish`.)
    prober.write(input, out, crc)?;
    let report = prober.finish(out)?;
    Ok((report, prober.image(out)))
}
