//! Unified kernel images (UAPI group's UKI spec, systemd-stub, `ukify`): a
//! PE/COFF EFI application whose `.linux` section holds the kernel (a raw
//! Image, an Image.gz, a zboot or a zstd image), beside `.initrd`,
//! `.cmdline`, `.uname`, `.osrel`, `.dtb`/`.dtbauto` and `.profile`
//! sections. Section contents are `VirtualSize` bytes at `PointerToRawData`
//! (the raw size is padded to the file alignment).
//!
//! The prober reads the headers up to the end of the section table, then
//! streams the file: the short text sections are copied as they pass, and
//! `.linux` is probed as a kernel of its own (one level deep: a UKI inside
//! `.linux` is refused).

use crate::bytes;
use crate::error::ProbeError;

/// Most of the section table the prober buffers: the headers of a UKI
/// (ukify: ~0x300 bytes) fit many times over.
pub const UKI_HEADER_MAX: usize = 4096;
/// Bytes of `.cmdline` and `.uname` kept for the report (the whole section
/// is in the file; its length is reported).
pub const TEXT_MAX: usize = 256;

const SECTION_LEN: usize = 40;

/// Where a section's contents are in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// PointerToRawData.
    pub offset: u32,
    /// VirtualSize: the contents' length.
    pub size: u32,
}

impl Section {
    /// Offset just past the contents.
    pub fn end(&self) -> u64 {
        u64::from(self.offset).saturating_add(u64::from(self.size))
    }
}

/// A bounded copy of a short text section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    bytes: [u8; TEXT_MAX],
    kept: u16,
}

impl Default for Text {
    fn default() -> Self {
        Self {
            bytes: [0; TEXT_MAX],
            kept: 0,
        }
    }
}

impl Text {
    /// The bytes kept (the first [`TEXT_MAX`] of the section), without a
    /// trailing NUL or newline.
    pub fn as_bytes(&self) -> &[u8] {
        let b = self.bytes.get(..usize::from(self.kept)).unwrap_or_default();
        let end = b
            .iter()
            .rposition(|&c| c != 0 && c != b'\n')
            .map_or(0, |i| i.saturating_add(1));
        b.get(..end).unwrap_or_default()
    }

    /// Copy the part of `data` (which starts at file offset `at`) that falls
    /// inside `s`, up to [`TEXT_MAX`] bytes of it.
    pub(crate) fn capture(&mut self, s: Section, at: u64, data: &[u8]) {
        let end = at.saturating_add(data.len() as u64);
        let from = at.max(u64::from(s.offset));
        let to = end
            .min(s.end())
            .min(u64::from(s.offset).saturating_add(TEXT_MAX as u64));
        if from >= to {
            return;
        }
        let (src_from, dst_from) = (
            from.saturating_sub(at),
            from.saturating_sub(u64::from(s.offset)),
        );
        let n = bytes::usize_sat(to.saturating_sub(from));
        let (sf, df) = (bytes::usize_sat(src_from), bytes::usize_sat(dst_from));
        if let (Some(d), Some(src)) = (
            self.bytes.get_mut(df..df.saturating_add(n)),
            data.get(sf..sf.saturating_add(n)),
        ) {
            d.copy_from_slice(src);
            let kept = df.saturating_add(n).max(usize::from(self.kept));
            self.kept = u16::try_from(kept).unwrap_or(u16::MAX);
        }
    }
}

/// What the UKI's headers say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UkiInfo {
    /// The kernel.
    pub linux: Section,
    /// The initrd, if embedded.
    pub initrd: Option<Section>,
    /// The kernel command line, if embedded.
    pub cmdline: Option<Section>,
    /// `uname -r` of the kernel, if recorded.
    pub uname: Option<Section>,
    /// os-release of the image, if recorded.
    pub osrel: Option<Section>,
    /// Device trees (`.dtb`, `.dtbauto`) embedded.
    pub dtbs: u16,
    /// `.profile` sections (multi-profile UKIs; the sections before the
    /// first one are the base profile, which is what is reported).
    pub profiles: u16,
    /// Bytes of headers and section table read before the sections.
    pub header_len: u32,
    /// The certificate table of the outer PE, when its directory entry is
    /// nonzero: (file offset, size). The outer signature is checked by the
    /// caller over the whole file.
    pub outer_cert: Option<(u32, u32)>,
    /// The first bytes of `.cmdline` and `.uname`.
    pub cmdline_text: Text,
    /// As `cmdline_text`, for `.uname`.
    pub uname_text: Text,
}

