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

/// `e_lfanew`: where the DOS header keeps the PE header's offset.
const DOS_LFANEW: usize = 0x3C;
/// Data directory 4: the certificate table.
pub(crate) const DIR_SECURITY: usize = 4;

/// The PE/COFF headers of an image, read through named fields (in the spirit
/// of the `object` crate's `read::pe`) rather than offset sums at each use:
/// [`PeInfo::parse`] and the Authenticode digest read the same fields here.
/// Offsets are from the PE signature (`PE\0\0`); every read is bounded.
#[derive(Clone, Copy)]
pub(crate) struct PeHeaders<'a> {
    data: &'a [u8],
    pe: usize,
}

impl<'a> PeHeaders<'a> {
    /// COFF header: Machine, NumberOfSections, SizeOfOptionalHeader.
    const MACHINE: usize = 4;
    const NUMBER_OF_SECTIONS: usize = 4 + 2;
    const SIZE_OF_OPTIONAL_HEADER: usize = 4 + 16;
    /// The optional header (PE32+) and its fields.
    const OPTIONAL: usize = 0x18;
    const CHECKSUM: usize = Self::OPTIONAL + 64;
    const SIZE_OF_HEADERS: usize = Self::OPTIONAL + 60;
    const NUMBER_OF_RVA_AND_SIZES: usize = Self::OPTIONAL + 108;
    const DATA_DIRECTORIES: usize = Self::OPTIONAL + 112;
    /// Bytes from the PE signature to the end of the certificate directory
    /// entry: what must lie inside [`PE_HEADER_WINDOW`].
    pub(crate) const NEEDED: usize = Self::DATA_DIRECTORIES + 8 * (DIR_SECURITY + 1);
    /// IMAGE_SECTION_HEADER.
    const SECTION_HEADER_LEN: usize = 40;

    /// The headers whose PE signature is at file offset `pe_offset`.
    pub(crate) fn at(data: &'a [u8], pe_offset: u32) -> Self {
        Self {
            data,
            pe: bytes::usize_sat(u64::from(pe_offset)),
        }
    }

    /// File offset of a field.
    fn offset(&self, field: usize) -> Option<usize> {
        self.pe.checked_add(field)
    }

    fn u16_at(&self, field: usize) -> Option<u16> {
        bytes::u16_le(self.data, self.offset(field)?)
    }

    fn u32_at(&self, field: usize) -> Option<u32> {
        bytes::u32_le(self.data, self.offset(field)?)
    }

