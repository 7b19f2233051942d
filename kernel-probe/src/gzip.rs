//! RFC 1952 gzip members: the header, parsed a byte run at a time so that it
//! can arrive split across any number of writes, and the 8-byte trailer.

use crate::crc::Crc32;
use crate::error::ProbeError;

const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xE0;
const CM_DEFLATE: u8 = 8;
/// Length of the fixed part of a member header.
pub const FIXED_LEN: usize = 10;
/// Length of a member trailer (CRC32, ISIZE).
pub const TRAILER_LEN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Fixed,
    ExtraLen,
    Extra { left: u16 },
    Name,
    Comment,
    HeaderCrc,
    Done,
}

/// Incremental parser for one member header.
#[derive(Clone, Copy, Debug)]
pub struct HeaderParser {
    state: State,
    /// Bytes collected for the current fixed-size field.
    buf: [u8; FIXED_LEN],
    filled: usize,
    flags: u8,
    /// CRC32 of the header bytes so far, for FHCRC.
    crc: u32,
    /// Total header length so far.
    len: u64,
}

impl Default for HeaderParser {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderParser {
    /// A parser at the start of a member.
    pub const fn new() -> Self {
        Self {
            state: State::Fixed,
            buf: [0; FIXED_LEN],
            filled: 0,
            flags: 0,
            crc: 0,
            len: 0,
        }
    }

    /// The whole header has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consume header bytes from `input`; returns how many were header.
    /// After [`Self::is_done`] the rest of `input` is deflate data.
    pub fn feed<C: Crc32>(&mut self, input: &[u8], crc: &mut C) -> Result<usize, ProbeError> {
        let mut pos = 0;
        while self.state != State::Done {
            let rest = input.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            let state = self.state;
            let want = if state == State::Fixed { FIXED_LEN } else { 2 };
            let mut field_end = false;
            let take = match state {
                State::Fixed | State::ExtraLen | State::HeaderCrc => {
                    let take = want.saturating_sub(self.filled).min(rest.len());
                    let end = self.filled.saturating_add(take);
                    if let (Some(dst), Some(src)) =
                        (self.buf.get_mut(self.filled..end), rest.get(..take))
                    {
                        dst.copy_from_slice(src);
                    }
                    self.filled = end;
                    field_end = self.filled == want;
                    take
                }
                State::Extra { left } => usize::from(left).min(rest.len()),
                State::Name | State::Comment => match rest.iter().position(|&b| b == 0) {
                    Some(nul) => {
                        field_end = true;
                        nul.saturating_add(1)
                    }
                    None => rest.len(),
                },
                State::Done => 0,
            };
            // Every header byte before the FHCRC field is covered by it.
            if state != State::HeaderCrc {
                self.crc = crc.update(self.crc, rest.get(..take).unwrap_or_default());
            }
            self.len = self.len.saturating_add(take as u64);
            pos = pos.saturating_add(take);
            // The magic is checked as soon as its bytes are here, so bytes
            // after a member that are not another member are named at once.
            let [id1, id2, ..] = self.buf;
            if state == State::Fixed
                && (self.filled >= 1 && id1 != 0x1F || self.filled >= 2 && id2 != 0x8B)
            {
                return Err(ProbeError::TrailingGarbage);
            }
            match state {
                State::Extra { left } => {
                    // take <= left by construction.
                    let left = left.saturating_sub(take as u16);
                    self.state = if left == 0 {
                        self.after(FEXTRA)
                    } else {
                        State::Extra { left }
                    };
                }
                State::Name if field_end => self.state = self.after(FNAME),
                State::Comment if field_end => self.state = self.after(FCOMMENT),
                _ if field_end => {
                    self.filled = 0;
                    self.complete_field(state)?;
                }
                _ => {}
            }
        }
        Ok(pos)
    }

    fn complete_field(&mut self, state: State) -> Result<(), ProbeError> {
        match state {
            State::Fixed => {
                let [_, _, cm, flg, ..] = self.buf;
                if cm != CM_DEFLATE {
                    return Err(ProbeError::GzipBadMethod);
                }
                self.flags = flg;
                if self.flags & FRESERVED != 0 {
                    return Err(ProbeError::GzipReservedFlags);
                }
                self.state = self.after(0);
            }
            State::ExtraLen => {
                let [lo, hi, ..] = self.buf;
                let left = u16::from_le_bytes([lo, hi]);
                self.state = if left == 0 {
                    self.after(FEXTRA)
                } else {
                    State::Extra { left }
                };
            }
            State::HeaderCrc => {
                let [lo, hi, ..] = self.buf;
                let stored = u16::from_le_bytes([lo, hi]);
                if stored != (self.crc & 0xFFFF) as u16 {
                    return Err(ProbeError::GzipHeaderCrc);
                }
                self.state = State::Done;
            }
            _ => {}
        }
        Ok(())
    }

