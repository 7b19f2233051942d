//! The quick probe: answer from the headers alone. It inflates only the
//! head of the image (the arm64 and PE headers, 4 KiB) and reads the last
//! gzip member's trailer. Its cost is bounded whatever the file: the head
//! must appear within [`crate::QUICK_HEAD_INPUT`] bytes of gzip data (a run
//! of empty deflate blocks in front of it is EINVAL, not a long inflate), and
//! finding the trailer scans back over at most [`QUICK_PADDING_SCAN`] bytes
//! of zero padding.

use crate::bytes;
use crate::container::{sniff, Format, Sniffed, SNIFF_LEN};
use crate::crc::Crc32;
use crate::error::ProbeError;
use crate::prober::{probe, NoOutput, Prober};
use crate::report::{GzipInfo, Report};

/// Quick-probe a whole input. The header rules, the PE view and the size
/// bound are checked exactly as by the full probe, but against the length
/// the gzip trailer claims; CRC32 and the rest of the data are not checked.
pub fn quick_probe<C: Crc32>(
    prober: &mut Prober,
    input: &[u8],
    crc: &mut C,
) -> Result<Report, ProbeError> {
    let head = input.get(..SNIFF_LEN).unwrap_or(input);
    if sniff(head) == Sniffed::Known(Format::Image) {
        // A raw Image is only read where its headers are: already quick.
        let mut none = NoOutput;
        return probe(prober, input, &mut none, crc).map(|(r, _)| r);
    }
    prober.set_quick();
    let mut none = NoOutput;
    if let Some(h) = input.get(..SNIFF_LEN) {
        if sniff(h) == Sniffed::Known(Format::Zboot) {
            // Same early check as the full one-shot probe.
            return match crate::zboot::ZbootHeader::parse(h, Some(input.len() as u64)) {
                Err(e) => Err(e),
                Ok(_) => quick_compressed(prober, input, &mut none, crc),
            };
        }
    }
    quick_compressed(prober, input, &mut none, crc)
}

fn quick_compressed<C: Crc32>(
    prober: &mut Prober,
    input: &[u8],
    none: &mut NoOutput,
    crc: &mut C,
) -> Result<Report, ProbeError> {
    prober.write(input, none, crc)?;
    if !prober.stopped() {
        // The whole image fitted in the head: that was a full probe.
        return prober.finish(none);
    }
    let opts = *prober.options();
    // A UKI's kernel is its `.linux` section: everything below is about it.
    let (kernel, uki) = match prober.uki() {
        Some(u) => (
            bytes::range(
                input,
                bytes::usize_sat(u64::from(u.linux.offset)),
                bytes::usize_sat(u64::from(u.linux.size)),
            )
            .unwrap_or_default(),
            Some(*u),
        ),
        None => (input, None),
    };
    let inner = prober.inner_format();
    let header = prober.head();
    let seg = crate::image::header_of(header, &opts.target)?.max_file_len(opts.target.page_size)?;
    let report = if inner == Some(Format::Image) {
        // A raw Image in a UKI: `.linux` is exactly as long as it.
        Report::build_claimed(
            header,
            kernel.len() as u64,
            opts.target,
            opts.max_image_size,
            Format::Image,
            input.len() as u64,
            None,
            None,
        )
    } else if let Some(info) = prober.zstd_info() {
        quick_zstd(prober, kernel, input.len() as u64, seg, info)
    } else {
        // The gzip data: the whole kernel, or the zboot payload.
        let gz = match prober.zboot() {
            Some(z) => bytes::range(
                kernel,
                bytes::usize_sat(u64::from(z.payload_offset)),
                bytes::usize_sat(u64::from(z.payload_size)),
            )
            .unwrap_or_default(),
            None => kernel,
        };
        let (crc32, isize) = claimed_trailer(gz, seg)?;
        let gzip = Some(GzipInfo {
            members: 0,
            crc32,
            isize,
        });
        Report::build_claimed(
            header,
            u64::from(isize),
            opts.target,
            opts.max_image_size,
            inner.unwrap_or(Format::Gzip),
            input.len() as u64,
            gzip,
            prober.zboot(),
        )
    };
    report.map(|mut r| {
        r.quick = true;
        if let Some(u) = uki {
            r.format = Format::Uki;
            r.inner_format = inner;
            r.uki = Some(u);
        }
        r
    })
}

