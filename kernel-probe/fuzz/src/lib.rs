//! Helpers shared by the fuzz targets: a heap output buffer, crc32fast as the
//! CRC hook, and the one-shot and streaming drivers.

use kernel_probe::{probe, OutputBuffer, ProbeError, ProbeOptions, Prober, Verdict};

/// The bound the targets use: small, so that bombs are cheap to refuse.
pub const MAX_IMAGE_SIZE: u64 = 16 << 20;

pub fn opts() -> ProbeOptions {
    ProbeOptions {
        max_image_size: MAX_IMAGE_SIZE,
        ..ProbeOptions::default()
    }
}

/// A heap output buffer, sized once by the prober.
#[derive(Default)]
pub struct VecOut(pub Vec<u8>);

impl OutputBuffer for VecOut {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        self.0 = vec![0; len];
        Ok(())
    }
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

pub struct Crc;

impl kernel_probe::Crc32 for Crc {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(data);
        h.finalize()
    }
}

/// One-shot probe: the verdict and, when accepted, the image.
pub fn oneshot(input: &[u8]) -> (Verdict, Option<Vec<u8>>) {
    let mut p = Box::new(Prober::new(opts()));
    let mut out = VecOut::default();
    let (res, img) = match probe(&mut p, input, &mut out, &mut Crc) {
        Ok((r, img)) => (Ok(r), Some(img.to_vec())),
        Err(e) => (Err(e), None),
    };
    (p.verdict(res, input.len() as u64), img)
}

/// Streaming probe with chunk sizes taken from `chunks` in turn (0 means 1).
pub fn streamed(input: &[u8], chunks: &[usize]) -> (Verdict, Option<Vec<u8>>) {
    let mut p = Box::new(Prober::new(opts()));
    let mut out = VecOut::default();
    let mut pos = 0;
    let mut i = 0;
    let mut res = Ok(());
    while pos < input.len() {
        let c = chunks.get(i % chunks.len().max(1)).copied().unwrap_or(1);
        let n = c.max(1).min(input.len() - pos);
        i += 1;
        res = p.write(&input[pos..pos + n], &mut out, &mut Crc);
        if res.is_err() {
            break;
        }
        pos += n;
    }
    let r = res.and_then(|()| p.finish(&out));
    let img = r.is_ok().then(|| p.image(&out).to_vec());
    (p.verdict(r, input.len() as u64), img)
}
