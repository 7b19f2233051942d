//! probe-run: probe arm64 kernel images (Image, Image.gz, vmlinuz.efi) with
//! the same no_std crate the kernel module runs, print a report, write the
//! decompressed Image, and hand it to kexec_file_load or kexec_load.

mod buffer;
mod classic;
mod cli;
mod crc;
mod dtb;
mod elfcore;
mod iomem;
mod load;
mod output;
mod purgatory;
mod report;
mod sigbus;
mod verify;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::Parser;
use kernel_probe::{quick_probe, Prober, Verdict};

use buffer::{probe_input, Input, InputError, MappedOutput};
use cli::{Cli, Command, ProbeArgs};
use crc::FastCrc;
use output::Destination;
use verify::{Signature, TrustedCert};

/// Exit statuses.
const EXIT_VALID: u8 = 0;
const EXIT_REJECTED: u8 = 1;
const EXIT_USAGE_OR_IO: u8 = 2;

/// The outcome for one path: a verdict (and, with --cert, the signature
/// check of a valid image), or an I/O error before or after it.
enum Outcome {
    Probed(Verdict, Option<Signature>),
    Io {
        error: io::Error,
        verdict: Option<Verdict>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_USAGE_OR_IO
            } else {
                EXIT_VALID
            });
        }
    };
    ExitCode::from(match &cli.command {
        Some(Command::Load(args)) => load::run(args),
        None => run_probe(&cli.probe),
    })
}

fn run_probe(args: &ProbeArgs) -> u8 {
    if args.output.is_some() && args.images.len() != 1 {
        eprintln!("probe-run: --output takes exactly one IMAGE");
        return EXIT_USAGE_OR_IO;
    }
    // Where the image goes is settled before anything is probed: an output
    // that is the input, a block device or a directory is a usage error.
    let dest = match args
        .output
        .as_deref()
        .map(|o| Destination::resolve(o, &args.images).map_err(|e| (o, e)))
        .transpose()
    {
        Ok(d) => d,
        Err((o, e)) => {
            eprintln!("probe-run: --output {}: {e}", o.display());
            return EXIT_USAGE_OR_IO;
        }
    };
    if let Some(initrd) = &args.initrd {
        if let Err(e) = std::fs::metadata(initrd) {
            eprintln!("probe-run: --initrd {}: {e}", initrd.display());
            return EXIT_USAGE_OR_IO;
        }
    }
    let trusted = match verify::trusted_certs(&args.certs) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("probe-run: --cert {e}");
            return EXIT_USAGE_OR_IO;
        }
    };
    let outcomes = probe_all(args, dest.as_ref(), trusted.as_deref());
    // With `--output -` the image is on standard output: the report goes to
    // standard error.
    let mut out: Box<dyn Write> = if dest == Some(Destination::Stdout) {
        Box::new(io::stderr().lock())
    } else {
        Box::new(io::stdout().lock())
    };
    let mut status = EXIT_VALID;
    for (path, outcome) in args.images.iter().zip(&outcomes) {
        let shown = path.to_string_lossy();
        let line = match outcome {
            Outcome::Probed(v, sig) => {
                if v.result.is_err() || sig.as_ref().is_some_and(Signature::is_failure) {
                    status = status.max(EXIT_REJECTED);
                }
                report::render(v, sig.as_ref(), &shown, args.json)
            }
            Outcome::Io { error, verdict } => {
                status = EXIT_USAGE_OR_IO;
                eprintln!("probe-run: {shown}: {error}");
                match verdict {
                    Some(v) => report::render(v, None, &shown, args.json),
                    None if args.json => report::io_error_json(&shown, error),
                    None => String::new(),
                }
            }
        };
        if out.write_all(line.as_bytes()).is_err() {
            return EXIT_USAGE_OR_IO;
        }
    }
    if out.flush().is_err() {
        return EXIT_USAGE_OR_IO;
    }
    status
}

/// Probe every image, several at once when there are several.
fn probe_all(
    args: &ProbeArgs,
    dest: Option<&Destination>,
    trusted: Option<&[TrustedCert]>,
) -> Vec<Outcome> {
    let n = args.images.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n)
        .max(1);
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Outcome>>> = (0..n).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                // One prober per worker, reused across images.
                let mut prober = Box::new(Prober::new(args.options()));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = args.images.get(i) else {
                        break;
                    };
                    let outcome = probe_one(&mut prober, path, args, dest, trusted);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Outcome::Io {
                    error: io::Error::other("worker failed"),
                    verdict: None,
                })
        })
        .collect()
}

fn probe_one(
    prober: &mut Prober,
    path: &Path,
    args: &ProbeArgs,
    dest: Option<&Destination>,
    trusted: Option<&[TrustedCert]>,
) -> Outcome {
    let io_error = |error| Outcome::Io {
        error,
        verdict: None,
    };
    let mut input = match Input::open(path) {
        Ok(i) => i,
        Err(error) => return io_error(error),
    };
    prober.reset(args.options());
    if args.quick {
        let Some(bytes) = input.bytes() else {
            return io_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--quick needs a regular file (it reads the trailer at the end)",
            ));
        };
        let r = quick_probe(prober, bytes, &mut FastCrc);
        if let Err(error) = input.check_intact() {
            return io_error(error);
        }
        let mut verdict = prober.verdict(r, input.len());
        if args.initrd.is_some() {
            verdict.initrd_size = args.initrd_size();
        }
        return Outcome::Probed(verdict, None);
    }
    let mut out = MappedOutput::default();
    let mut write_error = None;
    let mut authenticode = None;
    let mut signature = None;
    let result = match probe_input(prober, &mut input, &mut out, &mut FastCrc, false) {
        Ok((report, image)) => {
            (authenticode, signature) =
                verify::check_image(image, report.pe.as_ref(), args.authenticode, trusted);
            if let Some(dest) = dest {
                let len = match (args.trim, &report.pe) {
                    (true, Some(pe)) => pe.signed_len(image.len() as u64),
                    _ => image.len() as u64,
                };
                let image = image
                    .get(..usize::try_from(len).unwrap_or(usize::MAX))
                    .unwrap_or(image);
                write_error = dest.write(image).err().map(|e| {
                    io::Error::new(e.kind(), format!("writing {}: {e}", args.output_shown()))
                });
            }
            Ok(report)
        }
        Err(InputError::Probe(e)) => Err(e),
        Err(InputError::Io(error)) => return io_error(error),
    };
    // A file truncated under us was read as zeros past its new end: no
    // verdict on bytes that were not the file's.
    if let Err(error) = input.check_intact() {
        return io_error(error);
    }
    let mut verdict = prober.verdict(result, input.len());
    // A UKI's embedded initrd counts unless --initrd replaces it.
    if args.initrd.is_some() {
        verdict.initrd_size = args.initrd_size();
    }
    verdict.authenticode = authenticode;
    verdict.uki_authenticode = verify::check_uki(&input, verdict.result.as_ref().ok());
    if let Some(error) = write_error {
        return Outcome::Io {
            error,
            verdict: Some(verdict),
        };
    }
    Outcome::Probed(verdict, signature)
}

impl ProbeArgs {
    fn options(&self) -> kernel_probe::ProbeOptions {
        self.rules.options()
    }

    fn output_shown(&self) -> String {
        self.output
            .as_deref()
            .map_or_else(String::new, |p| p.display().to_string())
    }

    /// Bytes of --initrd (checked to exist before probing), 0 without one
    /// (a UKI's embedded initrd counts then).
    fn initrd_size(&self) -> u64 {
        self.initrd
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }
}