/// How many header bytes are needed to read the section table of the PE
/// whose first bytes are `head`: None while unknown (more bytes needed).
pub(crate) fn header_len(head: &[u8]) -> Result<Option<usize>, ProbeError> {
    let bad = ProbeError::BadUki;
    let Some(pe) = bytes::u32_le(head, 0x3C) else {
        return Ok(None);
    };
    let pe = bytes::usize_sat(u64::from(pe));
    if pe < 0x40 || pe.saturating_add(24) > UKI_HEADER_MAX {
        return Err(bad);
    }
    let (Some(sections), Some(opt)) = (
        bytes::u16_le(head, pe.saturating_add(6)),
        bytes::u16_le(head, pe.saturating_add(20)),
    ) else {
        return Ok(Some(pe.saturating_add(24)));
    };
    let table = pe.saturating_add(24).saturating_add(usize::from(opt));
    let end = table.saturating_add(usize::from(sections).saturating_mul(SECTION_LEN));
    if end > UKI_HEADER_MAX || sections == 0 {
        return Err(bad);
    }
    Ok(Some(end))
}

impl UkiInfo {
    /// Parse the headers (`head` holds at least [`header_len`] bytes) of a
    /// file of `file_len` bytes (when known).
    pub(crate) fn parse(head: &[u8], file_len: Option<u64>) -> Result<Self, ProbeError> {
        let bad = ProbeError::BadUki;
        let end = header_len(head)?.ok_or(bad)?;
        let pe = bytes::usize_sat(u64::from(bytes::u32_le(head, 0x3C).ok_or(bad)?));
        if bytes::range(head, pe, 4) != Some(b"PE\0\0") {
            return Err(bad);
        }
        let machine = bytes::u16_le(head, pe.saturating_add(4)).ok_or(bad)?;
        if machine != crate::pe::MACHINE_ARM64 {
            return Err(ProbeError::UkiNotArm64);
        }
        let sections = usize::from(bytes::u16_le(head, pe.saturating_add(6)).ok_or(bad)?);
        let opt_len = usize::from(bytes::u16_le(head, pe.saturating_add(20)).ok_or(bad)?);
        let opt = pe.saturating_add(24);
        // PE32+: the certificate directory (entry 4) at 144 + 4 * 8.
        let outer_cert = if bytes::u16_le(head, opt) == Some(0x20B) && opt_len >= 152 {
            let at = opt.saturating_add(144);
            match (
                bytes::u32_le(head, at),
                bytes::u32_le(head, at.saturating_add(4)),
            ) {
                (Some(0), Some(0)) | (None, _) | (_, None) => None,
                (Some(o), Some(s)) => Some((o, s)),
            }
        } else {
            None
        };
        let table = opt.saturating_add(opt_len);
        let mut info = UkiInfo {
            header_len: u32::try_from(end).map_err(|_| bad)?,
            outer_cert,
            ..UkiInfo::default()
        };
        let mut linux = None;
        for i in 0..sections {
            let at = table.saturating_add(i.saturating_mul(SECTION_LEN));
            let name = bytes::range(head, at, 8).ok_or(bad)?;
            let name = name
                .get(..name.iter().position(|&b| b == 0).unwrap_or(8))
                .unwrap_or_default();
            let field = |o: usize| bytes::u32_le(head, at.saturating_add(o)).ok_or(bad);
            let (size, raw_size, offset) = (field(8)?, field(16)?, field(20)?);
            let s = Section { offset, size };
            let known = matches!(
                name,
                b".linux"
                    | b".initrd"
                    | b".cmdline"
                    | b".uname"
                    | b".osrel"
                    | b".dtb"
                    | b".dtbauto"
                    | b".profile"
            );
            if !known {
                continue;
            }
            // Contents past the raw data would be zero fill, not the file's.
            if size > raw_size
                || (size > 0 && bytes::usize_sat(u64::from(offset)) < end)
                || file_len.is_some_and(|l| s.end() > l)
            {
                return Err(ProbeError::BadUkiSection);
            }
            if info.profiles > 0 && name != b".profile" {
                continue; // a later profile's section: the base one is reported
            }
            match name {
                b".linux" => linux = Some(s),
                b".initrd" => info.initrd = Some(s),
                b".cmdline" => info.cmdline = Some(s),
                b".uname" => info.uname = Some(s),
                b".osrel" => info.osrel = Some(s),
                b".profile" => info.profiles = info.profiles.saturating_add(1),
                _ => info.dtbs = info.dtbs.saturating_add(1),
            }
        }
        info.linux = linux.ok_or(ProbeError::UkiNoLinux)?;
        if info.linux.size == 0 {
            return Err(ProbeError::UkiNoLinux);
        }
        Ok(info)
    }

