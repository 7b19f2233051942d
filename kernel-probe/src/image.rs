//! The arm64 Image header (Documentation/arch/arm64/booting.rst) and the
//! rules `image_probe()`/`image_load()` in arch/arm64/kernel/kexec_image.c
//! apply to it.

use bitflags::bitflags;

use crate::bytes;
use crate::container::{ARM64_MAGIC, ARM64_MAGIC_OFFSET};
use crate::error::ProbeError;

/// Size of the header every arm64 Image starts with.
pub const ARM64_HEADER_LEN: usize = 64;

/// The 64-byte header, field by field, as [`Self::parse`] reads it from
/// booting.rst's offsets. All fields are little-endian on disk, whatever the
/// kernel's endianness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arm64ImageHeader {
    /// First instruction (`MZ` + a NOP-like ccmp in EFI kernels).
    pub code0: u32,
    /// Branch to the kernel entry.
    pub code1: u32,
    /// Image load offset from the start of RAM (0 since v5.10 era kernels).
    pub text_offset: u64,
    /// Effective image size, `_end - _text`: includes BSS.
    pub image_size: u64,
    /// Kernel flags, see [`ImageFlags`].
    pub flags: u64,
    /// Reserved.
    pub res2: u64,
    /// Reserved.
    pub res3: u64,
    /// Reserved.
    pub res4: u64,
    /// "ARM\x64".
    pub magic: u32,
    /// Offset of the PE header in EFI kernels.
    pub res5: u32,
}

bitflags! {
    /// The header's `flags` word. Bits 1-2 are a field, see [`PageSize`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ImageFlags: u64 {
        /// Bit 0: the kernel is big-endian.
        const BE = 1 << 0;
        /// Page size field, low bit.
        const PAGE_SIZE_LO = 1 << 1;
        /// Page size field, high bit.
        const PAGE_SIZE_HI = 1 << 2;
        /// Bit 3: the kernel may be placed anywhere in physical memory
        /// (else within 48 bits of the start of DRAM).
        const PHYS_PLACEMENT_ANYWHERE = 1 << 3;
        /// Bits 4-63 are reserved; kept so no bit is silently dropped.
        const _ = !0;
    }
}

/// Bits 4-63 of `flags`, reserved by booting.rst.
pub const FLAGS_RESERVED_MASK: u64 = !0xF;

/// Kernel page size as the header's bits 1-2 encode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    /// Bits 1-2 are 0.
    Unspecified,
    /// 4 KiB pages.
    K4,
    /// 16 KiB pages.
    K16,
    /// 64 KiB pages.
    K64,
}

impl PageSize {
    /// Decode bits 1-2 of the flags word.
    pub const fn from_flags(flags: u64) -> Self {
        match (flags >> 1) & 3 {
            1 => Self::K4,
            2 => Self::K16,
            3 => Self::K64,
            _ => Self::Unspecified,
        }
    }

    /// Bytes, or `None` when unspecified.
    pub const fn bytes(self) -> Option<u32> {
        match self {
            Self::Unspecified => None,
            Self::K4 => Some(4096),
            Self::K16 => Some(16384),
            Self::K64 => Some(65536),
        }
    }
}

bitflags! {
    /// The translation granules a target CPU supports.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Granules: u8 {
        /// 4 KiB granule.
        const K4 = 1 << 0;
        /// 16 KiB granule.
        const K16 = 1 << 1;
        /// 64 KiB granule.
        const K64 = 1 << 2;
    }
}

/// Endianness of a kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Endian {
    #[default]
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

/// What the kernel that will load the image supports; defaults accept what a
/// little-endian 4 KiB-page arm64 kernel on a CPU with every granule and no
/// mixed-endian support would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target kernel's endianness.
    pub endian: Endian,
    /// The CPU can run the other endianness too (`image_load()` accepts an
    /// image of either endianness when `system_supports_mixed_endian()`).
    pub mixed_endian: bool,
    /// `PAGE_SIZE` of the kernel that loads the image: kexec page-aligns the
    /// kernel segment to it (see [`Arm64ImageHeader::max_file_len`]). A power
    /// of two of at least 4096.
    pub page_size: u64,
    /// The page sizes the target CPU supports.
    pub granules: Granules,
}

