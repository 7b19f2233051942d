//! The one report both probe-run and the kernel module print: a JSON line
//! (same keys and values everywhere) and a short human-readable form.

use core::fmt::{self, Write};

use crate::authenticode::{AuthenticodeInfo, SignedDigestError};
use crate::container::Format;
use crate::error::{errno_name, ProbeError};
use crate::image::{Arm64ImageHeader, Target};
use crate::pe::{CertCheck, PeInfo};
use crate::prober::header_of;
use crate::zboot::ZbootHeader;

/// gzip facts, from the last member's trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzipInfo {
    /// Members found; 0 when unknown (quick probe).
    pub members: u32,
    /// CRC32 from the trailer.
    pub crc32: u32,
    /// ISIZE from the trailer.
    pub isize: u32,
}

/// Everything a loader and a kdump set-up need to know about a valid image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// The container.
    pub format: Format,
    /// Bytes of input (the file as given).
    pub input_size: u64,
    /// Bytes of the decompressed Image. For a quick probe: the length the
    /// container claims (gzip ISIZE), not verified.
    pub image_bytes: u64,
    /// The arm64 Image header.
    pub header: Arm64ImageHeader,
    /// The PE/COFF view, for EFI kernels.
    pub pe: Option<PeInfo>,
    /// gzip facts, for gzip and zboot.
    pub gzip: Option<GzipInfo>,
    /// The zboot header, for zboot.
    pub zboot: Option<ZbootHeader>,
    /// Answered from the headers alone: nothing past them was inflated or
    /// checksummed.
    pub quick: bool,
}

