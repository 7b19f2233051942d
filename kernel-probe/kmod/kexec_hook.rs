// SPDX-License-Identifier: GPL-2.0

//! The decompressor kexec_file_load() calls (qemu/patches/0001-*): the file
//! the kernel read in, the Image out, so that the kernel's own image_probe(),
//! signature check and image_load() run on the decompressed Image.
//!
//! A raw Image, and anything the probe does not recognise, is "not mine"
//! (ENOEXEC): the kernel goes on with the file unchanged and answers as it
//! always did. A container the probe recognises (gzip, zstd, EFI zboot, UKI,
//! or a compression it names but does not decompress) gets the probe's
//! verdict: the Image, or the probe's errno (EFBIG past `max_image_size`,
//! EBADMSG for corrupt data, EINVAL for a kernel the rules refuse), logged
//! with the reason. For a UKI only `.linux` goes on: kexec_file_load() takes
//! the initrd and command line from its caller (see the README).

use kernel::{
    alloc::flags::{GFP_KERNEL, __GFP_NOWARN},
    prelude::*,
};
use kernel_probe::container::{sniff, Sniffed, SNIFF_LEN};
use kernel_probe::{Format, OutputBuffer, ProbeError, ProbeOptions, Prober};

use crate::{ffi, max_image_size, ImageBuf, KernelCrc};

/// Input bytes per prober step: the kernel is given a chance to schedule
/// between steps (kexec_file_load may take a second for a large image).
const STEP: usize = 256 * 1024;

/// The prober of one call, in zeroed vmalloc memory (it is ~270 KB).
struct HookState {
    prober: Prober,
}

// SAFETY: `Prober` is valid when zeroed (kernel-probe's documented and
// Miri-tested contract, see `Session` in the crate root).
unsafe impl ffi::ZeroValid for HookState {}

/// The decompressed Image, or `ENOEXEC` when the file is not for us.
pub(crate) fn decompress(file: &[u8]) -> Result<VVec<u8>> {
    // What the file looks like, for the log: the container, or "PE" for a
    // PE/COFF file that may be a UKI (recognised from its sections).
    let looks_like = match sniff(file.get(..SNIFF_LEN).unwrap_or(file)) {
        // The kernel's own loader takes a raw Image.
        Sniffed::Known(Format::Image) => return Err(ENOEXEC),
        Sniffed::Known(format) => format.name(),
        Sniffed::Unsupported(compression) => compression.name(),
        Sniffed::Unknown if file.starts_with(b"MZ") => "PE",
        // Not ours.
        Sniffed::Unknown => return Err(ENOEXEC),
    };
    let mut state = ffi::vzalloc_zeroed::<HookState>()?;
    let prober = &mut state.prober;
    prober.reset(ProbeOptions {
        max_image_size: max_image_size(),
        target: ffi::kernel_target(),
    });
    let mut out = ImageBuf(None);
    for (i, step) in file.chunks(STEP).enumerate() {
        if i > 0 {
            ffi::cond_resched();
        }
        if prober.write(step, &mut out, &mut KernelCrc).is_err() {
            break;
        }
    }
    let result = match prober.error() {
        Some(e) => Err(e),
        None => prober.finish(&out),
    };
    let format = prober.format().map_or(looks_like, Format::name);
    let report = match result {
        Ok(report) => report,
        // An "MZ" file that is neither zboot nor UKI: the kernel decides.
        Err(ProbeError::UnknownFormat) => return Err(ENOEXEC),
        Err(e) => {
            pr_notice!(
                "kexec_file_load: refused {}: {} ({})\n",
                format,
                e.message(),
                e.errno_name()
            );
            return Err(Error::from_errno(-e.errno()));
        }
    };
    if report.format == Format::Image {
        return Err(ENOEXEC);
    }
    let (len, in_place) = {
        let image = prober.image(&out);
        (image.len(), image.as_ptr() == out.as_slice().as_ptr())
    };
    let buf = match out.0.take() {
        // The image is the start of the output area (always, for a
        // decompressed one): hand that over, cut to the image's length.
        Some(mut buf) if in_place => {
            buf.truncate(len);
            buf
        }
        other => {
            out.0 = other;
            let mut buf = VVec::with_capacity(len, GFP_KERNEL | __GFP_NOWARN)?;
            buf.extend_from_slice(prober.image(&out), GFP_KERNEL | __GFP_NOWARN)?;
            buf
        }
    };
    if buf.is_empty() {
        return Err(EINVAL);
    }
    pr_info!(
        "kexec_file_load: {} -> Image of {} bytes\n",
        format,
        buf.len()
    );
    Ok(buf)
}
