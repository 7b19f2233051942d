//! Recognising the container by its magic: raw arm64 Image, gzip, EFI zboot,
//! and the compressions we name but do not decompress.

use crate::bytes;

/// The containers the probe accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Format {
    /// An uncompressed arm64 Image ("ARM\x64" at 0x38).
    Image,
    /// One or more gzip members (Image.gz).
    Gzip,
    /// EFI zboot (vmlinuz.efi): a PE wrapper around a compressed Image.
    Zboot,
    /// One or more zstd frames (Image.zst), skippable frames among them.
    Zstd,
    /// A unified kernel image: a PE whose `.linux` section is the kernel.
    Uki,
}

impl Format {
    /// The name used in reports ("image", "gzip", "zboot", "zstd").
    pub const fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Gzip => "gzip",
            Self::Zboot => "zboot",
            Self::Zstd => "zstd",
            Self::Uki => "uki",
        }
    }
}

/// Compressions the kernel build can produce for an Image or a zboot payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Compression {
    /// gzip (RFC 1952).
    Gzip,
    /// xz (`FD 37 7A 58 5A 00`).
    Xz,
    /// zstd (`28 B5 2F FD`).
    Zstd,
    /// bzip2 (`BZh`).
    Bzip2,
    /// lz4, frame or legacy format.
    Lz4,
    /// lzma (`5D 00 00`).
    Lzma,
    /// lzo (`89 4C 5A 4F`).
    Lzo,
    /// A zboot compression name we do not know.
    Other,
}

impl Compression {
    /// The name used in messages and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
            Self::Lz4 => "lz4",
            Self::Lzma => "lzma",
            Self::Lzo => "lzo",
            Self::Other => "unknown",
        }
    }

    pub(crate) const fn unsupported_message(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz-compressed image: only gzip and zstd are supported",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2-compressed image: only gzip and zstd are supported",
            Self::Lz4 => "lz4-compressed image: only gzip and zstd are supported",
            Self::Lzma => "lzma-compressed image: only gzip and zstd are supported",
            Self::Lzo => "lzo-compressed image: only gzip and zstd are supported",
            Self::Other => "unknown compression: only gzip and zstd are supported",
        }
    }

    pub(crate) const fn unsupported_zboot_message(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "EFI zboot image with an xz payload: only gzip and zstd are supported",
            Self::Zstd => "zstd",
            Self::Bzip2 => "EFI zboot image with a bzip2 payload: only gzip and zstd are supported",
            Self::Lz4 => "EFI zboot image with an lz4 payload: only gzip and zstd are supported",
            Self::Lzma => "EFI zboot image with an lzma payload: only gzip is supported",
            Self::Lzo => "EFI zboot image with an lzo payload: only gzip is supported",
            Self::Other => "EFI zboot image with an unknown payload compression",
        }
    }

    /// The zboot header's compression name (`gzip`, `xzkern`, `zstd22`, ...).
    pub fn from_zboot_name(name: &[u8]) -> Self {
        match name {
            b"gzip" => Self::Gzip,
            b"xzkern" | b"xz" => Self::Xz,
            b"zstd22" | b"zstd" => Self::Zstd,
            b"bzip2" => Self::Bzip2,
            b"lz4" => Self::Lz4,
            b"lzma" => Self::Lzma,
            b"lzo" => Self::Lzo,
            _ => Self::Other,
        }
    }
}

/// gzip member magic.
pub const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// "ARM\x64" at offset 0x38 of an arm64 Image.
pub const ARM64_MAGIC: [u8; 4] = *b"ARM\x64";
/// Where the magic sits in the header.
pub const ARM64_MAGIC_OFFSET: usize = 0x38;

/// What the first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A container the probe handles.
    Known(Format),
    /// A compression we name but do not decompress.
    Unsupported(Compression),
    /// Nothing we recognise.
    Unknown,
}

/// How many leading bytes [`sniff`] needs to decide in every case.
pub const SNIFF_LEN: usize = 64;

/// Recognise the container from its first bytes (up to [`SNIFF_LEN`]; fewer
/// only when that is all there is).
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&GZIP_MAGIC) {
        return Sniffed::Known(Format::Gzip);
    }
    if crate::zstd::is_frame_magic(head) {
        return Sniffed::Known(Format::Zstd);
    }
    if head.starts_with(b"MZ") && bytes::range(head, 4, 4) == Some(b"zimg") {
        return Sniffed::Known(Format::Zboot);
    }
    if bytes::array::<4>(head, ARM64_MAGIC_OFFSET) == Some(ARM64_MAGIC) {
        return Sniffed::Known(Format::Image);
    }
    match compression_magic(head) {
        Some(c) => Sniffed::Unsupported(c),
        None => Sniffed::Unknown,
    }
}

/// Magic numbers of the other compressions Linux can build Image.* with.
pub fn compression_magic(head: &[u8]) -> Option<Compression> {
    const MAGICS: [(&[u8], Compression); 7] = [
        (&[0xFD, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
        (&[0x28, 0xB5, 0x2F, 0xFD], Compression::Zstd),
        (b"BZh", Compression::Bzip2),
        (&[0x04, 0x22, 0x4D, 0x18], Compression::Lz4),
        // lz4 legacy frame, which the kernel's "lz4 -l" writes.
        (&[0x02, 0x21, 0x4C, 0x18], Compression::Lz4),
        (&[0x5D, 0x00, 0x00], Compression::Lzma),
        (&[0x89, b'L', b'Z', b'O', 0x00], Compression::Lzo),
    ];
    MAGICS
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|&(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_container() {
        assert_eq!(sniff(&[0x1F, 0x8B, 8, 0]), Sniffed::Known(Format::Gzip));
        let mut img = [0u8; 64];
        img[0x38..0x3C].copy_from_slice(b"ARM\x64");
        assert_eq!(sniff(&img), Sniffed::Known(Format::Image));
        let mut z = [0u8; 64];
        z[..8].copy_from_slice(b"MZ\0\0zimg");
        assert_eq!(sniff(&z), Sniffed::Known(Format::Zboot));
        assert_eq!(
            sniff(b"\xFD7zXZ\0rest"),
            Sniffed::Unsupported(Compression::Xz)
        );
        assert_eq!(sniff(b"BZh91AY"), Sniffed::Unsupported(Compression::Bzip2));
        assert_eq!(
            sniff(&[0x02, 0x21, 0x4C, 0x18, 1]),
            Sniffed::Unsupported(Compression::Lz4)
        );
        assert_eq!(
            sniff(&[0x28, 0xB5, 0x2F, 0xFD, 0]),
            Sniffed::Known(Format::Zstd)
        );
        assert_eq!(
            sniff(&[0x5F, 0x2A, 0x4D, 0x18]),
            Sniffed::Known(Format::Zstd)
        );
        assert_eq!(sniff(&[0x5F, 0x2A, 0x4D, 0x19]), Sniffed::Unknown);
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
    }

    /// Every name Makefile.zboot writes into the header, and one it does not.
    #[test]
    fn zboot_names() {
        for (name, c) in [
            (&b"gzip"[..], Compression::Gzip),
            (b"xzkern", Compression::Xz),
            (b"xz", Compression::Xz),
            (b"zstd22", Compression::Zstd),
            (b"zstd", Compression::Zstd),
            (b"bzip2", Compression::Bzip2),
            (b"lz4", Compression::Lz4),
            (b"lzma", Compression::Lzma),
            (b"lzo", Compression::Lzo),
            (b"brotli", Compression::Other),
        ] {
            assert_eq!(Compression::from_zboot_name(name), c, "{name:?}");
        }
    }
}
