//! `--cert`: verify the Authenticode signature of a signed image with the
//! user's X.509 certificates, the way `sbverify --cert` and the kernel's
//! `verify_pefile_signature()` do.
//!
//! The PKCS#7 SignedData sits in the certificate table of the decompressed
//! image (a WIN_CERTIFICATE: u32 dwLength, u16 revision, u16 type, then DER).
//! Checked, in order:
//! 1. the image's Authenticode digest equals the digest the signature signs
//!    (the core computes both: `authenticode.digest_matches`);
//! 2. the signed attributes' messageDigest equals the hash of the
//!    SpcIndirectDataContent's content octets (Authenticode hashes the inner
//!    value of the PKCS#7 content, without its tag and length);
//! 3. the signature over the signed attributes (their original DER, re-tagged
//!    as SET OF) verifies with the signer certificate's key: RSA PKCS#1 v1.5
//!    or ECDSA P-256/P-384, SHA-256/384/512;
//! 4. the signer certificate is one of the given certificates, or chains up
//!    to one through the certificates embedded in the PKCS#7 (each link's
//!    signature checked). Validity dates are not checked: neither the kernel
//!    nor firmware Secure Boot checks them.
//!
//! Exact bytes matter for signatures, and `der`'s SET OF decoder re-sorts its
//! elements, so the signed attributes and the TBS certificates are cut out of
//! the original DER ([`tlvs`]); the typed RustCrypto structures (cms,
//! x509-cert) are only read.

use std::fmt::Write as _;
use std::path::PathBuf;

use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::ObjectIdentifier as Oid;
use der::{AnyRef, Decode, Encode, Reader, SliceReader};
use kernel_probe::authenticode::AuthenticodeInfo;
use kernel_probe::pe::{CertCheck, PeInfo};
use sha2::Digest;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

const SPC_INDIRECT_DATA: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.4");
const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");

const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const P384: Oid = Oid::new_unwrap("1.3.132.0.34");

/// Longest issuer chain followed from the signer to a given certificate.
const MAX_CHAIN: usize = 8;

/// A certificate given with `--cert`, and the file it came from.
pub struct TrustedCert {
    pub path: PathBuf,
    pub cert: Certificate,
}

/// Read every certificate in each file: PEM (any number of CERTIFICATE
/// blocks) or one DER certificate.
/// The certificates of the `--cert` options, `None` without any.
pub fn trusted_certs(paths: &[PathBuf]) -> Result<Option<Vec<TrustedCert>>, String> {
    if paths.is_empty() {
        Ok(None)
    } else {
        load_certs(paths).map(Some)
    }
}

pub fn load_certs(paths: &[PathBuf]) -> Result<Vec<TrustedCert>, String> {
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            Certificate::load_pem_chain(&bytes)
        } else {
            Certificate::from_der(&bytes).map(|c| vec![c])
        }
        .map_err(|e| {
            format!(
                "{}: not an X.509 certificate (PEM or DER): {e}",
                path.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!("{}: no certificate in the file", path.display()));
        }
        out.extend(certs.into_iter().map(|cert| TrustedCert {
            path: path.clone(),
            cert,
        }));
    }
    Ok(out)
}

/// The outcome for one image: the `signature` JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    /// The signature is intact, covers this image, and was made by (or
    /// chains up to) one of the given certificates.
    pub verified: bool,
    /// Subject of the certificate whose key made the signature.
    pub signer: Option<String>,
    /// Its serial number (the SignerInfo's), lowercase hex.
    pub serial: Option<String>,
    /// The `--cert` file that verified it.
    pub cert: Option<String>,
    /// Why not, when not verified.
    pub error: Option<String>,
}

