//! `probe-run load`: probe the image with the same rules and bound as the
//! plain probe, inflate it straight into a sealed memfd sized once, and hand
//! that to `kexec_file_load(2)`; report the kernel's answer by name.
//!
//! A raw Image needs no copy: the descriptor that was probed goes to the
//! kernel (not a second open of the path, which could be another file by
//! then). With `--cert` it is copied into the sealed memfd first and verified
//! there, so the kernel reads exactly the bytes that were verified.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use kernel_probe::error::errno_name;
use kernel_probe::report::crashkernel_arg;
use kernel_probe::{Format, OutputBuffer, ProbeError, Prober, Report};
use memmap2::{MmapMut, MmapOptions};

use crate::buffer::{probe_input, Input, InputError};
use crate::classic;
use crate::cli::{LoadArgs, SyscallArg};
use crate::crc::FastCrc;
use crate::verify;

/// kexec_file_load flags (include/uapi/linux/kexec.h).
const KEXEC_FILE_UNLOAD: libc::c_ulong = 0x1;
const KEXEC_FILE_ON_CRASH: libc::c_ulong = 0x2;
const KEXEC_FILE_NO_INITRAMFS: libc::c_ulong = 0x4;

/// The decompressed image in a memfd: sized once (`ftruncate` to what the
/// image announces), written through a shared mapping, then trimmed to the
/// image's length and sealed so the kernel reads exactly what was probed.
pub struct MemfdOutput {
    fd: OwnedFd,
    map: Option<MmapMut>,
}

impl MemfdOutput {
    pub fn new() -> io::Result<Self> {
        let name = c"kernel-probe-image";
        // SAFETY: `name` is a valid NUL-terminated string; memfd_create does
        // not keep the pointer.
        let fd = unsafe {
            libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd, map: None })
    }

    /// Unmap, cut to `len` bytes and seal against any change.
    pub fn seal(mut self, len: u64) -> io::Result<OwnedFd> {
        self.map = None;
        let file = File::from(self.fd);
        file.set_len(len)?;
        let seals =
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        // SAFETY: plain fcntl on a valid descriptor we own.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from(file))
    }
}

