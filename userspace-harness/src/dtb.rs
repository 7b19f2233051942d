//! The device tree for a `kexec_load(2)` kernel: the running one
//! (`/sys/firmware/fdt`, or `--dtb FILE`) with `/chosen` set up as the
//! kernel's own `of_kexec_alloc_and_setup_fdt()` (drivers/of/kexec.c) does
//! for kexec_file: `bootargs`, `linux,initrd-start`/`-end` (and a memory
//! reservation for the initrd), `kaslr-seed`, `rng-seed`,
//! `linux,booted-from-kexec`, and for a crash kernel `linux,elfcorehdr`
//! (reserved too) and `linux,usable-memory-range`. Stale values of all of
//! these, and the old initrd's reservation, are removed.
//!
//! Parsing is the `fdt` crate's, writing `vm-fdt`'s (rust-vmm): the blob is
//! rebuilt node by node with every property copied and `/chosen` edited.
//! `fdt` 0.1.5 panics (`unwrap`, `expect`, `panic!`) on a malformed
//! structure block instead of returning an error, and on `FDT_NOP` tokens
//! between properties, which the running kernel's own tree has. So
//! [`without_nops`] walks the block first, refuses what would reach those
//! paths, and hands `fdt` a copy without NOPs.

use std::fmt;

use fdt::node::FdtNode;
use fdt::Fdt;
use vm_fdt::{FdtReserveEntry, FdtWriter};

/// booting.rst: "The device tree blob (dtb) must be placed on an 8-byte
/// boundary and must not exceed 2 megabytes in size."
pub const MAX_DTB: usize = 2 << 20;
/// Deeper nesting than any real tree (and vm-fdt's own limit is 64).
const MAX_DEPTH: usize = 32;
/// `RNG_SEED_SIZE` in drivers/of/kexec.c.
pub const RNG_SEED_SIZE: usize = 128;

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// Why the device tree cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum DtbError {
    /// Not a flattened device tree, or one this loader refuses (the reason).
    Invalid(&'static str),
    /// A value does not fit the root's `#address-cells`/`#size-cells`.
    CellsTooSmall,
    /// The writer refused the rebuilt tree.
    Write(String),
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(why) => write!(f, "not a usable device tree: {why}"),
            Self::CellsTooSmall => {
                write!(
                    f,
                    "an address does not fit the root's #address-cells/#size-cells"
                )
            }
            Self::Write(e) => write!(f, "writing the device tree: {e}"),
        }
    }
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A C string at `off` in `block` (NUL inside the block), valid UTF-8.
fn cstr(block: &[u8], off: usize) -> Option<&str> {
    let rest = block.get(off..)?;
    let nul = rest.iter().position(|&c| c == 0)?;
    std::str::from_utf8(&rest[..nul]).ok()
}

/// The header fields this loader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub totalsize: usize,
    pub off_dt_struct: usize,
    pub off_dt_strings: usize,
    pub off_mem_rsvmap: usize,
    pub boot_cpuid_phys: u32,
    pub size_dt_strings: usize,
    pub size_dt_struct: usize,
}

/// Check the header and walk the structure block the way the `fdt` crate
/// will (tokens, names, property name offsets, nesting), so that it never
/// meets what it would panic on: every token in bounds, every name a
/// NUL-terminated UTF-8 string inside its block, nodes balanced, a node's
/// properties before its children (as the specification orders them), and
/// `FDT_END` right after the root node.
#[cfg(test)]
pub fn check_structure(b: &[u8]) -> Result<Header, DtbError> {
    walk(b).map(|(h, _)| h)
}