impl Report {
    /// Validate a decompressed image (or its head, for a quick probe with
    /// `claimed_len`) and describe it.
    pub(crate) fn build(
        image: &[u8],
        target: Target,
        max_image_size: u64,
        format: Format,
        input_size: u64,
        gzip: Option<GzipInfo>,
        zboot: Option<ZbootHeader>,
    ) -> Result<Self, ProbeError> {
        Self::build_claimed(
            image,
            image.len() as u64,
            target,
            max_image_size,
            format,
            input_size,
            gzip,
            zboot,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build_claimed(
        image: &[u8],
        image_len: u64,
        target: Target,
        max_image_size: u64,
        format: Format,
        input_size: u64,
        gzip: Option<GzipInfo>,
        zboot: Option<ZbootHeader>,
    ) -> Result<Self, ProbeError> {
        let header = header_of(image, &target)?;
        let max_len = header.max_file_len(target.page_size)?;
        if image_len > max_len.min(max_image_size) {
            return Err(if max_len <= max_image_size {
                ProbeError::ImageLongerThanImageSize
            } else {
                ProbeError::TooBig
            });
        }
        let pe = if header.has_pe_header() {
            Some(PeInfo::parse(image, image_len)?)
        } else {
            None
        };
        Ok(Self {
            format,
            input_size,
            image_bytes: image_len,
            header,
            pe,
            gzip,
            zboot,
            quick: image_len != image.len() as u64,
        })
    }

    /// Memory the kernel segment takes in a crashkernel region:
    /// `text_offset + image_size` (`kbuf.memsz` in arm64's `image_load()`),
    /// rounded up to the segment's 2 MiB alignment (`MIN_KIMG_ALIGN`).
    pub fn kdump_bytes_needed(&self) -> u64 {
        self.header
            .kernel_segment_bytes()
            .ok()
            .and_then(|s| align_up(s, SZ_2M))
            .unwrap_or(u64::MAX)
    }

    /// The smallest `crashkernel=` reservation in which `kexec_file_load`
    /// with `KEXEC_FILE_ON_CRASH` can place this kernel and an initrd of
    /// `initrd_len` bytes (arm64's machine_kexec_file.c): the kernel at the
    /// 2 MiB-aligned start, the initrd right after it, then a 2 MiB-aligned
    /// slot for the device tree and, at the top, the ELF core header (64 KiB
    /// aligned). A smaller region makes the load fail with EADDRNOTAVAIL. The
    /// crash kernel needs more memory than this to *run*.
    pub fn crashkernel_min(&self, initrd_len: u64) -> u64 {
        let kernel = self
            .header
            .kernel_segment_bytes()
            .ok()
            .and_then(|s| align_up(s, SZ_64K));
        let initrd = align_up(initrd_len, SZ_64K);
        kernel
            .zip(initrd)
            .and_then(|(k, i)| k.checked_add(i))
            .and_then(|ki| align_up(ki, SZ_2M))
            .and_then(|ki| ki.checked_add(SZ_2M))
            .unwrap_or(u64::MAX)
    }

    /// The decompressed image is longer than `image_size` (possible only with
    /// a nonzero `text_offset`, which kexec adds to the segment).
    pub fn exceeds_image_size(&self) -> bool {
        self.image_bytes > self.header.image_size
    }
}

const SZ_64K: u64 = 64 << 10;
const SZ_2M: u64 = 2 << 20;

/// `v` rounded up to a multiple of `align` (a power of two).
fn align_up(v: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    v.checked_add(mask).map(|x| x & !mask)
}

/// Bytes as a `crashkernel=` value: whole MiB, rounded up.
pub fn crashkernel_arg(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// The outcome of one probe, as printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The report, or why the image was rejected.
    pub result: Result<Report, ProbeError>,
    /// The container, when it was recognised (also for failures).
    pub format: Option<Format>,
    /// Bytes of input (counted by the caller).
    pub input_size: u64,
    /// Size of the initrd that will be loaded with the image (0: none), for
    /// `crashkernel_min`.
    pub initrd_size: u64,
    /// The Authenticode check, when the caller ran it (see
    /// [`crate::authenticode::check`]).
    pub authenticode: Option<AuthenticodeInfo>,
}

impl Verdict {
    /// 0 when valid, else the error's errno.
    pub fn errno(&self) -> i32 {
        self.result.as_ref().err().map_or(0, |e| e.errno())
    }

    /// One JSON object on one line (no newline). `path` is the name to
    /// report, `null` when absent.
    pub fn write_json<W: Write>(&self, w: &mut W, path: Option<&str>) -> fmt::Result {
        w.write_str("{\"path\":")?;
        match path {
            Some(p) => json_str(w, p)?,
            None => w.write_str("null")?,
        }
        let errno = self.errno();
        write!(
            w,
            ",\"ok\":{},\"errno\":{},\"errno_name\":\"{}\",\"error\":",
            errno == 0,
            errno,
            errno_name(errno)
        )?;
        match self.result {
            Ok(_) => w.write_str("null")?,
            Err(e) => json_str(w, e.message())?,
        }
        w.write_str(",\"format\":")?;
        match self.format {
            Some(f) => write!(w, "\"{}\"", f.name())?,
            None => w.write_str("null")?,
        }
        write!(w, ",\"input_size\":{}", self.input_size)?;
        let r = match &self.result {
            Ok(r) => r,
            Err(_) => {
                return w.write_str(
                    ",\"image_bytes\":null,\"header\":null,\"pe\":null,\"gzip\":null,\
                     \"zboot\":null,\"authenticode\":null,\"kdump_bytes_needed\":null,\"crashkernel_min\":null,\"quick\":null}",
                )
            }
        };
        let h = &r.header;
        // The quick probe does not know the image's length: the last gzip
        // member's trailer (in "gzip") is only what one member claims.
        w.write_str(",\"image_bytes\":")?;
        if r.quick {
            w.write_str("null")?;
        } else {
            write!(w, "{}", r.image_bytes)?;
        }
        write!(
            w,
            ",\"header\":{{\"text_offset\":{},\"image_size\":{},\
             \"flags\":{},\"big_endian\":{},\"page_size\":",
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
        )?;
        w.write_str(",\"pe\":")?;
        match &r.pe {
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
                match pe.cert_problem() {
                    Some(p) => json_str(w, p.message())?,
                    None => w.write_str("null")?,
                }
                write!(w, ",\"trailing_bytes\":{}}}", pe.trailing_bytes)?;
            }
            None => w.write_str("null")?,
        }
        w.write_str(",\"gzip\":")?;
        match &r.gzip {
            Some(g) => {
                w.write_str("{\"members\":")?;
                if g.members == 0 {
                    w.write_str("null")?;
                } else {
                    write!(w, "{}", g.members)?;
                }
                write!(w, ",\"crc32\":{},\"isize\":{}}}", g.crc32, g.isize)?;
            }
            None => w.write_str("null")?,
        }
        w.write_str(",\"zboot\":")?;
        match &r.zboot {
            Some(z) => write!(
                w,
                "{{\"compression\":\"{}\",\"payload_offset\":{},\"payload_size\":{}}}",
                z.compression.name(),
                z.payload_offset,
                z.payload_size
            )?,
            None => w.write_str("null")?,
        }
        w.write_str(",\"authenticode\":")?;
        match &self.authenticode {
            Some(a) => write_authenticode(w, a)?,
            None => w.write_str("null")?,
        }
        write!(
            w,
            ",\"kdump_bytes_needed\":{},\"crashkernel_min\":{},\"quick\":{}}}",
            r.kdump_bytes_needed(),
            r.crashkernel_min(self.initrd_size),
            r.quick
        )
    }

    /// A few human-readable lines, each ending in a newline.
    pub fn write_text<W: Write>(&self, w: &mut W, path: &str) -> fmt::Result {
        let r = match &self.result {
            Err(e) => {
                return writeln!(
                    w,
                    "{path}: REJECTED ({}, errno {}): {}",
                    e.errno_name(),
                    e.errno(),
                    e.message()
                )
            }
            Ok(r) => r,
        };
        let h = &r.header;
        writeln!(
            w,
            "{path}: OK: arm64 Image{}",
            match r.format {
                Format::Image => " (uncompressed)",
                Format::Gzip => ", gzip-compressed",
                Format::Zboot => " inside EFI zboot (gzip payload)",
            }
        )?;
        writeln!(w, "  input size          {} bytes", r.input_size)?;
        if r.quick {
            writeln!(
                w,
                "  image size          unknown (quick probe: not inflated; see the gzip trailer's claim)"
            )?;
        } else {
            writeln!(
                w,
                "  image size          {} bytes (decompressed)",
                r.image_bytes
            )?;
        }
        writeln!(w, "  text_offset         {:#x}", h.text_offset)?;
        writeln!(
            w,
            "  image_size          {:#x} ({} bytes)",
            h.image_size, h.image_size
        )?;
        write!(
            w,
            "  flags               {:#x}: {}-endian, ",
            h.flags,
            if h.big_endian() { "big" } else { "little" }
        )?;
        match h.page_size().bytes() {
            Some(b) => write!(w, "{}K pages", b / 1024)?,
            None => w.write_str("page size unspecified")?,
        }
        writeln!(
            w,
            ", {}",
            if h.phys_placement_anywhere() {
                "placement anywhere"
            } else {
                "placement within 48 bits of DRAM start"
            }
        )?;
        if h.reserved_nonzero() {
            writeln!(
                w,
                "  warning             reserved header fields are not zero"
            )?;
        }
        match &r.pe {
            Some(pe) => {
                write!(w, "  PE/COFF             machine {:#06x}, ", pe.machine)?;
                match (pe.cert, pe.cert_problem()) {
                    (None, _) => writeln!(w, "unsigned")?,
                    (Some(c), Some(p)) => writeln!(
                        w,
                        "certificate table at {:#x} ({} bytes) is broken: {}",
                        c.offset,
                        c.size,
                        p.message()
                    )?,
                    (Some(c), None) => writeln!(
                        w,
                        "signed: certificate table at {:#x}, {} bytes{}",
                        c.offset,
                        c.size,
                        if c.check == CertCheck::NotChecked {
                            " (not inflated, unchecked)"
                        } else {
                            ""
                        }
                    )?,
                }
            }
            None => writeln!(
                w,
                "  PE/COFF             none (kernel built without CONFIG_EFI)"
            )?,
        }
        if let Some(pe) = &r.pe {
            if pe.trailing_bytes > 0 {
                writeln!(
                    w,
                    "  warning             {} bytes follow the certificate table: they break the signature (--trim drops them)",
                    pe.trailing_bytes
                )?;
            }
        }
        if let Some(a) = &self.authenticode {
            match &a.digest {
                Ok(d) => {
                    w.write_str("  authenticode        sha256 ")?;
                    for b in d {
                        write!(w, "{b:02x}")?;
                    }
                    writeln!(w)?;
                }
                Err(e) => writeln!(w, "  authenticode        no digest: {}", e.message())?,
            }
            match (a.signed, a.digest_matches()) {
                (Ok(_), Some(true)) => writeln!(w, "                      the signature's digest matches the image")?,
                (Ok(_), Some(false)) => writeln!(w, "                      MISMATCH: the signature's digest differs: the image was changed after signing")?,
                (Ok(s), None) => writeln!(w, "                      signed with {}, not compared", s.algorithm.name())?,
                (Err(e), _) => writeln!(w, "                      no signed digest: {}", e.message())?,
            }
        }
        if let Some(g) = &r.gzip {
            if r.quick {
                write!(
                    w,
                    "  gzip                the last member's trailer claims crc32 {:#010x}, isize {}",
                    g.crc32, g.isize
                )?;
            } else {
                write!(
                    w,
                    "  gzip                crc32 {:#010x}, isize {}",
                    g.crc32, g.isize
                )?;
            }
            if g.members > 0 {
                write!(
                    w,
                    ", {} member{}",
                    g.members,
                    if g.members == 1 { "" } else { "s" }
                )?;
            }
            writeln!(
                w,
                "{}",
                if r.quick {
                    " (trailer not verified)"
                } else {
                    ", verified"
                }
            )?;
        }
        if let Some(z) = &r.zboot {
            writeln!(
                w,
                "  zboot payload       {} bytes at {:#x}, {}",
                z.payload_size,
                z.payload_offset,
                z.compression.name()
            )?;
        }
        writeln!(
            w,
            "  kdump               kernel segment {} bytes (text_offset + image_size, 2 MiB aligned);",
            r.kdump_bytes_needed()
        )?;
        writeln!(
            w,
            "                      loading it for kdump needs crashkernel={}M or more ({})",
            crashkernel_arg(r.crashkernel_min(self.initrd_size)),
            if self.initrd_size == 0 {
                "without initrd"
            } else {
                "with the initrd"
            }
        )
    }
}

/// `{"digest": hex, "digest_error": .., "signed_digest": hex, "signed_digest_algorithm": ..,
/// "signed_digest_error": .., "digest_matches": bool}`, nulls where unknown.
fn write_authenticode<W: Write>(w: &mut W, a: &AuthenticodeInfo) -> fmt::Result {
    w.write_str("{\"digest\":")?;
    match &a.digest {
        Ok(d) => json_hex(w, d)?,
        Err(_) => w.write_str("null")?,
    }
    w.write_str(",\"digest_error\":")?;
    match &a.digest {
        Ok(_) => w.write_str("null")?,
        Err(e) => json_str(w, e.message())?,
    }
    w.write_str(",\"signed_digest\":")?;
    match &a.signed {
        Ok(s) => json_hex(w, s.as_bytes())?,
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
        Err(e) => json_str(w, e.message())?,
    }
    w.write_str(",\"digest_matches\":")?;
    match a.digest_matches() {
        Some(m) => write!(w, "{m}")?,
        None => w.write_str("null")?,
    }
    w.write_str("}")
}

/// Bytes as a lowercase hex JSON string.
fn json_hex<W: Write>(w: &mut W, bytes: &[u8]) -> fmt::Result {
    w.write_char('"')?;
    for b in bytes {
        write!(w, "{b:02x}")?;
    }
    w.write_char('"')
}

/// A JSON string literal with the escapes RFC 8259 requires.
fn json_str<W: Write>(w: &mut W, s: &str) -> fmt::Result {
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

    #[test]
    fn json_escapes() {
        let mut s = std::string::String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}é").unwrap();
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
        };
        let line = v.json_line(Some("x.gz")).unwrap();
        for key in [
            "path",
            "ok",
            "errno",
            "errno_name",
            "error",
            "format",
            "input_size",
            "image_bytes",
            "header",
            "pe",
            "gzip",
            "kdump_bytes_needed",
        ] {
            assert!(
                line.contains(&std::format!("\"{key}\":")),
                "{key} in {line}"
            );
        }
        assert!(line.contains("\"errno\":74"));
        assert!(line.ends_with("}\n"));
    }
}
