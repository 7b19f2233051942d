//! The adversarial corpus (derived from Debian's real kernel): every file
//! gets its errno, exit status 1 for every rejection, and a rejected image
//! never leaves an --output file behind.

use std::time::Instant;

use kernel_probe_tests::*;

fn errno_name(e: i64) -> &'static str {
    match e {
        0 => "OK",
        22 => "EINVAL",
        74 => "EBADMSG",
        27 => "EFBIG",
        99 => "EADDRNOTAVAIL",
        _ => "?",
    }
}

#[test]
fn every_case_gets_its_errno() {
    let img = std::fs::read(&debian_kernels()["unsigned"]).unwrap();
    let dir = scratch("corpus");
    let cases = corpus::write(&img, &dir).unwrap();
    let mut classes = std::collections::BTreeSet::new();
    // All at once (probe-run runs them in parallel and prints in order)...
    let paths: Vec<_> = cases.iter().map(|c| dir.join(&c.name)).collect();
    let all = probe_json(&paths);
    assert_eq!(all.json.len(), cases.len());
    assert_eq!(all.code, 1, "some cases are rejections");
    for (c, j) in cases.iter().zip(&all.json) {
        classes.insert(c.class);
        assert_eq!(j["path"], dir.join(&c.name).to_str().unwrap());
        assert_eq!(
            j["errno"].as_i64(),
            Some(c.errno as i64),
            "{}: expected {}, got {j}",
            c.name,
            errno_name(c.errno as i64)
        );
        assert_eq!(j["errno_name"], errno_name(c.errno as i64));
        assert_eq!(j["ok"], c.errno == 0);
        assert_eq!(j["input_size"], c.data.len() as u64, "{}", c.name);
        if c.errno != 0 {
            assert!(j["error"].as_str().is_some_and(|s| !s.is_empty()));
            assert!(j["header"].is_null());
        }
    }
    for class in [
        "truncation",
        "bit flip",
        "crc/isize lie",
        "bomb",
        "wrong magic",
        "other compression",
        "header rule",
        "reserved gzip flags",
        "trailing garbage",
    ] {
        assert!(classes.contains(class), "class {class} missing");
    }
    // ...and one by one with --output: exit status, and no file for a rejection.
    for c in &cases {
        let out = dir.join(format!("{}.out", c.name));
        let r = probe_json([
            dir.join(&c.name).as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(
            r.code,
            if c.errno == 0 { 0 } else { 1 },
            "{}: {}",
            c.name,
            r.stderr
        );
        assert_eq!(out.exists(), c.errno == 0, "{}: --output file", c.name);
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        let _ = std::fs::remove_file(out);
    }
}

#[test]
fn other_compressions_are_named_by_the_real_tools() {
    let img = &debian_kernels()["unsigned"];
    let dir = scratch("othercomp");
    for (tool, ext, name) in [
        ("xz -1 -T1", "xz", "xz"),
        ("bzip2 -1", "bz2", "bzip2"),
        ("lz4 -l -1 -q", "lz4", "lz4"),
        ("xz --format=lzma -1", "lzma", "lzma"),
    ] {
        require_tool(tool.split(' ').next().unwrap());
        let f = dir.join(format!("Image.{ext}"));
        sh(&format!(
            "head -c 2000000 '{}' | {tool} -c > '{}'",
            img.display(),
            f.display()
        ));
        let r = probe_json([&f]);
        assert_eq!(r.code, 1);
        assert_eq!(r.json[0]["errno"], 22);
        let msg = r.json[0]["error"].as_str().unwrap();
        assert!(msg.starts_with(name), "{ext}: {msg}");
    }
}

#[test]
fn two_gib_bomb_stops_at_the_default_bound() {
    let img = std::fs::read(&debian_kernels()["unsigned"]).unwrap();
    let mut head = img[..4096].to_vec();
    head[16..24].copy_from_slice(&(3u64 << 30).to_le_bytes());
    let dir = scratch("bomb");
    let f = dir.join("bomb.gz");
    std::fs::write(&f, corpus::gz_bomb(&head, 2 << 30)).unwrap();
    let out = dir.join("bomb.Image");
    let t = Instant::now();
    let r = probe_json([f.as_os_str(), "--output".as_ref(), out.as_os_str()]);
    let took = t.elapsed();
    eprintln!("2 GiB bomb rejected in {took:?}");
    assert_eq!(r.code, 1);
    assert_eq!(r.json[0]["errno"], 27);
    assert_eq!(r.json[0]["errno_name"], "EFBIG");
    assert!(!out.exists());
    // A lower bound stops it earlier, with the same errno.
    let r = probe_json([f.as_os_str(), "--max-size".as_ref(), "16M".as_ref()]);
    assert_eq!(r.json[0]["errno"], 27);
}
