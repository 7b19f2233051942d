//! Command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use kernel_probe::{Endian, Granules};

/// Probe arm64 kernel images: raw Image, Image.gz (gzip) and EFI zboot
/// (vmlinuz.efi). Exit status: 0 all valid, 1 any image rejected, 2 usage or
/// I/O error.
#[derive(Parser, Debug)]
#[command(name = "probe-run", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub probe: ProbeArgs,
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

    /// Largest decompressed image accepted (bytes; K, M, G suffixes are
    /// powers of 1024). Larger images are rejected with EFBIG.
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    pub max_size: u64,

    /// Write the decompressed Image here (atomically; nothing is written if
    /// the image is rejected). Needs exactly one IMAGE.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Endianness of the kernel that will load the image.
    #[arg(long, value_enum, default_value_t = EndianArg::Little)]
    pub target_endian: EndianArg,

    /// Page sizes the target CPU supports (comma-separated: 4k,16k,64k).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "SIZES",
        default_value = "4k,16k,64k"
    )]
    pub page_sizes: Vec<PageSizeArg>,
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

impl ProbeArgs {
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
    }
}
