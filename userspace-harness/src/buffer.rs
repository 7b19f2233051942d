//! Memory for the input and the decompressed image.
//!
//! Input: a read-only private mapping of the file (no copy), or one read for
//! what cannot be mapped. The mapping is not populated up front: the quick
//! probe touches only the head and the trailer, and [`probe_input`] faults
//! the compressed stream in and releases it chunk by chunk.
//!
//! Output: one anonymous mapping of exactly the size
//! the image announces; the kernel hands out zeroed pages as they are first
//! written, so nothing is zeroed twice and untouched bytes cost no memory.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

use kernel_probe::container::{sniff, Sniffed, SNIFF_LEN};
use kernel_probe::{probe, Crc32, Format, OutputBuffer, ProbeError, Prober, Report};
use memmap2::{Advice, Mmap, MmapMut, MmapOptions, UncheckedAdvice};

/// The input file's bytes.
pub enum Input {
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Read(v) => v,
        }
    }
}

impl Input {
    pub fn open(path: &Path) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the mapping is private and read-only. If another process
            // truncates or rewrites the file while we probe it, we may read
            // changed bytes or take SIGBUS; the probe is panic-free on any
            // bytes, and probing a file that is being rewritten is the
            // caller's race, as with any reader.
            let map = unsafe { MmapOptions::new().map(&file)? };
            return Ok(Input::Mapped(map));
        }
        let mut v = Vec::new();
        file.read_to_end(&mut v)?;
        Ok(Input::Read(v))
    }
}

/// Compressed input goes to the prober in chunks of this size; each chunk's
/// pages are populated before and released after (see [`probe_input`]).
const INPUT_CHUNK: usize = 1 << 20;

/// [`kernel_probe::probe`] over a mapped input, with the same verdict (the
/// one-shot probe is one streaming write; writes of any size give the same
/// result). A raw Image is checked in place by `probe`. A compressed one is
/// written in 1 MiB chunks: each chunk is populated in one call
/// (MADV_POPULATE_READ, instead of one fault per 16 pages) and dropped from
/// the mapping once consumed (MADV_DONTNEED), so the compressed file and the
/// whole image are never resident together: peak RSS is about the image plus
/// a chunk, not image + input.
pub fn probe_input<'a, O: OutputBuffer, C: Crc32>(
    prober: &'a mut Prober,
    input: &'a Input,
    out: &'a mut O,
    crc: &mut C,
) -> Result<(Report, &'a [u8]), ProbeError> {
    let map = match input {
        Input::Mapped(m) => m,
        Input::Read(_) => return probe(prober, input, out, crc),
    };
    let head = map.get(..SNIFF_LEN).unwrap_or(map);
    if sniff(head) == Sniffed::Known(Format::Image) || map.len() <= INPUT_CHUNK {
        return probe(prober, input, out, crc);
    }
    let mut pos = 0;
    while pos < map.len() {
        let end = map.len().min(pos.saturating_add(INPUT_CHUNK));
        // Advice only: a kernel without MADV_POPULATE_READ faults as usual.
        let _ = map.advise_range(Advice::PopulateRead, pos, end - pos);
        prober.write(&map[pos..end], out, crc)?;
        // SAFETY: MADV_DONTNEED on a private, read-only file mapping drops
        // our page table entries only; a later read faults the same file
        // bytes back in, so every slice into the map stays valid and
        // unchanged (the prober keeps no reference to its input anyway).
        let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, pos, end - pos) };
        pos = end;
    }
    let report = prober.finish(out)?;
    Ok((report, prober.image(out)))
}

/// The output buffer: reserved once, at the size the prober asks for.
#[derive(Default)]
pub struct MappedOutput {
    map: Option<MmapMut>,
}

impl OutputBuffer for MappedOutput {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        let map = MmapOptions::new()
            .len(len.max(1))
            .map_anon()
            .map_err(|_| ProbeError::NoMemory)?;
        // Transparent huge pages make the kernel's page faults 512x rarer on
        // a 40 MB image; it is only advice, so a refusal changes nothing.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        self.map = Some(map);
        Ok(())
    }

    fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or_default()
    }
}
