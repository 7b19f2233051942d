//! Bit readers for RFC 8878: forward little-endian (FSE table headers) and
//! backward (Huffman streams, FSE-coded weights, sequences).

/// The little-endian u64 that starts at byte `at`, bytes past the end of
/// `data` read as zero.
#[inline(always)]
fn u64_at(data: &[u8], at: usize) -> u64 {
    if let Some(b) = at
        .checked_add(8)
        .and_then(|end| data.get(at..end))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
    {
        return u64::from_le_bytes(b);
    }
    let mut v = [0u8; 8];
    let rest = data.get(at..).unwrap_or_default();
    for (d, s) in v.iter_mut().zip(rest) {
        *d = *s;
    }
    u64::from_le_bytes(v)
}

/// `n` (0..=56) bits of `data` starting at bit `pos` (bit 0 is the lowest
/// bit of byte 0), bits past the end read as zero.
#[inline(always)]
fn bits_at(data: &[u8], pos: usize, n: u32) -> u64 {
    let word = u64_at(data, pos / 8) >> (pos % 8);
    word & mask(n)
}

#[inline(always)]
fn mask(n: u32) -> u64 {
    1u64.checked_shl(n).map_or(u64::MAX, |v| v.wrapping_sub(1))
}

/// Reads bits forward (FSE table descriptions).
pub(crate) struct ForwardBits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ForwardBits<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// `n` (<= 32) bits; reading past the end is corrupt data.
    pub(crate) fn read(&mut self, n: u32) -> Option<u32> {
        let end = self.pos.checked_add(n as usize)?;
        if end > self.data.len().checked_mul(8)? {
            return None;
        }
        let v = bits_at(self.data, self.pos, n);
        self.pos = end;
        u32::try_from(v).ok()
    }

    /// Give back one bit (the short form of an FSE count).
    pub(crate) fn rewind_one(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Bytes used, the last one partly.
    pub(crate) fn bytes_used(&self) -> usize {
        self.pos.div_ceil(8)
    }
}

/// Reads a backward bitstream: the stream is read from its last byte to its
/// first, and the highest set bit of the last byte marks its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BackwardBits {
    /// Bits not yet read, counted from the start of the stream.
    pos: usize,
    /// Bits asked for beyond the start (read as zeros).
    over: usize,
}

impl BackwardBits {
    /// Start reading `data`; its last byte must hold the start marker.
    pub(crate) fn new(data: &[u8]) -> Option<Self> {
        let &last = data.last()?;
        if last == 0 {
            return None;
        }
        let marker = 8u32.saturating_sub(last.leading_zeros()).saturating_sub(1);
        let pos = data
            .len()
            .saturating_sub(1)
            .checked_mul(8)?
            .checked_add(marker as usize)?;
        Some(Self { pos, over: 0 })
    }

    /// `n` (<= 56) bits; bits before the start read as zeros and are
    /// counted in [`Self::overflowed`].
    #[inline(always)]
    pub(crate) fn read(&mut self, data: &[u8], n: u32) -> u64 {
        let n_us = n as usize;
        if let Some(p) = self.pos.checked_sub(n_us) {
            self.pos = p;
            bits_at(data, p, n)
        } else {
            let have = self.pos;
            self.over = self.over.saturating_add(n_us.saturating_sub(have));
            self.pos = 0;
            let v = bits_at(data, 0, have as u32);
            v << (n_us.saturating_sub(have) as u32 & 63)
        }
    }

    /// The next `n` (<= 56) bits without consuming them (zeros past the start).
    #[inline(always)]
    pub(crate) fn peek(&self, data: &[u8], n: u32) -> u64 {
        let n_us = n as usize;
        match self.pos.checked_sub(n_us) {
            Some(p) => bits_at(data, p, n),
            None => {
                bits_at(data, 0, self.pos as u32) << (n_us.saturating_sub(self.pos) as u32 & 63)
            }
        }
    }

    /// Drop `n` bits already peeked.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        let n_us = n as usize;
        match self.pos.checked_sub(n_us) {
            Some(p) => self.pos = p,
            None => {
                self.over = self.over.saturating_add(n_us.saturating_sub(self.pos));
                self.pos = 0;
            }
        }
    }

    /// Whether reads went beyond the start of the stream.
    pub(crate) fn overflowed(&self) -> bool {
        self.over > 0
    }

    /// Every bit read, none beyond: how a stream must end.
    pub(crate) fn finished_exactly(&self) -> bool {
        self.pos == 0 && self.over == 0
    }
}

/// The position of the highest set bit (`v` > 0).
#[inline(always)]
pub(crate) fn highest_bit(v: u32) -> u32 {
    31u32.saturating_sub(v.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_reads_lsb_first() {
        let d = [0b1010_1100, 0xFF];
        let mut r = ForwardBits::new(&d);
        assert_eq!(r.read(2), Some(0));
        assert_eq!(r.read(3), Some(0b011));
        r.rewind_one();
        assert_eq!(r.read(4), Some(0b1010));
        assert_eq!(r.bytes_used(), 1);
        assert_eq!(r.read(6), Some(0x3F));
        assert_eq!(r.bytes_used(), 2);
        assert_eq!(r.read(3), None);
        assert_eq!(r.read(2), Some(3));
        assert_eq!(r.read(1), None);
    }

    #[test]
    fn backward_starts_after_the_marker() {
        // Marker at bit 5; stream bits below it: 0b11 (read first), 0b101.
        let d = [0b0011_1101u8];
        let mut r = BackwardBits::new(&d).unwrap();
        assert_eq!(r.read(&d, 2), 0b11);
        assert_eq!(r.peek(&d, 3), 0b101);
        assert_eq!(r.peek(&d, 4), 0b1010);
        assert_eq!(r.read(&d, 3), 0b101);
        assert!(r.finished_exactly());
        assert_eq!(r.read(&d, 2), 0);
        assert!(r.overflowed());
        assert!(BackwardBits::new(&[1, 0]).is_none());
        assert!(BackwardBits::new(&[]).is_none());
        let one = [1u8];
        assert!(BackwardBits::new(&one).unwrap().finished_exactly());
    }

    #[test]
    fn backward_across_words() {
        let mut d = [0u8; 20];
        d[19] = 0x80;
        d[0] = 0xAB;
        d[8] = 0xCD;
        let mut r = BackwardBits::new(&d).unwrap();
        assert_eq!(r.read(&d, 56), 0);
        assert_eq!(r.read(&d, 7 + 8 * 3), 0);
        assert_eq!(r.read(&d, 8), 0xCD);
        assert_eq!(r.read(&d, 56), 0);
        assert_eq!(r.read(&d, 8), 0xAB);
        assert!(r.finished_exactly());
    }
}