/// [`check_structure`], and a copy of the blob without `FDT_NOP` tokens.
/// The running kernel's own tree has them: early boot NOPs out
/// `/chosen/kaslr-seed` and `rng-seed` (`fdt_nop_property()`) once read, and
/// `fdt` 0.1.5 cannot step over a NOP between properties (its
/// `skip_current_node()` asserts on it).
pub fn without_nops(b: &[u8]) -> Result<(Header, Vec<u8>), DtbError> {
    let (h, st) = walk(b)?;
    // header, memory reservation map (with its terminator), structure, strings.
    let rsv_end = {
        let mut off = h.off_mem_rsvmap;
        while b[off..off + 16].iter().any(|&c| c != 0) {
            off += 16;
        }
        off + 16
    };
    let rsv = &b[h.off_mem_rsvmap..rsv_end];
    let strings = &b[h.off_dt_strings..h.off_dt_strings + h.size_dt_strings];
    let off_rsv = 40;
    let off_struct = off_rsv + rsv.len();
    let off_strings = off_struct + st.len();
    let total = off_strings + strings.len();
    let mut out = b[..40].to_vec();
    let mut put = |i: usize, v: usize| {
        out[i * 4..i * 4 + 4].copy_from_slice(&(v as u32).to_be_bytes());
    };
    put(1, total);
    put(2, off_struct);
    put(3, off_strings);
    put(4, off_rsv);
    put(8, strings.len());
    put(9, st.len());
    out.extend_from_slice(rsv);
    out.extend_from_slice(&st);
    out.extend_from_slice(strings);
    let h = Header {
        totalsize: total,
        off_dt_struct: off_struct,
        off_dt_strings: off_strings,
        off_mem_rsvmap: off_rsv,
        size_dt_strings: strings.len(),
        size_dt_struct: st.len(),
        ..h
    };
    Ok((h, out))
}

fn walk(b: &[u8]) -> Result<(Header, Vec<u8>), DtbError> {
    let inv = DtbError::Invalid;
    let field = |i: usize| {
        be32(b, i * 4)
            .map(|v| v as usize)
            .ok_or(inv("truncated header"))
    };
    if be32(b, 0) != Some(FDT_MAGIC) {
        return Err(inv("no FDT magic (0xd00dfeed)"));
    }
    let h = Header {
        totalsize: field(1)?,
        off_dt_struct: field(2)?,
        off_dt_strings: field(3)?,
        off_mem_rsvmap: field(4)?,
        boot_cpuid_phys: field(7)? as u32,
        size_dt_strings: field(8)?,
        size_dt_struct: field(9)?,
    };
    let version = field(5)?;
    let last_comp = field(6)?;
    if version < 17 || last_comp > 17 {
        return Err(inv("not a version 17 device tree"));
    }
    if h.totalsize > b.len() || h.totalsize > MAX_DTB {
        return Err(inv("totalsize beyond the data, or above 2 MiB"));
    }
    let within = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= h.totalsize);
    if !within(h.off_dt_struct, h.size_dt_struct)
        || !within(h.off_dt_strings, h.size_dt_strings)
        || h.off_mem_rsvmap % 8 != 0
        || h.off_dt_struct % 4 != 0
        || h.off_mem_rsvmap < 40
    {
        return Err(inv("a block lies outside the blob or is misaligned"));
    }
    // The reservation map ends with a zero entry inside the blob.
    let mut off = h.off_mem_rsvmap;
    loop {
        let a = b
            .get(off..off + 16)
            .ok_or(inv("unterminated memory reservation map"))?;
        if off + 16 > h.totalsize {
            return Err(inv("unterminated memory reservation map"));
        }
        if a.iter().all(|&c| c == 0) {
            break;
        }
        off += 16;
    }
    let st = &b[h.off_dt_struct..h.off_dt_struct + h.size_dt_struct];
    let strings = &b[h.off_dt_strings..h.off_dt_strings + h.size_dt_strings];
    let pad4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    let mut pos = 0usize;
    let mut depth = 0usize;
    let mut seen_root = false;
    // Per open node: has a child started (then no more properties)?
    let mut had_child = [false; MAX_DEPTH + 1];
    let mut compact = Vec::with_capacity(st.len());
    loop {
        let tok = be32(st, pos).ok_or(inv("structure block ends without FDT_END"))?;
        let tok_start = pos;
        pos += 4;
        match tok {
            FDT_BEGIN_NODE => {
                if seen_root && depth == 0 {
                    return Err(inv("a second root node"));
                }
                seen_root = true;
                had_child[depth] = true;
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(inv("nodes nested too deep"));
                }
                had_child[depth] = false;
                let name = cstr(st, pos).ok_or(inv("node name not a string"))?;
                pos = pad4(pos + name.len() + 1).ok_or(inv("overflow"))?;
            }
            FDT_END_NODE => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(inv("FDT_END_NODE without a node"))?;
            }
            FDT_PROP => {
                if depth == 0 {
                    return Err(inv("a property outside any node"));
                }
                if had_child[depth] {
                    return Err(inv("a property after a child node"));
                }
                let len = be32(st, pos).ok_or(inv("truncated property"))? as usize;
                let nameoff = be32(st, pos + 4).ok_or(inv("truncated property"))? as usize;
                cstr(strings, nameoff).ok_or(inv("property name not a string"))?;
                let end = (pos + 8).checked_add(len).ok_or(inv("overflow"))?;
                if end > st.len() {
                    return Err(inv("property value beyond the structure block"));
                }
                pos = pad4(end).ok_or(inv("overflow"))?;
            }
            FDT_NOP => continue,
            FDT_END => {
                if depth != 0 || !seen_root {
                    return Err(inv("FDT_END inside a node, or no root node"));
                }
                compact.extend_from_slice(&st[tok_start..pos]);
                return Ok((h, compact));
            }
            _ => return Err(inv("unknown structure token")),
        }
        compact.extend_from_slice(st.get(tok_start..pos).ok_or(inv("overflow"))?);
        // The crate peeks the next token after a node's properties, so a
        // block that ends right after a token is refused here.
        if pos + 4 > st.len() {
            return Err(inv("structure block ends without FDT_END"));
        }
    }
}

