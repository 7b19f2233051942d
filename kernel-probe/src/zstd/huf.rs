//! Huffman-coded literals (RFC 8878 section 4.2): the tree description
//! (direct or FSE-coded weights) and 1- or 4-stream decoding.

use super::bits::{highest_bit, BackwardBits};
use super::fse::Table;

/// Longest code. RFC 8878 says 11; the reference decoder (HUF_TABLELOG_MAX)
/// accepts 12, and so do we, so that both agree on every stream.
pub(crate) const MAX_BITS: u32 = 12;
const TABLE_LEN: usize = 1 << MAX_BITS;

/// A decoding table: the next `max_bits` bits of a stream index a cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HufTable {
    /// (symbol, code length) per cell.
    cells: [(u8, u8); TABLE_LEN],
    max_bits: u8,
}

impl Default for HufTable {
    fn default() -> Self {
        Self {
            cells: [(0, 0); TABLE_LEN],
            max_bits: 0,
        }
    }
}

impl HufTable {
    /// Whether a tree was read (treeless literals reuse it).
    pub(crate) fn is_set(&self) -> bool {
        self.max_bits != 0
    }

    pub(crate) fn clear(&mut self) {
        self.max_bits = 0;
    }

    /// Read a tree description at the start of `src`; returns bytes used.
    /// `fse` is scratch for FSE-coded weights.
    pub(crate) fn read(&mut self, src: &[u8], fse: &mut Table<64>) -> Option<usize> {
        let mut weights = [0u8; 256];
        let (&header, rest) = src.split_first()?;
        let (count, used) = if header >= 128 {
            // Direct: 4 bits per weight, header - 127 weights.
            let n = usize::from(header.saturating_sub(127));
            let bytes = n.div_ceil(2);
            let data = rest.get(..bytes)?;
            for (i, w) in weights.iter_mut().take(n).enumerate() {
                let b = *data.get(i / 2)?;
                *w = if i % 2 == 0 { b >> 4 } else { b & 0x0F };
            }
            (n, bytes.checked_add(1)?)
        } else {
            // FSE-coded: `header` bytes, two interleaved states.
            let data = rest.get(..usize::from(header))?;
            let table_len = fse.read(data, 6, 255)?;
            let stream = data.get(table_len..)?;
            let mut bits = BackwardBits::new(stream)?;
            let mut s1 = fse.init_state(&mut bits, stream);
            let mut s2 = fse.init_state(&mut bits, stream);
            let mut n = 0usize;
            loop {
                // 255 weights at most: a longer stream is corrupt.
                *weights.get_mut(n)? = fse.cell(s1).symbol;
                n = n.checked_add(1)?;
                s1 = fse.next_state(s1, &mut bits, stream);
                if bits.overflowed() {
                    *weights.get_mut(n)? = fse.cell(s2).symbol;
                    n = n.checked_add(1)?;
                    break;
                }
                *weights.get_mut(n)? = fse.cell(s2).symbol;
                n = n.checked_add(1)?;
                s2 = fse.next_state(s2, &mut bits, stream);
                if bits.overflowed() {
                    *weights.get_mut(n)? = fse.cell(s1).symbol;
                    n = n.checked_add(1)?;
                    break;
                }
            }
            (n, usize::from(header).checked_add(1)?)
        };
        if count > 255 {
            return None;
        }
        self.build(weights.get_mut(..count.checked_add(1)?)?)?;
        Some(used)
    }

    /// `weights` holds the given weights and one slot for the last,
    /// implied one.
    fn build(&mut self, weights: &mut [u8]) -> Option<()> {
        let (last, given) = weights.split_last_mut()?;
        let mut sum: u32 = 0;
        for &w in given.iter() {
            if u32::from(w) > MAX_BITS {
                return None;
            }
            if w > 0 {
                sum = sum.checked_add(1 << w.saturating_sub(1))?;
            }
        }
        if sum == 0 {
            return None;
        }
        let max_bits = highest_bit(sum).checked_add(1)?;
        if max_bits > MAX_BITS {
            return None;
        }
        let left = (1u32 << max_bits).checked_sub(sum)?;
        if !left.is_power_of_two() {
            return None;
        }
        *last = u8::try_from(highest_bit(left).checked_add(1)?).ok()?;
        // Cells by code length, longest codes (lowest weights) first, then
        // by symbol: RFC 8878 4.2.1.3.
        let mut rank_count = [0u32; MAX_BITS as usize + 2];
        for &w in weights.iter() {
            if w > 0 {
                let c = rank_count.get_mut(usize::from(w))?;
                *c = c.checked_add(1)?;
            }
        }
        // The longest codes (weight 1) come in pairs, at least one: a tree
        // without them is not a full prefix code (the reference decoder's
        // HUF_readStats: "at least 2 elts of rank 1, must be even").
        let ones = *rank_count.get(1)?;
        if ones < 2 || ones % 2 != 0 {
            return None;
        }
        let mut rank_start = [0u32; MAX_BITS as usize + 2];
        let mut next: u32 = 0;
        for w in 1..=max_bits {
            *rank_start.get_mut(w as usize)? = next;
            let per = 1u32 << w.saturating_sub(1);
            next = next.checked_add(rank_count.get(w as usize)?.checked_mul(per)?)?;
        }
        if next != 1 << max_bits {
            return None;
        }
        for (symbol, &w) in weights.iter().enumerate() {
            if w == 0 {
                continue;
            }
            let len = 1u32 << w.saturating_sub(1);
            let start = rank_start.get_mut(usize::from(w))?;
            let nb_bits = u8::try_from(max_bits.checked_add(1)?.checked_sub(u32::from(w))?).ok()?;
            let cells = self
                .cells
                .get_mut(*start as usize..start.checked_add(len)? as usize)?;
            for c in cells {
                *c = (u8::try_from(symbol).ok()?, nb_bits);
            }
            *start = start.checked_add(len)?;
        }
        self.max_bits = u8::try_from(max_bits).ok()?;
        Some(())
    }