impl Signature {
    fn failed(error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            ..Self::default()
        }
    }

    /// The answer for an image without a signature.
    pub fn unsigned() -> Self {
        Self::failed(UNSIGNED)
    }

    /// The image carries a signature that did not verify (unsigned images
    /// are not failures: there is nothing to verify).
    pub fn is_failure(&self) -> bool {
        !self.verified && self.error.as_deref() != Some(UNSIGNED)
    }

    /// `{"verified":..,"signer":..,"serial":..,"cert":..,"error":..}`.
    pub fn json(&self) -> String {
        let mut s = format!("{{\"verified\":{},\"signer\":", self.verified);
        json_opt(&mut s, self.signer.as_deref());
        s.push_str(",\"serial\":");
        json_opt(&mut s, self.serial.as_deref());
        s.push_str(",\"cert\":");
        json_opt(&mut s, self.cert.as_deref());
        s.push_str(",\"error\":");
        json_opt(&mut s, self.error.as_deref());
        s.push('}');
        s
    }

    /// Lines for the human report, indented like the core's.
    pub fn text(&self) -> String {
        let who = match (&self.signer, &self.serial) {
            (Some(s), Some(n)) => format!("{s} (serial {n})"),
            (None, Some(n)) => format!("unknown certificate (serial {n})"),
            _ => "unknown signer".into(),
        };
        if self.verified {
            format!(
                "  signature           VERIFIED: signed by {who}\n                      trusted through {}\n",
                self.cert.as_deref().unwrap_or("?")
            )
        } else if self.error.as_deref() == Some(UNSIGNED) {
            "  signature           none: the image is not signed\n".into()
        } else {
            let mut s = format!(
                "  signature           NOT VERIFIED: {}\n",
                self.error.as_deref().unwrap_or("?")
            );
            if self.signer.is_some() || self.serial.is_some() {
                let _ = writeln!(s, "                      signed by {who}");
            }
            s
        }
    }
}

const UNSIGNED: &str = "the image is not signed";

/// Insert `,"key":value` before the closing `}` of a JSON object line (the
/// core writes the line; probe-run's own keys go at its end).
pub fn splice_json_key(line: &mut String, key: &str, value_json: &str) {
    let trimmed = line.trim_end().len();
    if let Some(close) = line[..trimmed].rfind('}') {
        line.insert_str(close, &format!(",\"{key}\":{value_json}"));
    }
}

fn json_opt(s: &mut String, v: Option<&str>) {
    match v {
        None => s.push_str("null"),
        Some(v) => {
            s.push('"');
            for c in v.chars() {
                match c {
                    '"' => s.push_str("\\\""),
                    '\\' => s.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(s, "\\u{:04x}", c as u32);
                    }
                    c => s.push(c),
                }
            }
            s.push('"');
        }
    }
}

/// Verify the signature of a probed image against the given certificates.
pub fn verify(
    image: &[u8],
    pe: &PeInfo,
    authenticode: Option<&AuthenticodeInfo>,
    trusted: &[TrustedCert],
) -> Signature {
    let Some(table) = pe.cert else {
        return Signature::failed(UNSIGNED);
    };
    if let CertCheck::Broken(p) = table.check {
        return Signature::failed(p.message());
    }
    let der = match pkcs7_blob(image, table.offset, table.size) {
        Ok(d) => d,
        Err(e) => return Signature::failed(e),
    };
    let mut sig = match verify_pkcs7(der, trusted) {
        Ok(s) => s,
        Err(e) => return Signature::failed(e),
    };
    // The signature may be fine and still not cover these bytes.
    if sig.verified {
        match authenticode.and_then(|a| a.digest_matches()) {
            Some(true) => {}
            Some(false) => {
                sig.verified = false;
                sig.error = Some(if pe.trailing_bytes > 0 {
                    format!(
                        "the image's Authenticode digest differs from the signed digest: \
                         {} bytes follow the certificate table (--output --trim drops them)",
                        pe.trailing_bytes
                    )
                } else {
                    "the image's Authenticode digest differs from the signed digest: \
                     the image was changed after signing"
                        .into()
                });
            }
            None => {
                sig.verified = false;
                sig.error = Some("no Authenticode digest to compare with the signed one".into());
            }
        }
        if !sig.verified {
            sig.cert = None;
        }
    }
    sig
}

/// The DER of the PKCS#7 SignedData inside the WIN_CERTIFICATE.
fn pkcs7_blob(image: &[u8], offset: u32, size: u32) -> Result<&[u8], String> {
    let start = offset as usize;
    let table = image
        .get(start..start.saturating_add(size as usize))
        .ok_or("certificate table outside the image")?;
    let len = table
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("certificate table too short")?;
    table
        .get(8..len)
        .ok_or_else(|| "WIN_CERTIFICATE length outside the table".into())
}

/// Split the content of a constructed DER value into its elements (each a
/// complete TLV, bytes as found).
fn tlvs(content: &[u8]) -> der::Result<Vec<&[u8]>> {
    let mut r = SliceReader::new(content)?;
    let mut out = Vec::new();
    while !r.is_finished() {
        out.push(r.tlv_bytes()?);
    }
    Ok(out)
}

/// The value (content octets) of one TLV.
fn value(tlv: &[u8]) -> der::Result<&[u8]> {
    Ok(AnyRef::from_der(tlv)?.value())
}