/// zstd: the length the first frame header declares (Frame_Content_Size);
/// for a zboot payload without one (the kernel build pipes the Image into
/// zstd), the le32 size Makefile.zboot appends after the payload; with
/// neither, the header's own bound (nothing to check it against).
fn quick_zstd(
    prober: &Prober,
    kernel: &[u8],
    input_size: u64,
    seg: u64,
    info: crate::zstd::ZstdInfo,
) -> Result<Report, ProbeError> {
    let opts = *prober.options();
    let appended = prober.zboot().and_then(|z| {
        let end = bytes::usize_sat(z.payload_end());
        bytes::u32_le(kernel, end).map(u64::from)
    });
    let claimed = info.content_size.or(appended).unwrap_or(seg);
    Report::build_claimed(
        prober.head(),
        claimed,
        opts.target,
        opts.max_image_size,
        prober.inner_format().unwrap_or(Format::Zstd),
        input_size,
        None,
        prober.zboot(),
    )
    .map(|mut r| {
        r.quick = true;
        r.zstd = Some(info);
        r
    })
}

/// The last member's trailer. Zero padding may follow it, and ISIZE's own
/// high bytes may be zero, so the trailer ends 0-3 bytes after the last
/// nonzero byte: prefer the end of the data, else the largest ISIZE that
/// fits the kernel segment.
fn claimed_trailer(gz: &[u8], seg: u64) -> Result<(u32, u32), ProbeError> {
    // Zero padding is looked through for QUICK_PADDING_SCAN bytes at most.
    let from = gz.len().saturating_sub(QUICK_PADDING_SCAN);
    let end = match gz.get(from..).and_then(|t| t.iter().rposition(|&b| b != 0)) {
        Some(i) => from.saturating_add(i).saturating_add(1),
        None if from > 0 => return Err(ProbeError::QuickPaddingTooLong),
        None => 0,
    };
    let at = |trailer_end: usize| {
        let start = trailer_end.checked_sub(8)?;
        Some((
            bytes::u32_le(gz, start)?,
            bytes::u32_le(gz, start.checked_add(4)?)?,
        ))
    };
    // end <= gz.len() (it is a position in gz plus one).
    let found = if gz.len().saturating_sub(end) <= 3 {
        at(gz.len())
    } else {
        (end..=end.saturating_add(3))
            .filter_map(at)
            .filter(|&(_, isize)| u64::from(isize) <= seg)
            .max_by_key(|&(_, isize)| isize)
            .or_else(|| at(end))
    };
    found.ok_or(ProbeError::Truncated)
}

/// Zero padding after the gzip data that the quick probe looks through for
/// the trailer (zboot payloads have none, tools that pad to a block use a
/// few KiB at most); more is [`ProbeError::QuickPaddingTooLong`].
pub const QUICK_PADDING_SCAN: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    /// The padding bound applies only when the scan window is shorter than
    /// the data; data that is all zeros and shorter than the window has no
    /// trailer at all (truncated), which is not a padding problem.
    #[test]
    fn trailer_search_bounds() {
        assert_eq!(
            claimed_trailer(&[0u8; 100], u64::MAX),
            Err(ProbeError::Truncated)
        );
        assert_eq!(
            claimed_trailer(&[0u8; QUICK_PADDING_SCAN + 1], u64::MAX),
            Err(ProbeError::QuickPaddingTooLong)
        );
        assert_eq!(
            claimed_trailer(&[0u8; QUICK_PADDING_SCAN], u64::MAX),
            Err(ProbeError::Truncated)
        );
        // A trailer right at the end, and one behind exactly the window's
        // worth of padding minus the trailer.
        let mut gz = std::vec![0x1F, 0x8B, 8, 0, 1, 2, 3, 4, 0x10, 0x20, 0x30, 0x40];
        assert_eq!(
            claimed_trailer(&gz, u64::MAX),
            Ok((0x0403_0201, 0x4030_2010))
        );
        gz.resize(QUICK_PADDING_SCAN + 4, 0);
        assert_eq!(
            claimed_trailer(&gz, u64::MAX),
            Ok((0x0403_0201, 0x4030_2010))
        );
    }
}
