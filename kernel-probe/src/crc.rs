//! The CRC32 hook. The caller supplies the fastest CRC32 it has (crc32fast in
//! userspace, the kernel's `crc32_le` in the module); [`TableCrc32`] is a
//! portable fallback.

/// CRC-32 (IEEE 802.3, reflected, as gzip uses it) with zlib's calling
/// convention: `update(0, b"")` is 0 and `update(update(0, a), b)` equals the
/// CRC of `a` followed by `b`.
pub trait Crc32 {
    /// The CRC of `data` continued from `crc` (0 to start).
    fn update(&mut self, crc: u32, data: &[u8]) -> u32;
}

/// Byte-at-a-time table CRC32: small and portable, not fast.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableCrc32;

const POLY: u32 = 0xEDB8_8320;

/// The table entry for byte value `i`.
const fn entry(i: u32) -> u32 {
    let mut c = i;
    let mut k: u32 = 0;
    while k < 8 {
        c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
        k = k.saturating_add(1);
    }
    c
}

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    // Walk the slots without indexing: every slot is reached exactly once.
    let mut rest: &mut [u32] = &mut table;
    let mut i = 0;
    while let [slot, tail @ ..] = rest {
        *slot = entry(i);
        rest = tail;
        i += 1;
    }
    table
};

/// One-shot helper over the table implementation.
pub fn crc32_table(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        // A u8 index into a 256-entry table: always present (the branch
        // folds away).
        let t = TABLE.get(usize::from((c as u8) ^ b)).copied().unwrap_or(0);
        c = t ^ (c >> 8);
    }
    !c
}

impl Crc32 for TableCrc32 {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        crc32_table(crc, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(crc32_table(0, b""), 0);
        assert_eq!(crc32_table(0, b"123456789"), 0xCBF4_3926);
        let split = crc32_table(crc32_table(0, b"1234"), b"56789");
        assert_eq!(split, 0xCBF4_3926);
    }

    #[test]
    fn matches_crc32fast() {
        let data: [u8; 1000] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        assert_eq!(crc32_table(0, &data), crc32fast::hash(&data));
    }
}
