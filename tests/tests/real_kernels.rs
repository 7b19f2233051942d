//! Debian's real arm64 kernels (6.12: unsigned, signed, 16K pages), compressed
//! by four different gzip implementations: every header field must match the
//! raw Image, and --output must equal `gzip -dc` byte for byte.

use kernel_probe_tests::*;

const COMPRESSORS: [(&str, &str); 4] = [
    ("gzip-9", "gzip -9 -c"),
    ("gzip-1", "gzip -1 -c"),
    ("pigz", "pigz -6 -c"),
    ("busybox", "busybox gzip -c"),
];

fn check_header(j: &serde_json::Value, raw: &RawHeader, img_len: usize, format: &str) {
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["errno"], 0);
    assert_eq!(j["format"], format);
    if j["quick"] == true {
        // The quick probe states no length; the trailer's claim is the
        // (single) member's ISIZE.
        assert_eq!(j["image_bytes"], serde_json::Value::Null);
        assert_eq!(j["gzip"]["isize"], img_len as u64);
    } else {
        assert_eq!(j["image_bytes"], img_len as u64);
    }
    let h = &j["header"];
    assert_eq!(h["text_offset"], raw.text_offset);
    assert_eq!(h["image_size"], raw.image_size);
    assert_eq!(h["flags"], raw.flags);
    assert_eq!(h["big_endian"], raw.flags & 1 == 1);
    let page = match (raw.flags >> 1) & 3 {
        1 => serde_json::json!(4096),
        2 => serde_json::json!(16384),
        3 => serde_json::json!(65536),
        _ => serde_json::Value::Null,
    };
    assert_eq!(h["page_size"], page);
    assert_eq!(h["phys_placement_anywhere"], raw.flags & 8 == 8);
    assert_eq!(
        j["kdump_bytes_needed"],
        (raw.text_offset + raw.image_size).div_ceil(2 << 20) * (2 << 20)
    );
    assert!(
        j["crashkernel_min"].as_u64().unwrap()
            >= j["kdump_bytes_needed"].as_u64().unwrap() + (2 << 20)
    );
    assert_eq!(j["pe"]["machine"], 0xAA64);
}

#[test]
fn debian_kernels_every_compressor() {
    for tool in ["gzip", "pigz", "busybox"] {
        require_tool(tool);
    }
    let dir = scratch("real");
    for (name, image) in debian_kernels() {
        let img = std::fs::read(image).unwrap();
        let raw = raw_header(&img);
        let (cert_off, cert_size) = raw_cert_dir(&img);
        // The raw Image itself.
        let r = probe_json([image]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        check_header(&r.json[0], &raw, img.len(), "image");
        let expected_page = if name == "16k" { 16384 } else { 4096 };
        assert_eq!(r.json[0]["header"]["page_size"], expected_page, "{name}");
        let signed = name == "signed";
        assert_eq!(r.json[0]["pe"]["signed"], signed, "{name}");
        assert_eq!(
            cert_size != 0,
            signed,
            "{name}: the package's signature state"
        );
        assert_eq!(r.json[0]["pe"]["signature_size"], cert_size, "{name}");
        if signed {
            assert_eq!(r.json[0]["pe"]["cert_offset"], cert_off);
            assert_eq!(r.json[0]["pe"]["cert_problem"], serde_json::Value::Null);
        }
        for (cname, cmd) in COMPRESSORS {
            let gz = dir.join(format!("{name}-{cname}.gz"));
            sh(&format!("{cmd} '{}' > '{}'", image.display(), gz.display()));
            let out = dir.join(format!("{name}-{cname}.Image"));
            let r = probe_json([gz.as_os_str(), "--output".as_ref(), out.as_os_str()]);
            assert_eq!(r.code, 0, "{name} {cname}: {}", r.stderr);
            let j = &r.json[0];
            check_header(j, &raw, img.len(), "gzip");
            assert_eq!(j["pe"]["signed"], signed);
            assert_eq!(j["pe"]["signature_size"], cert_size);
            assert_eq!(j["gzip"]["members"], 1);
            assert_eq!(j["gzip"]["isize"], img.len() as u64);
            assert_eq!(j["gzip"]["crc32"], crc32fast::hash(&img));
            assert_eq!(j["input_size"], std::fs::metadata(&gz).unwrap().len());
            let reference = sh(&format!("gzip -dc '{}'", gz.display()));
            let written = std::fs::read(&out).unwrap();
            assert!(
                written == reference,
                "{name} {cname}: --output differs from gzip -dc"
            );
            assert!(written == img);
            // The quick probe answers the same header from the head alone.
            let q = probe_json(["--quick".as_ref(), gz.as_os_str()]);
            assert_eq!(q.code, 0);
            check_header(&q.json[0], &raw, img.len(), "gzip");
            assert_eq!(q.json[0]["quick"], true);
            std::fs::remove_file(&out).unwrap();
        }
    }
}

#[test]
fn target_page_sizes_and_endianness() {
    let k = debian_kernels();
    let sixteen = &k["16k"];
    let r = probe_json([
        "--page-sizes".as_ref(),
        "4k,64k".as_ref(),
        sixteen.as_os_str(),
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json[0]["errno"], 22);
    assert!(r.json[0]["error"].as_str().unwrap().contains("page size"));
    let r = probe_json([
        "--target-endian".as_ref(),
        "big".as_ref(),
        k["unsigned"].as_os_str(),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.json[0]["error"].as_str().unwrap().contains("endianness"));
}
