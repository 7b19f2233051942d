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
use crate::pe::{CertCheck, PeHeaders, PeInfo, DIR_SECURITY};

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

/// The PKCS#7 SignedData inside the certificate table, cut as
/// `pefile_strip_sig_wrapper()` cuts it: after the WIN_CERTIFICATE's 8-byte
/// header, as long as the outer DER element (so the padding sbsign adds
/// inside dwLength is left out). For a table the core has not checked or
/// found broken, the whole WIN_CERTIFICATE payload (`dwLength - 8` bytes).
pub fn signature_blob<'a>(image: &'a [u8], pe: &PeInfo) -> Option<&'a [u8]> {
    let cert = pe.cert?;
    let off = bytes::usize_sat(u64::from(cert.offset));
    let body = match cert.check {
        CertCheck::Sane { pkcs7_len, .. } => pkcs7_len,
        CertCheck::NotChecked | CertCheck::Broken(_) => {
            bytes::u32_le(image, off)?.checked_sub(8)?
        }
    };
    bytes::range(
        image,
        off.checked_add(8)?,
        bytes::usize_sat(u64::from(body)),
    )
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
    use std::vec::Vec;

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

    /// DER element `tag` around `body` (short or two-byte long form).
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = std::vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
        }
        v.extend_from_slice(body);
        v
    }

    /// A minimal Authenticode SignedData whose SpcIndirectDataContent
    /// carries `digest` under the algorithm `alg_oid`.
    fn pkcs7(alg_oid: &[u8], digest: &[u8]) -> Vec<u8> {
        let mut algorithm_id = der(OID, alg_oid);
        algorithm_id.extend_from_slice(&[0x05, 0x00]);
        let mut digest_info = der(SEQUENCE, &algorithm_id);
        digest_info.extend(der(OCTET_STRING, digest));
        let spc = der(
            SEQUENCE,
            &[
                der(SEQUENCE, &[0x06, 0x01, 0x00]),
                der(SEQUENCE, &digest_info),
            ]
            .concat(),
        );
        let mut encap = der(OID, OID_SPC_INDIRECT_DATA);
        encap.extend(der(CONTEXT_0, &spc));
        let mut sd = std::vec![INTEGER, 0x01, 0x01];
        sd.extend(der(SET, &[]));
        sd.extend(der(SEQUENCE, &encap));
        let mut ci = der(OID, OID_SIGNED_DATA);
        ci.extend(der(CONTEXT_0, &der(SEQUENCE, &sd)));
        der(SEQUENCE, &ci)
    }

    const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

    #[test]
    fn reads_the_digest_of_a_minimal_signed_data() {
        let digest = [0xABu8; 32];
        let pkcs7 = pkcs7(OID_SHA256, &digest);
        let got = signed_digest(&pkcs7).unwrap();
        assert_eq!(got.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(got.as_bytes(), &digest);
        // Any cut is refused, not misread.
        for cut in 0..pkcs7.len() {
            assert_eq!(signed_digest(&pkcs7[..cut]), None, "cut {cut}");
        }
    }

    /// FIPS 180-4 SHA-256, for the known-answer tests only (the crate takes
    /// its SHA-256 from the caller and has no dev-dependency providing one).
    #[derive(Default)]
    struct TestSha256 {
        data: Vec<u8>,
    }

    impl Sha256 for TestSha256 {
        fn reset(&mut self) {
            self.data.clear();
        }
        fn update(&mut self, data: &[u8]) {
            self.data.extend_from_slice(data);
        }
        fn finish(&mut self) -> [u8; 32] {
            const K: [u32; 64] = [
                0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
                0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
                0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
                0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
                0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
                0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
                0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
                0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
                0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
                0xc67178f2,
            ];
            let mut h: [u32; 8] = [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ];
            let mut m = core::mem::take(&mut self.data);
            let bits = (m.len() as u64) * 8;
            m.push(0x80);
            while m.len() % 64 != 56 {
                m.push(0);
            }
            m.extend_from_slice(&bits.to_be_bytes());
            for block in m.chunks(64) {
                let mut w = [0u32; 64];
                for (i, c) in block.chunks(4).enumerate() {
                    w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                }
                for i in 16..64 {
                    let s0 =
                        w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                    let s1 =
                        w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                    w[i] = w[i - 16]
                        .wrapping_add(s0)
                        .wrapping_add(w[i - 7])
                        .wrapping_add(s1);
                }
                let mut v = h;
                for i in 0..64 {
                    let [a, b, c, d, e, f, g, hh] = v;
                    let t1 = hh
                        .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
                        .wrapping_add((e & f) ^ (!e & g))
                        .wrapping_add(K[i])
                        .wrapping_add(w[i]);
                    let t2 = (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22))
                        .wrapping_add((a & b) ^ (a & c) ^ (b & c));
                    v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
                }
                for (x, y) in h.iter_mut().zip(v) {
                    *x = x.wrapping_add(y);
                }
            }
            let mut out = [0u8; 32];
            for (o, x) in out.chunks_mut(4).zip(h) {
                o.copy_from_slice(&x.to_be_bytes());
            }
            out
        }
    }

    fn hex(b: &[u8]) -> std::string::String {
        b.iter().map(|x| std::format!("{x:02x}")).collect()
    }

    #[test]
    fn test_sha256_is_sha256() {
        let mut h = TestSha256::default();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(
            hex(&h.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        h.update(&[0x61; 1000]);
        assert_eq!(
            hex(&h.finish()),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }

    /// Section table entry `i` of a [`crate::pe::tests::pe_image`] (table at
    /// 0x40 + 0x18 + 240): VirtualAddress, SizeOfRawData, PointerToRawData.
    fn put_section(d: &mut [u8], i: usize, rva: u32, size: u32, raw: u32) {
        let s = 0x148 + 40 * i;
        d[s..s + 8].copy_from_slice(b".sect\0\0\0");
        d[s + 12..s + 16].copy_from_slice(&rva.to_le_bytes());
        d[s + 16..s + 20].copy_from_slice(&size.to_le_bytes());
        d[s + 20..s + 24].copy_from_slice(&raw.to_le_bytes());
    }

    /// A tiny signed PE: SizeOfHeaders 0x1000, four sections out of file
    /// order (two at the same file offset, told apart by RVA; one empty),
    /// bytes after the sections, then a certificate table holding a
    /// SignedData with `signed` as its SHA-256 digest. Every byte the hash
    /// covers is nonzero and position-dependent, and so are the two fields it
    /// skips (CheckSum, the certificate directory entry).
    fn fixture(signed: &[u8; 32]) -> Vec<u8> {
        let p7 = pkcs7(OID_SHA256, signed);
        let cert_len = 8 + p7.len() as u32;
        let cert_size = cert_len.div_ceil(8) * 8;
        let mut d = crate::pe::tests::pe_image(0x1800, None);
        for (i, b) in d.iter_mut().enumerate().skip(0x1C0) {
            *b = (i as u8).wrapping_mul(7) ^ (i >> 8) as u8 | 1;
        }
        let pe = 0x40;
        d[pe + 6..pe + 8].copy_from_slice(&4u16.to_le_bytes());
        d[pe + 0x58..pe + 0x5C].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes()); // CheckSum
        for (j, b) in d[pe + 0x88..pe + 0x88 + 128].iter_mut().enumerate() {
            *b = 0x80 | j as u8; // data directories 0-15
        }
        let dir = pe + 0x88 + 8 * DIR_SECURITY;
        d[dir..dir + 4].copy_from_slice(&0x1800u32.to_le_bytes());
        d[dir + 4..dir + 8].copy_from_slice(&cert_size.to_le_bytes());
        put_section(&mut d, 0, 0x2000, 0x200, 0x1400);
        put_section(&mut d, 1, 0x1000, 0x400, 0x1000);
        put_section(&mut d, 2, 0x3000, 0, 0);
        put_section(&mut d, 3, 0x1800, 0x100, 0x1400);
        d.extend_from_slice(&cert_len.to_le_bytes());
        d.extend_from_slice(&crate::pe::WIN_CERT_REVISION_2_0.to_le_bytes());
        d.extend_from_slice(&crate::pe::WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
        d.extend_from_slice(&p7);
        d.resize(0x1800 + cert_size as usize, 0);
        d
    }

    /// The Authenticode SHA-256 of [`fixture`], computed independently by
    /// kernel-probe/tests/authenticode_digest.py (verify_pefile.c's
    /// algorithm in Python's hashlib; see that script for the command).
    const FIXTURE_DIGEST: &str = "3c55072ede408c96111cc9abc58c94ec2aaa5c3a9d1fd7014d7f837d795147df";

    /// [`fixture`] with sections that tile the file after the headers in
    /// order (0x1000-0x1400, 0x1400-0x1800, two empty): the layout on which
    /// verify_pefile.c and Microsoft's linear Authenticode hash agree. The
    /// value is osslsigncode's "Calculated message digest" for that file
    /// (its certificate table stripped, then signed with a throw-away key:
    /// `osslsigncode sign -h sha256 ...; osslsigncode verify ...`), and the
    /// Python script gives the same.
    const TILED_DIGEST: &str = "389b3e9c01798b0cc4791addbd24c6e710b4d135d7d1cc4d8a8037b92b967cc0";

    #[test]
    fn authenticode_digest_agrees_with_osslsigncode() {
        let mut img = fixture(&[0x5A; 32]);
        put_section(&mut img, 0, 0x2000, 0x400, 0x1400);
        put_section(&mut img, 1, 0x1000, 0x400, 0x1000);
        put_section(&mut img, 2, 0x3000, 0, 0);
        put_section(&mut img, 3, 0x1800, 0, 0);
        let pe = PeInfo::parse(&img, img.len() as u64).unwrap();
        let d = digest(&img, &pe, &mut TestSha256::default()).unwrap();
        assert_eq!(hex(&d), TILED_DIGEST);
    }

    #[test]
    fn known_authenticode_digest_of_a_tiny_pe() {
        let img = fixture(&[0x5A; 32]);
        if let Some(path) = std::env::var_os("KERNEL_PROBE_AUTHENTICODE_FIXTURE") {
            std::fs::write(path, &img).unwrap();
        }
        let pe = PeInfo::parse(&img, img.len() as u64).unwrap();
        assert!(matches!(
            pe.cert.unwrap().check,
            crate::pe::CertCheck::Sane { .. }
        ));
        let mut h = TestSha256::default();
        let d = digest(&img, &pe, &mut h).unwrap();
        assert_eq!(hex(&d), FIXTURE_DIGEST);
        // The certificate table is outside the hash: signing the image with
        // its own digest leaves the digest alone, and then it matches.
        let signed = fixture(&d);
        assert_eq!(signed.len(), img.len());
        let a = check(&signed, &pe, &mut h);
        assert_eq!(a.digest, Ok(d));
        let s = a.signed.unwrap();
        assert_eq!(
            (s.algorithm, s.as_bytes()),
            (DigestAlgorithm::Sha256, &d[..])
        );
        assert_eq!(a.digest_matches(), Some(true));
        let other = check(&img, &pe, &mut h);
        assert_eq!(other.digest, Ok(d));
        assert_eq!(other.digest_matches(), Some(false));
        // The blob is the WIN_CERTIFICATE's payload, exactly.
        let cert_len = u32::from_le_bytes(signed[0x1800..0x1804].try_into().unwrap());
        assert_eq!(
            signature_blob(&signed, &pe),
            Some(&signed[0x1808..0x1800 + cert_len as usize])
        );
        // One byte appended (padding after the table) changes the digest.
        let mut padded = signed.clone();
        padded.push(0);
        let pe_padded = PeInfo::parse(&padded, padded.len() as u64).unwrap();
        assert_ne!(digest(&padded, &pe_padded, &mut h), Ok(d));
        assert_eq!(pe_padded.trailing_bytes, 1);
    }

    #[test]
    fn digest_matches_only_an_equal_sha256() {
        let info = |digest, algorithm, byte| AuthenticodeInfo {
            digest,
            signed: Ok(SignedDigest {
                algorithm,
                bytes: [byte; 64],
                len: 32,
            }),
        };
        let d = Ok([7u8; 32]);
        assert_eq!(
            info(d, DigestAlgorithm::Sha256, 7).digest_matches(),
            Some(true)
        );
        assert_eq!(
            info(d, DigestAlgorithm::Sha256, 8).digest_matches(),
            Some(false)
        );
        assert_eq!(info(d, DigestAlgorithm::Sha1, 7).digest_matches(), None);
        let e = Err(DigestError::OutOfBounds);
        assert_eq!(info(e, DigestAlgorithm::Sha256, 7).digest_matches(), None);
        let unsigned = AuthenticodeInfo {
            digest: d,
            signed: Err(SignedDigestError::Unsigned),
        };
        assert_eq!(unsigned.digest_matches(), None);
    }

    #[test]
    fn digest_algorithms_by_oid() {
        let sha2 = |n: u8| [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n];
        assert_eq!(
            digest_algorithm(&[0x2B, 0x0E, 0x03, 0x02, 0x1A]),
            DigestAlgorithm::Sha1
        );
        assert_eq!(digest_algorithm(&sha2(1)), DigestAlgorithm::Sha256);
        assert_eq!(digest_algorithm(&sha2(2)), DigestAlgorithm::Sha384);
        assert_eq!(digest_algorithm(&sha2(3)), DigestAlgorithm::Sha512);
        assert_eq!(digest_algorithm(&sha2(4)), DigestAlgorithm::Other);
        assert_eq!(digest_algorithm(&[0x2B]), DigestAlgorithm::Other);
        let names = [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
            DigestAlgorithm::Other,
        ]
        .map(DigestAlgorithm::name);
        assert_eq!(names, ["sha1", "sha256", "sha384", "sha512", "unknown"]);
    }

    /// The header checks before hashing: SizeOfHeaders must reach past the
    /// certificate directory entry (0x40 + 0x18 + 112 + 40 = 0xF0 here),
    /// and at most 96 sections.
    #[test]
    fn digest_bounds() {
        let mut h = TestSha256::default();
        let mut img = crate::pe::tests::pe_image(0x2000, None);
        let with = |img: &mut Vec<u8>, headers: u32, sections: u16| {
            img[0x40 + 0x54..0x40 + 0x58].copy_from_slice(&headers.to_le_bytes());
            img[0x40 + 6..0x40 + 8].copy_from_slice(&sections.to_le_bytes());
            PeInfo::parse(img, img.len() as u64).unwrap()
        };
        let pe = with(&mut img, 0xF0, 0);
        assert!(digest(&img, &pe, &mut h).is_ok());
        let pe = with(&mut img, 0xEF, 0);
        assert_eq!(digest(&img, &pe, &mut h), Err(DigestError::OutOfBounds));
        // 96 empty sections (their table ends at 0x148 + 96 * 40 = 0x1048).
        let pe = with(&mut img, 0x1000, 96);
        assert!(digest(&img, &pe, &mut h).is_ok());
        let pe = with(&mut img, 0x1000, 97);
        assert_eq!(digest(&img, &pe, &mut h), Err(DigestError::TooManySections));
        // A section outside the image.
        let mut img = crate::pe::tests::pe_image(0x2000, None);
        let pe = with(&mut img, 0x1000, 1);
        put_section(&mut img, 0, 0x1000, 0x1001, 0x1000);
        assert_eq!(digest(&img, &pe, &mut h), Err(DigestError::OutOfBounds));
        put_section(&mut img, 0, 0x1000, 0x1000, 0x1000);
        assert!(digest(&img, &pe, &mut h).is_ok());
    }

    #[test]
    fn signed_digest_errors() {
        let mut h = TestSha256::default();
        let unsigned = crate::pe::tests::pe_image(0x2000, None);
        let pe = PeInfo::parse(&unsigned, 0x2000).unwrap();
        assert_eq!(
            check(&unsigned, &pe, &mut h).signed,
            Err(SignedDigestError::Unsigned)
        );
        // pe_image's table holds no PKCS#7.
        let img = crate::pe::tests::pe_image(0x2000, Some((0x1000, 0x100)));
        let pe = PeInfo::parse(&img, 0x2000).unwrap();
        assert_eq!(
            check(&img, &pe, &mut h).signed,
            Err(SignedDigestError::NotAuthenticodePkcs7)
        );
        // Its WIN_CERTIFICATE cut off (a quick probe's head).
        assert_eq!(
            check(&img[..0x1004], &pe, &mut h).signed,
            Err(SignedDigestError::CertTableUnreadable)
        );
        assert_eq!(signature_blob(&img[..0x1004], &pe), None);
        assert_eq!(signature_blob(&img, &pe), Some(&img[0x1008..0x1100 - 3]));
    }

    /// Long-form DER lengths at their limits.
    #[test]
    fn der_length_boundaries() {
        // 0x80 is the indefinite form, even with 128 bytes behind it.
        let mut v = std::vec![0x04, 0x80];
        v.extend_from_slice(&[0; 128]);
        assert_eq!(tlv(&v), None);
        let mut v = std::vec![0x04, 0x7F];
        v.extend_from_slice(&[0; 127]);
        assert_eq!(tlv(&v).map(|t| t.1.len()), Some(127));
        // Four length bytes are allowed, five are not.
        assert_eq!(
            tlv(&[0x04, 0x84, 0, 0, 0, 1, 7]),
            Some((0x04, &[7u8][..], &[][..]))
        );
        assert_eq!(tlv(&[0x04, 0x85, 0, 0, 0, 0, 1, 7]), None);
        assert_eq!(expect(&[0x04, 0x01, 7], 0x04), Some((&[7u8][..], &[][..])));
        assert_eq!(expect(&[0x04, 0x01, 7], 0x05), None);
    }
}