    /// The four signature bytes (`PE\0\0` when valid).
    pub(crate) fn signature(&self) -> Option<&'a [u8]> {
        bytes::range(self.data, self.pe, 4)
    }

    pub(crate) fn machine(&self) -> Option<u16> {
        self.u16_at(Self::MACHINE)
    }

    pub(crate) fn number_of_sections(&self) -> Option<u16> {
        self.u16_at(Self::NUMBER_OF_SECTIONS)
    }

    pub(crate) fn size_of_optional_header(&self) -> Option<u16> {
        self.u16_at(Self::SIZE_OF_OPTIONAL_HEADER)
    }

    /// The optional header's Magic (PE32+: 0x20B).
    pub(crate) fn optional_magic(&self) -> Option<u16> {
        self.u16_at(Self::OPTIONAL)
    }

    pub(crate) fn size_of_headers(&self) -> Option<u32> {
        self.u32_at(Self::SIZE_OF_HEADERS)
    }

    pub(crate) fn number_of_rva_and_sizes(&self) -> Option<u32> {
        self.u32_at(Self::NUMBER_OF_RVA_AND_SIZES)
    }

    /// Does the optional header (by its size) hold data directory `i`?
    pub(crate) fn optional_header_holds_directory(&self, i: usize) -> Option<bool> {
        let len = usize::from(self.size_of_optional_header()?);
        let end = i
            .checked_add(1)?
            .checked_mul(8)?
            .checked_add(Self::DATA_DIRECTORIES - Self::OPTIONAL)?;
        Some(len >= end)
    }

    /// Data directory `i`: (VirtualAddress, Size); for the certificate table
    /// the first is a file offset.
    pub(crate) fn data_directory(&self, i: usize) -> Option<(u32, u32)> {
        let at = Self::DATA_DIRECTORIES.checked_add(i.checked_mul(8)?)?;
        Some((self.u32_at(at)?, self.u32_at(at.checked_add(4)?)?))
    }

    /// File offset of the CheckSum field (the Authenticode hash skips it).
    pub(crate) fn checksum_offset(&self) -> Option<usize> {
        self.offset(Self::CHECKSUM)
    }

    /// File offset of data directory `i`'s entry (the hash skips entry 4).
    pub(crate) fn data_directory_offset(&self, i: usize) -> Option<usize> {
        self.offset(Self::DATA_DIRECTORIES.checked_add(i.checked_mul(8)?)?)
    }

    /// Section `i`'s (PointerToRawData, VirtualAddress, SizeOfRawData).
    pub(crate) fn section(&self, i: u16) -> Option<(u32, u32, u32)> {
        let table = self
            .offset(Self::OPTIONAL)?
            .checked_add(usize::from(self.size_of_optional_header()?))?;
        let at = usize::from(i)
            .checked_mul(Self::SECTION_HEADER_LEN)?
            .checked_add(table)?;
        let field = |o: usize| bytes::u32_le(self.data, at.checked_add(o)?);
        Some((field(20)?, field(12)?, field(16)?))
    }
}

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
    /// What `pefile_strip_sig_wrapper()` (verify_pefile.c) accepts: inside
    /// the file, after the headers, a WIN_CERTIFICATE of revision 2.0 and
    /// type PKCS#7 no longer than the directory entry (sbsign rounds the
    /// entry up to 8, pesign since 0.110 does not: both are fine), holding
    /// a DER SEQUENCE that fits in it.
    Sane {
        /// wRevision (0x0200).
        revision: u16,
        /// wCertificateType (PKCS#7).
        cert_type: u16,
        /// dwLength: the WIN_CERTIFICATE, header included.
        length: u32,
        /// Bytes of PKCS#7 the kernel hands to the verifier: the outer DER
        /// element's length, or `length - 8` for an indefinite length.
        pkcs7_len: u32,
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
    /// The table is smaller than a WIN_CERTIFICATE header (8 bytes).
    TableTooShort,
    /// dwLength is larger than the directory entry's size.
    WrapperTooLong,
    /// wRevision is not 0x0200.
    BadRevision,
    /// wCertificateType is not PKCS#7 SignedData.
    BadType,
    /// Fewer than 4 bytes of signature after the WIN_CERTIFICATE header
    /// (a dwLength below 12).
    SignatureMissing,
    /// The signature is not a DER SEQUENCE that fits in dwLength.
    NotPkcs7,
    /// The signature's DER length takes more than two bytes (the kernel's
    /// EMSGSIZE: a signature of 16 MiB or more).
    Pkcs7TooLong,
}

