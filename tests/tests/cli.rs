//! probe-run's command line: exit statuses, usage errors, I/O errors, JSON
//! keys, the human report, and ordering of parallel results.

use std::process::Command;

use kernel_probe_tests::*;

const KEYS: [&str; 18] = [
    "authenticode",
    "signature",
    "crashkernel_min",
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
    "zboot",
    "kdump_bytes_needed",
    "quick",
    "path",
];

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
        for key in KEYS {
            assert!(j.get(key).is_some(), "{key} missing in {j}");
        }
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
