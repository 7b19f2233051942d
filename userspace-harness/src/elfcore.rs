//! The ELF core header a crash kernel reads as `/proc/vmcore`'s layout
//! (`elfcorehdr`): what kexec-tools' `crash_create_elf64_headers()`
//! (kexec/crashdump-elf.c, called from kexec/arch/arm64/crashdump-arm64.c)
//! and the kernel's `crash_prepare_elf64_headers()` (kernel/crash_core.c)
//! build for kexec_file:
//!
//! - one `PT_NOTE` per CPU: its `crash_notes` buffer, where the panicking
//!   kernel saves each CPU's registers (`/sys/devices/system/cpu/cpuN/
//!   crash_notes`: physical address, `crash_notes_size`: bytes);
//! - one `PT_NOTE` for the vmcoreinfo note (`/sys/kernel/vmcoreinfo`:
//!   physical address and size), which dump tools read for the kernel's
//!   layout (VA_BITS, kimage_voffset, PHYS_OFFSET, page tables ...);
//! - one `PT_LOAD` per System RAM range outside the crash region
//!   (`p_offset` = `p_paddr` = the range's physical address: the crash
//!   kernel's fs/proc/vmcore.c serves the dump from those).
//!
//! The crash kernel merges the notes itself (`merge_note_headers_elf64()`
//! reads each `PT_NOTE` and keeps the real note sizes).

use std::fmt;
use std::path::Path;

use crate::iomem::Range;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_CORE: u16 = 4;
const EM_AARCH64: u16 = 183;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
/// `e_phnum` is 16 bits (PN_XNUM is not for this).
const MAX_PHDRS: usize = 0xfffe;
/// More CPUs than any arm64 kernel supports (NR_CPUS is at most 4096).
const MAX_CPUS: usize = 4096;

/// One `PT_NOTE`: a physical buffer of the running kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note {
    pub paddr: u64,
    pub size: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ElfCoreError {
    /// A sysfs file did not read as the kernel prints it.
    Sysfs(String),
    /// More program headers than `e_phnum` holds.
    TooManyHeaders,
}

impl fmt::Display for ElfCoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sysfs(s) => write!(f, "{s}"),
            Self::TooManyHeaders => write!(f, "more than {MAX_PHDRS} ELF program headers"),
        }
    }
}

fn parse_hex(t: &str) -> Option<u64> {
    let t = t.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// `/sys/kernel/vmcoreinfo`: `"%pa %x\n"` (kernel/ksysfs.c), e.g.
/// `0x000000004094e000 1024`: physical address and size, both hex.
pub fn parse_vmcoreinfo(text: &str) -> Option<Note> {
    let mut it = text.split_whitespace();
    let paddr = parse_hex(it.next()?)?;
    let size = parse_hex(it.next()?)?;
    (it.next().is_none() && size > 0 && size <= 1 << 20).then_some(Note { paddr, size })
}

/// `cpuN/crash_notes` (`"%llx\n"`, drivers/base/cpu.c) and
/// `cpuN/crash_notes_size` (`"%zu\n"`).
pub fn parse_crash_notes(addr: &str, size: &str) -> Option<Note> {
    let paddr = parse_hex(addr)?;
    let size: u64 = size.trim().parse().ok()?;
    (size > 0 && size <= 1 << 20).then_some(Note { paddr, size })
}

fn read_small(p: &Path) -> Result<String, ElfCoreError> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(256).read_to_string(&mut s))
        .map_err(|e| ElfCoreError::Sysfs(format!("{}: {e}", p.display())))?;
    Ok(s)
}

/// The running kernel's notes: every CPU's crash_notes, then vmcoreinfo.
pub fn running_notes(sys: &Path) -> Result<Vec<Note>, ElfCoreError> {
    let cpus = sys.join("devices/system/cpu");
    let mut ids: Vec<usize> = std::fs::read_dir(&cpus)
        .map_err(|e| ElfCoreError::Sysfs(format!("{}: {e}", cpus.display())))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("cpu")?
                .parse()
                .ok()
        })
        .filter(|&n: &usize| n < MAX_CPUS)
        .collect();
    ids.sort_unstable();
    let mut notes = Vec::new();
    for n in ids {
        let dir = cpus.join(format!("cpu{n}"));
        if !dir.join("crash_notes").exists() {
            continue;
        }
        let a = read_small(&dir.join("crash_notes"))?;
        let s = read_small(&dir.join("crash_notes_size"))?;
        notes.push(parse_crash_notes(&a, &s).ok_or_else(|| {
            ElfCoreError::Sysfs(format!("{}: not an address and a size", dir.display()))
        })?);
    }
    if notes.is_empty() {
        return Err(ElfCoreError::Sysfs(format!(
            "no {}/cpu*/crash_notes (a kernel without CONFIG_CRASH_DUMP?)",
            cpus.display()
        )));
    }
    let p = sys.join("kernel/vmcoreinfo");
    let v = read_small(&p)?;
    notes.push(parse_vmcoreinfo(&v).ok_or_else(|| {
        ElfCoreError::Sysfs(format!("{}: not an address and a size", p.display()))
    })?);
    Ok(notes)
}

