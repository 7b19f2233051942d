//! Writing the decompressed Image (`--output`).
//!
//! A regular file (or a new path) is replaced atomically: a temporary file in
//! the target's directory, synced, then renamed over the target. A failure at
//! any step removes the temporary file, so no partial image is ever left
//! behind. A symbolic link is followed, so the link stays and its target is
//! replaced. A character device or a FIFO is written in place (renaming over
//! it would replace `/dev/null` with a regular file); `-` is standard output.
//! A block device, a directory, or the input itself is refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Removes the temporary file unless disarmed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Where `--output PATH` writes.
#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    /// `-`: standard output.
    Stdout,
    /// An existing character device or FIFO: opened and written in place.
    InPlace(PathBuf),
    /// A regular file or a new name (symbolic links resolved): replaced
    /// atomically.
    Replace(PathBuf),
}

impl Destination {
    /// Decide where `path` writes, refusing what must not be overwritten.
    /// `inputs` are the images being probed: the output may not be one of
    /// them (same device and inode, whatever the name).
    pub fn resolve(path: &Path, inputs: &[PathBuf]) -> io::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdout);
        }
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A new name, or a dangling symbolic link: write where the
                // link points, as a shell redirection would.
                let mut target = path.to_path_buf();
                for _ in 0..8 {
                    match fs::read_link(&target) {
                        Ok(t) => target = target.parent().unwrap_or(Path::new(".")).join(t),
                        Err(_) => break,
                    }
                }
                return Ok(Self::Replace(target));
            }
            Err(e) => return Err(e),
        };
        for input in inputs {
            if let Ok(im) = fs::metadata(input) {
                if im.dev() == meta.dev() && im.ino() == meta.ino() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{} is the input {} (same file): refusing to overwrite it",
                            path.display(),
                            input.display()
                        ),
                    ));
                }
            }
        }
        let t = meta.file_type();
        if t.is_char_device() || t.is_fifo() || t.is_socket() {
            Ok(Self::InPlace(path.to_path_buf()))
        } else if t.is_block_device() {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a block device: refusing to write a kernel over a disk",
                    path.display()
                ),
            ))
        } else if t.is_dir() {
            Err(io::Error::from_raw_os_error(libc::EISDIR))
        } else {
            // A regular file, possibly behind symbolic links: replace the
            // file they point to, keep the links.
            Ok(Self::Replace(fs::canonicalize(path)?))
        }
    }

    /// Write `data` there.
    pub fn write(&self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(data)?;
                out.flush()
            }
            Self::InPlace(p) => OpenOptions::new().write(true).open(p)?.write_all(data),
            Self::Replace(p) => write_atomic(p, data),
        }
    }
}

pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "output path has no file name")
    })?;
    let tmp = dir.join(format!(
        ".{}.probe-run.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut guard = TempGuard(Some(tmp.clone()));
    let mut f: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    guard.0 = None;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
