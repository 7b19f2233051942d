//! The classic `kexec_load(2)` path, for kernels built without
//! `CONFIG_KEXEC_FILE` (Debian's arm64 kernels among them): userspace places
//! every segment itself, as kexec-tools' arm64 loader
//! (kexec/arch/arm64/kexec-arm64.c, kexec-image-arm64.c, crashdump-arm64.c)
//! and u-root's kexec do.
//!
//! Layout, in one free range of System RAM from `/proc/iomem` (for a crash
//! kernel: the "Crash kernel" region), every segment page-aligned:
//!
//! ```text
//! base (2 MiB aligned)  + text_offset: the kernel, image_size bytes of memory
//! next 64 KiB boundary  the initrd
//! next 2 MiB boundary   the device tree (its own 2 MiB slot, as booting.rst asks),
//!                       then the ELF core header (crash only), then the purgatory
//! ```
//!
//! This is the layout `Report::crashkernel_min` sizes for kexec_file, so the
//! report's `crashkernel=` bound holds for both system calls.
//!
//! Entry: the kernel's `machine_kexec()` (arch/arm64/kernel/machine_kexec.c)
//! jumps to `kimage->start` with the MMU off through `cpu_soft_restart()` /
//! `arm64_relocate_new_kernel` (relocate_kernel.S), passing
//! `kimage->arch.dtb_mem` in x0, which only kexec_file_load sets: for a
//! kexec_load image it is 0. So `start` is our purgatory (`purgatory.rs`),
//! which loads x0 with the device tree's address and branches to the kernel,
//! as kexec-tools' purgatory does.

use std::fmt;
use std::io;
use std::path::Path;

use crate::dtb::{self, Chosen, DtbError};
use crate::elfcore::{self, ElfCoreError};
use crate::iomem::{self, IomemError, MemoryMap, Range};
use crate::purgatory;

/// kexec_load flags (include/uapi/linux/kexec.h).
const KEXEC_ON_CRASH: libc::c_ulong = 0x1;
/// `KEXEC_ARCH_DEFAULT`: the running kernel's architecture.
const KEXEC_ARCH_DEFAULT: libc::c_ulong = 0;
/// `KEXEC_SEGMENT_MAX`.
const KEXEC_SEGMENT_MAX: usize = 16;
/// `MIN_KIMG_ALIGN` (arch/arm64/include/asm/boot.h).
const SZ_2M: u64 = 2 << 20;
const SZ_64K: u64 = 64 << 10;

/// One segment for the kernel: `buf` is copied to physical `mem`, the rest
/// of `memsz` is zeroed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub what: &'static str,
    pub mem: u64,
    pub memsz: u64,
}

/// Where the segments go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The kernel's load address (base + text_offset): the entry point.
    pub kernel: u64,
    pub kernel_memsz: u64,
    pub initrd: Option<u64>,
    pub dtb: u64,
    pub elfcorehdr: Option<u64>,
    pub purgatory: u64,
    /// One past the last byte used.
    pub end: u64,
}

/// The sizes the layout needs (all in bytes; `page` a power of two).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub text_offset: u64,
    pub image_size: u64,
    pub initrd: Option<u64>,
    pub dtb: u64,
    pub elfcorehdr: Option<u64>,
    pub page: u64,
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    v.checked_add(a - 1).map(|x| x & !(a - 1))
}

