//! probe-run's report of one image: the core's JSON line with probe-run's
//! own `signature` key (kernel_probe::json writes both, so the key list is
//! the core's), or the human lines. The kernel module never prints the human
//! form, so it lives here, not in the core.

use std::fmt::{self, Write};
use std::io;

use kernel_probe::json::{write_line, Line};
use kernel_probe::pe::CertCheck;
use kernel_probe::report::crashkernel_arg;
use kernel_probe::{Format, Verdict};

use crate::verify::Signature;

/// The report for one image: the JSON line (ending in a newline) with the
/// `signature` key (`null` without `--cert`), or the human lines.
pub fn render(v: &Verdict, sig: Option<&Signature>, path: &str, json: bool) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    if json {
        let sig = sig.map_or("null".into(), Signature::json);
        let _ = write_line(&mut s, Some(path), Line::Verdict(v), &[("signature", &sig)]);
        s.push('\n');
    } else {
        let _ = write_text(v, &mut s, path);
        if let Some(sig) = sig {
            s.push_str(&sig.text());
        }
    }
    s
}

/// The JSON line for an input that could not be read at all: the OS errno
/// and its message, every other key null.
pub fn io_error_json(path: &str, error: &io::Error) -> String {
    let mut s = String::new();
    let _ = write_line(
        &mut s,
        Some(path),
        Line::Unread {
            errno: error.raw_os_error().unwrap_or(libc::EIO),
            message: &error.to_string(),
        },
        &[("signature", "null")],
    );
    s.push('\n');
    s
}

/// A few human-readable lines, each ending in a newline.
pub fn write_text<W: Write>(v: &Verdict, w: &mut W, path: &str) -> fmt::Result {
    let r = match &v.result {
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
        match (r.format, r.zboot.map(|z| z.compression.name())) {
            (Format::Image, _) => " (uncompressed)".to_string(),
            (Format::Gzip, _) => ", gzip-compressed".to_string(),
            (Format::Zstd, _) => ", zstd-compressed".to_string(),
            (Format::Zboot, c) => format!(" inside EFI zboot ({} payload)", c.unwrap_or("gzip")),
            (Format::Uki, c) => format!(
                " in a UKI's .linux ({}{})",
                r.inner_format.map_or("?", |f| f.name()),
                c.map_or(String::new(), |c| format!(", {c} payload"))
            ),
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
    if let Some(a) = &v.authenticode {
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
    if let Some(z) = &r.zstd {
        write!(
            w,
            "  zstd                {} frame{}",
            z.frames,
            if z.frames == 1 { "" } else { "s" }
        )?;
        if z.skippable_frames > 0 {
            write!(w, " (and {} skippable)", z.skippable_frames)?;
        }
        write!(w, ", window {} bytes", z.window_size)?;
        match (z.content_size, r.quick) {
            (Some(c), true) => write!(w, ", the first frame declares {c} bytes")?,
            (Some(c), false) => write!(w, ", content size {c} declared and verified")?,
            (None, _) => write!(w, ", no content size declared")?,
        }
        writeln!(
            w,
            "{}",
            match (z.checksummed, r.quick) {
                (_, true) => " (not decompressed past the first block)",
                (true, false) => ", XXH64 checksum verified",
                (false, false) => ", no content checksum (in some frame)",
            }
        )?;
    }
    if let Some(u) = &r.uki {
        writeln!(
            w,
            "  UKI                 .linux {} bytes at {:#x}{}{}{}{}",
            u.linux.size,
            u.linux.offset,
            u.initrd
                .map_or(String::new(), |s| format!(", .initrd {} bytes", s.size)),
            if u.osrel.is_some() { ", .osrel" } else { "" },
            if u.dtbs > 0 {
                format!(", {} device tree(s)", u.dtbs)
            } else {
                String::new()
            },
            if u.profiles > 0 {
                format!(", {} profiles (base one shown)", u.profiles)
            } else {
                String::new()
            },
        )?;
        if let Some(c) = u.cmdline() {
            writeln!(w, "  UKI .cmdline        {}", String::from_utf8_lossy(c))?;
        }
        if let Some(n) = u.uname() {
            writeln!(w, "  UKI .uname          {}", String::from_utf8_lossy(n))?;
        }
        writeln!(
            w,
            "  UKI signature       {}",
            match (&v.uki_authenticode, u.outer_cert) {
                (_, None) => "the UKI is not signed".to_string(),
                (Some(a), Some(_)) => match a.digest_matches() {
                    Some(true) => "signed; the signature's digest matches the UKI".to_string(),
                    Some(false) =>
                        "signed; MISMATCH: the UKI was changed after signing".to_string(),
                    None => "signed; digest not compared".to_string(),
                },
                (None, Some(_)) => "signed (not checked)".to_string(),
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
        crashkernel_arg(r.crashkernel_min(v.initrd_size)),
        if v.initrd_size == 0 {
            "without initrd"
        } else {
            "with the initrd"
        }
    )
}
