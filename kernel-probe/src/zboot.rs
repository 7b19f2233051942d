//! The EFI zboot header (drivers/firmware/efi/libstub/zboot-header.S): a PE
//! wrapper whose payload is the compressed Image.

use crate::bytes;
use crate::container::Compression;
use crate::error::ProbeError;

/// Bytes of the zboot header we read.
pub const ZBOOT_HEADER_LEN: usize = 64;
const NAME_OFFSET: usize = 0x18;
const NAME_LEN: usize = 0x38 - NAME_OFFSET;

/// What the zboot header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZbootHeader {
    /// File offset of the compressed payload.
    pub payload_offset: u32,
    /// Length of the compressed payload.
    pub payload_size: u32,
    /// The payload's compression (gzip or zstd: since Linux 6.13 the only
    /// two zboot builds; "zstd22" was the name before 6.13, "zstd" after).
    pub compression: Compression,
}

impl ZbootHeader {
    /// Parse and check the header; a payload neither gzip nor zstd is named
    /// in the error.
    /// `file_len` is the outer file's length when known (one-shot), so a
    /// payload outside the file is refused before any inflating.
    pub fn parse(head: &[u8], file_len: Option<u64>) -> Result<Self, ProbeError> {
        let bad = ProbeError::BadZbootHeader;
        if !head.starts_with(b"MZ") || bytes::range(head, 4, 4) != Some(b"zimg") {
            return Err(bad);
        }
        let payload_offset = bytes::u32_le(head, 0x08).ok_or(bad)?;
        let payload_size = bytes::u32_le(head, 0x0C).ok_or(bad)?;
        let name_field = bytes::range(head, NAME_OFFSET, NAME_LEN).ok_or(bad)?;
        let name_len = name_field.iter().position(|&b| b == 0).ok_or(bad)?;
        let compression = Compression::from_zboot_name(name_field.get(..name_len).ok_or(bad)?);
        if !matches!(compression, Compression::Gzip | Compression::Zstd) {
            return Err(ProbeError::UnsupportedZbootCompression(compression));
        }
        let end = u64::from(payload_offset).saturating_add(u64::from(payload_size));
        if bytes::usize_sat(u64::from(payload_offset)) < ZBOOT_HEADER_LEN || payload_size == 0 {
            return Err(bad);
        }
        if file_len.is_some_and(|len| end > len) {
            return Err(ProbeError::Truncated);
        }
        Ok(Self {
            payload_offset,
            payload_size,
            compression,
        })
    }

    /// Offset just past the payload.
    pub fn payload_end(&self) -> u64 {
        // Two u32s: the u64 sum cannot overflow.
        u64::from(self.payload_offset).saturating_add(u64::from(self.payload_size))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn zboot_head(offset: u32, size: u32, name: &[u8]) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[..8].copy_from_slice(b"MZ\0\0zimg");
        h[8..12].copy_from_slice(&offset.to_le_bytes());
        h[12..16].copy_from_slice(&size.to_le_bytes());
        h[0x18..0x18 + name.len()].copy_from_slice(name);
        h[0x38..0x3C].copy_from_slice(&0x8182_23cdu32.to_le_bytes());
        h
    }

    #[test]
    fn parses_gzip_zboot() {
        let z = ZbootHeader::parse(&zboot_head(0x1000, 0x2000, b"gzip"), Some(0x4000)).unwrap();
        assert_eq!(z.payload_offset, 0x1000);
        assert_eq!(z.payload_end(), 0x3000);
    }

    /// Both names Makefile.zboot has written for zstd: "zstd22" (before
    /// Linux 6.13) and "zstd" (since).
    #[test]
    fn parses_zstd_zboot_by_either_name() {
        for name in [&b"zstd22"[..], b"zstd"] {
            let z = ZbootHeader::parse(&zboot_head(0x1000, 0x2000, name), Some(0x3004)).unwrap();
            assert_eq!(z.compression, Compression::Zstd, "{name:?}");
        }
    }

    #[test]
    fn rejects_other_payloads_by_name() {
        for (name, c) in [
            (&b"xzkern"[..], Compression::Xz),
            (b"lz4", Compression::Lz4),
            (b"lzma", Compression::Lzma),
            (b"lzo", Compression::Lzo),
            (b"what", Compression::Other),
        ] {
            assert_eq!(
                ZbootHeader::parse(&zboot_head(0x1000, 1, name), None),
                Err(ProbeError::UnsupportedZbootCompression(c))
            );
        }
    }

    #[test]
    fn rejects_inconsistent_headers() {
        assert_eq!(
            ZbootHeader::parse(&zboot_head(0x1000, 0x2000, b"gzip"), Some(0x2000)),
            Err(ProbeError::Truncated)
        );
        assert_eq!(
            ZbootHeader::parse(&zboot_head(0x10, 0x20, b"gzip"), None),
            Err(ProbeError::BadZbootHeader)
        );
        let mut noterm = zboot_head(0x1000, 1, b"gzip");
        noterm[0x18..0x38].fill(b'g');
        assert_eq!(
            ZbootHeader::parse(&noterm, None),
            Err(ProbeError::BadZbootHeader)
        );
    }

    /// Each bound on both sides: payload offset at least the 64-byte header,
    /// a nonzero size, the payload ending at (not past) the end of the file.
    #[test]
    fn header_bounds() {
        let parse = |off, size, len| ZbootHeader::parse(&zboot_head(off, size, b"gzip"), len);
        assert!(parse(64, 1, Some(65)).is_ok());
        assert_eq!(parse(63, 1, None), Err(ProbeError::BadZbootHeader));
        assert_eq!(parse(0x1000, 0, None), Err(ProbeError::BadZbootHeader));
        assert_eq!(
            parse(0x1000, 0x2000, Some(0x3000)).unwrap().payload_end(),
            0x3000
        );
        assert_eq!(
            parse(0x1000, 0x2000, Some(0x2FFF)),
            Err(ProbeError::Truncated)
        );
        assert!(parse(u32::MAX, u32::MAX, None).is_ok());
        assert_eq!(
            parse(u32::MAX, u32::MAX, Some(u64::from(u32::MAX) * 2 - 1)),
            Err(ProbeError::Truncated)
        );
        // The name: NUL-terminated within 0x18..0x38, so 31 bytes at most.
        let mut h = zboot_head(0x1000, 1, b"gzip");
        h[0x18..0x37].fill(b'x');
        assert_eq!(
            ZbootHeader::parse(&h, None),
            Err(ProbeError::UnsupportedZbootCompression(Compression::Other))
        );
        // The header is 64 bytes: a shorter one is refused.
        assert_eq!(
            ZbootHeader::parse(&zboot_head(0x1000, 1, b"gzip")[..0x37], None),
            Err(ProbeError::BadZbootHeader)
        );
    }

    /// Both magics are needed: `MZ` at 0 and `zimg` at 4.
    #[test]
    fn magic_needs_mz_and_zimg() {
        let good = zboot_head(0x1000, 1, b"gzip");
        assert!(ZbootHeader::parse(&good, None).is_ok());
        for at in [0usize, 1, 4, 7] {
            let mut h = good;
            h[at] ^= 0x20;
            assert_eq!(
                ZbootHeader::parse(&h, None),
                Err(ProbeError::BadZbootHeader),
                "byte {at}"
            );
        }
        assert_eq!(
            ZbootHeader::parse(b"MZ\0\0zim", None),
            Err(ProbeError::BadZbootHeader)
        );
    }
}