impl Default for Target {
    fn default() -> Self {
        Self {
            endian: Endian::Little,
            mixed_endian: false,
            granules: Granules::all(),
            page_size: 4096,
        }
    }
}

impl Arm64ImageHeader {
    /// Parse the first 64 bytes; checks nothing but the length.
    pub fn parse(data: &[u8]) -> Result<Self, ProbeError> {
        let h: [u8; ARM64_HEADER_LEN] = bytes::array(data, 0).ok_or(ProbeError::ImageTooShort)?;
        let u32_at = |o| bytes::u32_le(&h, o).unwrap_or(0);
        let u64_at = |o| bytes::u64_le(&h, o).unwrap_or(0);
        Ok(Self {
            code0: u32_at(0x00),
            code1: u32_at(0x04),
            text_offset: u64_at(0x08),
            image_size: u64_at(0x10),
            flags: u64_at(0x18),
            res2: u64_at(0x20),
            res3: u64_at(0x28),
            res4: u64_at(0x30),
            magic: u32_at(ARM64_MAGIC_OFFSET),
            res5: u32_at(0x3C),
        })
    }

    /// `image_probe()`: the magic. Then `image_load()`'s rules
    /// (arch/arm64/kernel/kexec_image.c): nonzero `image_size`, the target's
    /// endianness unless it supports mixed endianness, a supported page
    /// size; and `sanity_check_segment_list()`'s (kernel/kexec_core.c): the
    /// kernel segment starts `text_offset` into a page-aligned buffer, so a
    /// `text_offset` that is not page-aligned gives an unaligned segment.
    pub fn validate(&self, target: &Target) -> Result<(), ProbeError> {
        if self.magic != u32::from_le_bytes(ARM64_MAGIC) {
            return Err(ProbeError::NotArm64Image);
        }
        if self.image_size == 0 {
            return Err(ProbeError::ImageSizeZero);
        }
        let image_be = self.flags().contains(ImageFlags::BE);
        if image_be != (target.endian == Endian::Big) && !target.mixed_endian {
            return Err(ProbeError::EndianMismatch);
        }
        let needed = match self.page_size() {
            PageSize::Unspecified => Granules::empty(),
            PageSize::K4 => Granules::K4,
            PageSize::K16 => Granules::K16,
            PageSize::K64 => Granules::K64,
        };
        if !target.granules.contains(needed) {
            return Err(ProbeError::PageSizeUnsupported);
        }
        if self.text_offset & target.page_size.wrapping_sub(1) != 0 {
            return Err(ProbeError::TextOffsetUnaligned);
        }
        self.max_file_len(target.page_size).map(|_| ())
    }

    /// The longest Image `kexec_file_load` accepts with this header on a
    /// kernel with `page_size` pages: `image_load()` asks for a buffer of
    /// `text_offset + image_size` bytes, `kexec_add_buffer()` page-aligns
    /// that size, then the segment moves `text_offset` into the buffer, and
    /// `sanity_check_segment_list()` refuses a segment whose file bytes
    /// exceed its memory: `ALIGN(text_offset + image_size, PAGE_SIZE) -
    /// text_offset`.
    pub fn max_file_len(&self, page_size: u64) -> Result<u64, ProbeError> {
        let seg = self.kernel_segment_bytes()?;
        let mask = page_size.wrapping_sub(1);
        seg.checked_add(mask)
            .map(|v| v & !mask)
            .and_then(|aligned| aligned.checked_sub(self.text_offset))
            .ok_or(ProbeError::ImageSizeOverflow)
    }