/// The layout in one range, or `None` if it does not fit.
fn layout_in(r: Range, s: &Sizes) -> Option<Layout> {
    let base = align_up(r.start, SZ_2M)?;
    let kernel = base.checked_add(s.text_offset)?;
    // image_load()'s kbuf.memsz, page-aligned as kexec_add_buffer() does.
    let kernel_end = align_up(
        base.checked_add(s.text_offset)?.checked_add(s.image_size)?,
        s.page,
    )?;
    let kernel_memsz = kernel_end - kernel;
    let mut cur = align_up(kernel_end, SZ_64K)?;
    let initrd = match s.initrd {
        Some(len) => {
            let at = cur;
            cur = align_up(at.checked_add(len)?, SZ_64K.max(s.page))?;
            Some(at)
        }
        None => None,
    };
    let dtb = align_up(cur, SZ_2M)?;
    cur = align_up(dtb.checked_add(s.dtb)?, s.page)?;
    let elfcorehdr = match s.elfcorehdr {
        Some(len) => {
            let at = cur;
            cur = align_up(at.checked_add(len)?, s.page)?;
            Some(at)
        }
        None => None,
    };
    let purgatory = cur;
    let end = purgatory.checked_add(s.page)?;
    (end <= r.end).then_some(Layout {
        kernel,
        kernel_memsz,
        initrd,
        dtb,
        elfcorehdr,
        purgatory,
        end,
    })
}

/// The lowest layout that fits in one of `ranges`.
pub fn plan(ranges: &[Range], s: &Sizes) -> Option<Layout> {
    ranges.iter().find_map(|&r| layout_in(r, s))
}

/// Why the classic load did not happen, or what the kernel said.
#[derive(Debug)]
pub enum ClassicError {
    Io(String, io::Error),
    Iomem(IomemError),
    Dtb(DtbError),
    ElfCore(ElfCoreError),
    /// `--crash` without a "Crash kernel" region.
    NoCrashRegion,
    /// The segments do not fit (for --crash: in the crash region).
    NoRoom {
        crash: bool,
        region: u64,
    },
    /// kexec_load(2) failed with this errno.
    Syscall(i32),
}

impl fmt::Display for ClassicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(what, e) => write!(f, "{what}: {e}"),
            Self::Iomem(e) => write!(f, "{e}"),
            Self::Dtb(e) => write!(f, "{e}"),
            Self::ElfCore(e) => write!(f, "ELF core header: {e}"),
            Self::NoCrashRegion => write!(
                f,
                "no \"Crash kernel\" region in /proc/iomem: boot this kernel with crashkernel="
            ),
            Self::NoRoom {
                crash: true,
                region,
            } => write!(
                f,
                "the segments do not fit in the {region}-byte crash kernel region"
            ),
            Self::NoRoom { crash: false, .. } => {
                write!(
                    f,
                    "no free System RAM range in /proc/iomem holds the segments"
                )
            }
            Self::Syscall(e) => write!(f, "kexec_load failed (errno {e})"),
        }
    }
}

/// What to load.
pub struct Request<'a> {
    /// The decompressed Image (the probed bytes).
    pub kernel: &'a [u8],
    pub text_offset: u64,
    pub image_size: u64,
    pub page: u64,
    pub initrd: Option<&'a [u8]>,
    pub cmdline: &'a str,
    pub crash: bool,
    /// `--dtb FILE`, else `/sys/firmware/fdt`.
    pub dtb: Option<&'a Path>,
    /// `/proc/iomem` and `/sys` (tests point them elsewhere).
    pub iomem: &'a Path,
    pub sys: &'a Path,
}

/// `kexec_load(2)`'s `struct kexec_segment`.
#[repr(C)]
struct KexecSegment {
    buf: *const libc::c_void,
    bufsz: libc::size_t,
    mem: libc::c_ulong,
    memsz: libc::size_t,
}

/// Random bytes for kaslr-seed and rng-seed (none while the pool is not
/// ready: the kernel omits both then too).
fn random(len: usize) -> Option<Vec<u8>> {
    let mut v = vec![0u8; len];
    // SAFETY: `v` is a writable buffer of `len` bytes.
    let r = unsafe { libc::getrandom(v.as_mut_ptr().cast(), len, libc::GRND_NONBLOCK) };
    (usize::try_from(r).ok() == Some(len)).then_some(v)
}

