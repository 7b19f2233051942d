//! The JSON report line both probe-run and the kernel module print: one
//! object per image, the same keys in the same order everywhere ([`Key`]),
//! `null` where a key does not apply. Callers may append keys of their own
//! (probe-run's `signature`), and write the same line for an input that could
//! not be read at all ([`Line::Unread`]), so the key list exists once.

use core::fmt::{self, Write};

use crate::authenticode::{AuthenticodeInfo, SignedDigestError};
use crate::error::errno_name;
use crate::pe::CertCheck;
use crate::report::{Report, Verdict};

/// The keys of a line, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Key {
    Path,
    Ok,
    Errno,
    ErrnoName,
    Error,
    Format,
    InputSize,
    ImageBytes,
    Header,
    Pe,
    Gzip,
    Zstd,
    Zboot,
    Uki,
    Authenticode,
    UkiAuthenticode,
    KdumpBytesNeeded,
    CrashkernelMin,
    Quick,
}

impl Key {
    /// Every key, in the order a line has them.
    pub const ALL: [Key; 19] = [
        Key::Path,
        Key::Ok,
        Key::Errno,
        Key::ErrnoName,
        Key::Error,
        Key::Format,
        Key::InputSize,
        Key::ImageBytes,
        Key::Header,
        Key::Pe,
        Key::Gzip,
        Key::Zstd,
        Key::Zboot,
        Key::Uki,
        Key::Authenticode,
        Key::UkiAuthenticode,
        Key::KdumpBytesNeeded,
        Key::CrashkernelMin,
        Key::Quick,
    ];

    /// The key as it appears in the line.
    pub const fn name(self) -> &'static str {
        match self {
            Key::Path => "path",
            Key::Ok => "ok",
            Key::Errno => "errno",
            Key::ErrnoName => "errno_name",
            Key::Error => "error",
            Key::Format => "format",
            Key::InputSize => "input_size",
            Key::ImageBytes => "image_bytes",
            Key::Header => "header",
            Key::Pe => "pe",
            Key::Gzip => "gzip",
            Key::Zstd => "zstd",
            Key::Uki => "uki",
            Key::Zboot => "zboot",
            Key::Authenticode => "authenticode",
            Key::UkiAuthenticode => "uki_authenticode",
            Key::KdumpBytesNeeded => "kdump_bytes_needed",
            Key::CrashkernelMin => "crashkernel_min",
            Key::Quick => "quick",
        }
    }
}

/// What one line reports.
#[derive(Clone, Copy, Debug)]
pub enum Line<'a> {
    /// The verdict of a probe.
    Verdict(&'a Verdict),
    /// No verdict: the input could not be read (an OS errno and why).
    Unread {
        /// The errno.
        errno: i32,
        /// What failed.
        message: &'a str,
    },
}

/// One JSON object on one line (no newline). `path` is the name to report
/// (`null` when absent); `extra` are the caller's own keys with their values
/// as JSON text, written after the core's.
pub fn write_line<W: Write>(
    w: &mut W,
    path: Option<&str>,
    line: Line<'_>,
    extra: &[(&str, &str)],
) -> fmt::Result {
    let verdict = match line {
        Line::Verdict(v) => Some(v),
        Line::Unread { .. } => None,
    };
    let report = verdict.and_then(|v| v.result.as_ref().ok());
    let errno = match line {
        Line::Verdict(v) => v.errno(),
        Line::Unread { errno, .. } => errno,
    };
    for (i, key) in Key::ALL.iter().enumerate() {
        w.write_str(if i == 0 { "{\"" } else { ",\"" })?;
        w.write_str(key.name())?;
        w.write_str("\":")?;
        match (key, report) {
            (Key::Path, _) => opt_str(w, path)?,
            (Key::Ok, _) => write!(w, "{}", errno == 0)?,
            (Key::Errno, _) => write!(w, "{errno}")?,
            (Key::ErrnoName, _) => write!(w, "\"{}\"", errno_name(errno))?,
            (Key::Error, _) => match line {
                Line::Unread { message, .. } => write_str(w, message)?,
                Line::Verdict(v) => opt_str(w, v.result.as_ref().err().map(|e| e.message()))?,
            },
            (Key::Format, _) => match verdict.and_then(|v| v.format) {
                Some(f) => write!(w, "\"{}\"", f.name())?,
                None => w.write_str("null")?,
            },
            (Key::InputSize, _) => match verdict {
                Some(v) => write!(w, "{}", v.input_size)?,
                None => w.write_str("null")?,
            },
            (_, None) => w.write_str("null")?,
            (_, Some(r)) => report_value(w, *key, r, verdict)?,
        }
    }
    for (key, value) in extra {
        w.write_str(",")?;
        write_str(w, key)?;
        w.write_str(":")?;
        w.write_str(value)?;
    }
    w.write_str("}")
}