/// The first TLV of `bytes` (a signature blob may be followed by padding).
fn first_tlv(bytes: &[u8]) -> der::Result<&[u8]> {
    SliceReader::new(bytes)?.tlv_bytes()
}

/// An embedded certificate with its original DER.
struct Embedded<'a> {
    cert: Certificate,
    tbs: &'a [u8],
}

fn der_err(what: &str) -> impl Fn(der::Error) -> String + '_ {
    move |e| format!("malformed PKCS#7 ({what}): {e}")
}

fn verify_pkcs7(der: &[u8], trusted: &[TrustedCert]) -> Result<Signature, String> {
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
    let ci = first_tlv(der).map_err(der_err("ContentInfo"))?;
    let ci = tlvs(value(ci).map_err(der_err("ContentInfo"))?).map_err(der_err("ContentInfo"))?;
    let [oid, content, ..] = ci[..] else {
        return Err("malformed PKCS#7: ContentInfo without content".into());
    };
    if Oid::from_der(oid).ok() != Some(SIGNED_DATA) {
        return Err("the PKCS#7 content is not SignedData".into());
    }
    let sd = value(content).map_err(der_err("SignedData"))?;
    let sd = tlvs(value(sd).map_err(der_err("SignedData"))?).map_err(der_err("SignedData"))?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates,
    // [1] crls, signerInfos (the last SET).
    let encap = *sd.get(2).ok_or("malformed PKCS#7: no encapContentInfo")?;
    let encap = EncapsulatedContentInfo::from_der(encap).map_err(der_err("encapContentInfo"))?;
    if encap.econtent_type != SPC_INDIRECT_DATA {
        return Err("the signed content is not Authenticode (SpcIndirectDataContent)".into());
    }
    let econtent = encap
        .econtent
        .ok_or("the SignedData carries no SpcIndirectDataContent")?;
    // Authenticode: the digest covers the content's value, not its tag and length.
    let content_octets = econtent.value();

    let mut embedded = Vec::new();
    for el in &sd[3..] {
        if el.first() == Some(&0xA0) {
            for c in tlvs(value(el).map_err(der_err("certificates"))?)
                .map_err(der_err("certificates"))?
            {
                // Only plain certificates (SEQUENCE); skip other choices.
                if c.first() != Some(&0x30) {
                    continue;
                }
                let cert = Certificate::from_der(c).map_err(der_err("certificate"))?;
                let tbs = *tlvs(value(c).map_err(der_err("certificate"))?)
                    .map_err(der_err("certificate"))?
                    .first()
                    .ok_or("malformed PKCS#7: empty certificate")?;
                embedded.push(Embedded { cert, tbs });
            }
        }
    }
    let signer_infos = sd
        .last()
        .filter(|s| s.first() == Some(&0x31) && sd.len() > 3)
        .ok_or("malformed PKCS#7: no signerInfos")?;
    let signer_infos = tlvs(value(signer_infos).map_err(der_err("signerInfos"))?)
        .map_err(der_err("signerInfos"))?;
    let mut first_failure = None;
    for raw in signer_infos {
        match verify_signer(raw, content_octets, &embedded, trusted) {
            Ok(s) if s.verified => return Ok(s),
            Ok(s) => {
                first_failure.get_or_insert(s);
            }
            Err(e) => {
                first_failure.get_or_insert(Signature::failed(e));
            }
        }
    }
    first_failure.ok_or_else(|| "the PKCS#7 has no SignerInfo".into())
}