/// Everything up to the system call: the segments and the entry point.
pub struct Prepared {
    pub layout: Layout,
    pub placed: Vec<Placed>,
    bufs: Vec<(Vec<u8>, &'static str)>,
}

/// Plan the segments and build the device tree, ELF core header and
/// purgatory. Nothing is loaded.
pub fn prepare(req: &Request<'_>) -> Result<Prepared, ClassicError> {
    let text = read_iomem(req.iomem)?;
    let res = iomem::parse(&text).map_err(ClassicError::Iomem)?;
    let map = MemoryMap::from_resources(&res).map_err(ClassicError::Iomem)?;
    let dtb_path = req
        .dtb
        .map_or_else(|| req.sys.join("firmware/fdt"), Path::to_path_buf);
    let old_dtb = read_bounded(&dtb_path, dtb::MAX_DTB)?;

    let (ranges, elf) = if req.crash {
        // Both crashk_res and crashk_low_res are named "Crash kernel"
        // (kernel/crash_reserve.c); kexec_load's sanity check wants every
        // segment of a crash image inside crashk_res, which is the higher one
        // when there are two (crashkernel=X,high with its ,low below 4 GiB),
        // as kexec-tools' arm64 loader takes the last range.
        let Some(&main) = map.crash.last() else {
            return Err(ClassicError::NoCrashRegion);
        };
        let notes = elfcore::running_notes(req.sys).map_err(ClassicError::ElfCore)?;
        let hdr = elfcore::elfcorehdr(&notes, &map.dump_ranges()).map_err(ClassicError::ElfCore)?;
        (vec![main], Some(hdr))
    } else {
        (map.free(), None)
    };

    let mut chosen = Chosen {
        bootargs: Some(req.cmdline.to_string()),
        kaslr_seed: random(8).map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))),
        rng_seed: random(dtb::RNG_SEED_SIZE),
        ..Chosen::default()
    };
    // The addresses are not known yet; a first build with placeholders of
    // the same width gives the device tree's size (its cells are fixed-size).
    // The placeholders do not overlap (the writer refuses overlapping
    // memory reservations).
    let initrd_len = req.initrd.map_or(0, |i| i.len() as u64);
    if req.initrd.is_some() {
        chosen.initrd = Some((0, initrd_len));
    }
    if let Some(h) = &elf {
        chosen.elfcorehdr = Some((align_up(initrd_len, req.page).unwrap_or(0), h.len() as u64));
        // crashk_res first, then crashk_low_res, as of_kexec_alloc_and_setup_fdt().
        chosen.usable_memory = map.crash.iter().rev().map(|r| (r.start, r.len())).collect();
    }
    let sized = dtb::setup_fdt(&old_dtb, &chosen).map_err(ClassicError::Dtb)?;
    let sizes = Sizes {
        text_offset: req.text_offset,
        image_size: req.image_size,
        initrd: req.initrd.map(|i| i.len() as u64),
        dtb: sized.len() as u64,
        elfcorehdr: elf.as_ref().map(|h| h.len() as u64),
        page: req.page,
    };
    let layout = plan(&ranges, &sizes).ok_or(ClassicError::NoRoom {
        crash: req.crash,
        region: ranges.iter().map(Range::len).max().unwrap_or(0),
    })?;
    if let (Some(i), Some(at)) = (req.initrd, layout.initrd) {
        chosen.initrd = Some((at, i.len() as u64));
    }
    if let (Some(h), Some(at)) = (&elf, layout.elfcorehdr) {
        chosen.elfcorehdr = Some((at, h.len() as u64));
    }
    let new_dtb = dtb::setup_fdt(&old_dtb, &chosen).map_err(ClassicError::Dtb)?;
    if new_dtb.len() != sized.len() {
        return Err(ClassicError::Dtb(DtbError::Write(
            "the device tree changed size between its two builds".into(),
        )));
    }
    let purg = purgatory::build(layout.kernel, layout.dtb);

    let page = req.page;
    let memsz = |len: usize| align_up(len as u64, page).unwrap_or(u64::MAX);
    let mut placed = vec![Placed {
        what: "kernel",
        mem: layout.kernel,
        memsz: layout.kernel_memsz,
    }];
    if let (Some(i), Some(at)) = (req.initrd, layout.initrd) {
        placed.push(Placed {
            what: "initrd",
            mem: at,
            memsz: memsz(i.len()),
        });
    }
    placed.push(Placed {
        what: "dtb",
        mem: layout.dtb,
        memsz: memsz(new_dtb.len()),
    });
    let mut bufs = vec![(new_dtb, "dtb")];
    if let (Some(h), Some(at)) = (elf, layout.elfcorehdr) {
        placed.push(Placed {
            what: "elfcorehdr",
            mem: at,
            memsz: memsz(h.len()),
        });
        bufs.push((h, "elfcorehdr"));
    }
    placed.push(Placed {
        what: "purgatory",
        mem: layout.purgatory,
        memsz: page,
    });
    bufs.push((purg.to_vec(), "purgatory"));
    Ok(Prepared {
        layout,
        placed,
        bufs,
    })
}