/// The value of a key that only a valid image has.
fn report_value<W: Write>(w: &mut W, key: Key, r: &Report, v: Option<&Verdict>) -> fmt::Result {
    let h = &r.header;
    match key {
        // The quick probe does not know the image's length: the last gzip
        // member's trailer (in "gzip") is only what one member claims.
        Key::ImageBytes if r.quick => w.write_str("null"),
        Key::ImageBytes => write!(w, "{}", r.image_bytes),
        Key::Header => {
            write!(
                w,
                "{{\"text_offset\":{},\"image_size\":{},\"flags\":{},\"big_endian\":{},\"page_size\":",
                h.text_offset,
                h.image_size,
                h.flags,
                h.big_endian()
            )?;
            match h.page_size().bytes() {
                Some(b) => write!(w, "{b}")?,
                None => w.write_str("null")?,
            }
            write!(
                w,
                ",\"phys_placement_anywhere\":{},\"reserved_nonzero\":{},\"exceeds_image_size\":{}}}",
                h.phys_placement_anywhere(),
                h.reserved_nonzero(),
                r.exceeds_image_size()
            )
        }
        Key::Pe => match &r.pe {
            Some(pe) => {
                write!(
                    w,
                    "{{\"machine\":{},\"signed\":{},\"signature_size\":{},\"cert_offset\":",
                    pe.machine,
                    pe.signed(),
                    pe.signature_size()
                )?;
                match pe.cert {
                    Some(c) => write!(w, "{}", c.offset)?,
                    None => w.write_str("null")?,
                }
                w.write_str(",\"cert_checked\":")?;
                w.write_str(match pe.cert.map(|c| c.check) {
                    Some(CertCheck::Sane { .. } | CertCheck::Broken(_)) => "true",
                    _ => "false",
                })?;
                w.write_str(",\"cert_problem\":")?;
                opt_str(w, pe.cert_problem().map(|p| p.message()))?;
                write!(w, ",\"trailing_bytes\":{}}}", pe.trailing_bytes)
            }
            None => w.write_str("null"),
        },
        Key::Gzip => match &r.gzip {
            Some(g) => {
                w.write_str("{\"members\":")?;
                if g.members == 0 {
                    w.write_str("null")?;
                } else {
                    write!(w, "{}", g.members)?;
                }
                write!(w, ",\"crc32\":{},\"isize\":{}}}", g.crc32, g.isize)
            }
            None => w.write_str("null"),
        },
        Key::Zstd => match &r.zstd {
            Some(z) => {
                write!(
                    w,
                    "{{\"frames\":{},\"skippable_frames\":{},\"window_size\":{},\"content_size\":",
                    z.frames, z.skippable_frames, z.window_size
                )?;
                match z.content_size {
                    Some(c) => write!(w, "{c}")?,
                    None => w.write_str("null")?,
                }
                write!(w, ",\"checksummed\":{}}}", z.checksummed)
            }
            None => w.write_str("null"),
        },
        Key::Zboot => match &r.zboot {
            Some(z) => write!(
                w,
                "{{\"compression\":\"{}\",\"payload_offset\":{},\"payload_size\":{}}}",
                z.compression.name(),
                z.payload_offset,
                z.payload_size
            ),
            None => w.write_str("null"),
        },
        Key::Uki => match &r.uki {
            Some(u) => write_uki(w, u, r.inner_format),
            None => w.write_str("null"),
        },
        Key::Authenticode => match v.and_then(|v| v.authenticode.as_ref()) {
            Some(a) => write_authenticode(w, a),
            None => w.write_str("null"),
        },
        Key::UkiAuthenticode => match v.and_then(|v| v.uki_authenticode.as_ref()) {
            Some(a) => write_authenticode(w, a),
            None => w.write_str("null"),
        },
        Key::KdumpBytesNeeded => write!(w, "{}", r.kdump_bytes_needed()),
        Key::CrashkernelMin => {
            write!(w, "{}", r.crashkernel_min(v.map_or(0, |v| v.initrd_size)))
        }
        Key::Quick => write!(w, "{}", r.quick),
        // Written by write_line for every line.
        Key::Path
        | Key::Ok
        | Key::Errno
        | Key::ErrnoName
        | Key::Error
        | Key::Format
        | Key::InputSize => w.write_str("null"),
    }
}

