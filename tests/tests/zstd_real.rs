//! zstd as the real `zstd` tool writes it, on Debian's arm64 Image: levels
//! 1, 3 and 19, `--ultra -22 --long=27`, with and without the content
//! checksum, piped (no content size), several frames, a skippable frame.
//! probe-run's image must equal `zstd -dc`'s byte for byte and the report
//! must say what the frames say (`zstd -lv` for the window and checksum);
//! the quick probe answers the same header from the first block. Cut short,
//! every one is EBADMSG.

use std::path::{Path, PathBuf};

use kernel_probe_tests::*;
use serde_json::Value;

/// The compressed Image, cached under target/test-cache by the Image's
/// size and the command (the slow levels take seconds to minutes).
fn compressed(image: &Path, name: &str, cmd: &str) -> PathBuf {
    let len = std::fs::metadata(image).unwrap().len();
    let key = format!("{:08x}", crc32fast::hash(format!("{len} {cmd}").as_bytes()));
    let dir = repo().join("target/test-cache");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("zstd-{name}-{key}.zst"));
    if !out.exists() {
        let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
        sh(&format!(
            "{} > '{}'",
            cmd.replace("IMAGE", &format!("'{}'", image.display())),
            tmp.display()
        ));
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// `zstd -lv`'s "Window Size: ... (N B)" and "Check: XXH64" of one frame.
fn zstd_lv(f: &Path) -> (u64, bool) {
    let text = String::from_utf8(sh(&format!("zstd -lv '{}' 2>&1", f.display()))).unwrap();
    let window = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Window Size:"))
        .and_then(|w| w.split('(').nth(1))
        .and_then(|w| w.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no window size in zstd -lv:\n{text}"));
    (window, text.contains("XXH64"))
}

#[test]
fn debian_image_as_the_zstd_tool_writes_it() {
    require_tool("zstd");
    let image = &debian_kernels()["unsigned"];
    let img = std::fs::read(image).unwrap();
    let raw = raw_header(&img);
    let dir = scratch("zstd-real");
    let split = img.len() / 3;
    let variants: [(&str, String, u32, bool, bool); 7] = [
        // (name, command, frames, checksummed, content size declared)
        ("l1", "zstd -1 -q -c IMAGE".into(), 1, true, true),
        ("l3-no-check", "zstd -3 --no-check -q -c IMAGE".into(), 1, false, true),
        ("l19", "zstd -19 -T2 -q -c IMAGE".into(), 1, true, true),
        ("ultra22-long27", "zstd --ultra -22 --long=27 -T2 -q -c IMAGE".into(), 1, true, true),
        ("piped", "cat IMAGE | zstd -3 -q -c".into(), 1, true, false),
        (
            "two-frames",
            format!("{{ head -c {split} IMAGE | zstd -3 -q -c; tail -c +{} IMAGE | zstd -6 --no-check -q -c; }}", split + 1),
            2,
            false,
            false,
        ),
        (
            "skippable",
            "{ printf '\\x5a\\x2a\\x4d\\x18\\x04\\x00\\x00\\x00abcd'; zstd -3 -q -c IMAGE; }".into(),
            1,
            true,
            true,
        ),
    ];
    for (name, cmd, frames, checksummed, sized) in variants {
        let z = compressed(image, name, &cmd);
        let reference = sh(&format!("zstd -dc -q --long=27 '{}'", z.display()));
        assert!(reference == img, "{name}: zstd -dc does not give the Image");
        let out = dir.join(format!("{name}.Image"));
        let r = probe_json([z.as_os_str(), "--output".as_ref(), out.as_os_str()]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let j = &r.json[0];
        assert_eq!(j["format"], "zstd", "{name}");
        assert_eq!(j["image_bytes"], img.len() as u64);
        assert_eq!(j["header"]["text_offset"], raw.text_offset);
        assert_eq!(j["header"]["image_size"], raw.image_size);
        assert_eq!(j["header"]["flags"], raw.flags);
        let zj = &j["zstd"];
        assert_eq!(zj["frames"], frames, "{name}: {zj}");
        assert_eq!(zj["checksummed"], checksummed, "{name}: {zj}");
        assert_eq!(
            zj["content_size"],
            if sized {
                Value::from(img.len() as u64)
            } else {
                Value::Null
            },
            "{name}: {zj}"
        );
        assert_eq!(
            zj["skippable_frames"],
            u32::from(name == "skippable"),
            "{name}"
        );
        if frames == 1 && name != "skippable" {
            let (window, check) = zstd_lv(&z);
            assert_eq!(zj["window_size"], window, "{name}: zstd -lv says {window}");
            assert_eq!(check, checksummed, "{name}: zstd -lv's Check");
        }
        let written = std::fs::read(&out).unwrap();
        assert!(written == img, "{name}: --output differs from the Image");
        std::fs::remove_file(&out).unwrap();
        // The quick probe: the same header from the frame header and first
        // block; the content size is the first frame's claim.
        let q = probe_json(["--quick".as_ref(), z.as_os_str()]);
        assert_eq!(q.code, 0, "{name}: {}", q.stderr);
        let qj = &q.json[0];
        assert_eq!(qj["quick"], true);
        assert_eq!(qj["image_bytes"], Value::Null);
        assert_eq!(qj["header"], j["header"], "{name}");
        // Cut short: EBADMSG wherever the cut falls.
        let data = std::fs::read(&z).unwrap();
        for cut in [data.len() / 2, data.len() - 1] {
            let short = dir.join(format!("{name}-cut-{cut}.zst"));
            std::fs::write(&short, &data[..cut]).unwrap();
            let c = probe_json([&short]);
            assert_eq!(c.code, 1, "{name} cut at {cut}");
            assert_eq!(
                c.json[0]["errno_name"], "EBADMSG",
                "{name} cut at {cut}: {}",
                c.json[0]
            );
            std::fs::remove_file(&short).unwrap();
        }
    }
}
