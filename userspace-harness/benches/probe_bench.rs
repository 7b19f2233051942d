//! probe-bench: the measuring half of `tests/bench.sh` (not a test; run the
//! script). Built by `cargo bench --no-run` with the release settings.
//!
//!   probe_bench run ROUNDS WARMUP BYTES RSS_BOUND < SPEC
//!       Whole-process timing, alternating: every round runs each command of
//!       SPEC once, in order (rotated by one per round so no command always
//!       follows the same one). SPEC lines: NAME<TAB>STATUS<TAB>RM<TAB>ARG0
//!       ARG1 ... (STATUS: the exit status every run must have; RM: a path
//!       removed before every run, or "-"). stdout goes to
//!       /dev/null. Wall time from fork to wait4; peak RSS is wait4's
//!       ru_maxrss, the number GNU time -v prints as "Maximum resident set
//!       size". Prints the table and, unless RSS_BOUND is 0, each probe-run
//!       row's peak RSS against it; exits 1 if any run exits otherwise.
//!   probe_bench quick IMAGE...
//!       In-process quick_probe (what `probe-run --quick` does after mapping
//!       the file), median ns per call, and the ratio of the last to the first.
//!   probe_bench bomb PATH
//!       Write a 2 GiB gzip bomb (an arm64 header claiming 2 GiB, then zeros;
//!       sync-flushed 1 MiB pieces repeated; exact CRC32 and ISIZE).

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::{exit, Command, Stdio};
use std::time::{Duration, Instant};

use kernel_probe::{quick_probe, ProbeOptions, Prober};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; ignore flags.
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        ["run", rounds, warmup, bytes, bound] => run(
            rounds.parse().expect("ROUNDS"),
            warmup.parse().expect("WARMUP"),
            bytes.parse().expect("BYTES"),
            bound.parse().expect("RSS_BOUND"),
        ),
        ["quick", images @ ..] if !images.is_empty() => quick(images),
        ["bomb", path] => bomb(Path::new(path)),
        [] => {} // `cargo bench` with no arguments: nothing to do
        _ => {
            eprintln!("usage: probe_bench run ROUNDS WARMUP BYTES RSS_BOUND < SPEC | quick IMAGE... | bomb PATH");
            exit(2);
        }
    }
}

