//! The Authenticode digest of a PE image and the digest its signature signs.
//!
//! Distros sign the uncompressed Image and then compress it; after
//! decompression the kernel's `verify_pefile_signature()`
//! (crypto/asymmetric_keys/verify_pefile.c) hashes the buffer it is given and
//! compares that with the digest inside the PKCS#7 signature. This module does
//! the same hashing, byte range by byte range, so a loader knows before kexec
//! whether the signature still covers the image: headers without the CheckSum
//! field and the certificate directory entry, the sections in file order, then
//! whatever follows the last section except the certificate table's size.
//! Bytes appended after a signed image (padding) change the digest, exactly as
//! they do for the kernel.
//!
//! SHA-256 comes from the caller through [`Sha256`] (sha2 in userspace, the
//! kernel's lib/crypto in the module), like the CRC32.

use crate::bytes;
use crate::pe::{PeHeaders, PeInfo, DIR_SECURITY};

/// SHA-256 supplied by the caller.
pub trait Sha256 {
    /// Start a new message.
    fn reset(&mut self);
    /// Hash more bytes.
    fn update(&mut self, data: &[u8]);
    /// The digest of everything since [`Self::reset`].
    fn finish(&mut self) -> [u8; 32];
}

/// Why no digest could be computed: the PE layout the kernel hashes is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DigestError {
    /// Headers, section table or a section lie outside the image.
    OutOfBounds,
    /// More sections than PE/COFF allows (96).
    TooManySections,
}

impl DigestError {
    /// A short human message.
    pub const fn message(self) -> &'static str {
        match self {
            Self::OutOfBounds => "PE headers or sections lie outside the image",
            Self::TooManySections => "more than 96 PE sections",
        }
    }
}

/// The digest algorithms a signature can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DigestAlgorithm {
    /// SHA-1 (1.3.14.3.2.26).
    Sha1,
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// Anything else.
    Other,
}

impl DigestAlgorithm {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Other => "unknown",
        }
    }
}

/// The digest a signature signs: SpcIndirectDataContent's messageDigest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDigest {
    /// Its algorithm.
    pub algorithm: DigestAlgorithm,
    /// The digest bytes (the first `len`).
    pub bytes: [u8; 64],
    /// How many of `bytes` are the digest.
    pub len: u8,
}

impl SignedDigest {
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// Why there is no signed digest to compare with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SignedDigestError {
    /// The image has no certificate table: it is not signed.
    Unsigned,
    /// The certificate table's WIN_CERTIFICATE does not fit in the image.
    CertTableUnreadable,
    /// The certificate table holds something that is not a readable
    /// Authenticode PKCS#7 SignedData (ContentInfo → SignedData →
    /// SpcIndirectDataContent → DigestInfo).
    NotAuthenticodePkcs7,
}

impl SignedDigestError {
    /// A short human message.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Unsigned => "the image is not signed",
            Self::CertTableUnreadable => "the certificate table does not fit in the image",
            Self::NotAuthenticodePkcs7 => {
                "the certificate table holds no readable Authenticode PKCS#7 signature"
            }
        }
    }
}

/// What the Authenticode check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthenticodeInfo {
    /// SHA-256 Authenticode digest of the image as given.
    pub digest: Result<[u8; 32], DigestError>,
    /// The digest inside the signature, or why it could not be read.
    pub signed: Result<SignedDigest, SignedDigestError>,
}

impl AuthenticodeInfo {
    /// Does the signature's digest equal the image's (only for SHA-256
    /// signatures; `None` when there is nothing to compare)?
    pub fn digest_matches(&self) -> Option<bool> {
        let digest = self.digest.ok()?;
        let signed = self.signed.ok()?;
        (signed.algorithm == DigestAlgorithm::Sha256).then(|| signed.as_bytes() == digest)
    }
}

const MAX_SECTIONS: u16 = 96;

/// Hash `image[start..start + len]`, refusing ranges outside it.
fn hash_range<H: Sha256>(
    h: &mut H,
    image: &[u8],
    start: usize,
    len: usize,
) -> Result<(), DigestError> {
    h.update(bytes::range(image, start, len).ok_or(DigestError::OutOfBounds)?);
    Ok(())
}