/// The ELF64 core header: `notes` as PT_NOTE, `ram` as PT_LOAD.
pub fn elfcorehdr(notes: &[Note], ram: &[Range]) -> Result<Vec<u8>, ElfCoreError> {
    let n = notes.len() + ram.len();
    if n > MAX_PHDRS {
        return Err(ElfCoreError::TooManyHeaders);
    }
    let mut b = Vec::with_capacity(EHDR_SIZE + n * PHDR_SIZE);
    // e_ident: ELFMAG, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE.
    b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&ET_CORE.to_le_bytes());
    b.extend_from_slice(&EM_AARCH64.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // e_version
    b.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    b.extend_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    b.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    b.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    b.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes());
    b.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
    b.extend_from_slice(&(n as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // e_shentsize
    b.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    b.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    let mut phdr = |ty: u32, flags: u32, paddr: u64, size: u64| {
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        // p_offset: the physical address.
        b.extend_from_slice(&paddr.to_le_bytes());
        // p_vaddr: 0. The kernel's own header puts the linear-map address
        // here; the crash kernel's /proc/vmcore does not use it, and dump
        // tools take the layout from vmcoreinfo.
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&paddr.to_le_bytes()); // p_paddr
        b.extend_from_slice(&size.to_le_bytes()); // p_filesz
        b.extend_from_slice(&size.to_le_bytes()); // p_memsz
        b.extend_from_slice(&0u64.to_le_bytes()); // p_align
    };
    for note in notes {
        phdr(PT_NOTE, 0, note.paddr, note.size);
    }
    for r in ram {
        phdr(PT_LOAD, PF_R | PF_W | PF_X, r.start, r.len());
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_strings_as_captured() {
        assert_eq!(
            parse_vmcoreinfo("0x000000004094e000 1024\n"),
            Some(Note {
                paddr: 0x4094_e000,
                size: 0x1024
            })
        );
        assert_eq!(
            parse_crash_notes("7fdd6e00\n", "424\n"),
            Some(Note {
                paddr: 0x7fdd_6e00,
                size: 424
            })
        );
        assert_eq!(parse_vmcoreinfo(""), None);
        assert_eq!(parse_vmcoreinfo("0x10"), None);
        assert_eq!(parse_vmcoreinfo("0x10 0"), None);
        assert_eq!(parse_vmcoreinfo("0x10 10 extra"), None);
        assert_eq!(parse_vmcoreinfo("zz 10"), None);
        assert_eq!(parse_vmcoreinfo("0x10000000000000000 10"), None);
        assert_eq!(parse_crash_notes("7fdd6e00", "-1"), None);
        assert_eq!(parse_crash_notes("7fdd6e00", "99999999"), None);
        assert_eq!(parse_crash_notes("", "424"), None);
    }

    #[test]
    fn header_layout() {
        let notes = [
            Note {
                paddr: 0x7fdd_6e00,
                size: 424,
            },
            Note {
                paddr: 0x4094_e000,
                size: 0x1024,
            },
        ];
        let ram = [
            Range {
                start: 0x4000_0000,
                end: 0x7bc0_0000,
            },
            Range {
                start: 0x7fc0_0000,
                end: 0x8000_0000,
            },
        ];
        let h = elfcorehdr(&notes, &ram).unwrap();
        assert_eq!(h.len(), 64 + 4 * 56);
        assert_eq!(&h[..4], b"\x7fELF");
        assert_eq!(h[4], 2); // 64-bit
        assert_eq!(h[5], 1); // little-endian
        let u16at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        let u32at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().unwrap());
        let u64at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        assert_eq!(u16at(16), 4); // ET_CORE: boot.sh's KP-VMCORE type=4
        assert_eq!(u16at(18), 183);
        assert_eq!(u64at(32), 64);
        assert_eq!(u16at(54), 56);
        assert_eq!(u16at(56), 4);
        let ph = |i: usize| 64 + i * 56;
        assert_eq!(u32at(ph(0)), PT_NOTE);
        assert_eq!(u64at(ph(0) + 8), 0x7fdd_6e00);
        assert_eq!(u64at(ph(0) + 32), 424);
        assert_eq!(u32at(ph(1)), PT_NOTE);
        assert_eq!(u64at(ph(1) + 24), 0x4094_e000);
        assert_eq!(u32at(ph(2)), PT_LOAD);
        assert_eq!(u32at(ph(2) + 4), 7);
        assert_eq!(u64at(ph(2) + 8), 0x4000_0000);
        assert_eq!(u64at(ph(2) + 24), 0x4000_0000);
        assert_eq!(u64at(ph(2) + 32), 0x3bc0_0000);
        assert_eq!(u64at(ph(2) + 40), 0x3bc0_0000);
        assert_eq!(u64at(ph(3) + 8), 0x7fc0_0000);
        assert_eq!(u64at(ph(3) + 32), 0x40_0000);
        let many = vec![ram[0]; MAX_PHDRS + 1];
        assert_eq!(elfcorehdr(&[], &many), Err(ElfCoreError::TooManyHeaders));
    }

    #[test]
    fn sysfs_tree() {
        let d = std::env::temp_dir().join(format!("kp-elfcore-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (cpu, addr) in [(0, "7fdd6e00"), (1, "7fde6e00"), (10, "7fdf6e00")] {
            let c = d.join(format!("devices/system/cpu/cpu{cpu}"));
            std::fs::create_dir_all(&c).unwrap();
            std::fs::write(c.join("crash_notes"), format!("{addr}\n")).unwrap();
            std::fs::write(c.join("crash_notes_size"), "424\n").unwrap();
        }
        std::fs::create_dir_all(d.join("devices/system/cpu/cpufreq")).unwrap();
        std::fs::create_dir_all(d.join("kernel")).unwrap();
        std::fs::write(d.join("kernel/vmcoreinfo"), "0x000000004094e000 1024\n").unwrap();
        let notes = running_notes(&d).unwrap();
        let addrs: Vec<u64> = notes.iter().map(|n| n.paddr).collect();
        assert_eq!(
            addrs,
            vec![0x7fdd_6e00, 0x7fde_6e00, 0x7fdf_6e00, 0x4094_e000]
        );
        std::fs::write(d.join("kernel/vmcoreinfo"), "garbage").unwrap();
        assert!(running_notes(&d).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
