//! `/proc/iomem`: where a `kexec_load(2)` may put its segments.
//!
//! With `kexec_file_load` the kernel places the segments itself (from
//! memblock); with the classic `kexec_load` userspace must, and the only map
//! it has is the kernel's resource tree as `/proc/iomem` prints it
//! (`kernel/resource.c`, `r_show()`: `"%*s%0*llx-%0*llx : %s\n"`, two spaces
//! of indent per level, addresses shown as zeros to a reader without
//! CAP_SYS_ADMIN). On arm64, `request_standard_resources()` makes every
//! memblock "System RAM" region a top-level resource and nests in it
//! "Kernel code", "Kernel data", "reserved" (every memblock reservation:
//! the kernel image, the device tree, the initrd, page tables, firmware
//! tables) and "Crash kernel" (the `crashkernel=` region).
//!
//! The parser is written for hostile input: it never panics, bounds the
//! number of entries and the line length, and refuses malformed lines.

use std::fmt;

/// At most this many resources are read (a real arm64 machine has a few
/// hundred; QEMU's virt board about thirty).
pub const MAX_RESOURCES: usize = 16 * 1024;
/// A longer line is not one `r_show()` prints (the name is short).
pub const MAX_LINE: usize = 512;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end.saturating_sub(1))
    }
}

/// One line of `/proc/iomem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Nesting level (indent / 2).
    pub depth: usize,
    pub range: Range,
    pub name: String,
}

/// Why `/proc/iomem` could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum IomemError {
    /// A line is not `START-END : NAME` (1-based line number).
    Malformed(usize),
    /// More than [`MAX_RESOURCES`] lines.
    TooMany,
    /// Every address reads as zero: the reader lacks CAP_SYS_ADMIN.
    Hidden,
    /// No "System RAM" at all.
    NoRam,
}

impl fmt::Display for IomemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(n) => write!(f, "/proc/iomem line {n} is not 'START-END : NAME'"),
            Self::TooMany => write!(f, "/proc/iomem has more than {MAX_RESOURCES} entries"),
            Self::Hidden => write!(
                f,
                "/proc/iomem shows every address as 0 (reading it needs CAP_SYS_ADMIN)"
            ),
            Self::NoRam => write!(f, "/proc/iomem lists no System RAM"),
        }
    }
}

/// Parse `/proc/iomem`.
pub fn parse(text: &str) -> Result<Vec<Resource>, IomemError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if out.len() == MAX_RESOURCES {
            return Err(IomemError::TooMany);
        }
        let bad = IomemError::Malformed(i + 1);
        if line.len() > MAX_LINE {
            return Err(bad);
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let (span, name) = line[indent..].split_once(" : ").ok_or(bad)?;
        let (s, e) = span.split_once('-').ok_or(IomemError::Malformed(i + 1))?;
        let hex = |t: &str| {
            if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                None
            } else {
                u64::from_str_radix(t, 16).ok()
            }
        };
        let (Some(start), Some(last)) = (hex(s), hex(e)) else {
            return Err(IomemError::Malformed(i + 1));
        };
        // `end` is inclusive in the kernel's resources; an empty or inverted
        // one, or one ending at the top of the address space, is not RAM
        // anything could be placed in.
        if last < start {
            return Err(IomemError::Malformed(i + 1));
        }
        let end = last.saturating_add(1);
        out.push(Resource {
            depth: indent / 2,
            range: Range { start, end },
            name: name.to_string(),
        });
    }
    if !out.is_empty() && out.iter().all(|r| r.range.start == 0 && r.range.end == 1) {
        return Err(IomemError::Hidden);
    }
    Ok(out)
}

/// The parts of the map a kexec loader needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MemoryMap {
    /// Top-level "System RAM", sorted.
    pub ram: Vec<Range>,
    /// Every resource nested inside System RAM: "reserved", "Kernel code",
    /// "Kernel data", "Crash kernel", ... (nothing of it is free).
    pub busy: Vec<Range>,
    /// "Crash kernel" (and "Crash kernel (low)"): the crashkernel= region(s).
    pub crash: Vec<Range>,
}

impl MemoryMap {
    pub fn from_resources(res: &[Resource]) -> Result<Self, IomemError> {
        let mut map = MemoryMap::default();
        let mut in_ram = false;
        for r in res {
            if r.depth == 0 {
                in_ram = r.name == "System RAM";
                if in_ram {
                    map.ram.push(r.range);
                }
                continue;
            }
            if !in_ram {
                continue;
            }
            map.busy.push(r.range);
            if r.name.starts_with("Crash kernel") {
                map.crash.push(r.range);
            }
        }
        if map.ram.is_empty() {
            return Err(IomemError::NoRam);
        }
        map.ram.sort();
        map.busy.sort();
        map.crash.sort();
        Ok(map)
    }

