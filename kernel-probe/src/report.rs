//! What a probe concludes: the report of a valid image (the kernel's rules
//! applied to the decompressed image, and the kdump sizing) and the verdict
//! that is printed ([`crate::json`] writes it).

use crate::authenticode::AuthenticodeInfo;
use crate::container::Format;
use crate::error::ProbeError;
use crate::image::{header_of, Arm64ImageHeader, Target};
use crate::pe::PeInfo;
use crate::uki::UkiInfo;
use crate::zboot::ZbootHeader;
use crate::zstd::ZstdInfo;

/// gzip facts, from the last member's trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzipInfo {
    /// Members found; 0 when unknown (quick probe).
    pub members: u32,
    /// CRC32 from the trailer.
    pub crc32: u32,
    /// ISIZE from the trailer.
    pub isize: u32,
}

/// Everything a loader and a kdump set-up need to know about a valid image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// The container.
    pub format: Format,
    /// Bytes of input (the file as given).
    pub input_size: u64,
    /// Bytes of the decompressed Image. For a quick probe: the length the
    /// container claims (gzip ISIZE), not verified.
    pub image_bytes: u64,
    /// The arm64 Image header.
    pub header: Arm64ImageHeader,
    /// The PE/COFF view, for EFI kernels.
    pub pe: Option<PeInfo>,
    /// gzip facts, for gzip and zboot.
    pub gzip: Option<GzipInfo>,
    /// The zboot header, for zboot.
    pub zboot: Option<ZbootHeader>,
    /// zstd facts, for zstd and zstd zboot.
    pub zstd: Option<ZstdInfo>,
    /// For a UKI, the container of the kernel in `.linux`.
    pub inner_format: Option<Format>,
    /// A UKI's sections.
    pub uki: Option<UkiInfo>,
    /// Answered from the headers alone: nothing past them was inflated or
    /// checksummed.
    pub quick: bool,
}

