//! One error type for every way a probe can fail, each with the errno the
//! kernel's kexec code would return for it.

use core::fmt;

use crate::container::Compression;

/// `EINVAL`: not an image we can load, or a rule of the format is broken.
pub const EINVAL: i32 = 22;
/// `EBADMSG`: the compressed data is corrupt, truncated or fails its checksum.
pub const EBADMSG: i32 = 74;
/// `EFBIG`: the decompressed image would be larger than the caller allows.
pub const EFBIG: i32 = 27;
/// `ENOMEM`: the caller could not allocate the output buffer.
pub const ENOMEM: i32 = 12;
/// `EADDRNOTAVAIL`: the kernel segment could not be placed as kexec needs it.
pub const EADDRNOTAVAIL: i32 = 99;

/// Why a probe rejected its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProbeError {
    /// No format we know: no gzip, zboot or arm64 Image magic.
    UnknownFormat,
    /// A compression we recognise but do not decompress (xz, zstd, ...).
    UnsupportedCompression(Compression),
    /// An EFI zboot image whose payload uses a compression other than gzip.
    UnsupportedZbootCompression(Compression),
    /// The zboot header is inconsistent (payload outside the file, bad name).
    BadZbootHeader,
    /// gzip member header: CM is not 8 (deflate).
    GzipBadMethod,
    /// gzip member header: one of the reserved FLG bits 5-7 is set.
    GzipReservedFlags,
    /// gzip member header: the FHCRC field does not match the header bytes.
    GzipHeaderCrc,
    /// Bytes after the last gzip member that are neither a member nor zero padding.
    TrailingGarbage,
    /// The deflate data is invalid.
    CorruptDeflate,
    /// The input ends before the compressed stream does.
    Truncated,
    /// The zstd data is invalid (RFC 8878; the reference decoder's
    /// corruption_detected and its kin).
    CorruptZstd,
    /// A PE/COFF file (no Image, no zboot) whose headers or section table
    /// cannot be read.
    BadUki,
    /// A UKI section whose contents are not in the file (VirtualSize past
    /// SizeOfRawData or the end of the file, or inside the headers).
    BadUkiSection,
    /// A PE/COFF file without a `.linux` section: not a kernel, not a UKI.
    UkiNoLinux,
    /// A UKI for another machine than arm64.
    UkiNotArm64,
    /// A UKI inside a UKI's `.linux`.
    UkiNested,
    /// A zstd frame's content checksum (XXH64) does not match its data.
    ZstdChecksum,
    /// A zstd frame's data is not as long as its Frame_Content_Size.
    ZstdContentSize,
    /// A zstd frame names a dictionary: there is none to decode it with.
    ZstdDictionary,
    /// A zstd frame's Window_Log is above 31, more than the reference
    /// decoder accepts.
    ZstdWindowTooLarge,
    /// A zstd frame header sets its reserved bit: a format we do not know.
    ZstdReservedBit,
    /// Bytes after the last zstd frame that are no frame.
    ZstdTrailingGarbage,
    /// A zstd block decompresses to more than Block_Maximum_Size (the
    /// smaller of Window_Size and 128 KiB; RFC 8878 3.1.1.2.4).
    ZstdBlockTooLarge,
    /// A Huffman-coded literals stream is not framed exactly: no end mark
    /// in its last byte, or it does not end with its literals (bits left
    /// over, or read beyond its start). RFC 8878 and the reference decoder's
    /// one-stream path refuse it; its fast four-stream path does not look.
    ZstdLiteralsNotExact,
    /// The CRC32 in a gzip trailer does not match the decompressed data.
    CrcMismatch,
    /// The ISIZE in a gzip trailer does not match the decompressed length.
    IsizeMismatch,
    /// The decompressed image would exceed the caller's bound.
    TooBig,
    /// The caller could not provide the output buffer.
    NoMemory,
    /// Fewer than 64 bytes: no room for an arm64 Image header.
    ImageTooShort,
    /// The decompressed data has no "ARM\x64" magic at offset 0x38.
    NotArm64Image,
    /// `image_size` is 0: a pre-3.17 kernel, which kexec refuses.
    ImageSizeZero,
    /// The image's endianness differs from the target's.
    EndianMismatch,
    /// The image's page size is not among the granules the target supports.
    PageSizeUnsupported,
    /// The image is longer than `text_offset + image_size`: kexec would refuse
    /// the segment (its file size would exceed its memory size).
    ImageLongerThanImageSize,
    /// `text_offset + image_size` overflows 64 bits.
    ImageSizeOverflow,
    /// `text_offset` is not a multiple of the target's page size: the kernel
    /// segment would start inside a page, which `sanity_check_segment_list()`
    /// refuses with EADDRNOTAVAIL.
    TextOffsetUnaligned,
    /// The image starts with "MZ" (an EFI kernel) but its PE/COFF header is broken.
    BadPeHeader,
    /// The output buffer handed to the prober is smaller than it asked for.
    OutputTooSmall,
    /// The prober was used after it had already finished or failed.
    InvalidState,
    /// The caller's maximum is smaller than the head the prober needs (4 KiB).
    BoundTooSmall,
    /// Quick probe: the first 4 KiB of the image did not appear within
    /// [`crate::QUICK_HEAD_INPUT`] bytes of gzip data (real kernels need
    /// ~300); the quick probe gives up rather than inflate on.
    QuickHeadTooDeep,
    /// Quick probe: more than [`crate::QUICK_PADDING_SCAN`] bytes of zeros
    /// end the input, so the gzip trailer is not where the quick probe looks;
    /// it gives up rather than scan on.
    QuickPaddingTooLong,
}

