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
//!    signature checked), and every certificate that issues another in that
//!    chain may issue certificates, as OpenSSL's chain verification (and so
//!    `sbverify`) requires ([`may_issue`]): basicConstraints cA=TRUE, a
//!    keyUsage (when present) with keyCertSign, the pathLenConstraint (when
//!    present) honoured. A given certificate that is itself the signer needs
//!    none of that. Validity dates are not checked: neither the kernel nor
//!    firmware Secure Boot checks them.
//!
//! The outcome is typed ([`Failure`]); its `Display` is the `error` string.
//!
//! Exact bytes matter for signatures, and `der`'s SET OF decoder re-sorts its
//! elements, so the signed attributes and the TBS certificates are cut out of
//! the original DER ([`tlvs`]); the typed RustCrypto structures (cms,
//! x509-cert) are only read.

use std::fmt::{self, Write as _};
use std::ops::Deref;
use std::path::PathBuf;

use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::ObjectIdentifier as Oid;
use der::{AnyRef, Decode, Encode, Reader, SliceReader};
use kernel_probe::authenticode::AuthenticodeInfo;
use kernel_probe::pe::{CertCheck, CertProblem, PeInfo};
use sha2::Digest;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::{Certificate, Version};

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
    pub error: Option<Error>,
}

/// Why a signature did not verify (or that there is none). `Display` gives
/// the `error` string of the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The image has no certificate table: nothing to verify.
    Unsigned,
    /// The core found the certificate table broken.
    CertTable(CertProblem),
    /// The certificate table is not in the bytes given (the core did not
    /// check it).
    TableOutsideImage,
    /// DER that does not decode, in the named part of the PKCS#7.
    Malformed {
        part: &'static str,
        error: der::Error,
    },
    /// A part of the PKCS#7 that must be there is not (what is missing).
    Incomplete(&'static str),
    /// The ContentInfo is not SignedData.
    NotSignedData,
    /// The signed content is not an SpcIndirectDataContent.
    NotAuthenticode,
    /// The encapContentInfo has no content.
    NoIndirectData,
    /// The signerInfos SET is empty.
    NoSignerInfo,
    /// The SignerInfo has no signed attributes.
    NoSignedAttributes,
    /// The SignerInfo's digest algorithm is not SHA-256/384/512.
    UnsupportedDigest(Oid),
    /// The signed attributes carry no messageDigest.
    NoMessageDigest,
    /// messageDigest is not the hash of the SpcIndirectDataContent.
    ContentAltered,
    /// The signature over the signed attributes does not verify with the
    /// signer's key: a given certificate (its file) or an embedded one.
    BadSignature {
        given: Option<String>,
        error: KeyFailure,
    },
    /// The SignerInfo names a certificate that is neither embedded nor given.
    SignerNotFound,
    /// Keyed by subjectKeyIdentifier, and no certificate's key verifies.
    NoKeyVerifies,
    /// No certificate to verify with.
    NoCertificate,
    /// The chain from the signer reaches no given certificate.
    Untrusted { issuer: String },
    /// A certificate in the chain issued another one without being allowed
    /// to (basicConstraints, keyUsage, pathLenConstraint).
    CannotIssue(Box<Refusal>),
    /// The image's Authenticode digest is not the signed one
    /// (`trailing_bytes` follow the certificate table).
    DigestMismatch { trailing_bytes: u64 },
    /// The core computed no Authenticode digest.
    NoDigest,
}

/// A certificate that issued another one in the chain but may not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Its subject.
    pub cert: String,
    /// The `--cert` file it came from; `None` for an embedded one.
    pub given: Option<String>,
    /// The subject of the certificate it signed.
    pub issued: String,
    pub problem: CaProblem,
}

/// Why a certificate may not issue certificates (OpenSSL's `check_ca()` and
/// `check_chain_extensions()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaProblem {
    /// No basicConstraints (and, for a given certificate, neither a keyUsage
    /// nor a version 1 self-issued root).
    NoBasicConstraints,
    /// basicConstraints cA=FALSE.
    NotCa,
    /// A keyUsage without keyCertSign.
    NoKeyCertSign,
    /// More non-self-issued intermediate certificates below it than its
    /// pathLenConstraint allows.
    PathLen { limit: u8, below: usize },
    /// The extension does not decode, or appears twice.
    BadExtension {
        name: &'static str,
        error: Option<der::Error>,
    },
}

