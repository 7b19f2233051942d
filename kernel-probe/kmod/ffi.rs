// SPDX-License-Identifier: GPL-2.0

//! Every `unsafe` of the module, in one file: the kernel's `crc32_le` (not in
//! the Rust bindings), the running kernel's image rules and cond_resched
//! (glue.c), the zeroed allocation of the prober, a misc device registration
//! whose `file_operations` name this module as their owner, and the kexec_file
//! decompressor: its registration and the `extern "C"` callback the kernel
//! calls with the file kexec_file_load() read.
//!
//! Linux 7.2's `MiscDeviceRegistration` registers a `file_operations` table
//! with `.owner` NULL, so an open file does not pin the module: `rmmod` while
//! the device is open succeeds and the final `close()` then calls into freed
//! code. [`OwnedMiscDevice`] registers a copy of the same table with `.owner`
//! set, so `misc_open()`'s `fops_get()` takes a module reference per open file
//! and `rmmod` is refused (EBUSY) until the last close.

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::mem::MaybeUninit;

use kernel::alloc::{AllocError, Flags};
use kernel::bindings;
use kernel::miscdevice::{MiscDevice, MiscDeviceOptions};
use kernel::prelude::*;
use kernel::types::Opaque;
use kernel::ThisModule;

extern "C" {
    /// `u32 crc32_le(u32 crc, const void *p, size_t len)`, lib/crc/crc32-main.c.
    #[link_name = "crc32_le"]
    fn raw_crc32_le(crc: u32, p: *const core::ffi::c_void, len: usize) -> u32;
}

extern "C" {
    // glue.c: the kernel's static inline <asm/cpufeature.h> helpers and
    // cond_resched().
    fn kp_system_supports_mixed_endian() -> bool;
    fn kp_system_supports_4kb_granule() -> bool;
    fn kp_system_supports_16kb_granule() -> bool;
    fn kp_system_supports_64kb_granule() -> bool;
    fn kp_cond_resched();
    // glue.c: register / unregister `kp_kexec_decompress` with kexec_file.
    fn kp_kexec_hook_register() -> core::ffi::c_int;
    fn kp_kexec_hook_unregister();
}

/// The kexec_file decompressor, registered while this value lives (the
/// kernel's hook from qemu/patches/0001-*; glue.c holds the C table).
pub(crate) struct KexecHook(());

impl KexecHook {
    /// Register; the kernel's errno when it refuses (EBUSY: another
    /// decompressor; EOPNOTSUPP: a kernel without the hook).
    pub(crate) fn register() -> Result<Self, Error> {
        // SAFETY: glue.c's table is static and names `kp_kexec_decompress`
        // below, which is callable from any process context for as long as
        // this module is loaded; `Drop` unregisters before the module's code
        // goes away (it runs from the module's exit path).
        kernel::error::to_result(unsafe { kp_kexec_hook_register() })?;
        Ok(Self(()))
    }
}

impl Drop for KexecHook {
    fn drop(&mut self) {
        // SAFETY: registered by `register` (the only constructor); the kernel
        // waits for a call in progress before this returns.
        unsafe { kp_kexec_hook_unregister() }
    }
}

