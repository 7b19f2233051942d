//! The PE/COFF view of an EFI-capable arm64 Image (arch/arm64/kernel/efi-header.S)
//! and its certificate table, the place a signature lives
//! (crypto/asymmetric_keys/verify_pefile.c reads the same fields).

use crate::bytes;
use crate::error::ProbeError;

/// IMAGE_FILE_MACHINE_ARM64.
pub const MACHINE_ARM64: u16 = 0xAA64;
/// Optional header magic of PE32+.
pub const PE32PLUS_MAGIC: u16 = 0x20B;
/// The PE header must start within this many bytes of the image, so that a
/// quick probe (which only inflates the head) sees what the full probe sees.
pub const PE_HEADER_WINDOW: usize = 4096;

const DOS_LFANEW: usize = 0x3C;
const COFF_MACHINE: usize = 4;
const COFF_SIZE_OF_OPTIONAL_HEADER: usize = 4 + 16;
pub(crate) const OPT: usize = 0x18;
const OPT_SIZE_OF_HEADERS: usize = OPT + 60;
const OPT_NUMBER_OF_RVA_AND_SIZES: usize = OPT + 108;
pub(crate) const OPT_DATA_DIRECTORIES: usize = OPT + 112;
const DIR_SECURITY: usize = 4;
/// Bytes from the PE signature to the end of the certificate directory entry.
const PE_HEADER_NEEDED: usize = OPT_DATA_DIRECTORIES + 8 * (DIR_SECURITY + 1);

/// WIN_CERTIFICATE revision 2.0 and type PKCS#7 SignedData.
pub const WIN_CERT_REVISION_2_0: u16 = 0x0200;
/// WIN_CERTIFICATE type: PKCS#7 SignedData.
pub const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;
const WIN_CERT_HEADER_LEN: u32 = 8;

/// The PE/COFF facts a loader cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeInfo {
    /// File offset of the PE signature (`res5` of the arm64 header).
    pub pe_offset: u32,
    /// COFF Machine (0xAA64).
    pub machine: u16,
    /// SizeOfHeaders of the optional header.
    pub size_of_headers: u32,
    /// The certificate table, when its directory entry is nonzero.
    pub cert: Option<CertTable>,
    /// Bytes after the end of a sane certificate table. The kernel hashes
    /// them into the Authenticode digest, so they break the signature
    /// (kexec-tools trims them from zboot payloads for that reason).
    pub trailing_bytes: u64,
}

/// Data directory 4: a file offset and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertTable {
    /// File offset of the table (not an RVA).
    pub offset: u32,
    /// Size of the table in bytes.
    pub size: u32,
    /// What was verified of it.
    pub check: CertCheck,
}

/// What we could verify of the certificate table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertCheck {
    /// Inside the file, after the headers, with a WIN_CERTIFICATE of revision
    /// 2.0 and type PKCS#7 whose length rounds up to the directory size.
    Sane {
        /// wRevision (0x0200).
        revision: u16,
        /// wCertificateType (PKCS#7).
        cert_type: u16,
    },
    /// Only the directory entry was seen (quick probe): the blob is not inflated.
    NotChecked,
    /// The table is present but broken; the kernel would refuse the signature.
    Broken(CertProblem),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// Why a certificate table is broken.
pub enum CertProblem {
    /// offset + size is beyond the end of the image.
    OutsideFile,
    /// The table starts inside the headers.
    InsideHeaders,
    /// round_up(dwLength, 8) != directory size.
    LengthMismatch,
    /// wRevision is not 0x0200.
    BadRevision,
    /// wCertificateType is not PKCS#7 SignedData.
    BadType,
}

impl CertProblem {
    /// A short human message.
    pub const fn message(self) -> &'static str {
        match self {
            Self::OutsideFile => "certificate table extends beyond the image",
            Self::InsideHeaders => "certificate table starts inside the PE headers",
            Self::LengthMismatch => "WIN_CERTIFICATE length does not match the directory size",
            Self::BadRevision => "WIN_CERTIFICATE revision is not 2.0",
            Self::BadType => "WIN_CERTIFICATE type is not PKCS#7 SignedData",
        }
    }
}

impl PeInfo {
    /// A certificate table is present and, as far as was checked, sane.
    pub fn signed(&self) -> bool {
        matches!(
            self.cert,
            Some(CertTable {
                check: CertCheck::Sane { .. } | CertCheck::NotChecked,
                ..
            })
        )
    }