/// The Authenticode SHA-256 of `image`, as verify_pefile.c computes it.
pub fn digest<H: Sha256>(image: &[u8], pe: &PeInfo, h: &mut H) -> Result<[u8; 32], DigestError> {
    let oob = DigestError::OutOfBounds;
    let pe_headers = PeHeaders::at(image, pe.pe_offset);
    let checksum = pe_headers.checksum_offset().ok_or(oob)?;
    let cert_dirent = pe_headers.data_directory_offset(DIR_SECURITY).ok_or(oob)?;
    let header_size = bytes::usize_sat(u64::from(pe.size_of_headers));
    let n_sections = pe_headers.number_of_sections().ok_or(oob)?;
    if n_sections > MAX_SECTIONS {
        return Err(DigestError::TooManySections);
    }
    if checksum.saturating_add(4) > cert_dirent || cert_dirent.saturating_add(8) > header_size {
        return Err(oob);
    }
    h.reset();
    // Headers, without the CheckSum field and the certificate directory entry.
    hash_range(h, image, 0, checksum)?;
    let after_checksum = checksum.saturating_add(4);
    hash_range(
        h,
        image,
        after_checksum,
        cert_dirent.saturating_sub(after_checksum),
    )?;
    let after_dirent = cert_dirent.saturating_add(8);
    hash_range(
        h,
        image,
        after_dirent,
        header_size.saturating_sub(after_dirent),
    )?;
    // Sections by file offset (then by RVA), as the kernel's insertion sort
    // orders them. No allocation: pick the next smallest key each round.
    let mut hashed = u64::from(pe.size_of_headers);
    let mut last: Option<(u32, u32, u16)> = None;
    for _ in 0..n_sections {
        let mut next: Option<(u32, u32, u16, u32)> = None;
        for i in 0..n_sections {
            let (raw, rva, size) = pe_headers.section(i).ok_or(oob)?;
            let key = (raw, rva, i);
            if last.is_some_and(|l| key <= l) {
                continue;
            }
            if next.is_none_or(|(nr, nv, ni, _)| key < (nr, nv, ni)) {
                next = Some((raw, rva, i, size));
            }
        }
        let Some((raw, rva, i, size)) = next else {
            break;
        };
        last = Some((raw, rva, i));
        if size == 0 {
            continue;
        }
        hash_range(
            h,
            image,
            bytes::usize_sat(u64::from(raw)),
            bytes::usize_sat(u64::from(size)),
        )?;
        hashed = hashed.saturating_add(u64::from(size));
    }
    // What follows the sections, less the certificate table's size.
    let total = image.len() as u64;
    let certs = u64::from(pe.signature_size());
    if total > hashed {
        let len = total.saturating_sub(hashed).saturating_sub(certs);
        hash_range(h, image, bytes::usize_sat(hashed), bytes::usize_sat(len))?;
    }
    Ok(h.finish())
}

/// The PKCS#7 SignedData inside the certificate table: the WIN_CERTIFICATE's
/// payload (after its 8-byte header, `dwLength` bytes in all).
pub fn signature_blob<'a>(image: &'a [u8], pe: &PeInfo) -> Option<&'a [u8]> {
    let cert = pe.cert?;
    let off = bytes::usize_sat(u64::from(cert.offset));
    let len = bytes::u32_le(image, off)?;
    let body = bytes::usize_sat(u64::from(len)).checked_sub(8)?;
    bytes::range(image, off.checked_add(8)?, body)
}