/// `/proc/iomem`, at most what [`iomem::parse`] accepts (plus one byte, so
/// that a longer file is refused by the parser, not cut silently).
fn read_iomem(p: &Path) -> Result<String, ClassicError> {
    use std::io::Read;
    let max = (iomem::MAX_RESOURCES + 1) * (iomem::MAX_LINE + 1);
    let mut s = String::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(max as u64).read_to_string(&mut s))
        .map_err(|e| ClassicError::Io(p.display().to_string(), e))?;
    Ok(s)
}

fn read_bounded(p: &Path, max: usize) -> Result<Vec<u8>, ClassicError> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(max as u64 + 1).read_to_end(&mut v))
        .map_err(|e| ClassicError::Io(p.display().to_string(), e))?;
    if v.len() > max {
        return Err(ClassicError::Dtb(DtbError::Invalid(
            "larger than 2 MiB (booting.rst's limit)",
        )));
    }
    Ok(v)
}

/// Hand the prepared segments to `kexec_load(2)`.
pub fn load(req: &Request<'_>, p: &Prepared) -> Result<(), ClassicError> {
    let buf_of = |what: &str| -> &[u8] {
        match what {
            "kernel" => req.kernel,
            "initrd" => req.initrd.unwrap_or_default(),
            _ => p
                .bufs
                .iter()
                .find(|(_, w)| *w == what)
                .map_or(&[][..], |(b, _)| b.as_slice()),
        }
    };
    let segs: Vec<KexecSegment> = p
        .placed
        .iter()
        .map(|s| {
            let b = buf_of(s.what);
            KexecSegment {
                buf: b.as_ptr().cast(),
                bufsz: b.len(),
                mem: s.mem as libc::c_ulong,
                memsz: s.memsz as libc::size_t,
            }
        })
        .collect();
    if segs.len() > KEXEC_SEGMENT_MAX {
        return Err(ClassicError::Syscall(libc::EINVAL));
    }
    let flags = KEXEC_ARCH_DEFAULT | if req.crash { KEXEC_ON_CRASH } else { 0 };
    // SAFETY: `segs` holds `segs.len()` valid kexec_segment structs whose
    // `buf` pointers reference `bufsz` readable bytes (the probed image, the
    // initrd mapping, and buffers owned by `p`), all alive for the call; the
    // kernel copies them before it returns.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            p.layout.purgatory as libc::c_ulong,
            segs.len() as libc::c_ulong,
            segs.as_ptr(),
            flags,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(ClassicError::Syscall(e.raw_os_error().unwrap_or(libc::EIO)));
    }
    Ok(())
}

