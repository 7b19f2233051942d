//! Finite State Entropy tables (RFC 8878 section 4.1): the table
//! description, the decoding table, and the predefined distributions.

use super::bits::{highest_bit, BackwardBits, ForwardBits};

/// One decoding-table cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cell {
    pub symbol: u8,
    pub nb_bits: u8,
    pub base: u16,
}

/// A decoding table of up to `N` cells (N = 1 << the largest accuracy log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table<const N: usize> {
    pub cells: [Cell; N],
    pub log: u8,
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Self {
            cells: [Cell::default(); N],
            log: 0,
        }
    }
}

/// The most symbols a distribution may describe (Huffman weights: 256).
const MAX_SYMBOLS: usize = 256;

impl<const N: usize> Table<N> {
    /// A one-symbol table (RLE mode): every state decodes `symbol`, no bits.
    pub(crate) fn rle(&mut self, symbol: u8) {
        self.log = 0;
        if let Some(c) = self.cells.first_mut() {
            *c = Cell {
                symbol,
                nb_bits: 0,
                base: 0,
            };
        }
    }

    /// Read a table description from the start of `src` and build the
    /// table; returns the bytes used. `max_log` and `max_symbol` are the
    /// context's limits. None: corrupt.
    pub(crate) fn read(&mut self, src: &[u8], max_log: u32, max_symbol: usize) -> Option<usize> {
        let mut probs = [0i16; MAX_SYMBOLS];
        let mut r = ForwardBits::new(src);
        let log = r.read(4)?.checked_add(5)?;
        if log > max_log || (1usize << log) > N {
            return None;
        }
        let mut remaining: i32 = 1 << log;
        let mut symbols = 0usize;
        while remaining > 0 {
            if symbols > max_symbol {
                return None;
            }
            let width =
                highest_bit(u32::try_from(remaining.checked_add(1)?).ok()?).checked_add(1)?;
            let mut val = r.read(width)?;
            let lower_mask = (1u32 << width.saturating_sub(1)).wrapping_sub(1);
            let threshold = (1u32 << width)
                .wrapping_sub(1)
                .checked_sub(u32::try_from(remaining.checked_add(1)?).ok()?)?;
            if val & lower_mask < threshold {
                r.rewind_one();
                val &= lower_mask;
            } else if val > lower_mask {
                val = val.checked_sub(threshold)?;
            }
            let prob = i32::try_from(val).ok()?.checked_sub(1)?;
            remaining = remaining.checked_sub(prob.checked_abs()?)?;
            *probs.get_mut(symbols)? = i16::try_from(prob).ok()?;
            symbols = symbols.checked_add(1)?;
            if prob == 0 {
                loop {
                    let repeat = r.read(2)?;
                    for _ in 0..repeat {
                        *probs.get_mut(symbols)? = 0;
                        symbols = symbols.checked_add(1)?;
                    }
                    if repeat != 3 {
                        break;
                    }
                }
            }
        }
        if remaining != 0 || symbols > max_symbol.checked_add(1)? {
            return None;
        }
        self.build(probs.get(..symbols)?, log)?;
        Some(r.bytes_used())
    }

    /// Build the decoding table from normalised counts (-1: "less than 1").
    pub(crate) fn build(&mut self, probs: &[i16], log: u32) -> Option<()> {
        let size = 1usize.checked_shl(log)?;
        let cells = self.cells.get_mut(..size)?;
        let mut next = [0u16; MAX_SYMBOLS];
        let mut high = size;
        for (s, &p) in probs.iter().enumerate() {
            if p == -1 {
                high = high.checked_sub(1)?;
                cells.get_mut(high)?.symbol = u8::try_from(s).ok()?;
                *next.get_mut(s)? = 1;
            }
        }
        let step = (size >> 1).wrapping_add(size >> 3).wrapping_add(3);
        let mask = size.wrapping_sub(1);
        let mut pos = 0usize;
        for (s, &p) in probs.iter().enumerate() {
            if p <= 0 {
                continue;
            }
            *next.get_mut(s)? = u16::try_from(p).ok()?;
            for _ in 0..p {
                cells.get_mut(pos)?.symbol = u8::try_from(s).ok()?;
                loop {
                    pos = pos.wrapping_add(step) & mask;
                    if pos < high {
                        break;
                    }
                }
            }
        }
        if pos != 0 {
            return None;
        }
        for c in cells.iter_mut() {
            let n = next.get_mut(usize::from(c.symbol))?;
            let desc = *n;
            *n = desc.checked_add(1)?;
            let nb = log.checked_sub(highest_bit(u32::from(desc)))?;
            c.nb_bits = u8::try_from(nb).ok()?;
            let base = (u32::from(desc) << nb).checked_sub(u32::try_from(size).ok()?)?;
            c.base = u16::try_from(base).ok()?;
        }
        self.log = u8::try_from(log).ok()?;
        Some(())
    }

