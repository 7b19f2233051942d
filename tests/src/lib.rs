//! Shared pieces of the integration tests: where probe-run is, Debian's real
//! kernels, scratch directories, and an independent reader of the arm64
//! Image header (so the probe is not checked against itself).

pub mod corpus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The probe-run binary: `$PROBE_RUN`, else built now (release) in the
/// workspace's target directory.
pub fn probe_run() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("PROBE_RUN") {
            return PathBuf::from(p);
        }
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "userspace-harness",
                "--bin",
                "probe-run",
            ])
            .current_dir(repo())
            .status()
            .expect("run cargo build for probe-run");
        assert!(status.success(), "building probe-run failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target"));
        target.join("release/probe-run")
    })
    .clone()
}

/// What one probe-run invocation did.
pub struct Run {
    pub code: i32,
    pub json: Vec<serde_json::Value>,
    pub stderr: String,
}

/// Run probe-run with `--json` and the given arguments.
pub fn probe_json<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(probe_run())
        .arg("--json")
        .args(args)
        .output()
        .expect("run probe-run");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 JSON");
    let json = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Debian's real arm64 kernels (unsigned, signed, 16k): name -> raw Image.
/// Fetched into the cache by tests/fetch-debian-kernels.sh.
pub fn debian_kernels() -> &'static BTreeMap<String, PathBuf> {
    static K: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    K.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("tests/fetch-debian-kernels.sh"))
            .output()
            .expect("run tests/fetch-debian-kernels.sh");
        assert!(
            out.status.success(),
            "fetching Debian's kernels failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
            .collect()
    })
}

/// A fresh directory for one test, under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = repo()
        .join("target/test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The header fields, read straight from the bytes (booting.rst).
#[derive(Debug, PartialEq, Eq)]
pub struct RawHeader {
    pub text_offset: u64,
    pub image_size: u64,
    pub flags: u64,
    pub pe_offset: u32,
}

pub fn raw_header(img: &[u8]) -> RawHeader {
    let u64_at = |o: usize| u64::from_le_bytes(img[o..o + 8].try_into().unwrap());
    assert_eq!(&img[0x38..0x3C], b"ARM\x64", "not an arm64 Image");
    RawHeader {
        text_offset: u64_at(8),
        image_size: u64_at(16),
        flags: u64_at(24),
        pe_offset: u32::from_le_bytes(img[0x3C..0x40].try_into().unwrap()),
    }
}

/// The PE certificate directory (offset, size), read straight from the bytes.
pub fn raw_cert_dir(img: &[u8]) -> (u32, u32) {
    let pe = raw_header(img).pe_offset as usize;
    assert_eq!(&img[pe..pe + 4], b"PE\0\0");
    let dir = pe + 0x18 + 112 + 4 * 8;
    let at = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap());
    (at(dir), at(dir + 4))
}

/// Run a shell pipeline, panicking with its stderr on failure.
pub fn sh(cmd: &str) -> Vec<u8> {
    let out = Command::new("bash")
        .args(["-c", &format!("set -euo pipefail; {cmd}")])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Is this tool on PATH? Tests that need one fail when it is missing: the
/// README's test command installs them.
pub fn require_tool(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is not installed (tests/run-all.sh installs it)");
}