fn verify_signer(
    raw: &[u8],
    content_octets: &[u8],
    embedded: &[Embedded],
    trusted: &[TrustedCert],
) -> Result<Signature, String> {
    let si = SignerInfo::from_der(raw).map_err(der_err("SignerInfo"))?;
    // The signed attributes as signed: their own bytes, tagged SET OF.
    let attrs_value = tlvs(value(raw).map_err(der_err("SignerInfo"))?)
        .map_err(der_err("SignerInfo"))?
        .into_iter()
        .find(|t| t.first() == Some(&0xA0))
        .map(value)
        .transpose()
        .map_err(der_err("signedAttrs"))?
        .ok_or("the SignerInfo has no signed attributes")?;
    let mut signed_attrs = Vec::with_capacity(attrs_value.len() + 6);
    signed_attrs.push(0x31);
    der::Length::try_from(attrs_value.len())
        .and_then(|l| l.encode_to_vec(&mut signed_attrs))
        .map_err(der_err("signedAttrs"))?;
    signed_attrs.extend_from_slice(attrs_value);

    let (issuer_serial, mut sig) = match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => (
            Some(ias),
            Signature {
                serial: Some(serial_hex(ias.serial_number.as_bytes())),
                ..Signature::default()
            },
        ),
        SignerIdentifier::SubjectKeyIdentifier(_) => (None, Signature::default()),
    };
    let hash = HashAlg::from_oid(&si.digest_alg.oid)
        .ok_or_else(|| format!("unsupported digest algorithm {}", si.digest_alg.oid))?;

    // messageDigest must be the hash of the SpcIndirectDataContent.
    let md = si
        .signed_attrs
        .iter()
        .flat_map(|a| a.iter())
        .find(|a| a.oid == MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .ok_or("the signed attributes have no messageDigest")?;
    if md.value() != hash.digest(content_octets).as_slice() {
        sig.error = Some(
            "messageDigest does not match the SpcIndirectDataContent: the signed content was altered"
                .into(),
        );
        return Ok(sig);
    }

    // Who signed: the certificate named by the SignerInfo, among the
    // embedded and the given ones.
    let names = |c: &Certificate| {
        issuer_serial.is_some_and(|ias| {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        })
    };
    let attrs_verify = |spki: &SubjectPublicKeyInfoOwned| {
        check_signature(
            spki,
            &si.signature_algorithm.oid,
            Some(hash),
            &signed_attrs,
            si.signature.as_bytes(),
        )
    };
    if let Some(t) = trusted.iter().find(|t| names(&t.cert)) {
        let subject = t.cert.tbs_certificate.subject.to_string();
        sig.signer = Some(subject);
        return Ok(
            match attrs_verify(&t.cert.tbs_certificate.subject_public_key_info) {
                Ok(()) => Signature {
                    verified: true,
                    cert: Some(t.path.display().to_string()),
                    ..sig
                },
                Err(e) => Signature {
                    error: Some(format!(
                        "the signature does not verify with {}: {e}",
                        t.path.display()
                    )),
                    ..sig
                },
            },
        );
    }
    // Not a given certificate: an embedded one (or, identified by key id,
    // whichever key verifies), then its issuers up to a given certificate.
    let signer = embedded.iter().enumerate().find(|(_, e)| {
        if issuer_serial.is_some() {
            names(&e.cert)
        } else {
            attrs_verify(&e.cert.tbs_certificate.subject_public_key_info).is_ok()
        }
    });
    let Some((mut at, first)) = signer else {
        sig.error = Some(if issuer_serial.is_some() {
            "the signer's certificate is neither embedded nor given with --cert".into()
        } else {
            "no embedded or given certificate's key verifies the signature".into()
        });
        // Keyed by subjectKeyIdentifier: a given certificate may still hold the key.
        if issuer_serial.is_none() {
            if let Some(t) = trusted
                .iter()
                .find(|t| attrs_verify(&t.cert.tbs_certificate.subject_public_key_info).is_ok())
            {
                return Ok(Signature {
                    verified: true,
                    signer: Some(t.cert.tbs_certificate.subject.to_string()),
                    cert: Some(t.path.display().to_string()),
                    error: None,
                    ..sig
                });
            }
        }
        return Ok(sig);
    };
    sig.signer = Some(first.cert.tbs_certificate.subject.to_string());
    if sig.serial.is_none() {
        sig.serial = Some(serial_hex(
            first.cert.tbs_certificate.serial_number.as_bytes(),
        ));
    }
    if let Err(e) = attrs_verify(&first.cert.tbs_certificate.subject_public_key_info) {
        sig.error = Some(format!(
            "the signature does not verify with the signer's certificate: {e}"
        ));
        return Ok(sig);
    }
    for _ in 0..MAX_CHAIN {
        let cur = &embedded[at];
        // The same key as a given certificate: trusted directly.
        if let Some(t) = trusted.iter().find(|t| {
            t.cert.tbs_certificate.subject_public_key_info
                == cur.cert.tbs_certificate.subject_public_key_info
        }) {
            sig.verified = true;
            sig.cert = Some(t.path.display().to_string());
            return Ok(sig);
        }
        let issued_by = |spki: &SubjectPublicKeyInfoOwned| {
            check_signature(
                spki,
                &cur.cert.signature_algorithm.oid,
                None,
                cur.tbs,
                cur.cert.signature.raw_bytes(),
            )
            .is_ok()
        };
        let issuer = &cur.cert.tbs_certificate.issuer;
        if let Some(t) = trusted.iter().find(|t| {
            &t.cert.tbs_certificate.subject == issuer
                && issued_by(&t.cert.tbs_certificate.subject_public_key_info)
        }) {
            sig.verified = true;
            sig.cert = Some(t.path.display().to_string());
            return Ok(sig);
        }
        match embedded.iter().enumerate().find(|(i, e)| {
            *i != at
                && &e.cert.tbs_certificate.subject == issuer
                && issued_by(&e.cert.tbs_certificate.subject_public_key_info)
        }) {
            Some((i, _)) => at = i,
            None => break,
        }
    }
    sig.error = Some(if trusted.is_empty() {
        "no certificate given".into()
    } else {
        format!(
            "the signer's certificate (issued by {}) does not chain to any given certificate",
            first.cert.tbs_certificate.issuer
        )
    });
    Ok(sig)
}