/// One DER element: (tag, contents, rest).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None; // indefinite or absurd lengths are not DER
        }
        let (len_bytes, rest) = rest.split_at_checked(n)?;
        let len = len_bytes.iter().try_fold(0usize, |acc, &b| {
            acc.checked_mul(256)?.checked_add(usize::from(b))
        })?;
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The contents of the element with `tag` at the start of `data`.
fn expect(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = tlv(data)?;
    (t == tag).then_some((contents, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const CONTEXT_0: u8 = 0xA0;
/// 1.2.840.113549.1.7.2 (PKCS#7 signedData).
const OID_SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
/// 1.3.6.1.4.1.311.2.1.4 (SPC_INDIRECT_DATA_OBJID).
const OID_SPC_INDIRECT_DATA: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x04];

fn digest_algorithm(oid: &[u8]) -> DigestAlgorithm {
    match oid {
        [0x2B, 0x0E, 0x03, 0x02, 0x1A] => DigestAlgorithm::Sha1,
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n] => match n {
            1 => DigestAlgorithm::Sha256,
            2 => DigestAlgorithm::Sha384,
            3 => DigestAlgorithm::Sha512,
            _ => DigestAlgorithm::Other,
        },
        _ => DigestAlgorithm::Other,
    }
}

/// Read the signed digest out of an Authenticode PKCS#7 SignedData (DER):
/// ContentInfo → SignedData → encapContentInfo (SpcIndirectDataContent) →
/// messageDigest (DigestInfo). Nothing is verified here: that the signature
/// over it is valid is the kernel's job, or probe-run's with `--cert`.
pub fn signed_digest(pkcs7: &[u8]) -> Option<SignedDigest> {
    let (content_info, _) = expect(pkcs7, SEQUENCE)?;
    let (oid, rest) = expect(content_info, OID)?;
    if oid != OID_SIGNED_DATA {
        return None;
    }
    let (explicit, _) = expect(rest, CONTEXT_0)?;
    let (signed_data, _) = expect(explicit, SEQUENCE)?;
    let (_version, rest) = expect(signed_data, INTEGER)?;
    let (_digest_algorithms, rest) = expect(rest, SET)?;
    let (encap, _) = expect(rest, SEQUENCE)?;
    let (oid, rest) = expect(encap, OID)?;
    if oid != OID_SPC_INDIRECT_DATA {
        return None;
    }
    let (explicit, _) = expect(rest, CONTEXT_0)?;
    let (spc, _) = expect(explicit, SEQUENCE)?;
    let (_data, rest) = expect(spc, SEQUENCE)?;
    let (digest_info, _) = expect(rest, SEQUENCE)?;
    let (algorithm_id, rest) = expect(digest_info, SEQUENCE)?;
    let (alg_oid, _) = expect(algorithm_id, OID)?;
    let (digest, _) = expect(rest, OCTET_STRING)?;
    let mut bytes = [0u8; 64];
    bytes.get_mut(..digest.len())?.copy_from_slice(digest);
    Some(SignedDigest {
        algorithm: digest_algorithm(alg_oid),
        bytes,
        len: u8::try_from(digest.len()).ok()?,
    })
}

/// The Authenticode facts of a valid EFI image: its digest and the one its
/// signature signs.
pub fn check<H: Sha256>(image: &[u8], pe: &PeInfo, h: &mut H) -> AuthenticodeInfo {
    AuthenticodeInfo {
        digest: digest(image, pe, h),
        signed: match pe.cert {
            None => Err(SignedDigestError::Unsigned),
            Some(_) => signature_blob(image, pe)
                .ok_or(SignedDigestError::CertTableUnreadable)
                .and_then(|b| signed_digest(b).ok_or(SignedDigestError::NotAuthenticodePkcs7)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(
            tlv(&[0x04, 0x02, 1, 2, 9]),
            Some((0x04, &[1u8, 2][..], &[9u8][..]))
        );
        assert_eq!(
            tlv(&[0x04, 0x81, 0x01, 7]),
            Some((0x04, &[7u8][..], &[][..]))
        );
        assert_eq!(tlv(&[0x04, 0x80, 0x01]), None);
        assert_eq!(tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x04, 0x03, 1]), None);
        assert_eq!(tlv(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), None);
    }

    #[test]
    fn reads_the_digest_of_a_minimal_signed_data() {
        let digest = [0xABu8; 32];
        let mut digest_info = std::vec![0x30, 0x0D, 0x06, 0x09];
        digest_info.extend_from_slice(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
        digest_info.extend_from_slice(&[0x05, 0x00, 0x04, 0x20]);
        digest_info.extend_from_slice(&digest);
        let seq = |tag: u8, body: &[u8]| {
            let mut v = std::vec![tag];
            if body.len() < 0x80 {
                v.push(body.len() as u8);
            } else {
                v.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
            }
            v.extend_from_slice(body);
            v
        };
        let spc = seq(
            0x30,
            &[seq(0x30, &[0x06, 0x01, 0x00]), seq(0x30, &digest_info)].concat(),
        );
        let mut encap = seq(0x06, OID_SPC_INDIRECT_DATA);
        encap.extend(seq(0xA0, &spc));
        let mut sd = std::vec![0x02, 0x01, 0x01];
        sd.extend(seq(0x31, &[]));
        sd.extend(seq(0x30, &encap));
        let mut ci = seq(0x06, OID_SIGNED_DATA);
        ci.extend(seq(0xA0, &seq(0x30, &sd)));
        let pkcs7 = seq(0x30, &ci);
        let got = signed_digest(&pkcs7).unwrap();
        assert_eq!(got.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(got.as_bytes(), &digest);
        // Any cut is refused, not misread.
        for cut in 0..pkcs7.len() {
            assert_eq!(signed_digest(&pkcs7[..cut]), None, "cut {cut}");
        }
    }
}