    /// The directory's size of the signature blob, 0 when unsigned.
    pub fn signature_size(&self) -> u32 {
        self.cert.map_or(0, |c| c.size)
    }

    /// Why the certificate table is broken, if it is.
    /// Length of the image the kernel expects for verification: up to the end
    /// of the certificate table when bytes follow it, else `image_len`.
    pub fn signed_len(&self, image_len: u64) -> u64 {
        image_len.saturating_sub(self.trailing_bytes)
    }

    /// Why the certificate table is broken, if it is.
    pub fn cert_problem(&self) -> Option<CertProblem> {
        match self.cert {
            Some(CertTable {
                check: CertCheck::Broken(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    /// Parse the PE view. `data` is the image or (quick probe) a prefix of
    /// at least [`PE_HEADER_WINDOW`] bytes of it; `image_len` is the image's
    /// full length. The certificate blob is checked only when `data` holds it.
    pub fn parse(data: &[u8], image_len: u64) -> Result<Self, ProbeError> {
        let bad = ProbeError::BadPeHeader;
        if !data.starts_with(b"MZ") {
            return Err(bad);
        }
        let pe_offset = bytes::u32_le(data, DOS_LFANEW).ok_or(bad)?;
        let pe = bytes::usize_sat(u64::from(pe_offset));
        if pe < DOS_LFANEW + 4 || pe.saturating_add(PE_HEADER_NEEDED) > PE_HEADER_WINDOW {
            return Err(bad);
        }
        if bytes::range(data, pe, 4) != Some(b"PE\0\0") {
            return Err(bad);
        }
        let at16 = |o: usize| bytes::u16_le(data, pe.saturating_add(o)).ok_or(bad);
        let at32 = |o: usize| bytes::u32_le(data, pe.saturating_add(o)).ok_or(bad);
        let machine = at16(COFF_MACHINE)?;
        if machine != MACHINE_ARM64 || at16(OPT)? != PE32PLUS_MAGIC {
            return Err(bad);
        }
        let size_of_headers = at32(OPT_SIZE_OF_HEADERS)?;
        let opt_len = usize::from(at16(COFF_SIZE_OF_OPTIONAL_HEADER)?);
        let dirs = at32(OPT_NUMBER_OF_RVA_AND_SIZES)?;
        // The security directory exists only if both the count and the
        // optional header's size say so.
        let has_dir = dirs > DIR_SECURITY as u32
            && opt_len >= OPT_DATA_DIRECTORIES - OPT + 8 * (DIR_SECURITY + 1);
        let cert = if has_dir {
            let offset = at32(OPT_DATA_DIRECTORIES + 8 * DIR_SECURITY)?;
            let size = at32(OPT_DATA_DIRECTORIES + 8 * DIR_SECURITY + 4)?;
            (offset != 0 || size != 0).then(|| CertTable {
                offset,
                size,
                check: check_cert(data, image_len, size_of_headers, offset, size),
            })
        } else {
            None
        };
        let trailing_bytes = match cert {
            Some(CertTable {
                offset,
                size,
                check: CertCheck::Sane { .. } | CertCheck::NotChecked,
            }) => image_len.saturating_sub(u64::from(offset).saturating_add(u64::from(size))),
            _ => 0,
        };
        Ok(Self {
            pe_offset,
            machine,
            size_of_headers,
            cert,
            trailing_bytes,
        })
    }
}

fn check_cert(data: &[u8], image_len: u64, headers: u32, offset: u32, size: u32) -> CertCheck {
    // Two u32s: the u64 sum cannot overflow.
    let end = u64::from(offset).saturating_add(u64::from(size));
    if end > image_len || size < WIN_CERT_HEADER_LEN {
        return CertCheck::Broken(CertProblem::OutsideFile);
    }
    if offset < headers {
        return CertCheck::Broken(CertProblem::InsideHeaders);
    }
    let off = bytes::usize_sat(u64::from(offset));
    let (Some(length), Some(revision), Some(cert_type)) = (
        bytes::u32_le(data, off),
        bytes::u16_le(data, off.saturating_add(4)),
        bytes::u16_le(data, off.saturating_add(6)),
    ) else {
        return CertCheck::NotChecked;
    };
    // verify_pefile.c: round_up(wrapper.length, 8) must equal the directory size.
    let rounded = u64::from(length).div_ceil(8).saturating_mul(8);
    if rounded != u64::from(size) || length < WIN_CERT_HEADER_LEN {
        CertCheck::Broken(CertProblem::LengthMismatch)
    } else if revision != WIN_CERT_REVISION_2_0 {
        CertCheck::Broken(CertProblem::BadRevision)
    } else if cert_type != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
        CertCheck::Broken(CertProblem::BadType)
    } else {
        CertCheck::Sane {
            revision,
            cert_type,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PE view like the kernel's: MZ, PE header at 0x40, PE32+, optional
    /// header with 16 data directories. Returns a buffer of `len` bytes.
    pub(crate) fn pe_image(len: usize, cert: Option<(u32, u32)>) -> std::vec::Vec<u8> {
        let mut d = std::vec![0u8; len];
        d[0..2].copy_from_slice(b"MZ");
        d[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        let pe = 0x40;
        d[pe..pe + 4].copy_from_slice(b"PE\0\0");
        d[pe + 4..pe + 6].copy_from_slice(&MACHINE_ARM64.to_le_bytes());
        d[pe + 20..pe + 22].copy_from_slice(&240u16.to_le_bytes());
        d[pe + OPT..pe + OPT + 2].copy_from_slice(&PE32PLUS_MAGIC.to_le_bytes());
        d[pe + OPT_SIZE_OF_HEADERS..pe + OPT_SIZE_OF_HEADERS + 4]
            .copy_from_slice(&0x1000u32.to_le_bytes());
        d[pe + OPT_NUMBER_OF_RVA_AND_SIZES..pe + OPT_NUMBER_OF_RVA_AND_SIZES + 4]
            .copy_from_slice(&16u32.to_le_bytes());
        if let Some((off, size)) = cert {
            let dir = pe + OPT_DATA_DIRECTORIES + 8 * DIR_SECURITY;
            d[dir..dir + 4].copy_from_slice(&off.to_le_bytes());
            d[dir + 4..dir + 8].copy_from_slice(&size.to_le_bytes());
            let o = off as usize;
            if o + 8 <= len {
                d[o..o + 4].copy_from_slice(&(size - 3).to_le_bytes());
                d[o + 4..o + 6].copy_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
                d[o + 6..o + 8].copy_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
            }
        }
        d
    }

    #[test]
    fn unsigned_and_signed() {
        let p = PeInfo::parse(&pe_image(0x3000, None), 0x3000).unwrap();
        assert_eq!(p.machine, MACHINE_ARM64);
        assert!(!p.signed());
        let s = PeInfo::parse(&pe_image(0x3000, Some((0x2000, 0x800))), 0x3000).unwrap();
        assert!(s.signed());
        assert_eq!(s.signature_size(), 0x800);
        assert!(matches!(s.cert.unwrap().check, CertCheck::Sane { .. }));
        // Quick probe: only the head is present.
        let img = pe_image(0x3000, Some((0x2000, 0x800)));
        let q = PeInfo::parse(&img[..0x1000], 0x3000).unwrap();
        assert_eq!(q.cert.unwrap().check, CertCheck::NotChecked);
        assert!(q.signed());
    }

    #[test]
    fn broken_cert_tables_are_reported() {
        let out = PeInfo::parse(&pe_image(0x3000, Some((0x2000, 0x800))), 0x2400).unwrap();
        assert_eq!(out.cert_problem(), Some(CertProblem::OutsideFile));
        assert!(!out.signed());
        let hdr = PeInfo::parse(&pe_image(0x3000, Some((0x800, 0x800))), 0x3000).unwrap();
        assert_eq!(hdr.cert_problem(), Some(CertProblem::InsideHeaders));
        let mut img = pe_image(0x3000, Some((0x2000, 0x800)));
        img[0x2004] = 0x01;
        let rev = PeInfo::parse(&img, 0x3000).unwrap();
        assert_eq!(rev.cert_problem(), Some(CertProblem::BadRevision));
        img[0x2000] = 0x10;
        let len = PeInfo::parse(&img, 0x3000).unwrap();
        assert_eq!(len.cert_problem(), Some(CertProblem::LengthMismatch));
    }

    #[test]
    fn broken_pe_headers_are_errors() {
        let good = pe_image(0x1000, None);
        for (at, val) in [(0x40usize, b'X'), (0x44, 0x4C), (0x59, 0x01), (0x3C, 0xF0)] {
            let mut b = good.clone();
            b[at] = val;
            assert_eq!(
                PeInfo::parse(&b, 0x1000),
                Err(ProbeError::BadPeHeader),
                "{at:#x}"
            );
        }
        assert_eq!(PeInfo::parse(b"MZ", 2), Err(ProbeError::BadPeHeader));
    }
}
