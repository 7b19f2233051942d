//! kernel-probe: what arm64's `arch_kexec_kernel_image_probe` would do if it
//! accepted compressed kernels.
//!
//! It recognises a raw arm64 Image, gzip (Image.gz), zstd (Image.zst), EFI
//! zboot (vmlinuz.efi, gzip or zstd) and UKIs (a kernel in `.linux`), inflates into a caller-provided, bounded buffer, verifies
//! gzip integrity (CRC32, ISIZE), validates the arm64 Image header with the
//! kernel's rules and the PE/COFF view, and answers with kernel errno values.
//!
//! No allocation, no unsafe code, no panics on any input: the same crate
//! runs in userspace (`probe-run`) and inside the kernel (the `kmod/` module).
//!
//! Entry points:
//! - [`probe`]: the whole input at once (raw Images are checked in place);
//! - [`Prober::write`] + [`Prober::finish`]: input in chunks of any size;
//! - [`quick_probe`]: answer from the headers and the gzip trailer only.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(test)]
extern crate std;

pub mod authenticode;
mod bytes;
pub mod container;
pub mod crc;
pub mod error;
pub mod gzip;
pub mod image;
mod inflate;
pub mod json;
pub mod pe;
mod prober;
mod quick;
pub mod report;
pub mod uki;
pub mod zboot;
pub mod zstd;

pub use container::{Compression, Format};
pub use crc::{Crc32, TableCrc32};
pub use error::ProbeError;
pub use image::{Arm64ImageHeader, Endian, Granules, PageSize, Target};
pub use json::ReportLine;
pub use prober::{
    probe, NoOutput, OutputBuffer, ProbeOptions, Prober, DEFAULT_MAX_IMAGE_SIZE, HEAD_LEN,
    QUICK_HEAD_INPUT, QUICK_HEAD_INPUT_ZSTD,
};
pub use quick::{quick_probe, QUICK_PADDING_SCAN};
pub use report::{GzipInfo, Report, Verdict};
pub use zstd::ZstdInfo;

impl Prober {
    /// The verdict to print for `result`, with what the prober learned.
    /// `input_size` is the caller's count of input bytes (the file length, or
    /// every byte written), which a failed probe may not have read to the end.
    pub fn verdict(&self, result: Result<Report, ProbeError>, input_size: u64) -> Verdict {
        Verdict {
            result,
            format: self.format(),
            input_size,
            // A UKI brings its initrd (the caller may replace it).
            initrd_size: self
                .uki()
                .and_then(|u| u.initrd)
                .map_or(0, |s| u64::from(s.size)),
            authenticode: None,
            uki_authenticode: None,
        }
    }
}