    /// The state after the field `done` (0 = the fixed part).
    fn after(&self, done: u8) -> State {
        let order = [
            (FEXTRA, State::ExtraLen),
            (FNAME, State::Name),
            (FCOMMENT, State::Comment),
            (FHCRC, State::HeaderCrc),
        ];
        let mut passed = done == 0;
        for (bit, state) in order {
            if passed && self.flags & bit != 0 {
                return state;
            }
            if bit == done {
                passed = true;
            }
        }
        State::Done
    }
}

/// A member trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// CRC32 of the member's uncompressed data.
    pub crc32: u32,
    /// Length of the member's uncompressed data, modulo 2^32.
    pub isize: u32,
}

impl Trailer {
    /// Decode the 8 trailer bytes.
    pub fn parse(b: [u8; TRAILER_LEN]) -> Self {
        let [c0, c1, c2, c3, s0, s1, s2, s3] = b;
        Self {
            crc32: u32::from_le_bytes([c0, c1, c2, c3]),
            isize: u32::from_le_bytes([s0, s1, s2, s3]),
        }
    }

    /// Check the trailer against the member's data.
    pub fn verify(&self, crc32: u32, len: u64) -> Result<(), ProbeError> {
        if self.crc32 != crc32 {
            Err(ProbeError::CrcMismatch)
        } else if u64::from(self.isize) != len & 0xFFFF_FFFF {
            Err(ProbeError::IsizeMismatch)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc::{crc32_table, TableCrc32};
    use std::vec::Vec;

    fn header(flags: u8, extra: &[u8], name: &[u8], comment: &[u8]) -> Vec<u8> {
        let mut h = std::vec![0x1F, 0x8B, 8, flags, 1, 2, 3, 4, 0, 3];
        if flags & FEXTRA != 0 {
            h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            h.extend_from_slice(extra);
        }
        if flags & FNAME != 0 {
            h.extend_from_slice(name);
            h.push(0);
        }
        if flags & FCOMMENT != 0 {
            h.extend_from_slice(comment);
            h.push(0);
        }
        if flags & FHCRC != 0 {
            let c = crc32_table(0, &h) as u16;
            h.extend_from_slice(&c.to_le_bytes());
        }
        h
    }

    /// Feed `bytes` in chunks of `chunk`, then one byte of deflate data.
    fn parse_chunked(bytes: &[u8], chunk: usize) -> Result<usize, ProbeError> {
        let mut p = HeaderParser::new();
        let mut data = bytes.to_vec();
        data.push(0xAA);
        let mut total = 0;
        for c in data.chunks(chunk) {
            let n = p.feed(c, &mut TableCrc32)?;
            total += n;
            if p.is_done() {
                assert_eq!(p.len, bytes.len() as u64);
                return Ok(total);
            }
            assert_eq!(n, c.len());
        }
        Err(ProbeError::Truncated)
    }

    #[test]
    fn every_optional_field_in_every_split() {
        for flags in 0..32u8 {
            let h = header(flags, b"xtra-data", b"vmlinux", b"a comment");
            for chunk in [1, 2, 3, 7, 64] {
                assert_eq!(
                    parse_chunked(&h, chunk),
                    Ok(h.len()),
                    "flags {flags:#x} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn header_crc_is_verified() {
        let mut h = header(FHCRC | FNAME, b"", b"Image", b"");
        let n = h.len();
        h[n - 1] ^= 1;
        assert_eq!(parse_chunked(&h, 3), Err(ProbeError::GzipHeaderCrc));
        // MTIME and the name are covered by FHCRC too.
        let mut h = header(FHCRC | FNAME, b"", b"Image", b"");
        h[5] ^= 0x40;
        assert_eq!(parse_chunked(&h, 64), Err(ProbeError::GzipHeaderCrc));
    }

    #[test]
    fn bad_method_reserved_flags_and_magic() {
        let mut h = header(0, b"", b"", b"");
        h[2] = 7;
        assert_eq!(parse_chunked(&h, 4), Err(ProbeError::GzipBadMethod));
        for bit in [0x20u8, 0x40, 0x80] {
            let h = header(bit, b"", b"", b"");
            assert_eq!(parse_chunked(&h, 10), Err(ProbeError::GzipReservedFlags));
        }
        assert_eq!(
            parse_chunked(b"\x1F\x8C", 1),
            Err(ProbeError::TrailingGarbage)
        );
        assert_eq!(parse_chunked(b"PK", 1), Err(ProbeError::TrailingGarbage));
    }

    #[test]
    fn trailer_checks() {
        let t = Trailer::parse([1, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(t.verify(1, 5), Ok(()));
        assert_eq!(t.verify(1, 5 + (1 << 32)), Ok(()));
        assert_eq!(t.verify(2, 5), Err(ProbeError::CrcMismatch));
        assert_eq!(t.verify(1, 6), Err(ProbeError::IsizeMismatch));
    }
}