impl CertProblem {
    /// A short human message.
    pub const fn message(self) -> &'static str {
        match self {
            Self::OutsideFile => "certificate table extends beyond the image",
            Self::InsideHeaders => "certificate table starts inside the PE headers",
            Self::TableTooShort => "certificate table is shorter than a WIN_CERTIFICATE header",
            Self::WrapperTooLong => "WIN_CERTIFICATE length is larger than the certificate table",
            Self::BadRevision => "WIN_CERTIFICATE revision is not 2.0",
            Self::BadType => "WIN_CERTIFICATE type is not PKCS#7 SignedData",
            Self::SignatureMissing => "WIN_CERTIFICATE holds no signature",
            Self::NotPkcs7 => "certificate table does not hold a PKCS#7 DER SEQUENCE",
            Self::Pkcs7TooLong => "PKCS#7 signature length needs more than two bytes",
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
        if pe < DOS_LFANEW + 4 || pe.saturating_add(PeHeaders::NEEDED) > PE_HEADER_WINDOW {
            return Err(bad);
        }
        let h = PeHeaders::at(data, pe_offset);
        if h.signature() != Some(b"PE\0\0") {
            return Err(bad);
        }
        let machine = h.machine().ok_or(bad)?;
        if machine != MACHINE_ARM64 || h.optional_magic().ok_or(bad)? != PE32PLUS_MAGIC {
            return Err(bad);
        }
        let size_of_headers = h.size_of_headers().ok_or(bad)?;
        // The security directory exists only if both the count and the
        // optional header's size say so.
        let has_dir = h.number_of_rva_and_sizes().ok_or(bad)? > DIR_SECURITY as u32
            && h.optional_header_holds_directory(DIR_SECURITY).ok_or(bad)?;
        let cert = if has_dir {
            let (offset, size) = h.data_directory(DIR_SECURITY).ok_or(bad)?;
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

/// The checks of verify_pefile.c (Linux 7.3): `chkaddr()` in
/// `pefile_parse_binary()`, then `pefile_strip_sig_wrapper()`, in its order.
fn check_cert(data: &[u8], image_len: u64, headers: u32, offset: u32, size: u32) -> CertCheck {
    use CertProblem::*;
    let broken = CertCheck::Broken;
    // Two u32s: the u64 sum cannot overflow.
    let end = u64::from(offset).saturating_add(u64::from(size));
    if end > image_len {
        return broken(OutsideFile);
    }
    if offset < headers {
        return broken(InsideHeaders);
    }
    if size < WIN_CERT_HEADER_LEN {
        return broken(TableTooShort);
    }
    let off = bytes::usize_sat(u64::from(offset));
    let (Some(length), Some(revision), Some(cert_type)) = (
        bytes::u32_le(data, off),
        bytes::u16_le(data, off.saturating_add(4)),
        bytes::u16_le(data, off.saturating_add(6)),
    ) else {
        return CertCheck::NotChecked;
    };
    if length > size {
        return broken(WrapperTooLong);
    }
    if revision != WIN_CERT_REVISION_2_0 {
        return broken(BadRevision);
    }
    if cert_type != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
        return broken(BadType);
    }
    // The kernel computes `length - 8` unsigned: a dwLength below 8 wraps
    // there and the DER is then bounded by nothing. Such a table is refused
    // here as missing its signature, the kernel's answer for 8..=11.
    let sig_len = match length.checked_sub(WIN_CERT_HEADER_LEN) {
        Some(n) if n >= 4 => n,
        _ => return broken(SignatureMissing),
    };
    let der = off.saturating_add(8);
    let at = |i: usize| data.get(der.saturating_add(i)).copied().map(u32::from);
    let (Some(tag), Some(len0)) = (at(0), at(1)) else {
        return CertCheck::NotChecked;
    };
    if tag != 0x30 {
        return broken(NotPkcs7);
    }
    let pkcs7_len = match len0 {
        0..=0x7F => Some(len0.saturating_add(2)),
        // Indefinite length: the kernel passes the whole rest on.
        0x80 => Some(sig_len),
        0x81 => at(2).map(|b| b.saturating_add(3)),
        0x82 => bytes::range(data, der.saturating_add(2), 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(|b| u32::from(u16::from_be_bytes(b)).saturating_add(4)),
        _ => return broken(Pkcs7TooLong),
    };
    match pkcs7_len {
        None => CertCheck::NotChecked,
        Some(n) if n > sig_len => broken(NotPkcs7),
        Some(pkcs7_len) => CertCheck::Sane {
            revision,
            cert_type,
            length,
            pkcs7_len,
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PE view like the kernel's: MZ, PE header at 0x40, PE32+, optional
    /// header with 16 data directories. Returns a buffer of `len` bytes.
    pub(crate) fn pe_image(len: usize, cert: Option<(u32, u32)>) -> std::vec::Vec<u8> {
        pe_image_at(len, 0x40, cert)
    }

    /// [`pe_image`] with the PE header at `pe`.
    fn pe_image_at(len: usize, pe: usize, cert: Option<(u32, u32)>) -> std::vec::Vec<u8> {
        let mut d = std::vec![0u8; len];
        d[0..2].copy_from_slice(b"MZ");
        d[0x3C..0x40].copy_from_slice(&(pe as u32).to_le_bytes());
        d[pe..pe + 4].copy_from_slice(b"PE\0\0");
        d[pe + 4..pe + 6].copy_from_slice(&MACHINE_ARM64.to_le_bytes());
        d[pe + 20..pe + 22].copy_from_slice(&240u16.to_le_bytes());
        // Written from the PE/COFF spec's offsets, not PeHeaders' own.
        d[pe + 0x18..pe + 0x1A].copy_from_slice(&PE32PLUS_MAGIC.to_le_bytes());
        d[pe + 0x54..pe + 0x58].copy_from_slice(&0x1000u32.to_le_bytes()); // SizeOfHeaders
        d[pe + 0x84..pe + 0x88].copy_from_slice(&16u32.to_le_bytes()); // NumberOfRvaAndSizes
        if let Some((off, size)) = cert {
            let dir = pe + 0x88 + 8 * 4; // data directory 4
            d[dir..dir + 4].copy_from_slice(&off.to_le_bytes());
            d[dir + 4..dir + 8].copy_from_slice(&size.to_le_bytes());
            let o = off as usize;
            if o + 8 <= len {
                // dwLength 3 short of the table (as sbsign's rounding
                // leaves it), a DER SEQUENCE filling the rest of it.
                d[o..o + 4].copy_from_slice(&(size - 3).to_le_bytes());
                d[o + 4..o + 6].copy_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
                d[o + 6..o + 8].copy_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
                if size >= 16 && o + 12 <= len {
                    let der = (size - 3 - 12) as u16;
                    d[o + 8..o + 10].copy_from_slice(&[0x30, 0x82]);
                    d[o + 10..o + 12].copy_from_slice(&der.to_be_bytes());
                }
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
        img[0x2000..0x2004].copy_from_slice(&0x900u32.to_le_bytes());
        let len = PeInfo::parse(&img, 0x3000).unwrap();
        assert_eq!(len.cert_problem(), Some(CertProblem::WrapperTooLong));
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

    fn cert_check(img: &[u8], image_len: u64) -> Option<CertCheck> {
        PeInfo::parse(img, image_len).unwrap().cert.map(|c| c.check)
    }

    /// The PE header must lie inside the first 4 KiB, the certificate
    /// directory entry included: 0x40 + 0x18 + 112 + 40 = 0xB0 bytes from
    /// the signature.
    #[test]
    fn pe_header_window() {
        assert_eq!(PeHeaders::NEEDED, 0xB0);
        for (pe, ok) in [
            (0x80usize, true),
            (0xF50, true),
            (0xF51, false),
            (0xFF0, false),
        ] {
            let img = pe_image_at(0x2000, pe, None);
            assert_eq!(
                PeInfo::parse(&img, 0x2000).is_ok(),
                ok,
                "PE header at {pe:#x}"
            );
        }
        let p = PeInfo::parse(&pe_image_at(0x2000, 0xF50, None), 0x2000).unwrap();
        assert_eq!((p.pe_offset, p.size_of_headers), (0xF50, 0x1000));
        // An e_lfanew pointing into the DOS header itself.
        let mut img = pe_image(0x2000, None);
        img[0x3C] = 0x3B;
        assert_eq!(PeInfo::parse(&img, 0x2000), Err(ProbeError::BadPeHeader));
        // Machine and optional-header magic are each checked.
        for at in [0x44usize, 0x45, 0x58, 0x59] {
            let mut b = pe_image(0x2000, None);
            b[at] ^= 0x01;
            assert_eq!(
                PeInfo::parse(&b, 0x2000),
                Err(ProbeError::BadPeHeader),
                "{at:#x}"
            );
        }
        assert_eq!(PeInfo::parse(b"MX", 2), Err(ProbeError::BadPeHeader));
    }

    /// Data directory 4 exists only when NumberOfRvaAndSizes > 4 and
    /// SizeOfOptionalHeader >= 112 + 5 * 8 = 152.
    #[test]
    fn security_directory_presence() {
        let with = |rvas: u32, opt: u16| {
            let mut img = pe_image(0x3000, Some((0x2000, 0x800)));
            img[0x40 + 0x84..0x40 + 0x88].copy_from_slice(&rvas.to_le_bytes());
            img[0x40 + 20..0x40 + 22].copy_from_slice(&opt.to_le_bytes());
            PeInfo::parse(&img, 0x3000).unwrap().cert.is_some()
        };
        assert!(with(5, 152));
        assert!(!with(4, 152));
        assert!(!with(5, 151));
        assert!(!with(4, 151));
        assert!(with(16, 240));
        // Either half of the entry makes a table present (and broken).
        let mut img = pe_image(0x3000, None);
        img[0x40 + 0x88 + 36..0x40 + 0x88 + 40].copy_from_slice(&0x100u32.to_le_bytes());
        assert_eq!(
            cert_check(&img, 0x3000),
            Some(CertCheck::Broken(CertProblem::InsideHeaders))
        );
        let mut img = pe_image(0x3000, None);
        img[0x40 + 0x88 + 32..0x40 + 0x88 + 36].copy_from_slice(&0x2000u32.to_le_bytes());
        assert_eq!(
            cert_check(&img, 0x3000),
            Some(CertCheck::Broken(CertProblem::TableTooShort))
        );
    }

    /// verify_pefile.c's rules, each on both sides of its boundary.
    #[test]
    fn certificate_table_boundaries() {
        let sane = |length: u32, pkcs7_len: u32| {
            Some(CertCheck::Sane {
                revision: WIN_CERT_REVISION_2_0,
                cert_type: WIN_CERT_TYPE_PKCS_SIGNED_DATA,
                length,
                pkcs7_len,
            })
        };
        let broken = |p| Some(CertCheck::Broken(p));
        // Ends exactly at the end of the image; one byte short.
        let img = pe_image(0x3000, Some((0x2000, 0x1000)));
        assert_eq!(cert_check(&img, 0x3000), sane(0xFFD, 0xFF5));
        assert_eq!(cert_check(&img, 0x2FFF), broken(CertProblem::OutsideFile));
        // Starts exactly at SizeOfHeaders; one byte before.
        let img = pe_image(0x3000, Some((0x1000, 0x800)));
        assert_eq!(cert_check(&img, 0x3000), sane(0x7FD, 0x7F5));
        let img = pe_image(0x3000, Some((0xFFF, 0x800)));
        assert_eq!(cert_check(&img, 0x3000), broken(CertProblem::InsideHeaders));
        // Smaller than a WIN_CERTIFICATE header: "Signature wrapper too short".
        let img = pe_image(0x3000, Some((0x2000, 7)));
        assert_eq!(cert_check(&img, 0x3000), broken(CertProblem::TableTooShort));
        // Exactly a header (dwLength 5 here): read, and missing its signature.
        let img = pe_image(0x3000, Some((0x2000, 8)));
        assert_eq!(
            cert_check(&img, 0x3000),
            broken(CertProblem::SignatureMissing)
        );
        // dwLength may be anything up to the table's size (pesign does not
        // round up, sbsign does); one byte more is refused.
        let mut img = pe_image(0x3000, Some((0x2000, 0x800)));
        for (len, want) in [
            (0x801u32, broken(CertProblem::WrapperTooLong)),
            (0x800, sane(0x800, 0x7F5)),
            (0x7F5 + 8, sane(0x7FD, 0x7F5)),
            (0x7F5 + 7, broken(CertProblem::NotPkcs7)),
        ] {
            img[0x2000..0x2004].copy_from_slice(&len.to_le_bytes());
            assert_eq!(cert_check(&img, 0x3000), want, "dwLength {len:#x}");
        }
        // The length is checked before the revision, as the kernel does.
        img[0x2000..0x2004].copy_from_slice(&0x801u32.to_le_bytes());
        img[0x2004] = 0x01;
        assert_eq!(
            cert_check(&img, 0x3000),
            broken(CertProblem::WrapperTooLong)
        );
        // At least 4 bytes of signature: dwLength 12 holds `30 02 xx xx`,
        // 11 (and anything below 8, which the kernel's `length - 8` wraps)
        // holds none.
        let mut img = pe_image(0x3000, Some((0x2000, 0x800)));
        img[0x2008..0x200A].copy_from_slice(&[0x30, 0x02]);
        for (len, want) in [
            (12u32, sane(12, 4)),
            (11, broken(CertProblem::SignatureMissing)),
            (8, broken(CertProblem::SignatureMissing)),
            (7, broken(CertProblem::SignatureMissing)),
            (0, broken(CertProblem::SignatureMissing)),
        ] {
            img[0x2000..0x2004].copy_from_slice(&len.to_le_bytes());
            assert_eq!(cert_check(&img, 0x3000), want, "dwLength {len}");
        }
        // The DER forms the kernel reads, each with a length that fits and
        // one that does not (dwLength 0x20: 0x18 bytes of signature).
        img[0x2000..0x2004].copy_from_slice(&0x20u32.to_le_bytes());
        for (der, want) in [
            (&[0x30, 0x16][..], sane(0x20, 0x18)),
            (&[0x30, 0x17][..], broken(CertProblem::NotPkcs7)),
            (&[0x30, 0x81, 0x15][..], sane(0x20, 0x18)),
            (&[0x30, 0x81, 0x16][..], broken(CertProblem::NotPkcs7)),
            (&[0x30, 0x82, 0x00, 0x14][..], sane(0x20, 0x18)),
            (&[0x30, 0x82, 0x01, 0x14][..], broken(CertProblem::NotPkcs7)),
            (&[0x30, 0x80][..], sane(0x20, 0x18)),
            (
                &[0x30, 0x83, 0, 0, 1][..],
                broken(CertProblem::Pkcs7TooLong),
            ),
            (&[0x31, 0x16][..], broken(CertProblem::NotPkcs7)),
        ] {
            img[0x2008..0x2008 + der.len()].copy_from_slice(der);
            assert_eq!(cert_check(&img, 0x3000), want, "DER {der:02x?}");
        }
        // A prefix that ends inside the DER header is not checked.
        img[0x2008..0x200C].copy_from_slice(&[0x30, 0x82, 0x00, 0x14]);
        let pe = PeInfo::parse(&img[..0x200B], 0x3000).unwrap();
        assert_eq!(pe.cert.unwrap().check, CertCheck::NotChecked);
        let mut img = pe_image(0x3000, Some((0x2000, 0x800)));
        img[0x2006] = 0x01;
        assert_eq!(cert_check(&img, 0x3000), broken(CertProblem::BadType));
        // A broken table has no trailing bytes; a sane one counts them.
        let p = PeInfo::parse(&pe_image(0x3000, Some((0x2000, 0x800))), 0x3000).unwrap();
        assert_eq!((p.trailing_bytes, p.signed_len(0x3000)), (0x800, 0x2800));
        assert_eq!(p.cert_problem(), None);
        let q = PeInfo::parse(&img, 0x3000).unwrap();
        assert_eq!((q.trailing_bytes, q.signed_len(0x3000)), (0, 0x3000));
        assert_eq!(q.cert_problem(), Some(CertProblem::BadType));
        assert_eq!(q.signature_size(), 0x800);
        let u = PeInfo::parse(&pe_image(0x3000, None), 0x3000).unwrap();
        assert_eq!((u.signature_size(), u.cert_problem()), (0, None));
    }
}