impl OutputBuffer for MemfdOutput {
    fn reserve(&mut self, len: usize) -> Result<(), ProbeError> {
        let file = File::from(self.fd.try_clone().map_err(|_| ProbeError::NoMemory)?);
        file.set_len(len as u64).map_err(|_| ProbeError::NoMemory)?;
        // SAFETY: a shared mapping of our own memfd, which nothing else
        // truncates while it is mapped (the descriptor is private to us
        // until it is sealed, after the mapping is dropped).
        let map = unsafe { MmapOptions::new().len(len.max(1)).map_mut(&file) }
            .map_err(|_| ProbeError::NoMemory)?;
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

/// What the kernel's errno means for a kexec_file_load caller.
pub fn explain(errno: i32, crash: bool, needed: Option<u64>) -> String {
    match errno {
        libc::EPERM => "needs CAP_SYS_BOOT, or kexec is disabled (kernel.kexec_load_disabled) \
                        or forbidden by lockdown"
            .into(),
        libc::EKEYREJECTED | libc::ENODATA | libc::ENOKEY | libc::EBADMSG => {
            "signature verification failed: the image is unsigned, or not signed by a key the \
             kernel trusts (CONFIG_KEXEC_SIG)"
                .into()
        }
        libc::EADDRNOTAVAIL if crash => match needed {
            Some(n) => format!(
                "the crashkernel reservation is too small: loading needs at least {n} bytes \
                 (crashkernel={}M)",
                crashkernel_arg(n)
            ),
            None => "the crashkernel reservation is too small or missing".into(),
        },
        libc::EADDRNOTAVAIL => "no room for the segments in memory".into(),
        libc::EINVAL => "the kernel refused the image by its own rules (not an uncompressed arm64 \
                         Image, image_size, endianness or page size), or a bad argument"
            .into(),
        libc::ENOEXEC => "no kexec_file loader in this kernel accepts the image".into(),
        libc::EBUSY => "a kexec image is already loaded or kexec is in progress".into(),
        libc::ENOSYS => "this kernel has no kexec_file_load (CONFIG_KEXEC_FILE)".into(),
        libc::ENOMEM => "the kernel could not allocate memory for the segments".into(),
        _ => "kexec_file_load failed".into(),
    }
}

/// `kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags)`.
fn kexec_file_load(
    kernel: RawFd,
    initrd: RawFd,
    cmdline: Option<&CString>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    let (len, ptr) = match cmdline {
        Some(c) => (c.as_bytes_with_nul().len(), c.as_ptr()),
        None => (0, std::ptr::null()),
    };
    // SAFETY: the descriptors are valid or -1 as the call allows; `ptr`
    // points to `len` bytes of a NUL-terminated string (or is NULL with len
    // 0, for unload) that outlives the call; the kernel copies them.
    let r = unsafe { libc::syscall(libc::SYS_kexec_file_load, kernel, initrd, len, ptr, flags) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A memfd holding `bytes` (a UKI's section, handed to kexec as a file).
fn memfd_with(name: &str, bytes: &[u8]) -> io::Result<File> {
    use std::io::{Seek, Write};
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated name and flags; the fd is checked.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let mut f = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    f.write_all(bytes)?;
    f.rewind()?;
    Ok(f)
}

/// The command line for the new kernel.
fn cmdline(args: &LoadArgs) -> io::Result<CString> {
    let text = if args.reuse_cmdline {
        let c = std::fs::read_to_string("/proc/cmdline")?;
        // As kexec-tools: the boot loader's BOOT_IMAGE= and the first
        // kernel's crashkernel= do not belong on the new kernel's line.
        c.split_whitespace()
            .filter(|w| {
                !(w.starts_with("BOOT_IMAGE=") || args.crash && w.starts_with("crashkernel="))
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        args.append.clone().unwrap_or_default()
    };
    CString::new(text).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "command line contains a NUL byte",
        )
    })
}

/// `--unload` with the chosen system call (auto: kexec_file_load, then
/// kexec_load where the kernel has no kexec_file).
fn unload(args: &LoadArgs) -> u8 {
    let what = if args.crash { "crash" } else { "kexec" };
    let flags = if args.crash {
        KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH
    } else {
        KEXEC_FILE_UNLOAD
    };
    let file = match args.syscall {
        SyscallArg::Classic => None,
        _ => Some(kexec_file_load(-1, -1, None, flags)),
    };
    let (name, result) = match file {
        Some(Err(e))
            if args.syscall == SyscallArg::Auto && e.raw_os_error() == Some(libc::ENOSYS) =>
        {
            ("kexec_load", classic::unload(args.crash))
        }
        Some(r) => ("kexec_file_load", r),
        None => ("kexec_load", classic::unload(args.crash)),
    };
    match result {
        Ok(()) => {
            println!("unloaded the {what} kernel ({name})");
            0
        }
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            let why = if name == "kexec_load" {
                classic::explain(errno, args.crash).to_string()
            } else {
                explain(errno, args.crash, None)
            };
            println!("unload failed: {name}: {} ({why})", errno_name(errno));
            1
        }
    }
}

/// Exit statuses as in the probe: 0 loaded, 1 image rejected or the kernel
/// refused it, 2 usage or I/O error.
pub fn run(args: &LoadArgs) -> u8 {
    if args.unload {
        return unload(args);
    }
    if args.no_probe && args.syscall == SyscallArg::Classic {
        eprintln!(
            "probe-run load: --no-probe hands the file to kexec_file_load as it is; \
             it has no kexec_load form"
        );
        return 2;
    }
    if args.dtb.is_some() && args.syscall == SyscallArg::File {
        eprintln!(
            "probe-run load: --dtb is for kexec_load (--syscall classic or auto); \
             kexec_file_load builds the device tree in the kernel"
        );
        return 2;
    }
    let Some(image_path) = &args.image else {
        eprintln!("probe-run load: IMAGE is required (or --unload)");
        return 2;
    };
    let mut input = match Input::open(image_path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("probe-run load: {}: {e}", image_path.display());
            return 2;
        }
    };
    let initrd = match &args.initrd {
        Some(p) => match File::open(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("probe-run load: {}: {e}", p.display());
                return 2;
            }
        },
        None => None,
    };
    let initrd_len = initrd
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    let cmdline = match cmdline(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("probe-run load: command line: {e}");
            return 2;
        }
    };
    let mut flags = 0;
    if args.crash {
        flags |= KEXEC_FILE_ON_CRASH;
    }
    if initrd.is_none() {
        flags |= KEXEC_FILE_NO_INITRAMFS;
    }
    if args.no_probe {
        let initrd_fd = initrd.as_ref().map_or(-1, |f| f.as_raw_fd());
        // The baseline: what the kernel says about the file as it is.
        let file = match File::open(image_path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("probe-run load: {}: {e}", image_path.display());
                return 2;
            }
        };
        return match kexec_file_load(file.as_raw_fd(), initrd_fd, Some(&cmdline), flags) {
            Ok(()) => {
                println!("load: OK: kexec_file_load accepted the file as it is (no probe)");
                // The kernel took the file itself (with a decompressor hook,
                // a compressed one): --exec boots it like any load.
                if args.exec {
                    reboot_kexec()
                } else {
                    0
                }
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                println!(
                    "load: FAILED: kexec_file_load: {} (errno {errno}): {} (no probe)",
                    errno_name(errno),
                    explain(errno, args.crash, None)
                );
                1
            }
        };
    }

    let trusted = match verify::trusted_certs(&args.certs) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("probe-run load: --cert {e}");
            return 2;
        }
    };

    // The running kernel loads it: its page size is the one kexec aligns the
    // kernel segment to.
    let mut opts = args.rules.options();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    opts.target.page_size = u64::try_from(page).unwrap_or(4096);
    let mut prober = Box::new(Prober::new(opts));
    let mut out = match MemfdOutput::new() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("probe-run load: memfd_create: {e}");
            return 2;
        }
    };
    let mut signature = None;
    let mut authenticode = None;
    // With --cert even a raw Image goes into the memfd: what is verified is
    // then what the kernel gets, whatever happens to the file meanwhile.
    let copy_raw = trusted.is_some();
    let result =
        probe_input(&mut prober, &mut input, &mut out, &mut FastCrc, copy_raw).map(|(r, image)| {
            // As in the plain probe; with --cert every EFI image gets the digest.
            (authenticode, signature) =
                verify::check_image(image, r.pe.as_ref(), trusted.is_some(), trusted.as_deref());
            r
        });
    let result = match result {
        Ok(r) => Ok(r),
        Err(InputError::Probe(e)) => Err(e),
        Err(InputError::Io(e)) => {
            eprintln!("probe-run load: {}: {e}", image_path.display());
            return 2;
        }
    };
    if let Err(e) = input.check_intact() {
        eprintln!("probe-run load: {}: {e}", image_path.display());
        return 2;
    }
    let mut verdict = prober.verdict(result, input.len());
    // A UKI brings its initrd and command line, as systemd-stub and
    // systemd's kexec path use them: --initrd, --append and
    // --reuse-cmdline replace them.
    let uki = verdict.result.as_ref().ok().and_then(|r| r.uki);
    let mut initrd = initrd;
    let mut initrd_len = initrd_len;
    let mut cmdline = cmdline;
    let mut from_uki = Vec::new();
    if let Some(u) = uki {
        let Some(bytes) = input.bytes() else {
            eprintln!(
                "probe-run load: a UKI must be a regular file (its sections are read in place)"
            );
            return 2;
        };
        let section = |s: kernel_probe::uki::Section| {
            bytes
                .get(s.offset as usize..s.end() as usize)
                .unwrap_or_default()
        };
        if let (None, Some(s)) = (&initrd, u.initrd) {
            match memfd_with("kernel-probe-uki-initrd", section(s)) {
                Ok(f) => {
                    initrd = Some(f);
                    initrd_len = u64::from(s.size);
                    from_uki.push(".initrd");
                }
                Err(e) => {
                    eprintln!("probe-run load: the UKI's .initrd: {e}");
                    return 2;
                }
            }
        }
        if let (false, None, Some(s)) = (args.reuse_cmdline, &args.append, u.cmdline) {
            let text = section(s);
            let end = text
                .iter()
                .rposition(|&c| c != 0 && c != b'\n')
                .map_or(0, |i| i + 1);
            match CString::new(&text[..end]) {
                Ok(c) => {
                    cmdline = c;
                    from_uki.push(".cmdline");
                }
                Err(_) => {
                    eprintln!("probe-run load: the UKI's .cmdline contains a NUL byte");
                    return 2;
                }
            }
        }
    }
    verdict.initrd_size = initrd_len;
    verdict.authenticode = authenticode;
    verdict.uki_authenticode = verify::check_uki(&input, verdict.result.as_ref().ok());
    let shown = image_path.to_string_lossy();
    let text = crate::report::render(&verdict, signature.as_ref(), &shown, args.probe_json);
    print!("{text}");
    let report: Report = match verdict.result {
        Ok(r) => r,
        Err(_) => {
            // Refused before any system call: the running kernel is untouched.
            println!("load: not attempted: the image was rejected");
            return 1;
        }
    };
    if let Some(s) = signature.as_ref().filter(|s| !s.verified) {
        // --cert asks for a verified kernel: refused before any system call.
        println!(
            "load: not attempted: the signature does not verify with the given certificates ({})",
            s.error.as_deref().unwrap_or("?")
        );
        return 1;
    }
    if !from_uki.is_empty() {
        println!("load: from the UKI: {}", from_uki.join(" and "));
    }
    if initrd.is_some() {
        flags &= !KEXEC_FILE_NO_INITRAMFS;
    }
    let initrd_fd = initrd.as_ref().map_or(-1, |f| f.as_raw_fd());
    let needed = report.crashkernel_min(initrd_len);
    println!(
        "kdump: kernel segment {} bytes{}; crashkernel={}M or more to load it for kdump",
        report.kdump_bytes_needed(),
        if initrd.is_some() {
            format!(", initrd {initrd_len} bytes")
        } else {
            String::new()
        },
        crashkernel_arg(needed)
    );

    // The kernel's copy: a raw Image's own (probed) descriptor, else the
    // sealed memfd.
    let from_file = report.format == Format::Image && !copy_raw && input.bytes().is_some();
    let kernel_fd: OwnedFd = if from_file {
        match input.file().try_clone() {
            Ok(f) => f.into(),
            Err(e) => {
                eprintln!("probe-run load: {}: {e}", image_path.display());
                return 2;
            }
        }
    } else {
        match out.seal(report.image_bytes) {
            Ok(fd) => fd,
            Err(e) => {
                eprintln!("probe-run load: sealing the memfd: {e}");
                return 2;
            }
        }
    };
    drop(input);
    let source = match (from_file, report.format) {
        (true, _) => ", from the file",
        (false, Format::Image) => ", copied into a sealed memfd",
        (false, _) => ", decompressed into a sealed memfd",
    };
    let what = if args.crash { "crash" } else { "kexec" };
    // Why kexec_load is used, when it is.
    let mut classic_because = (args.syscall == SyscallArg::Classic).then_some("--syscall classic");
    if args.syscall != SyscallArg::Classic {
        match kexec_file_load(kernel_fd.as_raw_fd(), initrd_fd, Some(&cmdline), flags) {
            Ok(()) => {
                println!(
                    "load: OK: kexec_file_load accepted the {what} kernel ({} bytes{source})",
                    report.image_bytes
                );
                println!(
                    "load: syscall kexec_file_load ({})",
                    if args.syscall == SyscallArg::Auto {
                        "auto: the kernel has kexec_file"
                    } else {
                        "--syscall file"
                    }
                );
            }
            Err(e)
                if args.syscall == SyscallArg::Auto && e.raw_os_error() == Some(libc::ENOSYS) =>
            {
                classic_because =
                    Some("auto: kexec_file_load is ENOSYS, this kernel has no CONFIG_KEXEC_FILE");
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                println!(
                    "load: FAILED: kexec_file_load: {} (errno {errno}): {}",
                    errno_name(errno),
                    explain(errno, args.crash, Some(needed))
                );
                return 1;
            }
        }
    }
    if let Some(because) = classic_because {
        println!("load: syscall kexec_load ({because})");
        let status = load_classic(
            args,
            &report,
            &kernel_fd,
            initrd.as_ref(),
            &cmdline,
            needed,
            opts.target.page_size,
        );
        if status != 0 {
            return status;
        }
        println!(
            "load: OK: kexec_load accepted the {what} kernel ({} bytes{source})",
            report.image_bytes
        );
    }
    if args.exec {
        return reboot_kexec();
    }
    0
}