/// Why a signature does not verify with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFailure {
    /// The signature algorithm names another hash than the digest algorithm.
    HashDisagrees(Oid),
    UnsupportedSignature(Oid),
    /// The signature algorithm is for another kind of key ("RSA", "EC").
    WrongKeyType {
        algorithm: Oid,
        key: &'static str,
    },
    BadRsaKey(String),
    Ecdsa(String),
    /// The signature does not match (which scheme).
    Mismatch(&'static str),
    UnsupportedCurve(Option<Oid>),
    UnsupportedKey(Oid),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned => f.write_str("the image is not signed"),
            Self::CertTable(p) => f.write_str(p.message()),
            Self::TableOutsideImage => f.write_str("certificate table outside the image"),
            Self::Malformed { part, error } => write!(f, "malformed PKCS#7 ({part}): {error}"),
            Self::Incomplete(what) => write!(f, "malformed PKCS#7: {what}"),
            Self::NotSignedData => f.write_str("the PKCS#7 content is not SignedData"),
            Self::NotAuthenticode => {
                f.write_str("the signed content is not Authenticode (SpcIndirectDataContent)")
            }
            Self::NoIndirectData => f.write_str("the SignedData carries no SpcIndirectDataContent"),
            Self::NoSignerInfo => f.write_str("the PKCS#7 has no SignerInfo"),
            Self::NoSignedAttributes => f.write_str("the SignerInfo has no signed attributes"),
            Self::UnsupportedDigest(oid) => write!(f, "unsupported digest algorithm {oid}"),
            Self::NoMessageDigest => f.write_str("the signed attributes have no messageDigest"),
            Self::ContentAltered => f.write_str(
                "messageDigest does not match the SpcIndirectDataContent: the signed content was altered",
            ),
            Self::BadSignature {
                given: Some(path),
                error,
            } => write!(f, "the signature does not verify with {path}: {error}"),
            Self::BadSignature { given: None, error } => write!(
                f,
                "the signature does not verify with the signer's certificate: {error}"
            ),
            Self::SignerNotFound => {
                f.write_str("the signer's certificate is neither embedded nor given with --cert")
            }
            Self::NoKeyVerifies => {
                f.write_str("no embedded or given certificate's key verifies the signature")
            }
            Self::NoCertificate => f.write_str("no certificate given"),
            Self::Untrusted { issuer } => write!(
                f,
                "the signer's certificate (issued by {issuer}) does not chain to any given certificate"
            ),
            Self::CannotIssue(r) => {
                let Refusal {
                    cert,
                    given,
                    issued,
                    problem,
                } = &**r;
                write!(f, "certificate {cert}")?;
                if let Some(path) = given {
                    write!(f, " (--cert {path})")?;
                }
                match problem {
                    CaProblem::NoBasicConstraints => write!(
                        f,
                        " is not a CA (no basicConstraints) and cannot issue {issued}"
                    ),
                    CaProblem::NotCa => write!(
                        f,
                        " is not a CA (basicConstraints cA=FALSE) and cannot issue {issued}"
                    ),
                    CaProblem::NoKeyCertSign => {
                        write!(f, " cannot issue {issued}: keyUsage lacks keyCertSign")
                    }
                    CaProblem::PathLen { limit, below } => write!(
                        f,
                        " cannot issue {issued}: pathLenConstraint {limit} exceeded \
                         ({below} intermediate certificate{} below it)",
                        if *below == 1 { "" } else { "s" }
                    ),
                    CaProblem::BadExtension { name, error: None } => {
                        write!(f, " cannot issue {issued}: {name} appears more than once")
                    }
                    CaProblem::BadExtension {
                        name,
                        error: Some(e),
                    } => write!(f, " cannot issue {issued}: malformed {name}: {e}"),
                }
            }
            Self::DigestMismatch { trailing_bytes: 0 } => f.write_str(
                "the image's Authenticode digest differs from the signed digest: \
                 the image was changed after signing",
            ),
            Self::DigestMismatch { trailing_bytes } => write!(
                f,
                "the image's Authenticode digest differs from the signed digest: \
                 {trailing_bytes} bytes follow the certificate table (--output --trim drops them)"
            ),
            Self::NoDigest => f.write_str("no Authenticode digest to compare with the signed one"),
        }
    }
}

impl fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HashDisagrees(alg) => {
                write!(
                    f,
                    "signature algorithm {alg} disagrees with the digest algorithm"
                )
            }
            Self::UnsupportedSignature(alg) => write!(f, "unsupported signature algorithm {alg}"),
            Self::WrongKeyType { algorithm, key } => {
                write!(f, "signature algorithm {algorithm} for an {key} key")
            }
            Self::BadRsaKey(e) => write!(f, "bad RSA public key: {e}"),
            Self::Ecdsa(e) => write!(f, "ECDSA: {e}"),
            Self::Mismatch(scheme) => write!(f, "{scheme} signature mismatch"),
            Self::UnsupportedCurve(None) => f.write_str("unsupported elliptic curve (none)"),
            Self::UnsupportedCurve(Some(oid)) => write!(f, "unsupported elliptic curve {oid}"),
            Self::UnsupportedKey(oid) => write!(f, "unsupported public key algorithm {oid}"),
        }
    }
}

/// A [`Failure`] and its message, rendered once: it derefs to the message
/// (the `error` string), [`Error::reason`] is what to match on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    // Boxed: a `Signature` stays small.
    reason: Box<Failure>,
    message: String,
}

impl Error {
    pub fn reason(&self) -> &Failure {
        &self.reason
    }
}

impl From<Failure> for Error {
    fn from(reason: Failure) -> Self {
        let message = reason.to_string();
        Self {
            reason: Box::new(reason),
            message,
        }
    }
}

impl Deref for Error {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Signature {
    fn failed(reason: Failure) -> Self {
        Self {
            error: Some(reason.into()),
            ..Self::default()
        }
    }

    /// The answer for an image without a signature.
    pub fn unsigned() -> Self {
        Self::failed(Failure::Unsigned)
    }

