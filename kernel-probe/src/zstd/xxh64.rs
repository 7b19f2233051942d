//! XXH64 (seed 0), streaming: the zstd content checksum is its low 32 bits.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// Running XXH64 state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Xxh64 {
    acc: [u64; 4],
    buf: [u8; 32],
    buf_len: usize,
    total: u64,
}

#[inline(always)]
fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline(always)]
fn merge(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

fn lane(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(i..i.saturating_add(8)) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

impl Xxh64 {
    /// A fresh state (seed 0).
    pub(crate) fn new() -> Self {
        Self {
            acc: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            buf: [0; 32],
            buf_len: 0,
            total: 0,
        }
    }

    fn stripe(acc: &mut [u64; 4], s: &[u8]) {
        for (i, a) in acc.iter_mut().enumerate() {
            *a = round(*a, lane(s, i.saturating_mul(8)));
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = 32usize.saturating_sub(self.buf_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self
                .buf
                .get_mut(self.buf_len..self.buf_len.saturating_add(take))
            {
                dst.copy_from_slice(head);
            }
            self.buf_len = self.buf_len.saturating_add(take);
            data = rest;
            if self.buf_len < 32 {
                return;
            }
            let buf = self.buf;
            Self::stripe(&mut self.acc, &buf);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            Self::stripe(&mut self.acc, c);
        }
        let rest = chunks.remainder();
        if let Some(dst) = self.buf.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.buf_len = rest.len();
    }

    pub(crate) fn digest(&self) -> u64 {
        let [a1, a2, a3, a4] = self.acc;
        let mut h = if self.total >= 32 {
            let h = a1
                .rotate_left(1)
                .wrapping_add(a2.rotate_left(7))
                .wrapping_add(a3.rotate_left(12))
                .wrapping_add(a4.rotate_left(18));
            merge(merge(merge(merge(h, a1), a2), a3), a4)
        } else {
            a3.wrapping_add(P5)
        };
        h = h.wrapping_add(self.total);
        let tail = self.buf.get(..self.buf_len).unwrap_or_default();
        let mut i = 0usize;
        while i.saturating_add(8) <= tail.len() {
            h = (h ^ round(0, lane(tail, i)))
                .rotate_left(27)
                .wrapping_mul(P1)
                .wrapping_add(P4);
            i = i.saturating_add(8);
        }
        if i.saturating_add(4) <= tail.len() {
            let mut w = [0u8; 4];
            if let Some(s) = tail.get(i..i.saturating_add(4)) {
                w.copy_from_slice(s);
            }
            h = (h ^ u64::from(u32::from_le_bytes(w)).wrapping_mul(P1))
                .rotate_left(23)
                .wrapping_mul(P2)
                .wrapping_add(P3);
            i = i.saturating_add(4);
        }
        for &b in tail.get(i..).unwrap_or_default() {
            h = (h ^ u64::from(b).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(P2);
        h ^= h >> 29;
        h = h.wrapping_mul(P3);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xxh(d: &[u8]) -> u64 {
        let mut x = Xxh64::new();
        x.update(d);
        x.digest()
    }

    #[test]
    fn known_values() {
        // xxHash's reference values (seed 0).
        assert_eq!(xxh(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh(b"abc"), 0x44BC_2CF5_AD77_0999);
        let long: std::vec::Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        // Any split gives the one-shot value.
        let whole = xxh(&long);
        for split in [1, 7, 31, 32, 33, 100, 999] {
            let mut x = Xxh64::new();
            x.update(&long[..split]);
            x.update(&long[split..]);
            assert_eq!(x.digest(), whole, "split {split}");
        }
    }
}
