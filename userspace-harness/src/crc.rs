//! The CRC32 the probe uses in userspace: crc32fast (PCLMULQDQ / ARMv8 CRC
//! instructions), through kernel-probe's hook.

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
