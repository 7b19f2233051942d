//! probe-run's command line: exit statuses, usage errors, I/O errors, JSON
//! keys, the human report, and ordering of parallel results.

use std::process::Command;

use kernel_probe_tests::*;

/// Every key of a JSON line, in the order probe-run writes them.
const KEYS: [&str; 20] = [
    "path",
    "ok",
    "errno",
    "errno_name",
    "error",
    "format",
    "input_size",
    "image_bytes",
    "header",
    "pe",
    "gzip",
    "zstd",
    "zboot",
    "uki",
    "authenticode",
    "uki_authenticode",
    "kdump_bytes_needed",
    "crashkernel_min",
    "quick",
    "signature",
];

/// The line's keys, in order (serde_json keeps them with preserve_order).
fn keys(j: &serde_json::Value) -> Vec<&str> {
    j.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn usage_and_io_errors_exit_2() {
    let bin = probe_run();
    let none = Command::new(&bin).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    let bad = Command::new(&bin)
        .args(["--max-size", "12X", "x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let dir = scratch("cli-io");
    let missing = dir.join("missing.gz");
    let r = probe_json([&missing]);
    assert_eq!(r.code, 2);
    assert_eq!(r.json[0]["errno_name"], "ENOENT");
    for key in KEYS {
        assert!(
            r.json[0].get(key).is_some(),
            "{key} missing in {}",
            r.json[0]
        );
    }
    assert_eq!(
        keys(&r.json[0]),
        KEYS,
        "an I/O error line has every key in order"
    );
    assert_eq!(r.json[0]["ok"], false);
    let two = Command::new(&bin)
        .args(["--output", "x", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(two.status.code(), Some(2));
}

#[test]
fn json_lines_have_every_key_in_order() {
    let k = debian_kernels();
    let dir = scratch("cli-json");
    let gz = dir.join("Image.gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        k["unsigned"].display(),
        gz.display()
    ));
    let junk = dir.join("junk");
    std::fs::write(&junk, b"not a kernel").unwrap();
    let paths = [gz.clone(), junk.clone(), k["16k"].clone(), gz.clone()];
    let r = probe_json(&paths);
    assert_eq!(r.code, 1);
    assert_eq!(r.json.len(), 4);
    for (p, j) in paths.iter().zip(&r.json) {
        assert_eq!(
            j["path"],
            p.to_str().unwrap(),
            "results come in argument order"
        );
        assert_eq!(keys(j), KEYS, "keys and their order in {j}");
    }
    assert_eq!(r.json[1]["errno"], 22);
    assert_eq!(r.json[2]["header"]["page_size"], 16384);
    assert_eq!(r.json[0], r.json[3]);
}

#[test]
fn human_report() {
    let k = debian_kernels();
    let dir = scratch("cli-text");
    let gz = dir.join("signed.gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        k["signed"].display(),
        gz.display()
    ));
    let out = Command::new(probe_run()).arg(&gz).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(": OK: arm64 Image, gzip-compressed"),
        "{text}"
    );
    assert!(text.contains("signed: certificate table at"), "{text}");
    assert!(text.contains("4K pages"));
    assert!(text.contains("kdump"));
    let bad = dir.join("bad.gz");
    let mut data = std::fs::read(&gz).unwrap();
    let n = data.len();
    data[n - 3] ^= 0xFF;
    std::fs::write(&bad, data).unwrap();
    let out = Command::new(probe_run()).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("REJECTED (EBADMSG, errno 74): gzip ISIZE mismatch"),
        "{text}"
    );
}

/// `--output` never destroys what it must not: a character device is written
/// in place (as root, renaming over /dev/null would replace it), the input
/// itself (by inode, also through a symbolic link) is refused before
/// anything is probed, `-` is standard output with the report on standard
/// error, a symbolic link keeps pointing at the image, `--quick` with
/// `--output` is a usage error.
#[test]
fn output_destinations() {
    let k = debian_kernels();
    let dir = scratch("cli-output");
    let gz = dir.join("Image.gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        k["unsigned"].display(),
        gz.display()
    ));
    let image = std::fs::read(&k["unsigned"]).unwrap();
    let bin = probe_run();

    // A character device: written in place, still a device afterwards. A
    // private node for /dev/null's device (the tests run as root), so a
    // regression cannot replace the machine's /dev/null.
    use std::os::unix::fs::FileTypeExt;
    let null = dir.join("null");
    sh(&format!("mknod -m 666 '{}' c 1 3", null.display()));
    let out = Command::new(&bin)
        .arg("-o")
        .arg(&null)
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(std::fs::metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());

    // The input itself, by name and through a link: refused, untouched.
    let before = std::fs::read(&gz).unwrap();
    let link = dir.join("link.gz");
    std::os::unix::fs::symlink(&gz, &link).unwrap();
    for target in [&gz, &link] {
        let out = Command::new(&bin)
            .arg("-o")
            .arg(target)
            .arg(&gz)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is the input"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(std::fs::read(&gz).unwrap(), before);

    // `-`: the image on standard output, the report on standard error.
    let out = Command::new(&bin)
        .args(["-o", "-"])
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout == image, "stdout is the Image");
    assert!(String::from_utf8_lossy(&out.stderr).contains(": OK: arm64 Image"));

    // A link to a regular file (and a dangling one) stays a link.
    let real = dir.join("real.img");
    let l2 = dir.join("l2");
    std::os::unix::fs::symlink("real.img", &l2).unwrap();
    for _ in 0..2 {
        let out = Command::new(&bin)
            .arg("-o")
            .arg(&l2)
            .arg(&gz)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(std::fs::symlink_metadata(&l2)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(std::fs::read(&real).unwrap() == image);
    }

    // A FIFO: written in place (a reader takes the image).
    let fifo = dir.join("fifo");
    sh(&format!("mkfifo '{}'", fifo.display()));
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(fifo).unwrap()
    });
    let out = Command::new(&bin)
        .arg("-o")
        .arg(&fifo)
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(reader.join().unwrap() == image);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    // --quick writes nothing, so --quick -o is a usage error.
    let q = dir.join("quick.img");
    let out = Command::new(&bin)
        .args(["--quick", "-o"])
        .arg(&q)
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!q.exists());
}