    /// Decode one stream into all of `out`. None: no stream (empty); false:
    /// the stream is not framed exactly (no end mark in its last byte, or it
    /// did not end where `out` did: bits left over, or read past its start).
    pub(crate) fn decode_stream(&self, stream: &[u8], out: &mut [u8]) -> Option<bool> {
        if stream.last() == Some(&0) {
            // No end mark: not a stream (the reference's fast four-stream
            // loop reads it anyway; its one-stream path refuses it).
            return Some(false);
        }
        let mut bits = BackwardBits::new(stream)?;
        let n = u32::from(self.max_bits);
        for o in out.iter_mut() {
            let (sym, len) = self.cells.get(bits.peek(stream, n) as usize).copied()?;
            *o = sym;
            bits.consume(u32::from(len));
        }
        Some(bits.finished_exactly())
    }

    /// Four streams (`jump` table of three u16 sizes first) into `out`;
    /// as [`Self::decode_stream`], true when all four ended exactly.
    pub(crate) fn decode_4_streams(&self, src: &[u8], out: &mut [u8]) -> Option<bool> {
        let size = |i: usize| -> Option<usize> {
            Some(usize::from(u16::from_le_bytes([
                *src.get(i)?,
                *src.get(i.checked_add(1)?)?,
            ])))
        };
        let (s1, s2, s3) = (size(0)?, size(2)?, size(4)?);
        let data = src.get(6..)?;
        let (a, rest) = data.split_at_checked(s1)?;
        let (b, rest) = rest.split_at_checked(s2)?;
        let (c, d) = rest.split_at_checked(s3)?;
        let seg = out.len().div_ceil(4);
        // Fewer than 6 literals cannot be split in four (the reference
        // decoder's MIN_LITERALS_FOR_4_STREAMS).
        if d.is_empty() || out.len() < 6 || seg.checked_mul(3)? > out.len() {
            return None;
        }
        let (o1, rest) = out.split_at_mut(seg);
        let (o2, rest) = rest.split_at_mut(seg);
        let (o3, o4) = rest.split_at_mut(seg);
        let e1 = self.decode_stream(a, o1)?;
        let e2 = self.decode_stream(b, o2)?;
        let e3 = self.decode_stream(c, o3)?;
        let e4 = self.decode_stream(d, o4)?;
        Some(e1 && e2 && e3 && e4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_weights_build_a_canonical_table() {
        // Weights 1, 1 and an implied 2: symbols 0 and 1 get 2-bit codes,
        // symbol 2 a 1-bit code (max_bits 2).
        let mut t = HufTable::default();
        let mut fse = Table::<64>::default();
        assert_eq!(t.read(&[127 + 2, 0x11], &mut fse), Some(2));
        assert_eq!(t.max_bits, 2);
        assert_eq!(&t.cells[..4], &[(0, 2), (1, 2), (2, 1), (2, 1)]);
        // Stream: symbol 2 ("1x"), symbol 0 ("00"), marker.
        // Read backward: bits 2..0 = 1 0 0 -> peek(2) = 0b10 -> symbol 2 (1 bit),
        // then 0b00 -> symbol 0.
        let mut out = [0u8; 2];
        assert_eq!(t.decode_stream(&[0b1100], &mut out), Some(true));
        assert_eq!(out, [2, 0]);
        // Weights 3 and 1 (sum 5) leave 3 to fill 8: no power of two.
        assert_eq!(t.read(&[127 + 2, 0x31], &mut fse), None);
        // Weights 1, 1, 1 leave 1: an implied weight 1.
        assert_eq!(t.read(&[127 + 3, 0x11, 0x10], &mut fse), Some(3));
        assert_eq!(&t.cells[..4], &[(0, 2), (1, 2), (2, 2), (3, 2)]);
        // Weights 2, 1 leave 1 (an implied 1): two codes of weight 1, fine;
        // weights 2, 2, 1 (sum 5) leave 3: no; 2 and 3 leave 2 (an implied 2):
        // no weight-1 codes at all, which is no full prefix code.
        assert_eq!(t.read(&[127 + 2, 0x21], &mut fse), Some(2));
        assert_eq!(t.read(&[127 + 2, 0x23], &mut fse), None);
        // All-zero weights.
        assert_eq!(t.read(&[127 + 2, 0x00], &mut fse), None);
    }
}
