//! Bounded inflate over miniz_oxide's core decompressor. The output is always
//! a non-wrapping buffer that holds the whole image, so back-references read
//! the image itself and no 32 KiB window is copied.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::error::ProbeError;

/// Output produced per decompressor call: the CRC32 of each step is taken
/// while the step is still in cache.
pub(crate) const STEP: usize = 256 * 1024;

/// What one call achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// The deflate stream ended; the rest of the input follows it.
    StreamEnd,
    /// All input was consumed and more is needed.
    NeedInput,
    /// The output window given to this call is full.
    OutputFull,
}

/// One inflate call's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub status: Status,
    pub consumed: usize,
    pub produced: usize,
}

/// Start a new deflate stream on `state` (cheap: no table is cleared).
pub(crate) fn reset(state: &mut DecompressorOxide) {
    state.init();
}

/// Inflate from `input` into `out[out_pos..limit]`, writing at most
/// `max_step` bytes. Input may end anywhere: the state keeps partial bits.
pub(crate) fn step(
    state: &mut DecompressorOxide,
    input: &[u8],
    out: &mut [u8],
    out_pos: usize,
    limit: usize,
    max_step: usize,
) -> Result<Step, ProbeError> {
    // The slice ends where this step must stop; earlier output stays
    // reachable for back-references because the buffer does not wrap.
    let end = out_pos.saturating_add(max_step).min(limit);
    let window = out.get_mut(..end).ok_or(ProbeError::OutputTooSmall)?;
    if out_pos > window.len() {
        return Err(ProbeError::OutputTooSmall);
    }
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
        | inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
    let (status, consumed, produced) = decompress(state, input, window, out_pos, flags);
    let status = match status {
        TINFLStatus::Done => Status::StreamEnd,
        TINFLStatus::NeedsMoreInput => Status::NeedInput,
        TINFLStatus::HasMoreOutput => Status::OutputFull,
        // With HAS_MORE_INPUT the decompressor never runs out of input; any
        // other status is a broken stream.
        _ => return Err(ProbeError::CorruptDeflate),
    };
    Ok(Step {
        status,
        consumed,
        produced,
    })
}
