//! Bounds-checked little-endian reads: every read of untrusted data goes
//! through these, so no index can panic.

/// `N` bytes at `off`, or `None` when they are not all inside `data`.
pub(crate) fn array<const N: usize>(data: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    data.get(off..end)?.try_into().ok()
}

/// `u16` at `off`, little-endian.
pub(crate) fn u16_le(data: &[u8], off: usize) -> Option<u16> {
    array(data, off).map(u16::from_le_bytes)
}

/// `u32` at `off`, little-endian.
pub(crate) fn u32_le(data: &[u8], off: usize) -> Option<u32> {
    array(data, off).map(u32::from_le_bytes)
}

/// `u64` at `off`, little-endian.
pub(crate) fn u64_le(data: &[u8], off: usize) -> Option<u64> {
    array(data, off).map(u64::from_le_bytes)
}

/// `data[off..off+len]` when it fits.
pub(crate) fn range(data: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    data.get(off..off.checked_add(len)?)
}

/// A `u64` length as `usize`, saturating (only 32-bit targets can saturate).
pub(crate) fn usize_sat(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let d = [1u8, 2, 3, 4, 5];
        assert_eq!(u16_le(&d, 0), Some(0x0201));
        assert_eq!(u32_le(&d, 1), Some(0x0504_0302));
        assert_eq!(u32_le(&d, 2), None);
        assert_eq!(u64_le(&d, usize::MAX), None);
        assert_eq!(range(&d, 4, 1), Some(&[5u8][..]));
        assert_eq!(range(&d, 4, 2), None);
    }
}
