//! The CRC32 the probe uses in userspace: crc32fast (PCLMULQDQ / ARMv8 CRC
//! instructions), through kernel-probe's hook.

/// sha2's SHA-256 behind the [`kernel_probe::authenticode::Sha256`] hook.
#[derive(Clone, Default)]
pub struct Sha2(sha2::Sha256);

impl kernel_probe::authenticode::Sha256 for Sha2 {
    fn reset(&mut self) {
        self.0 = sha2::Sha256::default();
    }
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
    fn finish(&mut self) -> [u8; 32] {
        sha2::Digest::finalize_reset(&mut self.0).into()
    }
}

/// crc32fast behind the [`kernel_probe::Crc32`] hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastCrc;

impl kernel_probe::Crc32 for FastCrc {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(data);
        h.finalize()
    }
}