/// `--exec`: reboot into the loaded kernel (returns only on failure).
fn reboot_kexec() -> u8 {
    println!("exec: rebooting into the new kernel");
    // What was printed must reach a serial console before the kernel is
    // replaced: flush, and on a terminal wait until it is transmitted.
    let _ = io::Write::flush(&mut io::stdout());
    // SAFETY: tcdrain on descriptor 1 (fails harmlessly if it is not a
    // terminal); sync and reboot take no pointers.
    unsafe {
        libc::tcdrain(1);
        libc::sync();
        if libc::reboot(libc::LINUX_REBOOT_CMD_KEXEC) < 0 {
            let e = io::Error::last_os_error();
            println!("exec: FAILED: reboot(LINUX_REBOOT_CMD_KEXEC): {e}");
            return 1;
        }
    }
    0
}

/// The classic path: map the probed kernel (the sealed memfd or the probed
/// file) and the initrd, place the segments and call kexec_load(2).
fn load_classic(
    args: &LoadArgs,
    report: &Report,
    kernel_fd: &OwnedFd,
    initrd: Option<&File>,
    cmdline: &CString,
    needed: u64,
    page_size: u64,
) -> u8 {
    let kfile = match kernel_fd.try_clone() {
        Ok(f) => File::from(f),
        Err(e) => {
            eprintln!("probe-run load: {e}");
            return 2;
        }
    };
    // SAFETY: a read-only mapping of the sealed memfd (no writer can exist)
    // or of the probed file, as kexec_file_load would read it.
    let kmap = match unsafe { MmapOptions::new().map(&kfile) } {
        Ok(m) => m,
        Err(e) => {
            eprintln!("probe-run load: mapping the kernel: {e}");
            return 2;
        }
    };
    let Some(kernel) = kmap.get(..usize::try_from(report.image_bytes).unwrap_or(usize::MAX)) else {
        eprintln!("probe-run load: the kernel is shorter than the probed image");
        return 2;
    };
    let imap = match initrd {
        Some(f) if f.metadata().map_or(0, |m| m.len()) > 0 => {
            // SAFETY: a read-only private mapping of the initrd; if the file
            // is changed meanwhile the kernel copies what it then holds, as
            // kexec_file_load would.
            match unsafe { MmapOptions::new().map(f) } {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!("probe-run load: mapping the initrd: {e}");
                    return 2;
                }
            }
        }
        _ => None,
    };
    let cmdline = cmdline.to_string_lossy();
    let req = classic::Request {
        kernel,
        text_offset: report.header.text_offset,
        image_size: report.header.image_size,
        page: page_size,
        initrd: imap.as_deref(),
        cmdline: &cmdline,
        crash: args.crash,
        dtb: args.dtb.as_deref(),
        iomem: std::path::Path::new("/proc/iomem"),
        sys: std::path::Path::new("/sys"),
    };
    let prepared = match classic::prepare(&req) {
        Ok(p) => p,
        Err(classic::ClassicError::NoRoom {
            crash: true,
            region,
        }) => {
            println!(
                "load: FAILED: kexec_load: EADDRNOTAVAIL (errno {}): the crashkernel reservation \
                 ({region} bytes) is too small: loading needs at least {needed} bytes \
                 (crashkernel={}M); refused before the system call",
                libc::EADDRNOTAVAIL,
                crashkernel_arg(needed)
            );
            return 1;
        }
        Err(e @ (classic::ClassicError::NoRoom { .. } | classic::ClassicError::NoCrashRegion)) => {
            println!("load: FAILED: kexec_load: {e}; refused before the system call");
            return 1;
        }
        Err(e) => {
            eprintln!("probe-run load: kexec_load: {e}");
            println!("load: FAILED: kexec_load: {e}; refused before the system call");
            return 2;
        }
    };
    let segs: Vec<String> = prepared
        .placed
        .iter()
        .map(|s| format!("{} {:#x}+{:#x}", s.what, s.mem, s.memsz))
        .collect();
    println!(
        "load: segments: {}; entry: purgatory at {:#x} (x0 = dtb {:#x}, then the kernel at {:#x})",
        segs.join(", "),
        prepared.layout.purgatory,
        prepared.layout.dtb,
        prepared.layout.kernel
    );
    match classic::load(&req, &prepared) {
        Ok(()) => 0,
        Err(classic::ClassicError::Syscall(errno)) => {
            println!(
                "load: FAILED: kexec_load: {} (errno {errno}): {}",
                errno_name(errno),
                classic::explain(errno, args.crash)
            );
            1
        }
        Err(e) => {
            println!("load: FAILED: kexec_load: {e}");
            1
        }
    }
}