    /// The flags word, typed.
    pub fn flags(&self) -> ImageFlags {
        ImageFlags::from_bits_retain(self.flags)
    }

    /// The page size the kernel was built for.
    pub fn page_size(&self) -> PageSize {
        PageSize::from_flags(self.flags)
    }

    /// Bit 0: a big-endian kernel.
    pub fn big_endian(&self) -> bool {
        self.flags().contains(ImageFlags::BE)
    }

    /// Bit 3: the kernel may be placed anywhere in physical memory.
    pub fn phys_placement_anywhere(&self) -> bool {
        self.flags().contains(ImageFlags::PHYS_PLACEMENT_ANYWHERE)
    }

    /// Reserved fields that are not zero: res2-res4 and flag bits 4-63
    /// (res5 is the PE offset, code0/code1 are code).
    pub fn reserved_nonzero(&self) -> bool {
        self.res2 != 0 || self.res3 != 0 || self.res4 != 0 || self.flags & FLAGS_RESERVED_MASK != 0
    }

    /// `text_offset + image_size`: the memory the kernel segment occupies
    /// (`kbuf.memsz` in `image_load()`), which a crashkernel region must hold.
    pub fn kernel_segment_bytes(&self) -> Result<u64, ProbeError> {
        self.text_offset
            .checked_add(self.image_size)
            .ok_or(ProbeError::ImageSizeOverflow)
    }

    /// Does the image start with "MZ", i.e. does it carry a PE/COFF header?
    pub fn has_pe_header(&self) -> bool {
        self.code0 & 0xFFFF == u32::from(u16::from_le_bytes(*b"MZ"))
    }
}