    /// Why not verified, typed.
    pub fn reason(&self) -> Option<&Failure> {
        self.error.as_ref().map(Error::reason)
    }

    fn is_unsigned(&self) -> bool {
        matches!(self.reason(), Some(Failure::Unsigned))
    }

    /// The image carries a signature that did not verify (unsigned images
    /// are not failures: there is nothing to verify).
    pub fn is_failure(&self) -> bool {
        !self.verified && !self.is_unsigned()
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
        } else if self.is_unsigned() {
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

fn json_opt(s: &mut String, v: Option<&str>) {
    match v {
        None => s.push_str("null"),
        // Writing into a String cannot fail.
        Some(v) => {
            let _ = kernel_probe::json::write_str(s, v);
        }
    }
}

/// A UKI's outer Authenticode check: the digest of the whole file (the
/// outer PE) and, when it is signed, the digest its signature signs. None
/// for anything else, or when the input is not all in memory.
pub fn check_uki(
    input: &crate::buffer::Input,
    report: Option<&kernel_probe::Report>,
) -> Option<AuthenticodeInfo> {
    report.and_then(|r| r.uki.as_ref())?;
    let bytes = input.bytes()?;
    let pe = kernel_probe::pe::PeInfo::parse(bytes, bytes.len() as u64).ok()?;
    Some(kernel_probe::authenticode::check(
        bytes,
        &pe,
        &mut crate::crc::Sha2::default(),
    ))
}

/// The checks after a valid probe, for the probe and `load` alike: the
/// Authenticode digest of a signed image (of every EFI image when `all_efi`),
/// and with `--cert` (`trusted`) the signature check.
pub fn check_image(
    image: &[u8],
    pe: Option<&PeInfo>,
    all_efi: bool,
    trusted: Option<&[TrustedCert]>,
) -> (Option<AuthenticodeInfo>, Option<Signature>) {
    let auth = pe
        .filter(|pe| pe.cert.is_some() || all_efi)
        .map(|pe| kernel_probe::authenticode::check(image, pe, &mut crate::crc::Sha2::default()));
    let sig = trusted.map(|t| match pe {
        Some(pe) => verify(image, pe, auth.as_ref(), t),
        None => Signature::unsigned(),
    });
    (auth, sig)
}

/// Verify the signature of a probed image against the given certificates.
pub fn verify(
    image: &[u8],
    pe: &PeInfo,
    authenticode: Option<&AuthenticodeInfo>,
    trusted: &[TrustedCert],
) -> Signature {
    let Some(table) = pe.cert else {
        return Signature::failed(Failure::Unsigned);
    };
    if let CertCheck::Broken(p) = table.check {
        return Signature::failed(Failure::CertTable(p));
    }
    // The PKCS#7 as the kernel cuts it out of the WIN_CERTIFICATE
    // (verify_pefile.c's rules, checked by the core).
    let Some(der) = kernel_probe::authenticode::signature_blob(image, pe) else {
        return Signature::failed(Failure::TableOutsideImage);
    };
    let mut sig = match verify_pkcs7(der, trusted) {
        Ok(s) => s,
        Err(e) => return Signature::failed(e),
    };
    // The signature may be fine and still not cover these bytes.
    if sig.verified {
        let failure = match authenticode.and_then(|a| a.digest_matches()) {
            Some(true) => None,
            Some(false) => Some(Failure::DigestMismatch {
                trailing_bytes: pe.trailing_bytes,
            }),
            None => Some(Failure::NoDigest),
        };
        if let Some(f) = failure {
            sig.verified = false;
            sig.error = Some(f.into());
            sig.cert = None;
        }
    }
    sig
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

impl<'a> Embedded<'a> {
    /// Decode one certificate (a complete TLV), keeping its TBS bytes.
    fn parse(der: &'a [u8]) -> Result<Self, Failure> {
        let cert = Certificate::from_der(der).map_err(der_err("certificate"))?;
        let tbs = *tlvs(value(der).map_err(der_err("certificate"))?)
            .map_err(der_err("certificate"))?
            .first()
            .ok_or(Failure::Incomplete("empty certificate"))?;
        Ok(Self { cert, tbs })
    }

    /// `self` carries a signature that `spki`'s key made.
    fn issued_by(&self, spki: &SubjectPublicKeyInfoOwned) -> bool {
        check_signature(
            spki,
            &self.cert.signature_algorithm.oid,
            None,
            self.tbs,
            self.cert.signature.raw_bytes(),
        )
        .is_ok()
    }
}

fn der_err(part: &'static str) -> impl Fn(der::Error) -> Failure {
    move |error| Failure::Malformed { part, error }
}

fn verify_pkcs7(der: &[u8], trusted: &[TrustedCert]) -> Result<Signature, Failure> {
    // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
    let ci = first_tlv(der).map_err(der_err("ContentInfo"))?;
    let ci = tlvs(value(ci).map_err(der_err("ContentInfo"))?).map_err(der_err("ContentInfo"))?;
    let [oid, content, ..] = ci[..] else {
        return Err(Failure::Incomplete("ContentInfo without content"));
    };
    if Oid::from_der(oid).ok() != Some(SIGNED_DATA) {
        return Err(Failure::NotSignedData);
    }
    let sd = value(content).map_err(der_err("SignedData"))?;
    let sd = tlvs(value(sd).map_err(der_err("SignedData"))?).map_err(der_err("SignedData"))?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates,
    // [1] crls, signerInfos (the last SET).
    let encap = *sd
        .get(2)
        .ok_or(Failure::Incomplete("no encapContentInfo"))?;
    let encap = EncapsulatedContentInfo::from_der(encap).map_err(der_err("encapContentInfo"))?;
    if encap.econtent_type != SPC_INDIRECT_DATA {
        return Err(Failure::NotAuthenticode);
    }
    let econtent = encap.econtent.ok_or(Failure::NoIndirectData)?;
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
                embedded.push(Embedded::parse(c)?);
            }
        }
    }
    let signer_infos = sd
        .last()
        .filter(|s| s.first() == Some(&0x31) && sd.len() > 3)
        .ok_or(Failure::Incomplete("no signerInfos"))?;
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
    first_failure.ok_or(Failure::NoSignerInfo)
}

fn verify_signer(
    raw: &[u8],
    content_octets: &[u8],
    embedded: &[Embedded],
    trusted: &[TrustedCert],
) -> Result<Signature, Failure> {
    let si = SignerInfo::from_der(raw).map_err(der_err("SignerInfo"))?;
    // The signed attributes as signed: their own bytes, tagged SET OF.
    let attrs_value = tlvs(value(raw).map_err(der_err("SignerInfo"))?)
        .map_err(der_err("SignerInfo"))?
        .into_iter()
        .find(|t| t.first() == Some(&0xA0))
        .map(value)
        .transpose()
        .map_err(der_err("signedAttrs"))?
        .ok_or(Failure::NoSignedAttributes)?;
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
        .ok_or(Failure::UnsupportedDigest(si.digest_alg.oid))?;

    // messageDigest must be the hash of the SpcIndirectDataContent.
    let md = si
        .signed_attrs
        .iter()
        .flat_map(|a| a.iter())
        .find(|a| a.oid == MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .ok_or(Failure::NoMessageDigest)?;
    if md.value() != hash.digest(content_octets).as_slice() {
        sig.error = Some(Failure::ContentAltered.into());
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
        // A given certificate is the signer: trusted as it is (as sbverify
        // trusts a --cert certificate that is the signer).
        let subject = t.cert.tbs_certificate.subject.to_string();
        sig.signer = Some(subject);
        return Ok(
            match attrs_verify(&t.cert.tbs_certificate.subject_public_key_info) {
                Ok(()) => Signature {
                    verified: true,
                    cert: Some(t.path.display().to_string()),
                    ..sig
                },
                Err(error) => Signature {
                    error: Some(
                        Failure::BadSignature {
                            given: Some(t.path.display().to_string()),
                            error,
                        }
                        .into(),
                    ),
                    ..sig
                },
            },
        );
    }
    // Not a given certificate: an embedded one (or, identified by key id,
    // whichever key verifies), then its issuers up to a given certificate.
    let signer = embedded.iter().position(|e| {
        if issuer_serial.is_some() {
            names(&e.cert)
        } else {
            attrs_verify(&e.cert.tbs_certificate.subject_public_key_info).is_ok()
        }
    });
    let Some(at) = signer else {
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
        sig.error = Some(
            if issuer_serial.is_some() {
                Failure::SignerNotFound
            } else {
                Failure::NoKeyVerifies
            }
            .into(),
        );
        return Ok(sig);
    };
    let first = &embedded[at].cert.tbs_certificate;
    sig.signer = Some(first.subject.to_string());
    if sig.serial.is_none() {
        sig.serial = Some(serial_hex(first.serial_number.as_bytes()));
    }
    if let Err(error) = attrs_verify(&first.subject_public_key_info) {
        sig.error = Some(Failure::BadSignature { given: None, error }.into());
        return Ok(sig);
    }
    match chain_to_trusted(embedded, at, trusted) {
        Ok(t) => {
            sig.verified = true;
            sig.cert = Some(t.path.display().to_string());
        }
        Err(e) => sig.error = Some(e.into()),
    }
    Ok(sig)
}

/// Where an issuer sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A given certificate, the top of the chain.
    Anchor,
    /// An embedded certificate between the signer and the anchor.
    Intermediate,
}

/// Subject and issuer are the same name (RFC 5280's self-issued: it does not
/// count against a pathLenConstraint).
fn self_issued(cert: &Certificate) -> bool {
    cert.tbs_certificate.subject == cert.tbs_certificate.issuer
}

/// The one extension of type `T`, if present.
fn extension<'a, T: Decode<'a> + der::oid::AssociatedOid>(
    cert: &'a Certificate,
    name: &'static str,
) -> Result<Option<T>, CaProblem> {
    let mut found = cert.tbs_certificate.filter::<T>();
    let first = found.next();
    if found.next().is_some() {
        return Err(CaProblem::BadExtension { name, error: None });
    }
    first
        .transpose()
        .map(|e| e.map(|(_critical, v)| v))
        .map_err(|e| CaProblem::BadExtension {
            name,
            error: Some(e),
        })
}

/// May `cert` issue certificates in this `role`, with `below` non-self-issued
/// intermediate certificates between it and the signer's? What OpenSSL's
/// chain verification checks on every certificate above the leaf
/// (`check_chain_extensions()`, `X509_check_ca()`):
/// - a keyUsage, when present, includes keyCertSign;
/// - an intermediate has basicConstraints with cA=TRUE; the trust anchor at
///   the top needs cA=TRUE only when it has basicConstraints (without, it is
///   a CA when it has a keyUsage, checked above, or is a version 1
///   self-issued root; Netscape certificate types are not honoured);
/// - a pathLenConstraint, when present, is at least `below`.
fn may_issue(cert: &Certificate, role: Role, below: usize) -> Result<(), CaProblem> {
    let tbs = &cert.tbs_certificate;
    let bc = extension::<BasicConstraints>(cert, "basicConstraints")?;
    let ku = extension::<KeyUsage>(cert, "keyUsage")?;
    match &bc {
        Some(bc) if !bc.ca => return Err(CaProblem::NotCa),
        Some(_) => {}
        None => {
            let v1_root = tbs.version == Version::V1 && self_issued(cert);
            if role == Role::Intermediate || !(ku.is_some() || v1_root) {
                return Err(CaProblem::NoBasicConstraints);
            }
        }
    }
    if ku.is_some_and(|ku| !ku.key_cert_sign()) {
        return Err(CaProblem::NoKeyCertSign);
    }
    match bc.and_then(|bc| bc.path_len_constraint) {
        Some(limit) if below > usize::from(limit) => Err(CaProblem::PathLen { limit, below }),
        _ => Ok(()),
    }
}

/// Follow the issuers of `embedded[at]` (the signer's certificate, whose
/// signature on the image was checked) up to a given certificate, each
/// link's signature checked and each issuer allowed to issue ([`may_issue`]);
/// at most [`MAX_CHAIN`] links. The given certificate reached.
fn chain_to_trusted<'t>(
    embedded: &[Embedded],
    mut at: usize,
    trusted: &'t [TrustedCert],
) -> Result<&'t TrustedCert, Failure> {
    let first = at;
    // The first refusal (an issuer whose signature verifies but that may not
    // issue): reported when no path reaches a given certificate.
    let mut refused = None;
    let mut refuse = |issuer: &Certificate, given: Option<&TrustedCert>, issued, problem| {
        refused.get_or_insert(Failure::CannotIssue(Box::new(Refusal {
            cert: issuer.tbs_certificate.subject.to_string(),
            given: given.map(|t| t.path.display().to_string()),
            issued,
            problem,
        })));
    };
    // Non-self-issued intermediates strictly between the signer's
    // certificate (depth 0) and the current one.
    let mut below = 0;
    let mut prev: Option<usize> = None;
    for depth in 0..MAX_CHAIN {
        let cur = &embedded[at];
        let cur_tbs = &cur.cert.tbs_certificate;
        // The same key as a given certificate: the signer itself is trusted
        // directly; higher up, that given certificate is the anchor that
        // issued the certificate below.
        for t in trusted.iter().filter(|t| {
            t.cert.tbs_certificate.subject_public_key_info == cur_tbs.subject_public_key_info
        }) {
            let Some(p) = prev else { return Ok(t) };
            match may_issue(&t.cert, Role::Anchor, below) {
                Ok(()) => return Ok(t),
                Err(problem) => refuse(
                    &t.cert,
                    Some(t),
                    embedded[p].cert.tbs_certificate.subject.to_string(),
                    problem,
                ),
            }
        }
        let issuer = &cur_tbs.issuer;
        let next_below = below + usize::from(depth > 0 && !self_issued(&cur.cert));
        for t in trusted.iter().filter(|t| {
            &t.cert.tbs_certificate.subject == issuer
                && cur.issued_by(&t.cert.tbs_certificate.subject_public_key_info)
        }) {
            match may_issue(&t.cert, Role::Anchor, next_below) {
                Ok(()) => return Ok(t),
                Err(problem) => refuse(&t.cert, Some(t), cur_tbs.subject.to_string(), problem),
            }
        }
        let mut next = None;
        for (i, e) in embedded.iter().enumerate().filter(|(i, e)| {
            *i != at
                && &e.cert.tbs_certificate.subject == issuer
                && cur.issued_by(&e.cert.tbs_certificate.subject_public_key_info)
        }) {
            match may_issue(&e.cert, Role::Intermediate, next_below) {
                Ok(()) => {
                    next = Some(i);
                    break;
                }
                Err(problem) => refuse(&e.cert, None, cur_tbs.subject.to_string(), problem),
            }
        }
        let Some(i) = next else { break };
        prev = Some(at);
        at = i;
        below = next_below;
    }
    Err(refused.unwrap_or_else(|| {
        if trusted.is_empty() {
            Failure::NoCertificate
        } else {
            Failure::Untrusted {
                issuer: embedded[first].cert.tbs_certificate.issuer.to_string(),
            }
        }
    }))
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
) -> Result<(), KeyFailure> {
    let named = HashAlg::of_signature(sig_alg);
    let hash = match (hash, named) {
        (Some(h), Some(n)) if h != n => return Err(KeyFailure::HashDisagrees(*sig_alg)),
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => return Err(KeyFailure::UnsupportedSignature(*sig_alg)),
    };
    let digest = hash.digest(message);
    let key = spki.subject_public_key.raw_bytes();
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            if !matches!(
                *sig_alg,
                RSA_ENCRYPTION | SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA
            ) {
                return Err(KeyFailure::WrongKeyType {
                    algorithm: *sig_alg,
                    key: "RSA",
                });
            }
            use rsa::pkcs1::DecodeRsaPublicKey;
            let pk = rsa::RsaPublicKey::from_pkcs1_der(key)
                .map_err(|e| KeyFailure::BadRsaKey(e.to_string()))?;
            let scheme = match hash {
                HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            pk.verify(scheme, &digest, signature)
                .map_err(|_| KeyFailure::Mismatch("RSA"))
        }
        EC_PUBLIC_KEY => {
            if !matches!(
                *sig_alg,
                EC_PUBLIC_KEY | ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512
            ) {
                return Err(KeyFailure::WrongKeyType {
                    algorithm: *sig_alg,
                    key: "EC",
                });
            }
            use ecdsa::signature::hazmat::PrehashVerifier;
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            let bad = |e: ecdsa::Error| KeyFailure::Ecdsa(e.to_string());
            match curve {
                Some(P256) => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(bad)?;
                    let s = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    vk.verify_prehash(&digest, &s)
                        .map_err(|_| KeyFailure::Mismatch("ECDSA P-256"))
                }
                Some(P384) => {
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(bad)?;
                    let s = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
                    vk.verify_prehash(&digest, &s)
                        .map_err(|_| KeyFailure::Mismatch("ECDSA P-384"))
                }
                other => Err(KeyFailure::UnsupportedCurve(other)),
            }
        }
        other => Err(KeyFailure::UnsupportedKey(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            error: Some(Failure::NoCertificate.into()),
        };
        assert_eq!(
            s.json(),
            "{\"verified\":false,\"signer\":\"CN=a \\\"b\\\"\",\"serial\":null,\"cert\":null,\"error\":\"no certificate given\"}"
        );
    }

    #[test]
    fn failure_messages() {
        assert_eq!(Failure::Unsigned.to_string(), "the image is not signed");
        assert_eq!(
            Failure::DigestMismatch {
                trailing_bytes: 4096
            }
            .to_string(),
            "the image's Authenticode digest differs from the signed digest: \
             4096 bytes follow the certificate table (--output --trim drops them)"
        );
        assert_eq!(
            Failure::CertTable(CertProblem::BadType).to_string(),
            "WIN_CERTIFICATE type is not PKCS#7 SignedData"
        );
        assert_eq!(
            Failure::BadSignature {
                given: None,
                error: KeyFailure::Mismatch("RSA")
            }
            .to_string(),
            "the signature does not verify with the signer's certificate: RSA signature mismatch"
        );
        let unsigned = Signature::unsigned();
        assert!(!unsigned.is_failure());
        assert_eq!(unsigned.reason(), Some(&Failure::Unsigned));
        assert_eq!(unsigned.error.as_deref(), Some("the image is not signed"));
        assert!(unsigned.text().contains("none: the image is not signed"));
        let failed = Signature::failed(Failure::NoDigest);
        assert!(failed.is_failure());
        assert!(failed
            .json()
            .ends_with("\"error\":\"no Authenticode digest to compare with the signed one\"}"));
    }

    // Certificates made here: P-256 keys from fixed scalars (no RNG, no
    // openssl), signed with ecdsa-with-SHA256.
    mod chain {
        use super::super::*;
        use der::asn1::{BitString, OctetString};
        use der::oid::AssociatedOid;
        use ecdsa::signature::Signer;
        use p256::ecdsa::SigningKey;
        use spki::AlgorithmIdentifierOwned;
        use std::str::FromStr;
        use std::time::Duration;
        use x509_cert::ext::pkix::KeyUsages;
        use x509_cert::ext::Extension;
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::time::Validity;
        use x509_cert::TbsCertificate;

        fn key(n: u8) -> SigningKey {
            SigningKey::from_bytes(&[n; 32].into()).unwrap()
        }

        fn bc(ca: bool, path_len_constraint: Option<u8>) -> Extension {
            let v = BasicConstraints {
                ca,
                path_len_constraint,
            };
            Extension {
                extn_id: BasicConstraints::OID,
                critical: true,
                extn_value: OctetString::new(v.to_der().unwrap()).unwrap(),
            }
        }

        fn ku(usages: KeyUsage) -> Extension {
            Extension {
                extn_id: KeyUsage::OID,
                critical: true,
                extn_value: OctetString::new(usages.to_der().unwrap()).unwrap(),
            }
        }

        fn cert_sign() -> Extension {
            ku(KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))
        }

        fn digital_signature() -> Extension {
            ku(KeyUsage(KeyUsages::DigitalSignature.into()))
        }

        /// DER of a certificate for `subject` (key `key`), issued by
        /// `issuer` (key `by`).
        fn cert(
            subject: &str,
            key: &SigningKey,
            issuer: &str,
            by: &SigningKey,
            version: Version,
            exts: Vec<Extension>,
        ) -> Vec<u8> {
            let alg = AlgorithmIdentifierOwned {
                oid: ECDSA_SHA256,
                parameters: None,
            };
            let point = key.verifying_key().to_encoded_point(false);
            let tbs = TbsCertificate {
                version,
                serial_number: SerialNumber::new(&[1]).unwrap(),
                signature: alg.clone(),
                issuer: Name::from_str(issuer).unwrap(),
                validity: Validity::from_now(Duration::from_secs(3600)).unwrap(),
                subject: Name::from_str(subject).unwrap(),
                subject_public_key_info: SubjectPublicKeyInfoOwned {
                    algorithm: AlgorithmIdentifierOwned {
                        oid: EC_PUBLIC_KEY,
                        parameters: Some(der::Any::encode_from(&P256).unwrap()),
                    },
                    subject_public_key: BitString::from_bytes(point.as_bytes()).unwrap(),
                },
                issuer_unique_id: None,
                subject_unique_id: None,
                extensions: (!exts.is_empty()).then_some(exts),
            };
            let sig: p256::ecdsa::Signature = by.sign(&tbs.to_der().unwrap());
            Certificate {
                tbs_certificate: tbs,
                signature_algorithm: alg,
                signature: BitString::from_bytes(sig.to_der().as_bytes()).unwrap(),
            }
            .to_der()
            .unwrap()
        }

        fn trusted(der: &[u8]) -> TrustedCert {
            TrustedCert {
                path: "ca.pem".into(),
                cert: Certificate::from_der(der).unwrap(),
            }
        }

        /// chain_to_trusted from the first of `chain` (the signer's
        /// certificate, then the embedded ones) to `anchor`.
        fn walk(chain: &[&[u8]], anchor: &[u8]) -> Result<(), Failure> {
            let embedded: Vec<_> = chain.iter().map(|c| Embedded::parse(c).unwrap()).collect();
            chain_to_trusted(&embedded, 0, &[trusted(anchor)])
                .map(|t| assert_eq!(t.path, PathBuf::from("ca.pem")))
        }

        fn problem(r: Result<(), Failure>) -> (String, Option<String>, String, CaProblem) {
            match r {
                Err(Failure::CannotIssue(r)) => (r.cert, r.given, r.issued, r.problem),
                other => panic!("expected CannotIssue, got {other:?}"),
            }
        }

        fn ca() -> Vec<u8> {
            cert(
                "CN=ca",
                &key(1),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, None)],
            )
        }

        #[test]
        fn leaf_cannot_sign_certificates() {
            // CA -> leaf1 (cA=FALSE) -> leaf2: leaf1 may not act as an intermediate.
            let ca = ca();
            let leaf1 = cert(
                "CN=leaf1",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(false, None), digital_signature()],
            );
            let leaf2 = cert(
                "CN=leaf2",
                &key(3),
                "CN=leaf1",
                &key(2),
                Version::V3,
                vec![bc(false, None)],
            );
            let r = walk(&[&leaf2, &leaf1], &ca);
            assert_eq!(
                r.clone().unwrap_err().to_string(),
                "certificate CN=leaf1 is not a CA (basicConstraints cA=FALSE) and cannot issue CN=leaf2"
            );
            assert_eq!(
                problem(r),
                ("CN=leaf1".into(), None, "CN=leaf2".into(), CaProblem::NotCa)
            );
            // Without basicConstraints at all (a v1 certificate): not a CA either.
            let leaf1 = cert("CN=leaf1", &key(2), "CN=ca", &key(1), Version::V1, vec![]);
            assert_eq!(
                problem(walk(&[&leaf2, &leaf1], &ca)).3,
                CaProblem::NoBasicConstraints
            );
            // A keyUsage with keyCertSign does not make an intermediate a CA.
            let leaf1 = cert(
                "CN=leaf1",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![cert_sign()],
            );
            assert_eq!(
                problem(walk(&[&leaf2, &leaf1], &ca)).3,
                CaProblem::NoBasicConstraints
            );
            // leaf1 as the signer, issued by the CA directly: fine.
            assert_eq!(walk(&[&leaf1], &ca), Ok(()));
        }

        #[test]
        fn ca_intermediate_chains() {
            let ca = ca();
            let leaf = cert(
                "CN=leaf",
                &key(3),
                "CN=inter",
                &key(2),
                Version::V3,
                vec![bc(false, None)],
            );
            for exts in [vec![bc(true, None), cert_sign()], vec![bc(true, None)]] {
                let inter = cert("CN=inter", &key(2), "CN=ca", &key(1), Version::V3, exts);
                assert_eq!(walk(&[&leaf, &inter], &ca), Ok(()));
            }
            // keyUsage present without keyCertSign.
            let inter = cert(
                "CN=inter",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, None), digital_signature()],
            );
            let r = walk(&[&leaf, &inter], &ca);
            assert_eq!(
                r.clone().unwrap_err().to_string(),
                "certificate CN=inter cannot issue CN=leaf: keyUsage lacks keyCertSign"
            );
            assert_eq!(problem(r).3, CaProblem::NoKeyCertSign);
        }

        #[test]
        fn anchor_must_be_allowed_to_issue() {
            let leaf = cert("CN=leaf", &key(3), "CN=ca", &key(1), Version::V3, vec![]);
            let anchor = |version, exts| cert("CN=ca", &key(1), "CN=ca", &key(1), version, exts);
            // cA=FALSE, or a keyUsage without keyCertSign: refused.
            let r = walk(&[&leaf], &anchor(Version::V3, vec![bc(false, None)]));
            assert_eq!(
                problem(r.clone()),
                (
                    "CN=ca".into(),
                    Some("ca.pem".into()),
                    "CN=leaf".into(),
                    CaProblem::NotCa
                )
            );
            assert_eq!(
                r.unwrap_err().to_string(),
                "certificate CN=ca (--cert ca.pem) is not a CA (basicConstraints cA=FALSE) and cannot issue CN=leaf"
            );
            let r = walk(
                &[&leaf],
                &anchor(Version::V3, vec![bc(true, None), digital_signature()]),
            );
            assert_eq!(problem(r).3, CaProblem::NoKeyCertSign);
            // Like OpenSSL's X509_check_ca(): a version 1 self-signed root, or
            // a keyUsage with keyCertSign, is a CA without basicConstraints.
            assert_eq!(walk(&[&leaf], &anchor(Version::V1, vec![])), Ok(()));
            assert_eq!(
                walk(&[&leaf], &anchor(Version::V3, vec![cert_sign()])),
                Ok(())
            );
            let r = walk(&[&leaf], &anchor(Version::V3, vec![]));
            assert_eq!(problem(r).3, CaProblem::NoBasicConstraints);
            // Two basicConstraints: refused.
            let r = walk(
                &[&leaf],
                &anchor(Version::V3, vec![bc(true, None), bc(true, None)]),
            );
            assert_eq!(
                problem(r).3,
                CaProblem::BadExtension {
                    name: "basicConstraints",
                    error: None
                }
            );
        }

        #[test]
        fn given_signer_needs_no_ca_bits() {
            // The signer's own certificate, given with --cert (same key):
            // trusted directly, whatever its basicConstraints say.
            let leaf = cert(
                "CN=leaf",
                &key(3),
                "CN=leaf1",
                &key(2),
                Version::V3,
                vec![bc(false, None)],
            );
            let leaf1 = cert(
                "CN=leaf1",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(false, None)],
            );
            assert_eq!(walk(&[&leaf, &leaf1], &leaf), Ok(()));
        }

        #[test]
        fn path_len_constraint() {
            let leaf = |issuer: &str, by: u8| {
                cert("CN=leaf", &key(9), issuer, &key(by), Version::V3, vec![])
            };
            let ca0 = cert(
                "CN=ca",
                &key(1),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, Some(0))],
            );
            let inter = cert(
                "CN=inter",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, None)],
            );
            // pathLenConstraint 0: no intermediate below the CA.
            assert_eq!(walk(&[&leaf("CN=ca", 1)], &ca0), Ok(()));
            let r = walk(&[&leaf("CN=inter", 2), &inter], &ca0);
            assert_eq!(
                r.clone().unwrap_err().to_string(),
                "certificate CN=ca (--cert ca.pem) cannot issue CN=inter: \
                 pathLenConstraint 0 exceeded (1 intermediate certificate below it)"
            );
            assert_eq!(problem(r).3, CaProblem::PathLen { limit: 0, below: 1 });
            // On an intermediate: ca -> inter (0) -> inter2 -> leaf.
            let inter0 = cert(
                "CN=inter",
                &key(2),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, Some(0))],
            );
            let inter2 = cert(
                "CN=inter2",
                &key(4),
                "CN=inter",
                &key(2),
                Version::V3,
                vec![bc(true, None)],
            );
            let r = walk(&[&leaf("CN=inter2", 4), &inter2, &inter0], &ca());
            assert_eq!(problem(r).0, "CN=inter");
            assert_eq!(walk(&[&leaf("CN=inter", 2), &inter0], &ca()), Ok(()));
            // ca (1) -> inter -> inter2 -> leaf: two below, one allowed.
            let ca1 = cert(
                "CN=ca",
                &key(1),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, Some(1))],
            );
            let r = walk(&[&leaf("CN=inter2", 4), &inter2, &inter], &ca1);
            assert_eq!(problem(r).3, CaProblem::PathLen { limit: 1, below: 2 });
            assert_eq!(walk(&[&leaf("CN=inter", 2), &inter], &ca1), Ok(()));
            // A self-issued intermediate (a key rollover: same name, new key)
            // does not count.
            let rollover = cert(
                "CN=ca",
                &key(5),
                "CN=ca",
                &key(1),
                Version::V3,
                vec![bc(true, None)],
            );
            assert_eq!(walk(&[&leaf("CN=ca", 5), &rollover], &ca0), Ok(()));
        }

        #[test]
        fn unrelated_anchor() {
            let leaf = cert("CN=leaf", &key(3), "CN=ca", &key(1), Version::V3, vec![]);
            let other = cert(
                "CN=other",
                &key(7),
                "CN=other",
                &key(7),
                Version::V3,
                vec![bc(true, None)],
            );
            assert_eq!(
                walk(&[&leaf], &other),
                Err(Failure::Untrusted {
                    issuer: "CN=ca".into()
                })
            );
        }
    }
}