    /// The embedded command line's first bytes.
    pub fn cmdline(&self) -> Option<&[u8]> {
        self.cmdline.map(|_| self.cmdline_text.as_bytes())
    }

    /// The embedded uname's first bytes.
    pub fn uname(&self) -> Option<&[u8]> {
        self.uname.map(|_| self.uname_text.as_bytes())
    }

    /// Copy what `data` (at file offset `at`) holds of `.cmdline`/`.uname`.
    pub(crate) fn capture(&mut self, at: u64, data: &[u8]) {
        if let Some(s) = self.cmdline {
            self.cmdline_text.capture(s, at, data);
        }
        if let Some(s) = self.uname {
            self.uname_text.capture(s, at, data);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// A UKI-shaped PE: headers at 0, the named sections' contents after
    /// 0x400, in the order given.
    pub(crate) fn uki(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut f = std::vec![0u8; 0x400];
        f[..2].copy_from_slice(b"MZ");
        f[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        f[0x84..0x86].copy_from_slice(&0xAA64u16.to_le_bytes());
        f[0x86..0x88].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        f[0x94..0x96].copy_from_slice(&240u16.to_le_bytes());
        f[0x98..0x9A].copy_from_slice(&0x20Bu16.to_le_bytes());
        let table = 0x98 + 240;
        for (i, (name, data)) in sections.iter().enumerate() {
            let at = table + i * 40;
            let off = f.len() as u32;
            f[at..at + name.len()].copy_from_slice(name.as_bytes());
            f[at + 8..at + 12].copy_from_slice(&(data.len() as u32).to_le_bytes());
            let raw = data.len().div_ceil(512) * 512;
            f[at + 16..at + 20].copy_from_slice(&(raw as u32).to_le_bytes());
            f[at + 20..at + 24].copy_from_slice(&off.to_le_bytes());
            f.extend_from_slice(data);
            f.resize(off as usize + raw, 0);
        }
        f
    }

    #[test]
    fn parses_sections_by_virtual_size() {
        let f = uki(&[
            (".osrel", b"ID=test\n"),
            (".cmdline", b"console=ttyAMA0 quiet\n"),
            (".linux", &[7; 1000]),
            (".initrd", &[1; 33]),
        ]);
        let n = header_len(&f).unwrap().unwrap();
        assert_eq!(n, 0x98 + 240 + 4 * 40);
        let mut u = UkiInfo::parse(&f[..n], Some(f.len() as u64)).unwrap();
        assert_eq!(u.linux.size, 1000);
        assert_eq!(u.initrd.unwrap().size, 33);
        assert!(u.osrel.is_some() && u.uname.is_none());
        u.capture(0, &f);
        assert_eq!(u.cmdline(), Some(&b"console=ttyAMA0 quiet"[..]));
        // Byte by byte gives the same.
        let mut v = UkiInfo::parse(&f[..n], None).unwrap();
        for (i, b) in f.iter().enumerate() {
            v.capture(i as u64, core::slice::from_ref(b));
        }
        assert_eq!(v, u);
    }

    #[test]
    fn refuses_what_is_no_uki() {
        let f = uki(&[(".text", &[0; 10])]);
        let n = header_len(&f).unwrap().unwrap();
        assert_eq!(UkiInfo::parse(&f[..n], None), Err(ProbeError::UkiNoLinux));
        let mut g = uki(&[(".linux", &[1; 600])]);
        // VirtualSize beyond SizeOfRawData.
        let at = 0x98 + 240;
        g[at + 8..at + 12].copy_from_slice(&5000u32.to_le_bytes());
        assert_eq!(
            UkiInfo::parse(&g[..0x400], None),
            Err(ProbeError::BadUkiSection)
        );
        let mut h = uki(&[(".linux", &[1; 600])]);
        h[0x84] = 0x64; // machine 0x8664 (x86-64)
        h[0x85] = 0x86;
        assert_eq!(
            UkiInfo::parse(&h[..0x400], None),
            Err(ProbeError::UkiNotArm64)
        );
        assert_eq!(header_len(&h[..0x3C]), Ok(None));
    }
}
