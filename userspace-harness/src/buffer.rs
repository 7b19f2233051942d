//! Memory for the input and the decompressed image.
//!
//! Input: a read-only private mapping of the file (no copy), or one read for
//! what cannot be mapped. Output: one anonymous mapping of exactly the size
//! the image announces; the kernel hands out zeroed pages as they are first
//! written, so nothing is zeroed twice and untouched bytes cost no memory.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

use kernel_probe::{OutputBuffer, ProbeError};
use memmap2::{Mmap, MmapMut, MmapOptions};

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
            let map = unsafe { MmapOptions::new().populate().map(&file)? };
            return Ok(Input::Mapped(map));
        }
        let mut v = Vec::new();
        file.read_to_end(&mut v)?;
        Ok(Input::Read(v))
    }
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