impl ProbeError {
    /// The kernel-style errno (positive) for this error.
    pub const fn errno(self) -> i32 {
        match self {
            Self::CorruptDeflate
            | Self::Truncated
            | Self::CrcMismatch
            | Self::IsizeMismatch
            | Self::GzipHeaderCrc
            | Self::CorruptZstd
            | Self::ZstdChecksum
            | Self::ZstdContentSize
            | Self::ZstdBlockTooLarge
            | Self::ZstdLiteralsNotExact => EBADMSG,
            Self::TooBig => EFBIG,
            Self::TextOffsetUnaligned => EADDRNOTAVAIL,
            Self::NoMemory => ENOMEM,
            Self::UnknownFormat
            | Self::UnsupportedCompression(_)
            | Self::UnsupportedZbootCompression(_)
            | Self::BadZbootHeader
            | Self::GzipBadMethod
            | Self::GzipReservedFlags
            | Self::TrailingGarbage
            | Self::BadUki
            | Self::BadUkiSection
            | Self::UkiNoLinux
            | Self::UkiNotArm64
            | Self::UkiNested
            | Self::ZstdDictionary
            | Self::ZstdWindowTooLarge
            | Self::ZstdReservedBit
            | Self::ZstdTrailingGarbage
            | Self::ImageTooShort
            | Self::NotArm64Image
            | Self::ImageSizeZero
            | Self::EndianMismatch
            | Self::PageSizeUnsupported
            | Self::ImageLongerThanImageSize
            | Self::ImageSizeOverflow
            | Self::BadPeHeader
            | Self::OutputTooSmall
            | Self::InvalidState
            | Self::BoundTooSmall
            | Self::QuickHeadTooDeep
            | Self::QuickPaddingTooLong => EINVAL,
        }
    }