/// What `/chosen` gets. Ranges are `(address, size)`.
#[derive(Debug, Default, Clone)]
pub struct Chosen {
    pub bootargs: Option<String>,
    pub initrd: Option<(u64, u64)>,
    pub kaslr_seed: Option<u64>,
    pub rng_seed: Option<Vec<u8>>,
    /// Crash kernels: the ELF core header.
    pub elfcorehdr: Option<(u64, u64)>,
    /// Crash kernels: the memory it may use (the crashkernel= region(s)).
    pub usable_memory: Vec<(u64, u64)>,
}

/// Properties of `/chosen` that describe the running kernel's boot and are
/// replaced (or dropped) for the next one, as in of_kexec_alloc_and_setup_fdt().
const REPLACED: &[&str] = &[
    "bootargs",
    "linux,initrd-start",
    "linux,initrd-end",
    "kaslr-seed",
    "rng-seed",
    "linux,elfcorehdr",
    "linux,usable-memory-range",
    "linux,booted-from-kexec",
    "linux,ima-kexec-buffer",
];

fn read_number(v: &[u8]) -> Option<u64> {
    match v.len() {
        4 => be32(v, 0).map(u64::from),
        8 => Some((u64::from(be32(v, 0)?) << 32) | u64::from(be32(v, 4)?)),
        _ => None,
    }
}

/// `value` as `cells` big-endian 32-bit cells.
fn cells(value: u64, cells: u32, out: &mut Vec<u8>) -> Result<(), DtbError> {
    match cells {
        1 if value <= u64::from(u32::MAX) => out.extend_from_slice(&(value as u32).to_be_bytes()),
        2 => out.extend_from_slice(&value.to_be_bytes()),
        _ => return Err(DtbError::CellsTooSmall),
    }
    Ok(())
}