struct Cmd {
    name: String,
    status: i32,
    rm: Option<String>,
    argv: Vec<String>,
    times: Vec<Duration>,
    rss_kib: i64,
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

/// Run one command; wall time and peak RSS (KiB), or an error line.
fn once(c: &Cmd) -> Result<(Duration, i64), String> {
    if let Some(rm) = &c.rm {
        let _ = std::fs::remove_file(rm);
    }
    let t = Instant::now();
    let child = Command::new(&c.argv[0])
        .args(&c.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", c.argv[0]))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped; pointers are to live locals.
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    let dt = t.elapsed();
    if r < 0 {
        return Err(format!("wait4: {}", io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != c.status {
        return Err(format!(
            "{} ended with wait status {status:#x}, expected exit {}",
            c.argv.join(" "),
            c.status
        ));
    }
    Ok((dt, ru.ru_maxrss))
}

fn run(rounds: usize, warmup: usize, bytes: u64, rss_bound: u64) {
    let mut cmds: Vec<Cmd> = Vec::new();
    for line in io::stdin().lock().lines() {
        let line = line.expect("read SPEC");
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let [name, status, rm, argv] = f.as_slice() else {
            panic!("bad SPEC line: {line}");
        };
        cmds.push(Cmd {
            name: name.to_string(),
            status: status.parse().expect("STATUS"),
            rm: (*rm != "-").then(|| rm.to_string()),
            argv: argv.split(' ').map(String::from).collect(),
            times: Vec::new(),
            rss_kib: 0,
        });
    }
    let n = cmds.len();
    let mut failed = false;
    for round in 0..warmup + rounds {
        for k in 0..n {
            let c = &mut cmds[(k + round) % n];
            match once(c) {
                Ok((dt, rss)) if round >= warmup => {
                    c.times.push(dt);
                    c.rss_kib = c.rss_kib.max(rss);
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("probe_bench: {}: {e}", c.name);
                    failed = true;
                }
            }
        }
        if failed {
            exit(1);
        }
    }
    // Keep SPEC order for the table.
    let med: Vec<f64> = cmds
        .iter()
        .map(|c| median(&c.times).as_secs_f64() * 1e3)
        .collect();
    // The ratio column is against libdeflate-gunzip (gzip) or zstd -dc
    // (zstd) when it is measured.
    let reference = cmds
        .iter()
        .position(|c| c.name.starts_with("libdeflate") || c.name == "zstd -dc");
    println!("{rounds} alternating rounds after {warmup} warm-up; decompressed {bytes} bytes");
    println!();
    match reference {
        Some(r) => {
            println!(
                "| command | median ms | min ms | x {} | MB/s | peak RSS MiB |",
                cmds[r].name
            );
            println!("|---|---:|---:|---:|---:|---:|");
        }
        None => {
            println!("| command | median ms | min ms | MB/s | peak RSS MiB |");
            println!("|---|---:|---:|---:|---:|");
        }
    }
    for (c, &m) in cmds.iter().zip(&med) {
        let min = c.times.iter().min().copied().unwrap_or_default();
        // The quick probe does not decompress: no throughput.
        let mbs = if c.name.contains("--quick") {
            "n/a".to_string()
        } else {
            format!("{:.0}", bytes as f64 / 1e6 / (m / 1e3))
        };
        let ratio = reference.map_or(String::new(), |r| format!(" {:.2} |", m / med[r]));
        println!(
            "| `{}` | {m:.1} | {:.1} |{ratio} {mbs} | {:.1} |",
            c.name,
            min.as_secs_f64() * 1e3,
            c.rss_kib as f64 / 1024.0
        );
    }
    // Each probe-run variant against each peer: time(peer) / time(probe-run),
    // so > 1 means probe-run is that many times faster.
    let ours: Vec<usize> = (0..n)
        .filter(|&i| cmds[i].name.starts_with("probe-run"))
        .collect();
    let peers: Vec<usize> = (0..n).filter(|i| !ours.contains(i)).collect();
    if !ours.is_empty() && !peers.is_empty() {
        println!();
        print!("| speed-up of probe-run (peer time / probe-run time) |");
        for &p in &peers {
            print!(" vs {} |", cmds[p].name);
        }
        println!();
        print!("|---|");
        for _ in &peers {
            print!("---:|");
        }
        println!();
        for &o in &ours {
            print!("| `{}` |", cmds[o].name);
            for &p in &peers {
                print!(" {:.2} |", med[p] / med[o]);
            }
            println!();
        }
    }
    let find = |name: &str| cmds.iter().position(|c| c.name == name);
    if let (Some(p), Some(l), Some(g)) = (
        find("probe-run"),
        find("libdeflate-gunzip -c"),
        find("gzip -dc"),
    ) {
        let (vs_l, vs_g) = (med[p] / med[l], med[g] / med[p]);
        println!();
        println!(
            "goal: probe-run <= 1.7x libdeflate-gunzip: {vs_l:.2}x ({})",
            if vs_l <= 1.7 { "met" } else { "NOT met" }
        );
        println!(
            "goal: probe-run >= 1.6x faster than gzip -dc: {vs_g:.2}x ({})",
            if vs_g >= 1.6 { "met" } else { "NOT met" }
        );
    }
    if let (Some(p), Some(z)) = (find("probe-run"), find("zstd -dc")) {
        let r = med[p] / med[z];
        println!();
        println!(
            "goal: probe-run <= 1.5x zstd -dc (libzstd), regression line 2x: {r:.2}x ({})",
            if r <= 1.5 {
                "met"
            } else if r <= 2.0 {
                "NOT met, within the regression line"
            } else {
                "NOT met, past the regression line"
            }
        );
    }
    if rss_bound > 0 {
        for &o in &ours {
            let rss = cmds[o].rss_kib as u64 * 1024;
            println!(
                "peak RSS `{}`: {:.1} MiB, goal {:.1} MiB: {}",
                cmds[o].name,
                rss as f64 / 1048576.0,
                rss_bound as f64 / 1048576.0,
                if rss <= rss_bound { "met" } else { "NOT met" }
            );
        }
    }
}

/// The CRC32 probe-run uses (crc32fast), through the crate's hook.
struct FastCrc;

impl kernel_probe::Crc32 for FastCrc {
    fn update(&mut self, crc: u32, data: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(data);
        h.finalize()
    }
}

fn quick(images: &[&str]) {
    let mut prober = Box::new(Prober::new(ProbeOptions::default()));
    let mut per_call = Vec::new();
    for path in images {
        let file = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // As probe-run maps its input.
        // SAFETY: private read-only mapping of a file nobody rewrites during the bench.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let one = |prober: &mut Prober| {
            prober.reset(ProbeOptions::default());
            let r = quick_probe(prober, &map, &mut FastCrc);
            std::hint::black_box(&r);
            r.is_ok()
        };
        if !one(&mut prober) {
            eprintln!("probe_bench: quick probe of {path} failed");
            exit(1);
        }
        // Batches of calls; the median of the batch means.
        let batch = 200u32;
        let mut samples = Vec::new();
        for _ in 0..5 {
            one(&mut prober);
        }
        for _ in 0..101 {
            let t = Instant::now();
            for _ in 0..batch {
                one(&mut prober);
            }
            samples.push(t.elapsed() / batch);
        }
        let m = median(&samples);
        println!(
            "quick in-process: {:.2} us per image  ({path}, {} bytes)",
            m.as_secs_f64() * 1e6,
            map.len()
        );
        per_call.push(m);
    }
    if let (Some(first), Some(last)) = (per_call.first(), per_call.last()) {
        let r = last.as_secs_f64() / first.as_secs_f64();
        let worst = per_call.iter().max().copied().unwrap_or_default();
        println!("quick ratio last/first: {r:.2} (goal: within 1.2x)");
        println!(
            "goal: --quick <= 10 us per image in-process: worst {:.2} us ({})",
            worst.as_secs_f64() * 1e6,
            if worst <= Duration::from_micros(10) {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}

fn bomb(path: &Path) {
    use flate2::{Compress, Compression, FlushCompress};
    const PIECE: usize = 1 << 20;
    let total: u64 = 2 << 30;
    let mut c = Compress::new(Compression::new(9), false);
    let mut deflate = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(64 << 10);
        let start = c.total_in();
        loop {
            if out.capacity() - out.len() < 4096 {
                out.reserve(64 << 10);
            }
            let st = c
                .compress_vec(&input[(c.total_in() - start) as usize..], &mut out, flush)
                .expect("deflate");
            let done = (c.total_in() - start) as usize;
            let full = out.len() == out.capacity();
            if done == input.len() && !full && st != flate2::Status::BufError
                || st == flate2::Status::StreamEnd
            {
                break;
            }
        }
        out
    };
    // arm64 header: image_size = 2 GiB, flags LE/4K/anywhere, magic at 0x38.
    let mut head = vec![0u8; PIECE];
    head[16..24].copy_from_slice(&total.to_le_bytes());
    head[24..32].copy_from_slice(&0b1010u64.to_le_bytes());
    head[0x38..0x3c].copy_from_slice(b"ARM\x64");
    let zeros = vec![0u8; PIECE];
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];
    gz.extend(deflate(&head, FlushCompress::Sync));
    let piece = deflate(&zeros, FlushCompress::Sync);
    for _ in 1..total / PIECE as u64 {
        gz.extend_from_slice(&piece);
    }
    gz.extend(deflate(&[], FlushCompress::Finish));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    let mut zero_crc = crc32fast::Hasher::new();
    zero_crc.update(&zeros);
    for _ in 1..total / PIECE as u64 {
        crc.combine(&zero_crc);
    }
    gz.extend(crc.finalize().to_le_bytes());
    gz.extend((total as u32).to_le_bytes());
    let tmp = format!("{}.tmp", path.display());
    let mut f = File::create(&tmp).expect("create bomb");
    f.write_all(&gz).expect("write bomb");
    drop(f);
    std::fs::rename(&tmp, path).expect("rename bomb");
}