/// Serial number bytes as hex, without the DER sign byte.
fn serial_hex(bytes: &[u8]) -> String {
    let b = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        b => b,
    };
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn from_oid(oid: &Oid) -> Option<Self> {
        match *oid {
            SHA256 => Some(Self::Sha256),
            SHA384 => Some(Self::Sha384),
            SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The hash a signature algorithm names, if it names one.
    fn of_signature(oid: &Oid) -> Option<Self> {
        match *oid {
            SHA256_WITH_RSA | ECDSA_SHA256 => Some(Self::Sha256),
            SHA384_WITH_RSA | ECDSA_SHA384 => Some(Self::Sha384),
            SHA512_WITH_RSA | ECDSA_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Verify `signature` over `message` with the key in `spki`. `hash` is the
/// SignerInfo's digest algorithm; a signature algorithm that names its own
/// hash (sha256WithRSAEncryption, ecdsa-with-SHA384, ...) must agree with it.
fn check_signature(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &Oid,
    hash: Option<HashAlg>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let named = HashAlg::of_signature(sig_alg);
    let hash = match (hash, named) {
        (Some(h), Some(n)) if h != n => {
            return Err(format!(
                "signature algorithm {sig_alg} disagrees with the digest algorithm"
            ))
        }
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => return Err(format!("unsupported signature algorithm {sig_alg}")),
    };
    let digest = hash.digest(message);
    let key = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            if !matches!(
                *sig_alg,
                RSA_ENCRYPTION | SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA
            ) {
                return Err(format!("signature algorithm {sig_alg} for an RSA key"));
            }
            use rsa::pkcs1::DecodeRsaPublicKey;
            let pk = rsa::RsaPublicKey::from_pkcs1_der(key)
                .map_err(|e| format!("bad RSA public key: {e}"))?;
            let scheme = match hash {
                HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            pk.verify(scheme, &digest, signature)
                .map_err(|_| "RSA signature mismatch".into())
        }
        EC_PUBLIC_KEY => {
            if !matches!(
                *sig_alg,
                EC_PUBLIC_KEY | ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512
            ) {
                return Err(format!("signature algorithm {sig_alg} for an EC key"));
            }
            use ecdsa::signature::hazmat::PrehashVerifier;
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            let bad = |e: ecdsa::Error| format!("ECDSA: {e}");
            match curve {
                Some(P256) => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(bad)?;
                    let s = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    vk.verify_prehash(&digest, &s)
                        .map_err(|_| "ECDSA P-256 signature mismatch".into())
                }
                Some(P384) => {
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(bad)?;
                    let s = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    vk.verify_prehash(&digest, &s)
                        .map_err(|_| "ECDSA P-384 signature mismatch".into())
                }
                other => Err(format!(
                    "unsupported elliptic curve {}",
                    other.map_or("(none)".into(), |o| o.to_string())
                )),
            }
        }
        ref other => Err(format!("unsupported public key algorithm {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice() {
        let mut l = String::from("{\"a\":1,\"b\":{\"c\":null}}\n");
        splice_json_key(&mut l, "signature", "null");
        assert_eq!(l, "{\"a\":1,\"b\":{\"c\":null},\"signature\":null}\n");
    }

    #[test]
    fn serials() {
        assert_eq!(serial_hex(&[0, 0x80, 1]), "8001");
        assert_eq!(serial_hex(&[0]), "00");
        assert_eq!(serial_hex(&[0x12, 0x34]), "1234");
    }

    #[test]
    fn signature_json() {
        let s = Signature {
            verified: false,
            signer: Some("CN=a \"b\"".into()),
            serial: None,
            cert: None,
            error: Some("x".into()),
        };
        assert_eq!(
            s.json(),
            "{\"verified\":false,\"signer\":\"CN=a \\\"b\\\"\",\"serial\":null,\"cert\":null,\"error\":\"x\"}"
        );
    }
}
