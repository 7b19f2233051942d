//! Seed corpora for kernel-probe/fuzz, made from the same synthetic images
//! the tests use. Run by kernel-probe/fuzz/run-smoke.sh:
//!
//!     FUZZ_SEEDS_DIR=kernel-probe/fuzz/corpus \
//!         cargo test -p kernel-probe --test fuzz_seeds -- --ignored
//!
//! Seeds are kept small (a few KB) so that the fuzzer runs fast.

mod common;

use std::path::Path;

use common::*;

fn put(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

#[test]
#[ignore = "writes seed files; run with FUZZ_SEEDS_DIR set"]
fn write_seed_corpora() {
    // Not a check of the probe but a generator: asked to run without a
    // destination it fails instead of passing having written nothing.
    let dir = std::env::var_os("FUZZ_SEEDS_DIR")
        .expect("FUZZ_SEEDS_DIR must name the directory to write the seed corpora into");
    let dir = Path::new(&dir);
    let mut signed = kernel(6000);
    sign(&mut signed, 600);
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("raw-pe", kernel(5000)),
        ("raw-plain", image(4200, 8192, 0b0010, false)),
        ("raw-signed", signed.clone()),
        ("gz9", gzip(&kernel(6000), 9)),
        ("gz1", gzip(&kernel(6000), 1)),
        ("gz0-stored", gzip(&kernel(5000), 0)),
        ("gz-signed", gzip(&signed, 6)),
        ("gz-small", gzip(&image(200, 4096, 0, false), 6)),
        ("gz-two-members", {
            let k = kernel(7000);
            let mut g = gzip(&k[..3000], 6);
            g.extend(gzip(&k[3000..], 9));
            g.extend([0u8; 16]);
            g
        }),
        ("gz-legacy", gzip(&image(5000, 0, 0, false), 6)),
        ("gz-be", gzip(&image(5000, 8192, 1, false), 6)),
        ("zboot", {
            let mut k = kernel(6000);
            k.resize(0x10000, 0);
            zboot(&gzip(&k, 9), b"gzip")
        }),
        ("zboot-zstd", {
            let mut k = kernel(6000);
            k.resize(0x10000, 0);
            zboot(&zstd::bulk::compress(&k, 19).unwrap(), b"zstd22")
        }),
        ("zstd3", zstd::bulk::compress(&kernel(6000), 3).unwrap()),
        (
            "uki-gz",
            uki(&[
                (".cmdline", b"console=ttyAMA0"),
                (".linux", &gzip(&kernel(5000), 6)),
            ]),
        ),
        ("xz", b"\xFD7zXZ\0\0\x04\xE6\xD6\xB4\x46".to_vec()),
    ];
    for (name, bytes) in &inputs {
        put(dir, "probe", name, bytes);
        // Chunk sizes 7 and 4096 (count byte 1 => two sizes).
        let mut s = vec![1u8, 6, 0, 255, 15];
        s.extend_from_slice(bytes);
        put(dir, "stream_vs_oneshot", name, &s);
        if bytes.starts_with(&[0x1F, 0x8B]) {
            let mut d = vec![1u8];
            d.extend_from_slice(bytes);
            put(dir, "differential", name, &d);
            let mut h = vec![3u8];
            h.extend_from_slice(&bytes[..bytes.len().min(64)]);
            put(dir, "gzip_header", name, &h);
        }
        put(dir, "pe_zboot", name, &bytes[..bytes.len().min(8192)]);
    }
    // zstd_differential: raw frames (mode 1) and generated ones (mode 0,
    // then level, frames, flags, skippable magic, window log, mutation).
    for (name, bytes) in &inputs {
        if bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            let mut d = vec![1u8];
            d.extend_from_slice(bytes);
            put(dir, "zstd_differential", name, &d);
        }
    }
    for (i, level) in [3u8, 1, 30, 31].into_iter().enumerate() {
        let mut d = vec![0u8, level, 1, 0b0111, 3, 7, 0, 0, 0, 0];
        d.extend_from_slice(&kernel(4000)[64..]);
        put(dir, "zstd_differential", &format!("gen-{i}"), &d);
    }
    // Generated-mode seeds for the differential target: mode 0, ctl, level,
    // split, mutation position (2 bytes), xor, then the image body.
    let body: Vec<u8> = kernel(3000)[64..].to_vec();
    for (i, ctl) in [0u8, 4, 2, 6].into_iter().enumerate() {
        let mut d = vec![0u8, ctl, 6, 100, 40, 0, 0x10];
        d.extend_from_slice(&body);
        put(dir, "differential", &format!("gen-{i}"), &d);
    }
    // gzip headers with every optional field.
    let mut h = vec![
        0x1F, 0x8B, 8, 0x1E, 1, 2, 3, 4, 0, 3, 3, 0, b'a', b'b', b'c',
    ];
    h.extend_from_slice(b"Image\0comment\0");
    let c = crc32fast::hash(&h) as u16;
    h.extend_from_slice(&c.to_le_bytes());
    h.push(0xAA);
    let mut s = vec![0u8];
    s.extend_from_slice(&h);
    put(dir, "gzip_header", "all-fields", &s);
}