    /// The cell for `state` (states are always below the table size).
    #[inline(always)]
    pub(crate) fn cell(&self, state: usize) -> Cell {
        self.cells.get(state).copied().unwrap_or_default()
    }

    /// The first state, read from the stream.
    #[inline(always)]
    pub(crate) fn init_state(&self, bits: &mut BackwardBits, data: &[u8]) -> usize {
        bits.read(data, u32::from(self.log)) as usize
    }

    /// The state after `state`.
    #[inline(always)]
    pub(crate) fn next_state(&self, state: usize, bits: &mut BackwardBits, data: &[u8]) -> usize {
        let c = self.cell(state);
        usize::from(c.base).wrapping_add(bits.read(data, u32::from(c.nb_bits)) as usize)
    }
}

/// Literals_Length_Code's predefined distribution (accuracy log 6).
pub(crate) const LL_DEFAULT: [i16; 36] = [
    4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
    -1, -1, -1, -1,
];
/// Match_Length_Code's predefined distribution (accuracy log 6).
pub(crate) const ML_DEFAULT: [i16; 53] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
/// Offset_Code's predefined distribution (accuracy log 5).
pub(crate) const OF_DEFAULT: [i16; 29] = [
    1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_tables_build() {
        let mut t = Table::<512>::default();
        t.build(&LL_DEFAULT, 6).unwrap();
        // As libzstd's LL_defaultDTable has them (its baseVal is the
        // code's baseline: 1 is code 1, 4096 code 31, 8192 code 32).
        assert_eq!(
            t.cell(0),
            Cell {
                symbol: 0,
                nb_bits: 4,
                base: 0
            }
        );
        assert_eq!(
            t.cell(1),
            Cell {
                symbol: 0,
                nb_bits: 4,
                base: 16
            }
        );
        assert_eq!(
            t.cell(2),
            Cell {
                symbol: 1,
                nb_bits: 5,
                base: 32
            }
        );
        assert_eq!(
            t.cell(21),
            Cell {
                symbol: 31,
                nb_bits: 6,
                base: 0
            }
        );
        assert_eq!(
            t.cell(60),
            Cell {
                symbol: 35,
                nb_bits: 6,
                base: 0
            }
        );
        assert_eq!(
            t.cell(63),
            Cell {
                symbol: 32,
                nb_bits: 6,
                base: 0
            }
        );
        t.build(&ML_DEFAULT, 6).unwrap();
        assert_eq!(
            t.cell(0),
            Cell {
                symbol: 0,
                nb_bits: 6,
                base: 0
            }
        );
        assert_eq!(
            t.cell(1),
            Cell {
                symbol: 1,
                nb_bits: 4,
                base: 0
            }
        );
        let mut o = Table::<256>::default();
        o.build(&OF_DEFAULT, 5).unwrap();
        assert_eq!(
            o.cell(0),
            Cell {
                symbol: 0,
                nb_bits: 5,
                base: 0
            }
        );
        assert_eq!(
            o.cell(1),
            Cell {
                symbol: 6,
                nb_bits: 4,
                base: 0
            }
        );
        assert_eq!(
            o.cell(31),
            Cell {
                symbol: 24,
                nb_bits: 5,
                base: 0
            }
        );
    }

    #[test]
    fn descriptions_that_do_not_add_up_are_corrupt() {
        let mut t = Table::<512>::default();
        // Accuracy log 5 + 9 > 9.
        assert_eq!(t.read(&[0x05, 0, 0, 0], 9, 35), None);
        // Empty input.
        assert_eq!(t.read(&[], 9, 35), None);
        // Runs out of bits before the total is reached.
        assert_eq!(t.read(&[0x00], 9, 35), None);
    }
}
