//! Memory for the input and the decompressed image.
//!
//! Input: a regular file is mapped read-only and private (no copy), watched
//! for truncation (see [`crate::sigbus`]). The mapping is not populated up
//! front: the quick probe touches only the head and the trailer, and
//! [`probe_input`] faults the compressed stream in and releases it chunk by
//! chunk. Anything else (a pipe, a FIFO, a character device) is read as a
//! stream, in chunks, straight into the prober: never more than a chunk of it
//! is held, and a stream longer than any acceptable input is cut off.
//!
//! Output: one anonymous mapping of exactly the size
//! the image announces; the kernel hands out zeroed pages as they are first
//! written, so nothing is zeroed twice and untouched bytes cost no memory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use kernel_probe::container::{sniff, Sniffed, SNIFF_LEN};
use kernel_probe::{probe, Crc32, Format, OutputBuffer, ProbeError, Prober, Report};
use memmap2::{Advice, Mmap, MmapMut, MmapOptions, UncheckedAdvice};

use crate::sigbus::Watch;

/// An input file: mapped when it is a regular file, else a stream.
pub struct Input {
    /// Unregisters the mapping before it is unmapped (fields drop in order).
    watch: Option<Watch>,
    map: Option<Mmap>,
    file: File,
    /// Bytes of a regular file; bytes read so far for a stream.
    len: u64,
}

impl Input {
    /// Open `path` without blocking (a FIFO with no writer would block
    /// `open` forever), then read it in blocking mode.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        // SAFETY: plain fcntl calls on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            if fl < 0 || libc::fcntl(file.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the mapping is private and read-only. If another process
            // rewrites the file while we probe it we may read changed bytes
            // (the probe is panic-free on any bytes); if it truncates it, the
            // Watch turns the SIGBUS into zeros and an I/O error
            // (`check_intact`).
            let map = unsafe { MmapOptions::new().map(&file)? };
            let watch = Watch::new(map.as_ptr(), map.len());
            return Ok(Self {
                watch: Some(watch),
                len: map.len() as u64,
                map: Some(map),
                file,
            });
        }
        Ok(Self {
            watch: None,
            map: None,
            file,
            len: 0,
        })
    }

    /// The whole input, for a mapped regular file; `None` for a stream.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.map.as_deref()
    }

    /// Input bytes: the file's length, or what was read of a stream.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The open file (its descriptor is what `load` hands to the kernel).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// An I/O error if the file shrank while it was mapped: what was read
    /// past its new end was zeros, not the file.
    pub fn check_intact(&self) -> io::Result<()> {
        let Some(map) = &self.map else { return Ok(()) };
        let now = self.file.metadata()?.len();
        if self.watch.as_ref().is_some_and(Watch::faulted) || now < map.len() as u64 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file was truncated while it was read ({} -> {now} bytes)",
                    map.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Compressed input goes to the prober in chunks of this size; each chunk's
/// pages are populated before and released after (see [`probe_input`]).
const INPUT_CHUNK: usize = 1 << 20;

/// Why a probe of an [`Input`] did not give a verdict.
#[derive(Debug)]
pub enum InputError {
    /// The prober's verdict.
    Probe(ProbeError),
    /// Reading the input failed.
    Io(io::Error),
}

impl From<ProbeError> for InputError {
    fn from(e: ProbeError) -> Self {
        Self::Probe(e)
    }
}

/// [`kernel_probe::probe`] over an input, with the same verdict (the
/// one-shot probe is one streaming write; writes of any size give the same
/// result).
///
/// Mapped: a raw Image is checked in place by `probe` unless `copy_raw`
/// (then it is copied into `out`, so that the bytes checked are the bytes
/// kept). A compressed one is written in 1 MiB chunks: each chunk is
/// populated in one call (MADV_POPULATE_READ, instead of one fault per 16
/// pages) and dropped from the mapping once consumed (MADV_DONTNEED), so the
/// compressed file and the whole image are never resident together: peak
/// RSS is about the image plus a chunk, not image + input.
///
/// A stream is read in 1 MiB chunks into the prober; more than
/// `2 * max_image_size + 1 MiB` of it (no compressed kernel is that much
/// larger than its image) is an I/O error (EFBIG), so an endless stream
/// ends.
pub fn probe_input<'a, O: OutputBuffer, C: Crc32>(
    prober: &'a mut Prober,
    input: &'a mut Input,
    out: &'a mut O,
    crc: &mut C,
    copy_raw: bool,
) -> Result<(Report, &'a [u8]), InputError> {
    if input.map.is_none() {
        return probe_stream(prober, input, out, crc);
    }
    let Some(map) = input.map.as_ref() else {
        return Err(InputError::Probe(ProbeError::InvalidState));
    };
    let head = map.get(..SNIFF_LEN).unwrap_or(map);
    let raw = sniff(head) == Sniffed::Known(Format::Image);
    if (raw && !copy_raw) || (!raw && map.len() <= INPUT_CHUNK) {
        return Ok(probe(prober, map, out, crc)?);
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

fn probe_stream<'a, O: OutputBuffer, C: Crc32>(
    prober: &'a mut Prober,
    input: &mut Input,
    out: &'a mut O,
    crc: &mut C,
) -> Result<(Report, &'a [u8]), InputError> {
    let limit = prober
        .options()
        .max_image_size
        .saturating_mul(2)
        .saturating_add(INPUT_CHUNK as u64);
    let mut chunk = vec![0u8; INPUT_CHUNK];
    loop {
        let n = match input.file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(InputError::Io(e)),
        };
        input.len = input.len.saturating_add(n as u64);
        if input.len > limit {
            return Err(InputError::Io(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the input stream goes on past {limit} bytes"),
            )));
        }
        prober.write(chunk.get(..n).unwrap_or_default(), out, crc)?;
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