impl Verdict {
    /// The line for this verdict, without keys of the caller's own.
    pub fn write_json<W: Write>(&self, w: &mut W, path: Option<&str>) -> fmt::Result {
        write_line(w, path, Line::Verdict(self), &[])
    }
}

/// A string or `null`.
/// The valid UTF-8 prefix of `b` (section text is not checked by anyone).
fn utf8_prefix(b: &[u8]) -> &str {
    match core::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => {
            core::str::from_utf8(b.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    }
}

/// `{"inner_format", "linux_offset", "linux_size", "initrd_offset",
/// "initrd_size", "cmdline" (its first 256 bytes), "cmdline_size", "uname",
/// "osrel", "dtbs", "profiles", "signed"}`.
fn write_uki<W: Write>(
    w: &mut W,
    u: &crate::uki::UkiInfo,
    inner: Option<crate::Format>,
) -> fmt::Result {
    w.write_str("{\"inner_format\":")?;
    opt_str(w, inner.map(|f| f.name()))?;
    write!(
        w,
        ",\"linux_offset\":{},\"linux_size\":{}",
        u.linux.offset, u.linux.size
    )?;
    match u.initrd {
        Some(s) => write!(
            w,
            ",\"initrd_offset\":{},\"initrd_size\":{}",
            s.offset, s.size
        )?,
        None => w.write_str(",\"initrd_offset\":null,\"initrd_size\":null")?,
    }
    w.write_str(",\"cmdline\":")?;
    opt_str(w, u.cmdline().map(utf8_prefix))?;
    w.write_str(",\"cmdline_size\":")?;
    match u.cmdline {
        Some(s) => write!(w, "{}", s.size)?,
        None => w.write_str("null")?,
    }
    w.write_str(",\"uname\":")?;
    opt_str(w, u.uname().map(utf8_prefix))?;
    write!(
        w,
        ",\"osrel\":{},\"dtbs\":{},\"profiles\":{},\"signed\":{}}}",
        u.osrel.is_some(),
        u.dtbs,
        u.profiles,
        u.outer_cert.is_some()
    )
}

fn opt_str<W: Write>(w: &mut W, s: Option<&str>) -> fmt::Result {
    match s {
        Some(s) => write_str(w, s),
        None => w.write_str("null"),
    }
}

/// `{"digest": hex, "digest_error": .., "signed_digest": hex, "signed_digest_algorithm": ..,
/// "signed_digest_error": .., "digest_matches": bool}`, nulls where unknown.
fn write_authenticode<W: Write>(w: &mut W, a: &AuthenticodeInfo) -> fmt::Result {
    w.write_str("{\"digest\":")?;
    match &a.digest {
        Ok(d) => write_hex(w, d)?,
        Err(_) => w.write_str("null")?,
    }
    w.write_str(",\"digest_error\":")?;
    match &a.digest {
        Ok(_) => w.write_str("null")?,
        Err(e) => write_str(w, e.message())?,
    }
    w.write_str(",\"signed_digest\":")?;
    match &a.signed {
        Ok(s) => write_hex(w, s.as_bytes())?,
        Err(_) => w.write_str("null")?,
    }
    w.write_str(",\"signed_digest_algorithm\":")?;
    match &a.signed {
        Ok(s) => write!(w, "\"{}\"", s.algorithm.name())?,
        Err(_) => w.write_str("null")?,
    }
    // Unsigned is no problem of the signature's (there is none); anything
    // else that left no digest is named.
    w.write_str(",\"signed_digest_error\":")?;
    match &a.signed {
        Ok(_) | Err(SignedDigestError::Unsigned) => w.write_str("null")?,
        Err(e) => write_str(w, e.message())?,
    }
    w.write_str(",\"digest_matches\":")?;
    match a.digest_matches() {
        Some(m) => write!(w, "{m}")?,
        None => w.write_str("null")?,
    }
    w.write_str("}")
}

/// Bytes as a lowercase hex JSON string.
pub fn write_hex<W: Write>(w: &mut W, bytes: &[u8]) -> fmt::Result {
    w.write_char('"')?;
    for b in bytes {
        write!(w, "{b:02x}")?;
    }
    w.write_char('"')
}

/// A JSON string literal with the escapes RFC 8259 requires.
pub fn write_str<W: Write>(w: &mut W, s: &str) -> fmt::Result {
    w.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(w, "\\u{:04x}", u32::from(c))?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}
/// A report line in fixed memory, for callers without an allocator (the
/// kernel module). 2 KiB holds every report with a path of up to ~1 KiB.
pub type ReportLine = heapless::String<2048>;

/// The kernel module allocates a `ReportLine` zeroed (the empty string for
/// heapless 0.8.0: a zero length and uninitialised bytes); this is the layout
/// that was checked, and heapless is pinned to it (Cargo.toml).
#[cfg(target_pointer_width = "64")]
const _: () =
    assert!(core::mem::size_of::<ReportLine>() == 2056 && core::mem::align_of::<ReportLine>() == 8);

impl Verdict {
    /// The JSON line plus a newline in a fixed buffer; `None` if `path` is
    /// too long to fit.
    pub fn json_line(&self, path: Option<&str>) -> Option<ReportLine> {
        let mut line = ReportLine::new();
        self.write_json(&mut line, path).ok()?;
        line.push('\n').ok()?;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::Format;
    use crate::error::ProbeError;

    #[test]
    fn json_escapes() {
        let mut s = std::string::String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}é").unwrap();
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn error_json_has_every_key() {
        let v = Verdict {
            result: Err(ProbeError::CrcMismatch),
            format: Some(Format::Gzip),
            input_size: 10,
            initrd_size: 0,
            authenticode: None,
            uki_authenticode: None,
        };
        let line = v.json_line(Some("x.gz")).unwrap();
        assert_eq!(
            line.as_str(),
            "{\"path\":\"x.gz\",\"ok\":false,\"errno\":74,\"errno_name\":\"EBADMSG\",\
             \"error\":\"gzip CRC32 mismatch\",\"format\":\"gzip\",\"input_size\":10,\
             \"image_bytes\":null,\"header\":null,\"pe\":null,\"gzip\":null,\"zstd\":null,\"zboot\":null,\"uki\":null,\
             \"authenticode\":null,\"uki_authenticode\":null,\"kdump_bytes_needed\":null,\"crashkernel_min\":null,\
             \"quick\":null}\n"
        );
    }

    #[test]
    fn unread_line_with_extra_keys() {
        let mut s = std::string::String::new();
        write_line(
            &mut s,
            Some("a\"b"),
            Line::Unread {
                errno: 2,
                message: "No such file",
            },
            &[("signature", "null")],
        )
        .unwrap();
        assert_eq!(
            s,
            "{\"path\":\"a\\\"b\",\"ok\":false,\"errno\":2,\"errno_name\":\"ENOENT\",\
             \"error\":\"No such file\",\"format\":null,\"input_size\":null,\"image_bytes\":null,\
             \"header\":null,\"pe\":null,\"gzip\":null,\"zstd\":null,\"zboot\":null,\"uki\":null,\"authenticode\":null,\
             \"uki_authenticode\":null,\"kdump_bytes_needed\":null,\"crashkernel_min\":null,\"quick\":null,\"signature\":null}"
        );
    }

    use crate::authenticode::{DigestAlgorithm, DigestError, SignedDigest};
    use crate::container::Compression;
    use crate::image::Arm64ImageHeader;
    use crate::pe::{CertProblem, CertTable, PeInfo};
    use crate::report::GzipInfo;
    use crate::zboot::ZbootHeader;

    fn verdict(r: Report, initrd_size: u64, a: Option<AuthenticodeInfo>) -> Verdict {
        Verdict {
            format: Some(r.format),
            input_size: r.input_size,
            result: Ok(r),
            initrd_size,
            authenticode: a,
            uki_authenticode: None,
        }
    }

    fn pe(cert: Option<CertTable>, trailing_bytes: u64) -> Option<PeInfo> {
        Some(PeInfo {
            pe_offset: 0x40,
            machine: crate::pe::MACHINE_ARM64,
            size_of_headers: 0x200,
            cert,
            trailing_bytes,
        })
    }

    /// A signed Image.gz whose signature matches: every key of a valid line.
    #[test]
    fn signed_gzip_line() {
        let r = Report {
            format: Format::Gzip,
            input_size: 5_000_000,
            image_bytes: 0x100_0000,
            header: Arm64ImageHeader {
                image_size: 0x140_0000,
                flags: 0b1010,
                ..Default::default()
            },
            pe: pe(
                Some(CertTable {
                    offset: 0x100_0000 - 0x800,
                    size: 0x800,
                    check: CertCheck::Sane {
                        revision: 0x200,
                        cert_type: 2,
                        length: 0x7F9,
                        pkcs7_len: 0x7F1,
                    },
                }),
                0,
            ),
            gzip: Some(GzipInfo {
                members: 2,
                crc32: 0x1234_5678,
                isize: 0x100_0000,
            }),
            zboot: None,
            zstd: None,
            inner_format: None,
            uki: None,
            quick: false,
        };
        let a = AuthenticodeInfo {
            digest: Ok([0xAB; 32]),
            signed: Ok(SignedDigest {
                algorithm: DigestAlgorithm::Sha256,
                bytes: [0xAB; 64],
                len: 32,
            }),
        };
        let line = verdict(r, 3 << 20, Some(a))
            .json_line(Some("/boot/Image.gz"))
            .unwrap();
        let ab = "ab".repeat(32);
        assert_eq!(
            line.as_str(),
            std::format!(
                "{{\"path\":\"/boot/Image.gz\",\"ok\":true,\"errno\":0,\"errno_name\":\"OK\",\
                 \"error\":null,\"format\":\"gzip\",\"input_size\":5000000,\"image_bytes\":16777216,\
                 \"header\":{{\"text_offset\":0,\"image_size\":20971520,\"flags\":10,\"big_endian\":false,\
                 \"page_size\":4096,\"phys_placement_anywhere\":true,\"reserved_nonzero\":false,\
                 \"exceeds_image_size\":false}},\
                 \"pe\":{{\"machine\":43620,\"signed\":true,\"signature_size\":2048,\"cert_offset\":16775168,\
                 \"cert_checked\":true,\"cert_problem\":null,\"trailing_bytes\":0}},\
                 \"gzip\":{{\"members\":2,\"crc32\":305419896,\"isize\":16777216}},\"zstd\":null,\"zboot\":null,\"uki\":null,\
                 \"authenticode\":{{\"digest\":\"{ab}\",\"digest_error\":null,\"signed_digest\":\"{ab}\",\
                 \"signed_digest_algorithm\":\"sha256\",\"signed_digest_error\":null,\"digest_matches\":true}},\"uki_authenticode\":null,\
                 \"kdump_bytes_needed\":20971520,\"crashkernel_min\":27262976,\"quick\":false}}\n"
            )
        );
    }

    /// A quick probe of a zboot file: no image length, members unknown, the
    /// certificate table not checked, no digest.
    #[test]
    fn quick_zboot_line() {
        let r = Report {
            format: Format::Zboot,
            input_size: 9000,
            image_bytes: 0x2000,
            header: Arm64ImageHeader {
                text_offset: 0x80000,
                image_size: 0x1F00,
                flags: 0b111,
                res2: 1,
                ..Default::default()
            },
            pe: pe(
                Some(CertTable {
                    offset: 0x3000,
                    size: 0x100,
                    check: CertCheck::NotChecked,
                }),
                5,
            ),
            gzip: Some(GzipInfo {
                members: 0,
                crc32: 0,
                isize: 0x2000,
            }),
            zstd: None,
            inner_format: None,
            uki: None,
            zboot: Some(ZbootHeader {
                payload_offset: 0x1000,
                payload_size: 4000,
                compression: Compression::Gzip,
            }),
            quick: true,
        };
        let a = AuthenticodeInfo {
            digest: Err(DigestError::TooManySections),
            signed: Err(SignedDigestError::NotAuthenticodePkcs7),
        };
        let line = verdict(r, 0, Some(a))
            .json_line(Some("vmlinuz.efi"))
            .unwrap();
        assert_eq!(
            line.as_str(),
            "{\"path\":\"vmlinuz.efi\",\"ok\":true,\"errno\":0,\"errno_name\":\"OK\",\"error\":null,\
             \"format\":\"zboot\",\"input_size\":9000,\"image_bytes\":null,\
             \"header\":{\"text_offset\":524288,\"image_size\":7936,\"flags\":7,\"big_endian\":true,\
             \"page_size\":65536,\"phys_placement_anywhere\":false,\"reserved_nonzero\":true,\
             \"exceeds_image_size\":true},\
             \"pe\":{\"machine\":43620,\"signed\":true,\"signature_size\":256,\"cert_offset\":12288,\
             \"cert_checked\":false,\"cert_problem\":null,\"trailing_bytes\":5},\
             \"gzip\":{\"members\":null,\"crc32\":0,\"isize\":8192},\"zstd\":null,\
             \"zboot\":{\"compression\":\"gzip\",\"payload_offset\":4096,\"payload_size\":4000},\"uki\":null,\
             \"authenticode\":{\"digest\":null,\"digest_error\":\"more than 96 PE sections\",\
             \"signed_digest\":null,\"signed_digest_algorithm\":null,\"signed_digest_error\":\
             \"the certificate table holds no readable Authenticode PKCS#7 signature\",\
             \"digest_matches\":null},\"uki_authenticode\":null,\
             \"kdump_bytes_needed\":2097152,\"crashkernel_min\":4194304,\"quick\":true}\n"
        );
    }

    /// A raw Image with a broken certificate table and a SHA-1 signature:
    /// hex of every byte value, no comparison, the problem named.
    #[test]
    fn raw_image_line_with_broken_table() {
        let r = Report {
            format: Format::Image,
            input_size: 8192,
            image_bytes: 8192,
            header: Arm64ImageHeader {
                image_size: 8192,
                ..Default::default()
            },
            pe: pe(
                Some(CertTable {
                    offset: 0x1800,
                    size: 0x800,
                    check: CertCheck::Broken(CertProblem::WrapperTooLong),
                }),
                0,
            ),
            gzip: None,
            zboot: None,
            zstd: None,
            inner_format: None,
            uki: None,
            quick: false,
        };
        let mut digest = [0u8; 32];
        for (i, b) in digest.iter_mut().enumerate() {
            *b = (i as u8) * 8 + 7;
        }
        let a = AuthenticodeInfo {
            digest: Ok(digest),
            signed: Ok(SignedDigest {
                algorithm: DigestAlgorithm::Sha1,
                bytes: [0xEE; 64],
                len: 20,
            }),
        };
        let line = verdict(r, 1, Some(a)).json_line(None).unwrap();
        assert_eq!(
            line.as_str(),
            std::format!(
                "{{\"path\":null,\"ok\":true,\"errno\":0,\"errno_name\":\"OK\",\"error\":null,\
                 \"format\":\"image\",\"input_size\":8192,\"image_bytes\":8192,\
                 \"header\":{{\"text_offset\":0,\"image_size\":8192,\"flags\":0,\"big_endian\":false,\
                 \"page_size\":null,\"phys_placement_anywhere\":false,\"reserved_nonzero\":false,\
                 \"exceeds_image_size\":false}},\
                 \"pe\":{{\"machine\":43620,\"signed\":false,\"signature_size\":2048,\"cert_offset\":6144,\
                 \"cert_checked\":true,\"cert_problem\":\
                 \"WIN_CERTIFICATE length is larger than the certificate table\",\"trailing_bytes\":0}},\
                 \"gzip\":null,\"zstd\":null,\"zboot\":null,\"uki\":null,\
                 \"authenticode\":{{\"digest\":\"070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff\",\
                 \"digest_error\":null,\"signed_digest\":\"{}\",\"signed_digest_algorithm\":\"sha1\",\
                 \"signed_digest_error\":null,\"digest_matches\":null}},\"uki_authenticode\":null,\
                 \"kdump_bytes_needed\":2097152,\"crashkernel_min\":4194304,\"quick\":false}}\n",
                "ee".repeat(20)
            )
        );
        // No PE view, no authenticode, unsigned.
        let mut plain = verdict(r, 0, None);
        if let Ok(rep) = plain.result.as_mut() {
            rep.pe = None;
        }
        let line = plain.json_line(Some("Image")).unwrap();
        assert!(
            line.contains(
                ",\"pe\":null,\"gzip\":null,\"zstd\":null,\"zboot\":null,\"uki\":null,\"authenticode\":null,"
            ),
            "{line}"
        );
    }

    #[test]
    fn control_characters_and_space() {
        let mut s = std::string::String::new();
        write_str(&mut s, "\u{1f} \u{7f}\t\r").unwrap();
        assert_eq!(s, "\"\\u001f \u{7f}\\t\\r\"");
        let mut h = std::string::String::new();
        write_hex(&mut h, &[0x00, 0x0F, 0xF0, 0xFF]).unwrap();
        assert_eq!(h, "\"000ff0ff\"");
    }
}