/// The new device tree: `old` with `/chosen` set up for the next kernel.
pub fn setup_fdt(old: &[u8], chosen: &Chosen) -> Result<Vec<u8>, DtbError> {
    let (header, clean) = without_nops(old)?;
    let fdt =
        Fdt::new(&clean).map_err(|_| DtbError::Invalid("the fdt crate refused the header"))?;
    let root = fdt
        .find_node("/")
        .ok_or(DtbError::Invalid("no root node"))?;
    // fdt_appendprop_addrrange() encodes with the root's cells (libfdt's
    // defaults: 2 and 1).
    let root_cells = |name: &str, default: u32| {
        root.property(name)
            .and_then(|p| read_number(p.value))
            .map_or(Ok(default), |v| {
                u32::try_from(v).map_err(|_| DtbError::Invalid("bad #cells"))
            })
    };
    let addr_cells = root_cells("#address-cells", 2)?;
    let size_cells = root_cells("#size-cells", 1)?;
    let range = |list: &[(u64, u64)]| -> Result<Vec<u8>, DtbError> {
        let mut v = Vec::new();
        for &(a, s) in list {
            cells(a, addr_cells, &mut v)?;
            cells(s, size_cells, &mut v)?;
        }
        Ok(v)
    };

    // The old initrd's reservation goes (exact size, or page-rounded as
    // firmware may reserve it), as in the kernel.
    let old_chosen = fdt.find_node("/chosen");
    let old_initrd = old_chosen.and_then(|c| {
        let s = read_number(c.property("linux,initrd-start")?.value)?;
        let e = read_number(c.property("linux,initrd-end")?.value)?;
        Some((s, e.checked_sub(s)?))
    });
    let mut rsv: Vec<FdtReserveEntry> = Vec::new();
    for r in fdt.memory_reservations() {
        let (a, s) = (r.address() as u64, r.size() as u64);
        if let Some((ia, is)) = old_initrd {
            if a == ia && (s == is || s == is.next_multiple_of(4096)) {
                continue;
            }
        }
        rsv.push(FdtReserveEntry::new(a, s).map_err(|e| DtbError::Write(e.to_string()))?);
    }
    let mut add_rsv = |a: u64, s: u64| -> Result<(), DtbError> {
        if s > 0 {
            rsv.push(FdtReserveEntry::new(a, s).map_err(|e| DtbError::Write(e.to_string()))?);
        }
        Ok(())
    };
    if let Some((a, s)) = chosen.initrd {
        add_rsv(a, s)?;
    }
    if let Some((a, s)) = chosen.elfcorehdr {
        add_rsv(a, s)?;
    }

    // The new /chosen properties, in the kernel's order.
    let mut props: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some((a, s)) = chosen.initrd {
        props.push(("linux,initrd-start", a.to_be_bytes().to_vec()));
        let end = a.checked_add(s).ok_or(DtbError::CellsTooSmall)?;
        props.push(("linux,initrd-end", end.to_be_bytes().to_vec()));
    }
    if let Some(e) = chosen.elfcorehdr {
        props.push(("linux,elfcorehdr", range(&[e])?));
    }
    if !chosen.usable_memory.is_empty() {
        props.push(("linux,usable-memory-range", range(&chosen.usable_memory)?));
    }
    if let Some(b) = &chosen.bootargs {
        let mut v = b.as_bytes().to_vec();
        if v.contains(&0) {
            return Err(DtbError::Write("bootargs contain a NUL byte".into()));
        }
        v.push(0);
        props.push(("bootargs", v));
    }
    if let Some(s) = chosen.kaslr_seed {
        props.push(("kaslr-seed", s.to_be_bytes().to_vec()));
    }
    if let Some(s) = &chosen.rng_seed {
        props.push(("rng-seed", s.clone()));
    }
    props.push(("linux,booted-from-kexec", Vec::new()));

    let werr = |e: vm_fdt::Error| DtbError::Write(e.to_string());
    let mut w = FdtWriter::new_with_mem_reserv(&rsv).map_err(werr)?;
    w.set_boot_cpuid_phys(header.boot_cpuid_phys);
    let top = w.begin_node("").map_err(werr)?;
    let mut had_chosen = false;
    for p in root.properties() {
        w.property(p.name, p.value).map_err(werr)?;
    }
    for child in root.children() {
        if child.name == "chosen" {
            had_chosen = true;
            write_chosen(&mut w, Some(child), &props)?;
        } else {
            copy_node(&mut w, child, 1)?;
        }
    }
    if !had_chosen {
        write_chosen(&mut w, None, &props)?;
    }
    w.end_node(top).map_err(werr)?;
    let blob = w.finish().map_err(werr)?;
    if blob.len() > MAX_DTB {
        return Err(DtbError::Invalid("the new device tree would exceed 2 MiB"));
    }
    Ok(blob)
}