    /// System RAM minus everything nested in it: where the segments of a
    /// normal kexec may go. kexec-tools' arm64 loader (`to_be_excluded()` in
    /// kexec/arch/arm64/kexec-arm64.c) leaves out every nested resource but
    /// "Kernel code" and "Kernel data"; we leave those out too (the new
    /// kernel then never lands on the running one, which kexec would handle
    /// but a later look at a dump would not), and the crash region, so a
    /// loaded crash kernel is never overwritten.
    pub fn free(&self) -> Vec<Range> {
        subtract(&self.ram, &self.busy)
    }

    /// System RAM minus the crash region(s): what the first kernel's dump
    /// holds (kexec-tools' crashdump-arm64.c, the kernel's
    /// `prepare_elf_headers()` for kexec_file).
    pub fn dump_ranges(&self) -> Vec<Range> {
        subtract(&self.ram, &self.crash)
    }
}

/// `from` minus every range of `holes` (both sorted; the result is sorted).
pub fn subtract(from: &[Range], holes: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for r in from {
        let mut cur = r.start;
        for h in holes {
            if h.end <= cur || h.start >= r.end {
                continue;
            }
            if h.start > cur {
                out.push(Range {
                    start: cur,
                    end: h.start,
                });
            }
            cur = cur.max(h.end);
        }
        if cur < r.end {
            out.push(Range {
                start: cur,
                end: r.end,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real /proc/iomem of our 7.3 kernel under QEMU (-m 1G, crashkernel=64M).
    const OWN: &str = include_str!("../testdata/iomem-own-7.3-crash.txt");
    /// Debian's 7.3 kernel under QEMU (-m 1G, crashkernel=64M).
    const DEBIAN: &str = include_str!("../testdata/iomem-debian-7.3-crash.txt");

    #[test]
    fn real_maps() {
        for text in [OWN, DEBIAN] {
            let res = parse(text).unwrap();
            let map = MemoryMap::from_resources(&res).unwrap();
            assert_eq!(
                map.ram,
                vec![Range {
                    start: 0x4000_0000,
                    end: 0x8000_0000
                }]
            );
            assert_eq!(map.crash.len(), 1);
            assert_eq!(map.crash[0].len(), 64 << 20);
            assert_eq!(map.crash[0].start % (2 << 20), 0);
            let free = map.free();
            assert!(!free.is_empty());
            for f in &free {
                assert!(f.start >= 0x4000_0000 && f.end <= 0x8000_0000);
                for b in &map.busy {
                    assert!(f.end <= b.start || f.start >= b.end, "{f} overlaps {b}");
                }
            }
            let dump = map.dump_ranges();
            let total: u64 = dump.iter().map(Range::len).sum();
            assert_eq!(total, (1 << 30) - (64 << 20));
        }
    }

    #[test]
    fn hostile_lines() {
        assert_eq!(parse("zz-10 : x"), Err(IomemError::Malformed(1)));
        assert_eq!(parse("10-5 : x"), Err(IomemError::Malformed(1)));
        assert_eq!(parse("10 : x"), Err(IomemError::Malformed(1)));
        assert_eq!(parse("10-20 x"), Err(IomemError::Malformed(1)));
        assert_eq!(parse("-20 : x"), Err(IomemError::Malformed(1)));
        assert_eq!(
            parse("0-fffffffffffffffff : x"),
            Err(IomemError::Malformed(1))
        );
        assert_eq!(parse("+1-2 : x"), Err(IomemError::Malformed(1)));
        let long = format!("0-1 : {}", "x".repeat(600));
        assert_eq!(parse(&long), Err(IomemError::Malformed(1)));
        let many = "0-1 : x\n".repeat(MAX_RESOURCES + 1);
        assert_eq!(parse(&many), Err(IomemError::TooMany));
        // Read without CAP_SYS_ADMIN.
        let hidden = "00000000-00000000 : System RAM\n  00000000-00000000 : reserved\n";
        assert_eq!(parse(hidden), Err(IomemError::Hidden));
        // Top of the address space: end saturates, no overflow.
        let top = parse("ffffffffffff0000-ffffffffffffffff : System RAM").unwrap();
        assert_eq!(top[0].range.end, u64::MAX);
        assert_eq!(
            MemoryMap::from_resources(&parse("0-fff : PCI").unwrap()),
            Err(IomemError::NoRam)
        );
        // Multi-byte names and odd indents do not panic.
        assert!(parse("  \u{e9}-1 : x").is_err());
        assert!(parse("   0-1 : \u{e9}\u{e9}").is_ok());
        // Every prefix of a real map parses or is refused, never panics.
        for cut in 0..OWN.len() {
            if OWN.is_char_boundary(cut) {
                let _ = parse(&OWN[..cut]).map(|r| MemoryMap::from_resources(&r));
            }
        }
    }

    #[test]
    fn subtraction() {
        let r = |start, end| Range { start, end };
        assert_eq!(
            subtract(&[r(0, 100)], &[r(10, 20), r(15, 30), r(90, 200)]),
            vec![r(0, 10), r(30, 90)]
        );
        assert_eq!(subtract(&[r(0, 100)], &[r(0, 100)]), vec![]);
        assert_eq!(
            subtract(&[r(0, 10), r(20, 30)], &[]),
            vec![r(0, 10), r(20, 30)]
        );
    }
}
