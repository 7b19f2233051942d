// SPDX-License-Identifier: GPL-2.0

//! kernel_probe: the kernel-probe crate inside the kernel, behind a misc
//! device and, on a kernel with qemu/patches' hook, as kexec_file_load()'s
//! decompressor (kexec_hook.rs): what arm64's `arch_kexec_kernel_image_probe`
//! would do if it accepted compressed kernels, with the same verdicts as
//! `probe-run`. `kexec_hook=0` leaves the kexec path alone.
//!
//! Protocol of `/dev/kernel-probe`: open it, write an image (raw Image,
//! Image.gz or vmlinuz.efi) in writes of any size, then read one line: the
//! JSON report, with the same keys and values as `probe-run --json` (`path`
//! is null). Each open file probes one image; after the first read, writes
//! fail with EINVAL. The input is streamed into the probe (never buffered
//! whole); the decompressed image goes into one vmalloc area of the size the
//! image announces (`text_offset + image_size`), at most `max_image_size`.
//! Everything is freed on close.

mod ffi;
mod kexec_hook;

use kernel::{
    alloc::flags::{GFP_KERNEL, __GFP_NOWARN},
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
};
use kernel_probe::{Crc32, OutputBuffer, ProbeError, ProbeOptions, Prober, ReportLine};

module! {
    type: KernelProbeModule,
    name: "kernel_probe",
    authors: ["kernel-probe developers"],
    description: "Probe arm64 kernel images through /dev/kernel-probe; decompress them for kexec_file_load",
    license: "GPL",
    params: {
        max_image_size: u64 {
            default: 268435456,
            description: "Largest decompressed image accepted, in bytes (default 256 MiB)",
        },
        kexec_hook: u8 {
            default: 1,
            description: "Register the kexec_file_load decompressor (0: /dev/kernel-probe only)",
        },
    },
}

/// The `max_image_size` parameter. `ModuleParam::value()` returns `&u64` up
/// to Linux 7.2 and `u64` from 7.3 on; [`ParamValue`] reads both, so the
/// module builds on either.
fn max_image_size() -> u64 {
    module_parameters::max_image_size.value().param_value()
}

/// The `kexec_hook` parameter: register the kexec_file decompressor.
fn kexec_hook_wanted() -> bool {
    module_parameters::kexec_hook.value().param_value() != 0
}

/// A module parameter's value, by reference (Linux <= 7.2) or by value (7.3).
trait ParamValue {
    type Value;
    fn param_value(self) -> Self::Value;
}

macro_rules! param_value {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            type Value = $t;
            fn param_value(self) -> $t {
                self
            }
        }
        impl ParamValue for &$t {
            type Value = $t;
            fn param_value(self) -> $t {
                *self
            }
        }
    )*};
}
param_value!(u8, u64);

#[pin_data]
struct KernelProbeModule {
    /// The kexec_file decompressor, when registered. Declared first, so it
    /// is unregistered before the device goes.
    kexec: Option<ffi::KexecHook>,
    #[pin]
    dev: ffi::OwnedMiscDevice<ProbeFile>,
}

impl kernel::InPlaceModule for KernelProbeModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "/dev/kernel-probe, max_image_size={}\n",
            max_image_size()
        );
        // The rules the probe applies, as this kernel's image_load() does.
        let t = ffi::kernel_target();
        let g = |g: kernel_probe::Granules, name: &'static str| {
            if t.granules.contains(g) {
                name
            } else {
                ""
            }
        };
        let endian = if t.endian == kernel_probe::Endian::Big {
            "big"
        } else {
            "little"
        };
        let (g4, g16, g64) = (
            g(kernel_probe::Granules::K4, "4k,"),
            g(kernel_probe::Granules::K16, "16k,"),
            g(kernel_probe::Granules::K64, "64k,"),
        );
        let mixed = u8::from(t.mixed_endian);
        pr_info!(
            "target endian={} mixed_endian={} granules={}{}{} page_size={}\n",
            endian,
            mixed,
            g4,
            g16,
            g64,
            t.page_size
        );
        let kexec = if kexec_hook_wanted() {
            match ffi::KexecHook::register() {
                Ok(hook) => {
                    pr_info!("kexec_file_load decompressor registered\n");
                    Some(hook)
                }
                // Not fatal: /dev/kernel-probe works on any kernel.
                Err(e) => {
                    let why = if e == EOPNOTSUPP {
                        ": this kernel lacks the hook"
                    } else {
                        ""
                    };
                    pr_warn!(
                        "kexec_file_load decompressor not registered (errno {}{})\n",
                        -e.to_errno(),
                        why
                    );
                    None
                }
            }
        } else {
            pr_info!("kexec_file_load decompressor off (kexec_hook=0)\n");
            None
        };
        try_pin_init!(Self {
            kexec,
            dev <- ffi::OwnedMiscDevice::register(c"kernel-probe", module),
        })
    }
}

/// The kernel's CRC32 behind kernel-probe's hook (zlib convention).
struct KernelCrc;

impl Crc32 for KernelCrc {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        !ffi::crc32_le(!crc, data)
    }
}

/// The decompressed image: one vmalloc area, allocated once, when the image
/// announces its size.
struct ImageBuf(Option<VVec<u8>>);