/// Check the header rules common to the full and the quick probe.
pub(crate) fn header_of(image: &[u8], target: &Target) -> Result<Arm64ImageHeader, ProbeError> {
    if image.len() < ARM64_HEADER_LEN {
        return Err(ProbeError::ImageTooShort);
    }
    let h = Arm64ImageHeader::parse(image)?;
    h.validate(target)?;
    Ok(h)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid header for tests.
    pub(crate) fn header_bytes(text_offset: u64, image_size: u64, flags: u64) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&0x1400_0010u32.to_le_bytes());
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[24..32].copy_from_slice(&flags.to_le_bytes());
        h[0x38..0x3C].copy_from_slice(b"ARM\x64");
        h
    }

    #[test]
    fn parses_and_validates() {
        let h = Arm64ImageHeader::parse(&header_bytes(0, 0x100_0000, 0b1010)).unwrap();
        assert_eq!(h.image_size, 0x100_0000);
        assert_eq!(h.page_size(), PageSize::K4);
        assert!(h.phys_placement_anywhere());
        assert!(!h.big_endian());
        assert!(!h.reserved_nonzero());
        assert_eq!(h.validate(&Target::default()), Ok(()));
        assert_eq!(h.kernel_segment_bytes(), Ok(0x100_0000));
    }

    #[test]
    fn kernel_rules() {
        let t = Target::default();
        let p = |b: [u8; 64]| Arm64ImageHeader::parse(&b).unwrap();
        assert_eq!(
            p(header_bytes(0x80000, 0, 0)).validate(&t),
            Err(ProbeError::ImageSizeZero)
        );
        assert_eq!(
            p(header_bytes(0, 1, 1)).validate(&t),
            Err(ProbeError::EndianMismatch)
        );
        let big = Target {
            endian: Endian::Big,
            ..t
        };
        assert_eq!(p(header_bytes(0, 1, 1)).validate(&big), Ok(()));
        let only4k = Target {
            granules: Granules::K4,
            ..t
        };
        assert_eq!(
            p(header_bytes(0, 1, 0b100)).validate(&only4k),
            Err(ProbeError::PageSizeUnsupported)
        );
        assert_eq!(p(header_bytes(0, 1, 0)).validate(&only4k), Ok(()));
        assert_eq!(
            p(header_bytes(!0xFFF, 0x1000, 0)).validate(&t),
            Err(ProbeError::ImageSizeOverflow)
        );
        // Aligning text_offset + image_size up to the page overflows too.
        assert_eq!(
            p(header_bytes(0, u64::MAX - 1, 0)).validate(&t),
            Err(ProbeError::ImageSizeOverflow)
        );
        let mut nomagic = header_bytes(0, 1, 0);
        nomagic[0x38] = b'X';
        assert_eq!(p(nomagic).validate(&t), Err(ProbeError::NotArm64Image));
        assert_eq!(
            Arm64ImageHeader::parse(&[0u8; 63]),
            Err(ProbeError::ImageTooShort)
        );
    }

    /// `image_load()` + `kexec_add_buffer()` + `sanity_check_segment_list()`:
    /// the file may be as long as the page-aligned segment minus
    /// text_offset, one byte more is refused.
    #[test]
    fn file_length_is_the_page_aligned_segment_minus_text_offset() {
        let p = |b: [u8; 64]| Arm64ImageHeader::parse(&b).unwrap();
        // text_offset 0x80000, image_size 4 KiB: 4 KiB of file, not 8 KiB
        // (the segment is 0x81000 bytes, of which 0x80000 come before it).
        assert_eq!(
            p(header_bytes(0x80000, 0x1000, 0)).max_file_len(4096),
            Ok(0x1000)
        );
        // An unaligned image_size: the page it ends in is the kernel's.
        assert_eq!(p(header_bytes(0, 0x1F00, 0)).max_file_len(4096), Ok(0x2000));
        assert_eq!(p(header_bytes(0, 0x2000, 0)).max_file_len(4096), Ok(0x2000));
        assert_eq!(p(header_bytes(0, 0x2001, 0)).max_file_len(4096), Ok(0x3000));
        assert_eq!(
            p(header_bytes(0, 0x1F00, 0)).max_file_len(65536),
            Ok(0x10000)
        );
        assert_eq!(
            p(header_bytes(0x80000, 0x1F00, 0)).max_file_len(4096),
            Ok(0x2000)
        );
    }

    /// `image_load()`: the other endianness only when the CPU supports mixed
    /// endianness; `sanity_check_segment_list()`: a page-aligned segment.
    #[test]
    fn mixed_endian_and_text_offset_alignment() {
        let p = |b: [u8; 64]| Arm64ImageHeader::parse(&b).unwrap();
        let t = Target::default();
        let mixed = Target {
            mixed_endian: true,
            ..t
        };
        assert_eq!(
            p(header_bytes(0, 1, 1)).validate(&t),
            Err(ProbeError::EndianMismatch)
        );
        assert_eq!(p(header_bytes(0, 1, 1)).validate(&mixed), Ok(()));
        assert_eq!(p(header_bytes(0, 1, 0)).validate(&mixed), Ok(()));
        assert_eq!(p(header_bytes(0x1000, 1, 0)).validate(&t), Ok(()));
        assert_eq!(
            p(header_bytes(0x800, 1, 0)).validate(&t),
            Err(ProbeError::TextOffsetUnaligned)
        );
        assert_eq!(ProbeError::TextOffsetUnaligned.errno(), 99);
        let k64 = Target {
            page_size: 65536,
            ..t
        };
        assert_eq!(
            p(header_bytes(0x1000, 1, 0)).validate(&k64),
            Err(ProbeError::TextOffsetUnaligned)
        );
        assert_eq!(p(header_bytes(0x80000, 1, 0)).validate(&k64), Ok(()));
    }

    #[test]
    fn page_size_field() {
        assert_eq!(PageSize::from_flags(0b110).bytes(), Some(65536));
        assert_eq!(PageSize::from_flags(0b100).bytes(), Some(16384));
        assert_eq!(PageSize::from_flags(0).bytes(), None);
        let mut h = Arm64ImageHeader::parse(&header_bytes(0, 1, 1 << 4)).unwrap();
        assert!(h.reserved_nonzero());
        h.flags = 0;
        h.res3 = 1;
        assert!(h.reserved_nonzero());
    }

    /// Each accessor on both of its values, each reserved field alone.
    #[test]
    fn flags_and_reserved_fields() {
        let p = |flags| Arm64ImageHeader::parse(&header_bytes(0, 1, flags)).unwrap();
        assert_eq!(PageSize::from_flags(0b010), PageSize::K4);
        assert_eq!(PageSize::K4.bytes(), Some(4096));
        assert_eq!(p(0b010).page_size(), PageSize::K4);
        assert_eq!(p(0b110).page_size(), PageSize::K64);
        assert!(p(1).big_endian() && !p(0b1000).big_endian());
        assert!(p(0b1000).phys_placement_anywhere() && !p(0b0111).phys_placement_anywhere());
        assert_eq!(
            p(0b1011).flags(),
            ImageFlags::BE | ImageFlags::PAGE_SIZE_LO | ImageFlags::PHYS_PLACEMENT_ANYWHERE
        );
        // Bits 0-3 are defined; 4-63 reserved.
        assert!(!p(0xF).reserved_nonzero());
        assert!(p(1 << 4).reserved_nonzero());
        assert!(p(1 << 63).reserved_nonzero());
        let mut h = p(0);
        assert!(!h.reserved_nonzero());
        h.res2 = 1;
        assert!(h.reserved_nonzero());
        h.res2 = 0;
        h.res4 = 1;
        assert!(h.reserved_nonzero());
        h.res4 = 0;
        // res5 (the PE offset) and the code words are not reserved.
        h.res5 = 0x40;
        h.code1 = 1;
        assert!(!h.reserved_nonzero());
    }

    /// "MZ" in the low half of code0 (`MZ` + a ccmp, as efi-header.S).
    #[test]
    fn pe_header_is_mz() {
        let mut b = header_bytes(0, 1, 0);
        assert!(!Arm64ImageHeader::parse(&b).unwrap().has_pe_header());
        b[0..4].copy_from_slice(b"MZ@\xFA");
        assert!(Arm64ImageHeader::parse(&b).unwrap().has_pe_header());
        b[1] = b'X';
        assert!(!Arm64ImageHeader::parse(&b).unwrap().has_pe_header());
        b[0..4].copy_from_slice(&[b'M', b'Z', 0, 0]);
        assert!(Arm64ImageHeader::parse(&b).unwrap().has_pe_header());
    }

    /// 64 bytes are enough, 63 are not; the fields come from booting.rst's
    /// offsets.
    #[test]
    fn header_length_and_fields() {
        let mut b = header_bytes(0x1000, 0x2000, 0b1010);
        b[4..8].copy_from_slice(&0x1122_3344u32.to_le_bytes());
        b[0x20] = 2;
        b[0x28] = 3;
        b[0x30] = 4;
        b[0x3C] = 0x40;
        let t = Target::default();
        let h = header_of(&b, &t).unwrap();
        assert_eq!(
            (h.code0, h.code1, h.text_offset, h.image_size, h.flags),
            (0x1400_0010, 0x1122_3344, 0x1000, 0x2000, 0b1010)
        );
        assert_eq!((h.res2, h.res3, h.res4, h.res5), (2, 3, 4, 0x40));
        assert_eq!(h.magic, u32::from_le_bytes(*b"ARM\x64"));
        assert_eq!(header_of(&b[..63], &t), Err(ProbeError::ImageTooShort));
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(header_of(&long, &t), Ok(h));
        assert_eq!(h.kernel_segment_bytes(), Ok(0x3000));
        assert_eq!(
            Arm64ImageHeader::parse(&header_bytes(u64::MAX, 1, 0))
                .unwrap()
                .kernel_segment_bytes(),
            Err(ProbeError::ImageSizeOverflow)
        );
    }
}