/// A bound below the 4 KiB head can accept no image: a usage error, not a
/// per-image EINVAL.
#[test]
fn max_size_below_the_head_is_a_usage_error() {
    let dir = scratch("cli-max-size");
    let f = dir.join("x");
    std::fs::write(&f, b"x").unwrap();
    for bound in ["0", "1", "4095"] {
        let out = Command::new(probe_run())
            .args(["--json", "--max-size", bound])
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--max-size {bound}");
        assert!(out.stdout.is_empty(), "no per-image line for {bound}");
    }
    let out = Command::new(probe_run())
        .args(["--json", "--max-size", "4096"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "4096 is a bound, x is rejected");
}

/// Input that is not a regular file: a FIFO with no writer answers (empty
/// input) instead of blocking in open(); a pipe is read as a stream with the
/// same verdict as the file; --quick on a stream is an I/O error (it needs
/// the trailer at the end of a file).
#[test]
fn fifo_and_pipe_inputs() {
    let k = debian_kernels();
    let dir = scratch("cli-fifo");
    let gz = dir.join("Image.gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        k["unsigned"].display(),
        gz.display()
    ));
    let fifo = dir.join("fifo");
    sh(&format!("mkfifo '{}'", fifo.display()));
    let mut child = Command::new(probe_run())
        .arg("--json")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("probe-run blocked on a FIFO with no writer");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "empty input is rejected");

    let file = probe_json([&gz]);
    let piped = sh(&format!(
        "'{}' --json /dev/stdin < <(cat '{}')",
        probe_run().display(),
        gz.display()
    ));
    let piped: serde_json::Value =
        serde_json::from_str(String::from_utf8(piped).unwrap().trim()).unwrap();
    for key in [
        "ok",
        "format",
        "input_size",
        "image_bytes",
        "header",
        "gzip",
    ] {
        assert_eq!(piped[key], file.json[0][key], "{key}");
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' --quick /dev/stdin < <(cat '{}')",
            probe_run().display(),
            gz.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Truncating the input while it is probed is an I/O error (exit 2), never a
/// SIGBUS.
#[test]
fn input_truncated_while_probed() {
    use std::os::unix::process::ExitStatusExt;
    let k = debian_kernels();
    let dir = scratch("cli-truncate");
    let gz = dir.join("Image.gz");
    let victim = dir.join("victim.gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        k["unsigned"].display(),
        gz.display()
    ));
    let mut truncated = 0;
    for attempt in 0..20 {
        std::fs::copy(&gz, &victim).unwrap();
        let child = Command::new(probe_run())
            .arg("--json")
            .arg(&victim)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10 + 5 * attempt));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&victim)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.signal(), None, "killed by a signal: {out:?}");
        match out.status.code() {
            Some(2) => {
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("truncated"),
                    "{out:?}"
                );
                truncated += 1;
                if truncated == 3 {
                    break;
                }
            }
            // Finished before the truncation, or read it as a short file.
            Some(0 | 1) => {}
            other => panic!("exit {other:?}: {out:?}"),
        }
    }
    assert!(truncated > 0, "no run saw the truncation");
}

/// `load --crash --exec` is refused when the arguments are parsed, before
/// anything is opened or loaded (it used to load the crash kernel first).
#[test]
fn load_crash_exec_is_a_usage_error() {
    let out = Command::new(probe_run())
        .args(["load", "--crash", "--exec", "/nonexistent/Image"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be used with"), "{err}");
    assert!(
        !err.contains("/nonexistent/Image:"),
        "nothing was opened: {err}"
    );
}

/// `load`'s system-call options: a bad value, `--no-probe` with the classic
/// call (it only has a kexec_file form) and `--dtb` with kexec_file_load
/// (the kernel builds that device tree) are usage errors, refused before
/// anything is opened or loaded.
#[test]
fn load_syscall_usage_errors() {
    for (args, says) in [
        (
            &["load", "--syscall", "bogus", "/nonexistent/Image"][..],
            "invalid value 'bogus'",
        ),
        (
            &[
                "load",
                "--syscall",
                "classic",
                "--no-probe",
                "/nonexistent/Image",
            ][..],
            "no kexec_load form",
        ),
        (
            &[
                "load",
                "--syscall",
                "file",
                "--dtb",
                "/nonexistent/dtb",
                "/nonexistent/Image",
            ][..],
            "--dtb is for kexec_load",
        ),
    ] {
        let out = Command::new(probe_run()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            !err.contains("/nonexistent/Image:"),
            "nothing was opened: {err}"
        );
    }
}