impl OutputBuffer for ImageBuf {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        // __GFP_NOWARN: a refused allocation is the user's answer (ENOMEM),
        // not a reason for a warning splat.
        let buf = VVec::from_elem(0u8, len, GFP_KERNEL | __GFP_NOWARN)
            .map_err(|_| ProbeError::NoMemory)?;
        self.0 = Some(buf);
        Ok(())
    }

    fn as_slice(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().unwrap_or(&mut [])
    }
}

/// Bytes copied from userspace per step: the input is streamed, never
/// buffered whole.
const CHUNK: usize = 16 * 1024;

/// Bytes taken by one `write()`: the rest is a short write. With the inflate
/// cost bounded per input byte (the worst, a flood of empty dynamic deflate
/// blocks, ~110 ns/byte natively), one call does a bounded amount of work.
const WRITE_MAX: usize = 1 << 20;

/// One open file's probe. Allocated zeroed in vmalloc memory (it is ~305 KB:
/// the prober with its inflate state, the copy buffer and the report line).
struct Session {
    prober: Prober,
    chunk: [u8; CHUNK],
    report: ReportLine,
    /// Bytes written by userspace (all of them, also after a rejection).
    written: u64,
    /// The prober was reset with this file's options.
    started: bool,
    /// The report is made; writes are over.
    reported: bool,
}

// SAFETY: `Prober` is valid when zeroed (kernel-probe's documented and
// Miri-tested contract, for the exact miniz_oxide version it pins and whose
// state's size it asserts at build time); `[u8; N]`, `u64` and `bool` are;
// `ReportLine` is a `heapless::String` (a length and an array of
// `MaybeUninit<u8>`), for which zero is the empty string (also Miri-tested,
// heapless pinned, its size asserted).
unsafe impl ffi::ZeroValid for Session {}

#[pin_data]
struct ProbeFile {
    #[pin]
    inner: Mutex<Inner>,
}

struct Inner {
    session: VBox<Session>,
    image: ImageBuf,
}

impl Inner {
    /// Finish the probe (once) and make the report line.
    fn report(&mut self) -> &[u8] {
        if !self.session.reported {
            let s = Inner::started(&mut self.session);
            let result = match s.prober.error() {
                Some(e) => Err(e),
                None => s.prober.finish(&self.image),
            };
            let mut verdict = s.prober.verdict(result, s.written);
            // Signed images get the Authenticode check, as in probe-run.
            if let Ok(report) = &verdict.result {
                if let Some(pe) = report.pe.filter(|pe| pe.cert.is_some()) {
                    let image = s.prober.image(&self.image);
                    verdict.authenticode = Some(kernel_probe::authenticode::check(
                        image,
                        &pe,
                        &mut ffi::KernelSha256::new(),
                    ));
                }
            }
            s.report.clear();
            if verdict.write_json(&mut s.report, None).is_err() || s.report.push('\n').is_err() {
                // Cannot happen with a null path (a report is < 1 KiB), but
                // never hand out a cut line.
                s.report.clear();
            }
            s.reported = true;
            // The image is not read back: free it now, not at close.
            self.image = ImageBuf(None);
        }
        self.session.report.as_bytes()
    }
}

#[vtable]
impl MiscDevice for ProbeFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let session = ffi::vzalloc_zeroed::<Session>()?;
        KBox::try_pin_init(
            try_pin_init!(ProbeFile {
                inner <- new_mutex!(Inner {
                    session,
                    image: ImageBuf(None),
                }),
            }),
            GFP_KERNEL,
        )
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let me = kiocb.file();
        let mut inner = me.inner.lock();
        if inner.session.reported {
            return Err(EINVAL);
        }
        let Inner { session, image } = &mut *inner;
        let s = Inner::started(session);
        let mut copied = 0usize;
        // At most WRITE_MAX bytes per write() (a short write; callers
        // write the rest), yielding between chunks: whatever the input, one
        // call holds the file's mutex for a bounded time and never hogs
        // the CPU.
        while !iov.is_empty() && copied < WRITE_MAX {
            if copied > 0 {
                ffi::cond_resched();
            }
            let n = iov.copy_from_iter(&mut s.chunk);
            if n == 0 {
                // A fault in the user buffer.
                return if copied == 0 { Err(EFAULT) } else { Ok(copied) };
            }
            copied = copied.saturating_add(n);
            s.written = s.written.saturating_add(n as u64);
            // After a rejection the rest is only counted: the verdict stands
            // and the input size in the report stays the file's size.
            if s.prober.error().is_none() {
                if let Some(data) = s.chunk.get(..n) {
                    let _ = s.prober.write(data, image, &mut KernelCrc);
                }
            }
        }
        Ok(copied)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let me = kiocb.file();
        let mut inner = me.inner.lock();
        let line = inner.report();
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), line)
    }
}

impl Inner {
    /// The session, reset with the module's options on first use.
    fn started(session: &mut VBox<Session>) -> &mut Session {
        let s = &mut **session;
        if !s.started {
            s.prober.reset(ProbeOptions {
                max_image_size: max_image_size(),
                target: ffi::kernel_target(),
            });
            s.started = true;
        }
        s
    }
}