fn write_chosen(
    w: &mut FdtWriter,
    old: Option<FdtNode<'_, '_>>,
    props: &[(&str, Vec<u8>)],
) -> Result<(), DtbError> {
    let werr = |e: vm_fdt::Error| DtbError::Write(e.to_string());
    let node = w.begin_node("chosen").map_err(werr)?;
    if let Some(old) = old {
        for p in old.properties().filter(|p| !REPLACED.contains(&p.name)) {
            w.property(p.name, p.value).map_err(werr)?;
        }
    }
    for (name, value) in props {
        w.property(name, value).map_err(werr)?;
    }
    if let Some(old) = old {
        for child in old.children() {
            copy_node(w, child, 2)?;
        }
    }
    w.end_node(node).map_err(werr)
}

fn copy_node(w: &mut FdtWriter, node: FdtNode<'_, '_>, depth: usize) -> Result<(), DtbError> {
    if depth > MAX_DEPTH {
        return Err(DtbError::Invalid("nodes nested too deep"));
    }
    let werr = |e: vm_fdt::Error| DtbError::Write(e.to_string());
    let n = w.begin_node(node.name).map_err(werr)?;
    for p in node.properties() {
        w.property(p.name, p.value).map_err(werr)?;
    }
    for child in node.children() {
        copy_node(w, child, depth + 1)?;
    }
    w.end_node(n).map_err(werr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /sys/firmware/fdt of QEMU's virt board (-m 1G), from our 7.3 guest.
    fn qemu() -> Vec<u8> {
        use std::io::Read;
        let gz: &[u8] = include_bytes!("../testdata/fdt-qemu-virt.dtb.gz");
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut v)
            .unwrap();
        v
    }

    fn chosen_prop<'a>(fdt: &'a Fdt<'a>, name: &str) -> Option<&'a [u8]> {
        fdt.find_node("/chosen")?.property(name).map(|p| p.value)
    }

    /// Every node path and property of a tree, in order.
    fn flatten(fdt: &Fdt<'_>) -> Vec<(String, Vec<u8>)> {
        fn walk(n: FdtNode<'_, '_>, path: &str, out: &mut Vec<(String, Vec<u8>)>) {
            for p in n.properties() {
                out.push((format!("{path}:{}", p.name), p.value.to_vec()));
            }
            for c in n.children() {
                walk(c, &format!("{path}/{}", c.name), out);
            }
        }
        let mut out = Vec::new();
        walk(fdt.find_node("/").unwrap(), "", &mut out);
        out
    }

    #[test]
    fn chosen_for_a_crash_kernel() {
        let q = qemu();
        let c = Chosen {
            bootargs: Some("console=ttyAMA0 kp.marker=x".into()),
            initrd: Some((0x7a00_0000, 0x12_3456)),
            kaslr_seed: Some(0x1122_3344_5566_7788),
            rng_seed: Some(vec![7; RNG_SEED_SIZE]),
            elfcorehdr: Some((0x7be0_0000, 0x1000)),
            usable_memory: vec![(0x7c00_0000, 64 << 20)],
        };
        let new = setup_fdt(&q, &c).unwrap();
        check_structure(&new).unwrap();
        let fdt = Fdt::new(&new).unwrap();
        assert_eq!(
            chosen_prop(&fdt, "bootargs"),
            Some(&b"console=ttyAMA0 kp.marker=x\0"[..])
        );
        assert_eq!(
            chosen_prop(&fdt, "linux,initrd-start"),
            Some(&0x7a00_0000u64.to_be_bytes()[..])
        );
        assert_eq!(
            chosen_prop(&fdt, "linux,initrd-end"),
            Some(&(0x7a00_0000u64 + 0x12_3456).to_be_bytes()[..])
        );
        // QEMU's virt board: #address-cells = #size-cells = 2.
        let mut hdr = 0x7be0_0000u64.to_be_bytes().to_vec();
        hdr.extend_from_slice(&0x1000u64.to_be_bytes());
        assert_eq!(chosen_prop(&fdt, "linux,elfcorehdr"), Some(&hdr[..]));
        let mut usable = 0x7c00_0000u64.to_be_bytes().to_vec();
        usable.extend_from_slice(&(64u64 << 20).to_be_bytes());
        assert_eq!(
            chosen_prop(&fdt, "linux,usable-memory-range"),
            Some(&usable[..])
        );
        assert_eq!(
            chosen_prop(&fdt, "kaslr-seed"),
            Some(&0x1122_3344_5566_7788u64.to_be_bytes()[..])
        );
        assert_eq!(chosen_prop(&fdt, "rng-seed").map(<[u8]>::len), Some(128));
        assert_eq!(chosen_prop(&fdt, "linux,booted-from-kexec"), Some(&[][..]));
        let rsv: Vec<_> = fdt
            .memory_reservations()
            .map(|r| (r.address() as u64, r.size() as u64))
            .collect();
        assert_eq!(rsv, vec![(0x7a00_0000, 0x12_3456), (0x7be0_0000, 0x1000)]);

        // Everything outside /chosen is copied unchanged, in order.
        // The running tree has NOPs where early boot removed kaslr-seed and
        // rng-seed: the fdt crate reads it once they are dropped.
        assert!(check_structure(&q).is_ok());
        let (_, clean) = without_nops(&q).unwrap();
        assert!(clean.len() < q.len());
        let old = Fdt::new(&clean).unwrap();
        let keep = |v: Vec<(String, Vec<u8>)>| {
            v.into_iter()
                .filter(|(k, _)| !k.starts_with("/chosen:"))
                .collect::<Vec<_>>()
        };
        let (a, b) = (keep(flatten(&old)), keep(flatten(&fdt)));
        assert!(a.len() > 100, "{}", a.len());
        assert_eq!(a, b);
        // The old /chosen's other properties stay (stdout-path).
        assert_eq!(
            chosen_prop(&fdt, "stdout-path"),
            chosen_prop(&old, "stdout-path")
        );
    }

    #[test]
    fn stale_properties_go() {
        let q = qemu();
        // A first pass sets crash properties; a plain kexec of that tree
        // removes them, and removes the old initrd's reservation.
        let crash = Chosen {
            bootargs: Some("a".into()),
            initrd: Some((0x4800_0000, 0x1000)),
            elfcorehdr: Some((0x7be0_0000, 0x1000)),
            usable_memory: vec![(0x7c00_0000, 1 << 20)],
            kaslr_seed: Some(1),
            rng_seed: Some(vec![1; 8]),
        };
        let once = setup_fdt(&q, &crash).unwrap();
        let plain = Chosen::default();
        let twice = setup_fdt(&once, &plain).unwrap();
        let fdt = Fdt::new(&twice).unwrap();
        for p in REPLACED.iter().filter(|p| **p != "linux,booted-from-kexec") {
            assert_eq!(chosen_prop(&fdt, p), None, "{p}");
        }
        let rsv: Vec<_> = fdt
            .memory_reservations()
            .map(|r| r.address() as u64)
            .collect();
        // The initrd's reservation went with it; the elfcorehdr one is not
        // the kernel's to remove (of_kexec_alloc_and_setup_fdt keeps it).
        assert_eq!(rsv, vec![0x7be0_0000]);
    }

    #[test]
    fn hostile_blobs() {
        let q = qemu();
        assert!(check_structure(&[]).is_err());
        assert!(check_structure(&q[..39]).is_err());
        // Every truncation is refused (totalsize beyond the data).
        for cut in (0..q.len()).step_by(97) {
            assert!(setup_fdt(&q[..cut], &Chosen::default()).is_err());
        }
        // Flips anywhere in the header and the structure and strings blocks:
        // refused, or accepted and rebuilt, never a panic in the fdt crate.
        let h = check_structure(&q).unwrap();
        let end = h.off_dt_strings + h.size_dt_strings;
        let mut accepted = 0;
        for off in (0..end).step_by(3) {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut b = q.to_vec();
                b[off] ^= bit;
                if let Ok(new) = setup_fdt(&b, &Chosen::default()) {
                    accepted += 1;
                    check_structure(&new).unwrap();
                }
            }
        }
        assert!(accepted > 0);
        // A root without FDT_END, a property outside any node.
        let mut b = q.to_vec();
        let st = h.off_dt_struct;
        b[st..st + 4].copy_from_slice(&FDT_PROP.to_be_bytes());
        assert_eq!(
            check_structure(&b),
            Err(DtbError::Invalid("a property outside any node"))
        );
    }
}