/// The callback kexec_file_load() makes with the file it read (see
/// `struct kexec_file_decompressor` in the patched <linux/kexec.h>): 0 with
/// a vmalloc'd image in `*out`/`*out_len`, which the kernel owns and
/// `vfree()`s; `-ENOEXEC` for "not a format I know"; another `-errno` to
/// fail the system call.
///
/// # Safety
/// `buf` is valid for reads of `len` bytes for the duration of the call;
/// `out` and `out_len` are valid for writes. The kernel guarantees both.
#[no_mangle]
pub(crate) unsafe extern "C" fn kp_kexec_decompress(
    buf: *const core::ffi::c_void,
    len: core::ffi::c_ulong,
    out: *mut *mut core::ffi::c_void,
    out_len: *mut core::ffi::c_ulong,
) -> core::ffi::c_int {
    if buf.is_null() || out.is_null() || out_len.is_null() {
        return EINVAL.to_errno();
    }
    let Ok(len) = usize::try_from(len) else {
        return EFBIG.to_errno();
    };
    // SAFETY: the caller hands us the kernel_buf it read (`len` bytes,
    // vmalloc'd, unchanged during the call; kexec_file_load is serialised
    // by kexec_trylock()).
    let file = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    match crate::kexec_hook::decompress(file) {
        Ok(image) => {
            let (ptr, image_len, _capacity) = image.into_raw_parts();
            // SAFETY: `out`/`out_len` are valid for writes (checked non-null,
            // the caller's locals). `ptr` comes from the Vmalloc allocator,
            // so the kernel's vfree() of it is the matching free; the length
            // is > 0 (an image is at least a header), so `ptr` is a real
            // allocation, not a dangling one.
            unsafe {
                out.write(ptr.cast());
                out_len.write(image_len as core::ffi::c_ulong);
            }
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Let the scheduler run something else if it wants to (`cond_resched()`):
/// a long `write()` probes in steps and yields between them.
pub(crate) fn cond_resched() {
    // SAFETY: called from process context (a file write) with only a
    // sleeping mutex held, where cond_resched() may sleep.
    unsafe { kp_cond_resched() }
}

/// What this kernel's `image_load()` accepts (arch/arm64/kernel/kexec_image.c):
/// its own endianness, or either when `system_supports_mixed_endian()`; the
/// granules `system_supports_*kb_granule()` report; and `PAGE_SIZE`, to which
/// kexec aligns the kernel segment.
pub(crate) fn kernel_target() -> kernel_probe::Target {
    use kernel_probe::{Endian, Granules, Target};
    // SAFETY: the helpers take no arguments and only read the sanitised CPU
    // feature registers, which are final once the module can be loaded.
    let (mixed, g4, g16, g64) = unsafe {
        (
            kp_system_supports_mixed_endian(),
            kp_system_supports_4kb_granule(),
            kp_system_supports_16kb_granule(),
            kp_system_supports_64kb_granule(),
        )
    };
    let mut granules = Granules::empty();
    granules.set(Granules::K4, g4);
    granules.set(Granules::K16, g16);
    granules.set(Granules::K64, g64);
    Target {
        endian: if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        },
        mixed_endian: mixed,
        granules,
        page_size: kernel::page::PAGE_SIZE as u64,
    }
}

/// The kernel's CRC-32 (little-endian, no pre/post inversion).
pub(crate) fn crc32_le(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is a valid, initialised slice for the duration of the
    // call; crc32_le only reads `len` bytes from `p` and keeps no reference.
    unsafe { raw_crc32_le(crc, data.as_ptr().cast(), data.len()) }
}

/// The kernel's SHA-256 (lib/crypto, arch-accelerated where available).
pub(crate) struct KernelSha256(bindings::sha256_ctx);

impl KernelSha256 {
    pub(crate) fn new() -> Self {
        let mut ctx = Self(bindings::sha256_ctx::default());
        kernel_probe::authenticode::Sha256::reset(&mut ctx);
        ctx
    }
}

impl kernel_probe::authenticode::Sha256 for KernelSha256 {
    fn reset(&mut self) {
        // SAFETY: `self.0` is a valid, exclusively borrowed sha256_ctx.
        unsafe { bindings::sha256_init(&mut self.0) };
    }

    fn update(&mut self, data: &[u8]) {
        // SAFETY: the context was initialised by `reset` (done in `new`);
        // `data` is valid for `data.len()` bytes during the call, which keeps
        // no reference to it.
        unsafe { bindings::__sha256_update(&mut self.0.ctx, data.as_ptr(), data.len()) };
    }

    fn finish(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: `out` has the SHA256_DIGEST_SIZE (32) bytes sha256_final
        // writes; the context is valid (it is wiped by sha256_final and must
        // be reset before reuse, which `reset` does).
        unsafe { bindings::sha256_final(&mut self.0, out.as_mut_ptr()) };
        out
    }
}

/// A `T` in fresh, zeroed vmalloc memory, built without a stack temporary.
///
/// # Contract
/// `T` must be valid when all its bytes are zero. kernel-probe documents and
/// tests (under Miri) that property for `Prober`; the session type that embeds
/// it holds only integers, arrays, bools and `Option`s of non-null pointers.
pub(crate) fn vzalloc_zeroed<T: ZeroValid>() -> Result<VBox<T>, AllocError> {
    let boxed: VBox<MaybeUninit<T>> = VBox::new_uninit(GFP_KERNEL | __GFP_ZERO_FLAG)?;
    // SAFETY: the allocation was zero-filled by the allocator (__GFP_ZERO) and
    // `T: ZeroValid` promises all-zero bytes are a valid `T`.
    Ok(unsafe { boxed.assume_init() })
}

const __GFP_ZERO_FLAG: Flags = kernel::alloc::flags::__GFP_ZERO;

/// Types whose all-zero bit pattern is a valid value.
///
/// # Safety
/// Implement only for types for which that is true.
pub(crate) unsafe trait ZeroValid {}

/// A misc device whose file operations pin this module while a file is open.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct OwnedMiscDevice<T: MiscDevice> {
    /// Registered with `misc_register()`; `misc_open()` hands its address to
    /// the `MiscDevice` glue as a `MiscDeviceRegistration<T>`, which is
    /// `repr(transparent)` over the same `Opaque<miscdevice>`.
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    /// Our copy of `MiscDeviceRegistration<T>`'s operations, with `.owner`.
    #[pin]
    fops: Opaque<bindings::file_operations>,
    _t: PhantomData<T>,
}

// SAFETY: after registration the kernel owns the synchronisation of the
// miscdevice; we only read `fops` (immutable after init) and deregister once.
unsafe impl<T: MiscDevice> Send for OwnedMiscDevice<T> {}
// SAFETY: as above, no interior mutation happens through `&Self`.
unsafe impl<T: MiscDevice> Sync for OwnedMiscDevice<T> {}

impl<T: MiscDevice> OwnedMiscDevice<T> {
    /// Register `/dev/<name>` with `module` as the owner of its operations.
    pub(crate) fn register(name: &'static CStr, module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // `misc_open()` hands the glue the address of our `misc` field as a
        // `&MiscDeviceRegistration<T>`: that holds only while the kernel's
        // type is a transparent wrapper of `struct miscdevice` and `misc` is
        // our first field. A kernel that changes either fails to build here.
        const {
            assert!(
                size_of::<kernel::miscdevice::MiscDeviceRegistration<T>>()
                    == size_of::<Opaque<bindings::miscdevice>>()
            );
            assert!(
                align_of::<kernel::miscdevice::MiscDeviceRegistration<T>>()
                    == align_of::<Opaque<bindings::miscdevice>>()
            );
            assert!(core::mem::offset_of!(Self, misc) == 0);
        }
        let init = move |slot: *mut Self| -> Result<(), Error> {
            let raw = MiscDeviceOptions { name }.into_raw::<T>();
            // SAFETY: `slot` is valid for writes (pin-init contract); we
            // initialise `fops` first, then `misc`, and only then register.
            // `raw.fops` points to the `'static` vtable MiscdeviceVTable<T>
            // built for this `T`; copying it by value is what C does with a
            // `const struct file_operations` template.
            unsafe {
                let fops = core::ptr::addr_of_mut!((*slot).fops).cast::<bindings::file_operations>();
                fops.write(raw.fops.read());
                (*fops).owner = module.as_ptr();
                let misc = core::ptr::addr_of_mut!((*slot).misc).cast::<bindings::miscdevice>();
                misc.write(bindings::miscdevice {
                    fops: fops.cast_const(),
                    ..raw
                });
                core::ptr::addr_of_mut!((*slot)._t).write(PhantomData);
                kernel::error::to_result(bindings::misc_register(misc))
            }
        };
        // SAFETY: the closure initialises every field of `*slot` before
        // returning Ok, returns Err only before `misc_register` succeeded
        // (nothing to undo: nothing registered, nothing to drop), and never
        // moves out of `*slot`, so the pinned value stays where it was made.
        unsafe { pin_init::pin_init_from_closure(init) }
    }
}

#[pinned_drop]
impl<T: MiscDevice> PinnedDrop for OwnedMiscDevice<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the device was registered by `register` (the only way to
        // build this type) and is deregistered exactly once, here. The module
        // cannot be unloading while a file is open (`.owner` pins it), so no
        // file operation can run after this returns.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}