/// Unload the kexec (or crash) image: `kexec_load(0, 0, NULL, flags)`.
pub fn unload(crash: bool) -> io::Result<()> {
    let flags = KEXEC_ARCH_DEFAULT | if crash { KEXEC_ON_CRASH } else { 0 };
    // SAFETY: no segments, a NULL array: the kernel only reads the flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            std::ptr::null::<KexecSegment>(),
            flags,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What the kernel's errno means for a kexec_load caller.
pub fn explain(errno: i32, crash: bool) -> &'static str {
    match errno {
        libc::EPERM => {
            "needs CAP_SYS_BOOT, or kexec is disabled (kernel.kexec_load_disabled), or the \
             kernel is locked down: lockdown forbids kexec_load entirely (only a signed \
             image through kexec_file_load can be loaded then)"
        }
        libc::EADDRNOTAVAIL if crash => "a segment lies outside the crash kernel region",
        libc::EADDRNOTAVAIL => "a segment is not page-aligned or lies beyond the memory limit",
        libc::EINVAL => "the kernel refused the segments (overlap, too large, or bad flags)",
        libc::EBUSY => "a kexec image is already loaded or kexec is in progress",
        libc::ENOSYS => "this kernel has no kexec_load (CONFIG_KEXEC)",
        libc::ENOMEM => "the kernel could not allocate memory for the segments",
        _ => "kexec_load failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> MemoryMap {
        MemoryMap::from_resources(&iomem::parse(text).unwrap()).unwrap()
    }
    const OWN: &str = include_str!("../testdata/iomem-own-7.3-crash.txt");
    const DEBIAN: &str = include_str!("../testdata/iomem-debian-7.3-crash.txt");

    fn sizes(image_size: u64, initrd: u64, crash: bool) -> Sizes {
        Sizes {
            text_offset: 0,
            image_size,
            initrd: Some(initrd),
            dtb: 9000,
            elfcorehdr: crash.then_some(64 + 4 * 56),
            page: 4096,
        }
    }

    /// Each segment page-aligned, in order, no overlaps, inside one range,
    /// and not over anything nested in System RAM (normal) / inside the
    /// crash region (crash).
    fn check(l: &Layout, s: &Sizes, inside: &[Range], busy: &[Range]) {
        let mut segs = vec![(l.kernel, l.kernel_memsz)];
        if let (Some(a), Some(n)) = (l.initrd, s.initrd) {
            segs.push((a, align_up(n, s.page).unwrap()));
        }
        segs.push((l.dtb, align_up(s.dtb, s.page).unwrap()));
        if let (Some(a), Some(n)) = (l.elfcorehdr, s.elfcorehdr) {
            segs.push((a, align_up(n, s.page).unwrap()));
        }
        segs.push((l.purgatory, s.page));
        assert_eq!(l.kernel % SZ_2M, s.text_offset);
        assert_eq!(l.dtb % SZ_2M, 0);
        assert!(l.kernel_memsz >= s.image_size);
        for w in segs.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "{segs:x?}");
        }
        for &(a, n) in &segs {
            assert_eq!(a % s.page, 0);
            assert_eq!(n % s.page, 0);
            assert!(
                inside.iter().any(|r| a >= r.start && a + n <= r.end),
                "{a:#x}"
            );
            for b in busy {
                assert!(a + n <= b.start || a >= b.end, "{a:#x} over {b}");
            }
        }
    }

    #[test]
    fn layouts_on_real_maps() {
        for text in [OWN, DEBIAN] {
            let m = map(text);
            // Our kernel's sizes and Debian's (image_size 0x3a90000 for 7.3.4).
            for image_size in [0x0088_0000, 0x03a9_0000] {
                let s = sizes(image_size, 30 << 20, false);
                let free = m.free();
                let l = plan(&free, &s).unwrap();
                check(&l, &s, &free, &m.busy);
                let s = sizes(image_size, 3 << 20, true);
                let l = plan(&m.crash, &s).unwrap();
                check(&l, &s, &m.crash, &[]);
            }
        }
    }

    /// The crash layout fits exactly the region `Report::crashkernel_min`
    /// names, and not 2 MiB less: the report's bound holds for kexec_load.
    #[test]
    fn crash_layout_matches_crashkernel_min() {
        for (image_size, initrd) in [(0x0088_0000u64, 1_234_567u64), (0x03a9_0000, 10 << 20)] {
            let kseg = align_up(image_size, SZ_64K).unwrap();
            let min = align_up(kseg + align_up(initrd, SZ_64K).unwrap(), SZ_2M).unwrap() + SZ_2M;
            let s = sizes(image_size, initrd, true);
            let region = Range {
                start: 0x7bc0_0000,
                end: 0x7bc0_0000 + min,
            };
            assert!(plan(&[region], &s).is_some());
            let small = Range {
                start: region.start,
                end: region.end - SZ_2M,
            };
            assert!(plan(&[small], &s).is_none());
        }
    }

    /// The crash-dump files of a one-CPU guest's sysfs (vmcoreinfo and
    /// cpu0's crash notes, as captured), under `sys`.
    fn crash_sysfs(sys: &std::path::Path) {
        std::fs::create_dir_all(sys.join("kernel")).unwrap();
        std::fs::create_dir_all(sys.join("devices/system/cpu/cpu0")).unwrap();
        std::fs::write(sys.join("kernel/vmcoreinfo"), "0x0000000044282000 1024\n").unwrap();
        std::fs::write(
            sys.join("devices/system/cpu/cpu0/crash_notes"),
            "7fdc5600\n",
        )
        .unwrap();
        std::fs::write(
            sys.join("devices/system/cpu/cpu0/crash_notes_size"),
            "424\n",
        )
        .unwrap();
    }

    /// prepare() end to end on the captured guest: /proc/iomem, the running
    /// device tree and the crash notes of Debian's 7.3 kernel.
    #[test]
    fn prepare_from_a_captured_guest() {
        use std::io::Read;
        let d = std::env::temp_dir().join(format!("kp-classic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let sys = d.join("sys");
        std::fs::create_dir_all(sys.join("firmware")).unwrap();
        let gz: &[u8] = include_bytes!("../testdata/fdt-qemu-virt-debian.dtb.gz");
        let mut fdt_blob = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut fdt_blob)
            .unwrap();
        std::fs::write(sys.join("firmware/fdt"), &fdt_blob).unwrap();
        crash_sysfs(&sys);
        std::fs::write(d.join("iomem"), DEBIAN).unwrap();
        let kernel = vec![0u8; 0x0050_0000];
        let initrd = vec![1u8; 988_096];
        for crash in [false, true] {
            let req = Request {
                kernel: &kernel,
                text_offset: 0,
                image_size: 0x0057_0000,
                page: 4096,
                initrd: Some(&initrd),
                cmdline: "console=ttyAMA0 kp.marker=m",
                crash,
                dtb: None,
                iomem: &d.join("iomem"),
                sys: &sys,
            };
            let p = prepare(&req).unwrap();
            let m = map(DEBIAN);
            let whats: Vec<_> = p.placed.iter().map(|s| s.what).collect();
            let region = if crash { m.crash.clone() } else { m.free() };
            for s in &p.placed {
                assert!(region
                    .iter()
                    .any(|r| s.mem >= r.start && s.mem + s.memsz <= r.end));
            }
            let dtb_buf = &p.bufs.iter().find(|(_, w)| *w == "dtb").unwrap().0;
            let fdt = fdt::Fdt::new(dtb_buf).unwrap();
            let chosen = fdt.find_node("/chosen").unwrap();
            let prop = |n: &str| chosen.property(n).map(|p| p.value.to_vec());
            let be = |v: u64| v.to_be_bytes().to_vec();
            assert_eq!(
                prop("linux,initrd-start"),
                Some(be(p.layout.initrd.unwrap()))
            );
            assert_eq!(
                prop("linux,initrd-end"),
                Some(be(p.layout.initrd.unwrap() + initrd.len() as u64))
            );
            assert_eq!(
                prop("bootargs"),
                Some(b"console=ttyAMA0 kp.marker=m\0".to_vec())
            );
            let purg = &p.bufs.iter().find(|(_, w)| *w == "purgatory").unwrap().0;
            assert_eq!(
                purg[purgatory::KERNEL_ENTRY_OFFSET..][..8],
                p.layout.kernel.to_le_bytes()
            );
            assert_eq!(
                purg[purgatory::DTB_ADDR_OFFSET..][..8],
                p.layout.dtb.to_le_bytes()
            );
            if crash {
                assert_eq!(
                    whats,
                    ["kernel", "initrd", "dtb", "elfcorehdr", "purgatory"]
                );
                let hdr = &p.bufs.iter().find(|(_, w)| *w == "elfcorehdr").unwrap().0;
                // 1 CPU note + vmcoreinfo + RAM below and above the crash region.
                assert_eq!(hdr.len(), 64 + 4 * 56);
                let mut e = be(p.layout.elfcorehdr.unwrap());
                e.extend(be(hdr.len() as u64));
                assert_eq!(prop("linux,elfcorehdr"), Some(e));
                let mut u = be(m.crash[0].start);
                u.extend(be(m.crash[0].len()));
                assert_eq!(prop("linux,usable-memory-range"), Some(u));
            } else {
                assert_eq!(whats, ["kernel", "initrd", "dtb", "purgatory"]);
                assert_eq!(prop("linux,elfcorehdr"), None);
            }
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    /// crashkernel=X,high with its ,low part: two "Crash kernel" ranges. The
    /// segments go into the high one (crashk_res), and the crash kernel may
    /// use both, the high one first.
    #[test]
    fn crash_high_and_low() {
        let d = std::env::temp_dir().join(format!("kp-classic-hl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let sys = d.join("sys");
        crash_sysfs(&sys);
        let iomem = "40000000-13fffffff : System RAM\n  \
                     40200000-428fffff : Kernel code\n  \
                     70000000-77ffffff : Crash kernel\n  \
                     100000000-10fffffff : Crash kernel\n";
        std::fs::write(d.join("iomem"), iomem).unwrap();
        // A minimal device tree, written by vm-fdt itself.
        let mut w = vm_fdt::FdtWriter::new().unwrap();
        let root = w.begin_node("").unwrap();
        w.property_u32("#address-cells", 2).unwrap();
        w.property_u32("#size-cells", 2).unwrap();
        let c = w.begin_node("chosen").unwrap();
        w.end_node(c).unwrap();
        w.end_node(root).unwrap();
        std::fs::write(d.join("dtb"), w.finish().unwrap()).unwrap();
        let kernel = vec![0u8; 0x0050_0000];
        let req = Request {
            kernel: &kernel,
            text_offset: 0,
            image_size: 0x0057_0000,
            page: 4096,
            initrd: None,
            cmdline: "x",
            crash: true,
            dtb: Some(&d.join("dtb")),
            iomem: &d.join("iomem"),
            sys: &sys,
        };
        let p = prepare(&req).unwrap();
        for s in &p.placed {
            assert!(
                s.mem >= 0x1_0000_0000 && s.mem + s.memsz <= 0x1_1000_0000,
                "{s:x?}"
            );
        }
        let dtb_buf = &p.bufs.iter().find(|(_, w)| *w == "dtb").unwrap().0;
        let fdt = fdt::Fdt::new(dtb_buf).unwrap();
        let usable = fdt
            .find_node("/chosen")
            .unwrap()
            .property("linux,usable-memory-range")
            .unwrap()
            .value
            .to_vec();
        let mut want = Vec::new();
        for v in [0x1_0000_0000u64, 0x1000_0000, 0x7000_0000, 0x800_0000] {
            want.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(usable, want);
        // The dump leaves out both regions: RAM below, between and above.
        let hdr = &p.bufs.iter().find(|(_, w)| *w == "elfcorehdr").unwrap().0;
        assert_eq!(hdr.len(), 64 + (2 + 3) * 56);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn text_offset_and_64k_pages() {
        let s = Sizes {
            text_offset: 0x8_0000,
            image_size: 0x0100_0000,
            initrd: None,
            dtb: 5000,
            elfcorehdr: None,
            page: 65536,
        };
        let r = [Range {
            start: 0x4010_0000,
            end: 0x8000_0000,
        }];
        let l = plan(&r, &s).unwrap();
        assert_eq!(l.kernel, 0x4020_0000 + 0x8_0000);
        check(&l, &s, &r, &[]);
        // Nothing fits in a range that is too small; no overflow at the top.
        assert!(plan(
            &[Range {
                start: u64::MAX - SZ_2M,
                end: u64::MAX
            }],
            &s
        )
        .is_none());
    }
}
