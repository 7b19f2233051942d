//! Command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use kernel_probe::{Endian, Granules};

/// Probe arm64 kernel images: raw Image, Image.gz (gzip) and EFI zboot
/// (vmlinuz.efi). Exit status: 0 all valid, 1 any image rejected, 2 usage or
/// I/O error.
#[derive(Parser, Debug)]
#[command(
    name = "probe-run",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Probe IMAGE, decompress it into a sealed memfd and load it with
    /// kexec_file_load(2), or where the kernel has none (ENOSYS) with the
    /// classic kexec_load(2); --exec then reboots into it.
    Load(LoadArgs),
}

/// The probe's rules, shared by the probe and `load`.
#[derive(clap::Args, Debug)]
pub struct ProbeRules {
    /// Largest decompressed image accepted (bytes; K, M, G suffixes are
    /// powers of 1024). Larger images are rejected with EFBIG.
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_max_size)]
    pub max_size: u64,

    /// Endianness of the kernel that will load the image.
    #[arg(long, value_enum, default_value_t = EndianArg::Little)]
    pub target_endian: EndianArg,

    /// The target CPU runs both endiannesses (the kernel's
    /// system_supports_mixed_endian()): an image of the other endianness is
    /// accepted, as image_load() accepts it there.
    #[arg(long)]
    pub mixed_endian: bool,

    /// Page sizes the target CPU supports (comma-separated: 4k,16k,64k).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SIZES",
        default_value = "4k,16k,64k"
    )]
    pub page_sizes: Vec<PageSizeArg>,
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The kernel: Image, Image.gz or vmlinuz.efi.
    #[arg(value_name = "IMAGE", required_unless_present = "unload")]
    pub image: Option<PathBuf>,

    /// The initramfs for the new kernel (else KEXEC_FILE_NO_INITRAMFS).
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,

    /// The new kernel's command line.
    #[arg(long, value_name = "STR", conflicts_with = "reuse_cmdline")]
    pub append: Option<String>,

    /// Reuse this kernel's command line (/proc/cmdline, without BOOT_IMAGE=,
    /// and without crashkernel= for --crash).
    #[arg(long)]
    pub reuse_cmdline: bool,

    /// Load a crash kernel (KEXEC_FILE_ON_CRASH) into the crashkernel= region.
    #[arg(long)]
    pub crash: bool,

    /// Reboot into the loaded kernel (reboot(LINUX_REBOOT_CMD_KEXEC)). Not
    /// with --crash: a crash kernel runs on a panic, not on demand.
    #[arg(long, conflicts_with = "crash")]
    pub exec: bool,

    /// Unload the loaded kexec (or, with --crash, crash) kernel.
    #[arg(long, conflicts_with_all = ["image", "initrd", "exec", "append", "reuse_cmdline", "certs"])]
    pub unload: bool,

    /// Hand IMAGE to the kernel as it is, without probing or decompressing:
    /// shows what the kernel itself says about it.
    #[arg(long)]
    pub no_probe: bool,

    /// Print the probe report as JSON.
    #[arg(long = "json")]
    pub probe_json: bool,

    /// Which system call loads the kernel: `file` (kexec_file_load: the
    /// kernel places the segments and can check a signature), `classic`
    /// (kexec_load: probe-run places them from /proc/iomem, with the device
    /// tree, a purgatory and for --crash the ELF core header), `auto`
    /// (kexec_file_load, and kexec_load if the kernel has no kexec_file:
    /// ENOSYS).
    #[arg(long, value_enum, default_value_t = SyscallArg::Auto)]
    pub syscall: SyscallArg,

    /// kexec_load only: the device tree to start from (default: the running
    /// one, /sys/firmware/fdt); its /chosen is set up for the new kernel.
    #[arg(long, value_name = "FILE")]
    pub dtb: Option<PathBuf>,

    /// Verify the image's Authenticode signature with these X.509
    /// certificates first (as for the probe); the load is not attempted when
    /// it does not verify. Repeat for several files.
    #[arg(long = "cert", value_name = "FILE", conflicts_with = "no_probe")]
    pub certs: Vec<PathBuf>,

    #[command(flatten)]
    pub rules: ProbeRules,
}

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// Images to probe (several are probed in parallel).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// Print one JSON object per image, one per line.
    #[arg(long)]
    pub json: bool,

    /// Answer from the headers and the gzip trailer only (nothing else is
    /// inflated or checksummed).
    #[arg(long)]
    pub quick: bool,

    /// Write the decompressed Image here: a regular file is replaced
    /// atomically (nothing is written if the image is rejected), a character
    /// device or FIFO is written in place, `-` is standard output (the report
    /// then goes to standard error). Needs exactly one IMAGE, never the
    /// IMAGE itself.
    #[arg(long, short = 'o', value_name = "PATH", conflicts_with = "quick")]
    pub output: Option<PathBuf>,

    /// With --output: write a signed image only up to the end of its
    /// certificate table (bytes after it break the kernel's signature check).
    #[arg(long, requires = "output")]
    pub trim: bool,

    /// Compute the Authenticode digest of unsigned EFI images too (signed
    /// images always get it).
    #[arg(long)]
    pub authenticode: bool,

    /// The initrd that will be loaded with the image: the kdump sizing
    /// (crashkernel_min) then counts it.
    #[arg(long, value_name = "FILE")]
    pub initrd: Option<PathBuf>,

    /// Verify each signed image's Authenticode signature with these X.509
    /// certificates (PEM with any number of certificates, or DER; one file
    /// per --cert, repeat it for several). Exit status 1 when a signed image
    /// does not verify.
    #[arg(long = "cert", value_name = "FILE", conflicts_with = "quick")]
    pub certs: Vec<PathBuf>,

    #[command(flatten)]
    pub rules: ProbeRules,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SyscallArg {
    File,
    Classic,
    Auto,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EndianArg {
    Little,
    Big,
}

impl From<EndianArg> for Endian {
    fn from(e: EndianArg) -> Self {
        match e {
            EndianArg::Little => Endian::Little,
            EndianArg::Big => Endian::Big,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PageSizeArg {
    #[value(name = "4k")]
    K4,
    #[value(name = "16k")]
    K16,
    #[value(name = "64k")]
    K64,
}

impl ProbeRules {
    /// The probe options these arguments describe.
    pub fn options(&self) -> kernel_probe::ProbeOptions {
        kernel_probe::ProbeOptions {
            max_image_size: self.max_size,
            target: kernel_probe::Target {
                endian: self.target_endian.into(),
                mixed_endian: self.mixed_endian,
                granules: self.granules(),
                ..kernel_probe::Target::default()
            },
        }
    }

    pub fn granules(&self) -> Granules {
        self.page_sizes.iter().fold(Granules::empty(), |g, p| {
            g | match p {
                PageSizeArg::K4 => Granules::K4,
                PageSizeArg::K16 => Granules::K16,
                PageSizeArg::K64 => Granules::K64,
            }
        })
    }
}

/// `--max-size`: a size no smaller than the head the prober inflates before
/// the image announces its size ([`kernel_probe::HEAD_LEN`], 4 KiB); a
/// smaller bound could not accept any image, so it is a usage error.
pub fn parse_max_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s)?;
    let min = kernel_probe::HEAD_LEN as u64;
    if n < min {
        return Err(format!(
            "{n} bytes is below the smallest bound, {min} (the probe inflates the first {min} bytes before it can check any image)"
        ));
    }
    Ok(n)
}

/// "268435456", "256M", "256MiB", "1G", "4096K".
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(format!("unknown size unit in {s:?} (use K, M or G)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_max_size("4095").is_err());
        assert!(parse_max_size("0").is_err());
        assert_eq!(parse_max_size("4K"), Ok(4096));
    }
}