    /// The symbolic name of [`Self::errno`], as `errno(1)` prints it.
    pub const fn errno_name(self) -> &'static str {
        errno_name(self.errno())
    }

    /// A short human message (no trailing period), stable for scripts.
    pub const fn message(self) -> &'static str {
        match self {
            Self::UnknownFormat => "not an arm64 kernel image: no gzip, zboot or ARM\\x64 magic",
            Self::UnsupportedCompression(c) => c.unsupported_message(),
            Self::UnsupportedZbootCompression(c) => c.unsupported_zboot_message(),
            Self::BadZbootHeader => "EFI zboot header is inconsistent",
            Self::GzipBadMethod => "gzip compression method is not deflate (CM != 8)",
            Self::GzipReservedFlags => "gzip header has reserved flag bits set",
            Self::GzipHeaderCrc => "gzip header CRC16 (FHCRC) mismatch",
            Self::TrailingGarbage => "trailing garbage after the last gzip member",
            Self::CorruptDeflate => "corrupt deflate data",
            Self::Truncated => "compressed data is truncated",
            Self::CorruptZstd => "corrupt zstd data",
            Self::BadUki => "PE/COFF file whose headers or section table cannot be read",
            Self::BadUkiSection => "UKI section contents are not in the file (VirtualSize beyond the raw data)",
            Self::UkiNoLinux => "PE/COFF file without a .linux section: neither an arm64 kernel nor a UKI",
            Self::UkiNotArm64 => "UKI for another machine than arm64",
            Self::UkiNested => "a UKI inside a UKI's .linux section",
            Self::ZstdChecksum => "zstd content checksum (XXH64) mismatch",
            Self::ZstdContentSize => "zstd frame data does not match its Frame_Content_Size",
            Self::ZstdDictionary => "zstd frame needs a dictionary: none is available",
            Self::ZstdWindowTooLarge => "zstd frame window is larger than 2^31 (Window_Log > 31)",
            Self::ZstdReservedBit => "zstd frame header has its reserved bit set",
            Self::ZstdTrailingGarbage => "trailing garbage after the last zstd frame",
            Self::ZstdLiteralsNotExact => {
                "zstd literals stream is not framed exactly (end mark, or bits left over or missing)"
            }
            Self::ZstdBlockTooLarge => {
                "zstd block decompresses to more than its Block_Maximum_Size"
            }
            Self::CrcMismatch => "gzip CRC32 mismatch",
            Self::IsizeMismatch => "gzip ISIZE mismatch",
            Self::TooBig => "decompressed image exceeds the size bound",
            Self::NoMemory => "cannot allocate the output buffer",
            Self::ImageTooShort => "image is shorter than the 64-byte arm64 header",
            Self::NotArm64Image => "no ARM\\x64 magic at offset 0x38: not an arm64 Image",
            Self::ImageSizeZero => "image_size is 0 (pre-3.17 kernel): kexec refuses it",
            Self::EndianMismatch => "image endianness differs from the target's",
            Self::PageSizeUnsupported => "image page size is not supported by the target",
            Self::ImageLongerThanImageSize => {
                "image is longer than its memory, ALIGN(text_offset + image_size, PAGE_SIZE) - text_offset: kexec refuses it"
            }
            Self::ImageSizeOverflow => "text_offset + image_size overflows",
            Self::TextOffsetUnaligned => {
                "text_offset is not page-aligned: kexec cannot place the kernel segment"
            }
            Self::BadPeHeader => "MZ image with a broken PE/COFF header",
            Self::OutputTooSmall => "output buffer is smaller than the prober asked for",
            Self::InvalidState => "prober used after it finished",
            Self::BoundTooSmall => "maximum image size is below 4 KiB",
            Self::QuickHeadTooDeep => {
                "quick probe: the image header is not within the first 32 KiB of gzip data"
            }
            Self::QuickPaddingTooLong => {
                "quick probe: more than 64 KiB of zero padding after the gzip data"
            }
        }
    }
}

/// The symbolic name of an errno, as `errno(1)` prints it, for every value a
/// report can carry: this crate's own, and the ones probe-run meets reading
/// files and calling kexec (Linux's asm-generic numbers, the same on arm64
/// and x86-64). The one table of them in the project.
pub const fn errno_name(errno: i32) -> &'static str {
    match errno {
        0 => "OK",
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        8 => "ENOEXEC",
        ENOMEM => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        19 => "ENODEV",
        21 => "EISDIR",
        EINVAL => "EINVAL",
        EFBIG => "EFBIG",
        38 => "ENOSYS",
        61 => "ENODATA",
        EBADMSG => "EBADMSG",
        EADDRNOTAVAIL => "EADDRNOTAVAIL",
        126 => "ENOKEY",
        129 => "EKEYREJECTED",
        _ => "E?",
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one errno-name table: every entry as errno(1) names it (the
    /// values are Linux's asm-generic numbers).
    #[test]
    fn errno_names() {
        for (errno, name) in [
            (0, "OK"),
            (1, "EPERM"),
            (2, "ENOENT"),
            (5, "EIO"),
            (8, "ENOEXEC"),
            (12, "ENOMEM"),
            (13, "EACCES"),
            (16, "EBUSY"),
            (19, "ENODEV"),
            (21, "EISDIR"),
            (22, "EINVAL"),
            (27, "EFBIG"),
            (38, "ENOSYS"),
            (61, "ENODATA"),
            (74, "EBADMSG"),
            (99, "EADDRNOTAVAIL"),
            (126, "ENOKEY"),
            (129, "EKEYREJECTED"),
            (3, "E?"),
            (-1, "E?"),
        ] {
            assert_eq!(errno_name(errno), name, "errno {errno}");
        }
    }

    #[test]
    fn errno_classes() {
        assert_eq!(ProbeError::TooBig.errno(), 27);
        assert_eq!(ProbeError::CrcMismatch.errno(), 74);
        assert_eq!(ProbeError::NotArm64Image.errno(), 22);
        assert_eq!(ProbeError::NoMemory.errno(), 12);
        assert_eq!(
            ProbeError::UnsupportedCompression(Compression::Xz).errno(),
            22
        );
        assert_eq!(ProbeError::Truncated.errno_name(), "EBADMSG");
        assert!(ProbeError::UnsupportedCompression(Compression::Zstd)
            .message()
            .contains("zstd"));
    }
}
