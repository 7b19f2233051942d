//! The arm64 purgatory for `kexec_load(2)` images: the code the kernel
//! enters (MMU off, at `kimage->start`) instead of the new kernel, because
//! for a kexec_load image the kernel passes no device tree (x0 = 0).
//!
//! Source: `userspace-harness/purgatory/purgatory.S`; `gen-purgatory.sh` next
//! to it assembles it with binutils and writes `purgatory_blob.rs` (the bytes
//! with their disassembly). It sets x0 = the device tree, x1 = x2 = x3 = 0
//! (Documentation/arch/arm64/booting.rst) and branches to the kernel; the two
//! addresses are 8-byte literals after the code, filled in here.

#[path = "purgatory_blob.rs"]
mod blob;

pub use blob::{DTB_ADDR_OFFSET, KERNEL_ENTRY_OFFSET, PURGATORY};

/// The purgatory with its kernel entry and device tree address filled in.
pub fn build(kernel_entry: u64, dtb: u64) -> [u8; PURGATORY.len()] {
    let mut p = PURGATORY;
    p[KERNEL_ENTRY_OFFSET..KERNEL_ENTRY_OFFSET + 8].copy_from_slice(&kernel_entry.to_le_bytes());
    p[DTB_ADDR_OFFSET..DTB_ADDR_OFFSET + 8].copy_from_slice(&dtb.to_le_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(p: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(p[i * 4..i * 4 + 4].try_into().unwrap())
    }

    /// Decode the instructions by their A64 encodings: the literal loads
    /// really read the slots that build() fills, and the rest is what
    /// booting.rst asks for.
    #[test]
    fn encodings() {
        let p = build(0x4020_0000, 0x4260_0000);
        // LDR (literal), 64-bit: 0x58000000 | imm19 << 5 | Rt; the address is
        // the instruction's own + imm19 * 4.
        let ldr = |i: usize| {
            let w = word(&p, i);
            assert_eq!(w & 0xff00_0000, 0x5800_0000, "{w:#x}");
            (i * 4 + (((w >> 5) & 0x7_ffff) as usize) * 4, w & 0x1f)
        };
        assert_eq!(ldr(0), (KERNEL_ENTRY_OFFSET, 17));
        assert_eq!(ldr(1), (DTB_ADDR_OFFSET, 0));
        // MOV Xd, XZR (ORR Xd, XZR, XZR): 0xaa1f03e0 | Rd.
        assert_eq!(word(&p, 2), 0xaa1f_03e1);
        assert_eq!(word(&p, 3), 0xaa1f_03e2);
        assert_eq!(word(&p, 4), 0xaa1f_03e3);
        // BR X17: 0xd61f0000 | Rn << 5.
        assert_eq!(word(&p, 5), 0xd61f_0000 | (17 << 5));
        assert_eq!(
            u64::from_le_bytes(p[KERNEL_ENTRY_OFFSET..][..8].try_into().unwrap()),
            0x4020_0000
        );
        assert_eq!(
            u64::from_le_bytes(p[DTB_ADDR_OFFSET..][..8].try_into().unwrap()),
            0x4260_0000
        );
        // The slots are 8-byte aligned (LDR literal needs 4, the data 8).
        assert_eq!(KERNEL_ENTRY_OFFSET % 8, 0);
        assert_eq!(DTB_ADDR_OFFSET % 8, 0);
    }
}