impl Report {
    /// Validate a decompressed image (or its head, for a quick probe with
    /// `claimed_len`) and describe it.
    pub(crate) fn build(
        image: &[u8],
        target: Target,
        max_image_size: u64,
        format: Format,
        input_size: u64,
        gzip: Option<GzipInfo>,
        zboot: Option<ZbootHeader>,
    ) -> Result<Self, ProbeError> {
        Self::build_claimed(
            image,
            image.len() as u64,
            target,
            max_image_size,
            format,
            input_size,
            gzip,
            zboot,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build_claimed(
        image: &[u8],
        image_len: u64,
        target: Target,
        max_image_size: u64,
        format: Format,
        input_size: u64,
        gzip: Option<GzipInfo>,
        zboot: Option<ZbootHeader>,
    ) -> Result<Self, ProbeError> {
        let header = header_of(image, &target)?;
        let max_len = header.max_file_len(target.page_size)?;
        if image_len > max_len.min(max_image_size) {
            return Err(if max_len <= max_image_size {
                ProbeError::ImageLongerThanImageSize
            } else {
                ProbeError::TooBig
            });
        }
        let pe = if header.has_pe_header() {
            Some(PeInfo::parse(image, image_len)?)
        } else {
            None
        };
        Ok(Self {
            format,
            input_size,
            image_bytes: image_len,
            header,
            pe,
            gzip,
            zboot,
            zstd: None,
            inner_format: None,
            uki: None,
            quick: image_len != image.len() as u64,
        })
    }

    /// Memory the kernel segment takes in a crashkernel region:
    /// `text_offset + image_size` (`kbuf.memsz` in arm64's `image_load()`),
    /// rounded up to the segment's 2 MiB alignment (`MIN_KIMG_ALIGN`).
    pub fn kdump_bytes_needed(&self) -> u64 {
        self.header
            .kernel_segment_bytes()
            .ok()
            .and_then(|s| align_up(s, SZ_2M))
            .unwrap_or(u64::MAX)
    }

    /// The smallest `crashkernel=` reservation in which `kexec_file_load`
    /// with `KEXEC_FILE_ON_CRASH` can place this kernel and an initrd of
    /// `initrd_len` bytes (arm64's machine_kexec_file.c): the kernel at the
    /// 2 MiB-aligned start, the initrd right after it, then a 2 MiB-aligned
    /// slot for the device tree and, at the top, the ELF core header (64 KiB
    /// aligned). A smaller region makes the load fail with EADDRNOTAVAIL. The
    /// crash kernel needs more memory than this to *run*.
    pub fn crashkernel_min(&self, initrd_len: u64) -> u64 {
        let kernel = self
            .header
            .kernel_segment_bytes()
            .ok()
            .and_then(|s| align_up(s, SZ_64K));
        let initrd = align_up(initrd_len, SZ_64K);
        kernel
            .zip(initrd)
            .and_then(|(k, i)| k.checked_add(i))
            .and_then(|ki| align_up(ki, SZ_2M))
            .and_then(|ki| ki.checked_add(SZ_2M))
            .unwrap_or(u64::MAX)
    }

    /// The decompressed image is longer than `image_size` (possible only with
    /// a nonzero `text_offset`, which kexec adds to the segment).
    pub fn exceeds_image_size(&self) -> bool {
        self.image_bytes > self.header.image_size
    }
}

const SZ_64K: u64 = 64 << 10;
const SZ_2M: u64 = 2 << 20;

/// `v` rounded up to a multiple of `align` (a power of two).
fn align_up(v: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    v.checked_add(mask).map(|x| x & !mask)
}

/// Bytes as a `crashkernel=` value: whole MiB, rounded up.
pub fn crashkernel_arg(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// The outcome of one probe, as printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The report, or why the image was rejected.
    pub result: Result<Report, ProbeError>,
    /// The container, when it was recognised (also for failures).
    pub format: Option<Format>,
    /// Bytes of input (counted by the caller).
    pub input_size: u64,
    /// Size of the initrd that will be loaded with the image (0: none), for
    /// `crashkernel_min`.
    pub initrd_size: u64,
    /// The Authenticode check, when the caller ran it (see
    /// [`crate::authenticode::check`]).
    pub authenticode: Option<AuthenticodeInfo>,
    /// For a UKI, the same check of the outer PE (the whole file), when the
    /// caller has the whole file.
    pub uki_authenticode: Option<AuthenticodeInfo>,
}

impl Verdict {
    /// 0 when valid, else the error's errno.
    pub fn errno(&self) -> i32 {
        self.result.as_ref().err().map_or(0, |e| e.errno())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::tests::header_bytes;

    const MIB: u64 = 1 << 20;

    /// An Image of `len` bytes with this header (LE, page size unspecified).
    fn image(text_offset: u64, image_size: u64, len: usize) -> std::vec::Vec<u8> {
        let mut d = header_bytes(text_offset, image_size, 0).to_vec();
        d.resize(len, 0);
        d
    }

    fn build(img: &[u8], max: u64) -> Result<Report, ProbeError> {
        Report::build(img, Target::default(), max, Format::Image, 7, None, None)
    }

    /// The longest file kexec takes (image_size 0x1F00 at text_offset 0:
    /// the page-aligned segment, 0x2000 bytes), and the caller's bound.
    #[test]
    fn file_length_limits() {
        let r = build(&image(0, 0x1F00, 0x2000), u64::MAX).unwrap();
        assert_eq!((r.image_bytes, r.input_size, r.quick), (0x2000, 7, false));
        assert_eq!(r.format, Format::Image);
        assert_eq!(
            build(&image(0, 0x1F00, 0x2001), u64::MAX),
            Err(ProbeError::ImageLongerThanImageSize)
        );
        // The caller's bound, exactly reached and one byte under.
        assert!(build(&image(0, 0x1F00, 0x2000), 0x2000).is_ok());
        assert_eq!(
            build(&image(0, 0x1F00, 0x2000), 0x1FFF),
            Err(ProbeError::TooBig)
        );
        // Longer than both: the bound, when it is the larger, does not
        // turn kexec's refusal into EFBIG; when it is the smaller, it does.
        assert_eq!(
            build(&image(0, 0x1F00, 0x2001), 0x2000),
            Err(ProbeError::ImageLongerThanImageSize)
        );
        assert_eq!(
            build(&image(0, 0x1F00, 0x2001), 0x1FFF),
            Err(ProbeError::TooBig)
        );
        // A quick probe claims a length beyond the head it has.
        let head = image(0, 0x1F00, 0x100);
        let q = Report::build_claimed(
            &head,
            0x2000,
            Target::default(),
            u64::MAX,
            Format::Gzip,
            9,
            None,
            None,
        )
        .unwrap();
        assert_eq!((q.image_bytes, q.quick), (0x2000, true));
        // Too short for the header, or not an Image.
        assert_eq!(
            build(&image(0, 0x1F00, 0x2000)[..63], u64::MAX),
            Err(ProbeError::ImageTooShort)
        );
        let mut bad = image(0, 0x1F00, 0x2000);
        bad[0x38] = 0;
        assert_eq!(build(&bad, u64::MAX), Err(ProbeError::NotArm64Image));
    }

    /// `image_bytes > image_size` is possible with a nonzero text_offset
    /// (the segment's page holds more); equal is not "exceeds".
    #[test]
    fn exceeds_image_size() {
        let r = |len| build(&image(0x80000, 0x1F00, len), u64::MAX).unwrap();
        assert!(r(0x2000).exceeds_image_size());
        assert!(r(0x1F01).exceeds_image_size());
        assert!(!r(0x1F00).exceeds_image_size());
        assert!(!r(0x1000).exceeds_image_size());
    }

    /// kdump sizing: the kernel segment `text_offset + image_size` in 2 MiB,
    /// and the smallest crashkernel region for kernel + initrd (64 KiB each)
    /// + a 2 MiB slot.
    #[test]
    fn kdump_arithmetic() {
        let r = |text_offset, image_size| {
            build(&image(text_offset, image_size, 0x40), u64::MAX).unwrap()
        };
        assert_eq!(r(0, 1).kdump_bytes_needed(), 2 * MIB);
        assert_eq!(r(0, 2 * MIB).kdump_bytes_needed(), 2 * MIB);
        assert_eq!(r(0, 2 * MIB + 1).kdump_bytes_needed(), 4 * MIB);
        assert_eq!(r(0x80000, 2 * MIB).kdump_bytes_needed(), 4 * MIB);
        assert_eq!(r(0, 1).crashkernel_min(0), 4 * MIB);
        assert_eq!(r(0, 1).crashkernel_min(1), 4 * MIB);
        // 2 MiB - 64 KiB of kernel: 64 KiB of initrd fills the first 2 MiB,
        // one byte more needs another 2 MiB.
        let k = r(0, 2 * MIB - 0x10000);
        assert_eq!(k.crashkernel_min(0x10000), 4 * MIB);
        assert_eq!(k.crashkernel_min(0x10001), 6 * MIB);
        // Kernel rounded to 64 KiB, not 2 MiB, before the initrd.
        let k = r(0, 0x10001);
        assert_eq!(k.crashkernel_min(2 * MIB - 0x20000), 4 * MIB);
        assert_eq!(k.crashkernel_min(2 * MIB - 0x1FFFF), 6 * MIB);
        assert_eq!(r(0x80000, 0x1000).crashkernel_min(0), 4 * MIB);
        assert_eq!(r(0x80000, 0x1000).crashkernel_min(2 * MIB), 6 * MIB);
        // Overflow saturates.
        assert_eq!(k.crashkernel_min(u64::MAX), u64::MAX);
        let mut huge = r(0, 1);
        huge.header.image_size = u64::MAX;
        assert_eq!(huge.kdump_bytes_needed(), u64::MAX);
        assert_eq!(huge.crashkernel_min(0), u64::MAX);
        huge.header.image_size = u64::MAX - 0x10000;
        assert_eq!(huge.kdump_bytes_needed(), u64::MAX);
        assert_eq!(huge.crashkernel_min(0), u64::MAX);
    }

    #[test]
    fn crashkernel_arg_rounds_up_to_mib() {
        assert_eq!(crashkernel_arg(0), 0);
        assert_eq!(crashkernel_arg(1), 1);
        assert_eq!(crashkernel_arg(MIB), 1);
        assert_eq!(crashkernel_arg(MIB + 1), 2);
        assert_eq!(crashkernel_arg(6 * MIB), 6);
        assert_eq!(crashkernel_arg(u64::MAX), 1 << 44);
    }

    #[test]
    fn align_up_to_powers_of_two() {
        assert_eq!(align_up(0, SZ_64K), Some(0));
        assert_eq!(align_up(1, SZ_64K), Some(0x10000));
        assert_eq!(align_up(0x10000, SZ_64K), Some(0x10000));
        assert_eq!(align_up(0x10001, SZ_2M), Some(2 * MIB));
        assert_eq!(align_up(u64::MAX, SZ_2M), None);
        assert_eq!(align_up(5, 0), None);
    }

    #[test]
    fn verdict_errno() {
        let v = |result| Verdict {
            uki_authenticode: None,
            result,
            format: None,
            input_size: 0,
            initrd_size: 0,
            authenticode: None,
        };
        assert_eq!(v(Err(ProbeError::CrcMismatch)).errno(), 74);
        assert_eq!(v(Err(ProbeError::TooBig)).errno(), 27);
        let ok = build(&image(0, 1, 0x40), u64::MAX);
        assert_eq!(v(ok).errno(), 0);
    }
}
