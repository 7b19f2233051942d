//! Signed kernels: `probe-run --cert` against `sbverify --cert` in both
//! directions on images signed in the test with `sbsign` (throw-away RSA,
//! ECDSA P-256 and P-384 keys, CA chains, issuers that may not issue:
//! cA=FALSE, keyUsage without keyCertSign, pathLenConstraint exceeded),
//! Debian's signed kernel against the certificate embedded in its own
//! PKCS#7, and the core's Authenticode digest against osslsigncode's.

use std::path::{Path, PathBuf};
use std::process::Command;

use kernel_probe_tests::*;
use serde_json::Value;

/// The unsigned PE/COFF Images to sign: Debian's unsigned arm64 kernel, and
/// the project's own EFI kernel (Linux 7.2) when qemu/build-kernel.sh can
/// produce it (cached, or built with the toolchain qemu/setup.sh installs;
/// run-all runs this suite before qemu/setup.sh, so on a fresh machine only
/// Debian's kernel is signed, and the test says so).
fn unsigned_kernels() -> Vec<(&'static str, PathBuf)> {
    let mut v = vec![("debian", debian_kernels()["unsigned"].clone())];
    let out = Command::new("bash")
        .arg(repo().join("qemu/build-kernel.sh"))
        .output()
        .expect("run qemu/build-kernel.sh");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let image = Path::new(&dir).join("Image");
    if out.status.success() && image.exists() {
        v.push(("own", image));
    } else {
        eprintln!(
            "NOTE: the project's own kernel is not available (qemu/build-kernel.sh: {}); \
             signing Debian's unsigned kernel only",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    v
}

/// Exit status of a command.
fn status(cmd: &str) -> i32 {
    Command::new("bash")
        .args(["-c", cmd])
        .output()
        .expect("run bash")
        .status
        .code()
        .unwrap_or(-1)
}

fn sbverify(cert: &Path, image: &Path) -> i32 {
    status(&format!(
        "sbverify --cert '{}' '{}'",
        cert.display(),
        image.display()
    ))
}

/// A throw-away key and self-signed certificate: `newkey` is openssl's
/// `-newkey` argument plus options (rsa:2048, ec with a curve).
fn self_signed(dir: &Path, name: &str, cn: &str, newkey: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let pem = dir.join(format!("{name}.pem"));
    sh(&format!(
        "openssl req -x509 {newkey} -nodes -subj /CN={cn} -days 3650 -keyout '{}' -out '{}' 2>/dev/null",
        key.display(),
        pem.display()
    ));
    (key, pem)
}

/// The certificate's serial as probe-run reports it (lowercase hex).
fn serial_of(pem: &Path) -> String {
    let out = String::from_utf8(sh(&format!(
        "openssl x509 -in '{}' -serial -noout",
        pem.display()
    )))
    .unwrap();
    out.trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

fn sbsign(key: &Path, cert: &Path, input: &Path, output: &Path) {
    sh(&format!(
        "sbsign --key '{}' --cert '{}' --output '{}' '{}' 2>&1",
        key.display(),
        cert.display(),
        output.display(),
        input.display()
    ));
}

fn gzip(input: &Path) -> PathBuf {
    let gz = input.with_extension("gz");
    sh(&format!(
        "gzip -1 -c '{}' > '{}'",
        input.display(),
        gz.display()
    ));
    gz
}

/// probe-run --json --cert C1 --cert C2 ... IMAGE: (exit code, JSON line).
fn probe_with(certs: &[&Path], image: &Path) -> (i32, Value) {
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    for c in certs {
        args.push("--cert".as_ref());
        args.push(c.as_os_str());
    }
    args.push(image.as_os_str());
    let r = probe_json(args);
    assert_eq!(r.json.len(), 1, "{}", r.stderr);
    (r.code, r.json[0].clone())
}

/// Flip one byte of a raw Image at `offset` (asserted to lie inside a PE
/// section's raw data) into a new file.
fn tampered(image: &Path, offset: usize, out: &Path) {
    let mut img = std::fs::read(image).unwrap();
    let pe = raw_header(&img).pe_offset as usize;
    let u16_at = |o: usize| u16::from_le_bytes(img[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap()) as usize;
    let sections = u16_at(pe + 6);
    let table = pe + 24 + u16_at(pe + 20);
    let inside = (0..sections).any(|i| {
        let s = table + 40 * i;
        let (size, ptr) = (u32_at(s + 16), u32_at(s + 20));
        (ptr..ptr + size).contains(&offset)
    });
    assert!(inside, "{offset:#x} is not inside a section");
    img[offset] ^= 0x01;
    std::fs::write(out, img).unwrap();
}

/// The PKCS#7 DER inside a signed Image's WIN_CERTIFICATE.
fn pkcs7_of(image: &[u8]) -> Vec<u8> {
    let (off, _) = raw_cert_dir(image);
    let off = off as usize;
    let len = u32::from_le_bytes(image[off..off + 4].try_into().unwrap()) as usize;
    image[off + 8..off + len].to_vec()
}

#[test]
fn sbsign_signatures_verify_like_sbverify() {
    for tool in ["openssl", "sbsign", "sbverify", "gzip"] {
        require_tool(tool);
    }
    let dir = scratch("signed-sbsign");
    let (_, other) = self_signed(&dir, "other", "unrelated", "-newkey rsa:2048");
    let keys = [
        ("rsa", "-newkey rsa:2048"),
        ("p256", "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"),
        ("p384", "-newkey ec -pkeyopt ec_paramgen_curve:secp384r1"),
    ];
    let kernels = unsigned_kernels();
    for ((kname, kernel), (kind, newkey)) in kernels
        .iter()
        .flat_map(|k| keys.iter().map(move |key| (k, key)))
    {
        let name = format!("{kname}-{kind}");
        let (key, right) = self_signed(&dir, &name, "kernel-probe-test", newkey);
        let signed = dir.join(format!("{name}-signed.Image"));
        sbsign(&key, &right, kernel, &signed);
        let gz = gzip(&signed);

        let (code, j) = probe_with(&[&right], &gz);
        let sig = &j["signature"];
        assert_eq!(code, 0, "{name}: {j}");
        assert_eq!(sig["verified"], true, "{name}: {sig}");
        assert_eq!(sig["signer"], "CN=kernel-probe-test");
        assert_eq!(sig["serial"], serial_of(&right).as_str());
        assert_eq!(sig["cert"], right.to_str().unwrap());
        assert_eq!(sig["error"], Value::Null);
        assert_eq!(j["authenticode"]["digest_matches"], true);
        assert_eq!(sbverify(&right, &signed), 0, "{name}: sbverify disagrees");

        let (code, j) = probe_with(&[&other], &gz);
        let sig = &j["signature"];
        assert_eq!(code, 1, "{name}: {j}");
        assert_eq!(sig["verified"], false);
        assert_eq!(sig["cert"], Value::Null);
        assert!(sig["error"].is_string());
        assert_eq!(sig["signer"], "CN=kernel-probe-test");
        assert_eq!(j["ok"], true, "the probe verdict is unchanged");
        assert_ne!(sbverify(&other, &signed), 0, "{name}: sbverify disagrees");

        // Several certificates: the one that verifies is named.
        let (code, j) = probe_with(&[&other, &right], &gz);
        assert_eq!(code, 0);
        assert_eq!(j["signature"]["cert"], right.to_str().unwrap());

        // One flipped byte inside a section: the signature no longer covers
        // the image, for both.
        let bad = dir.join(format!("{name}-tampered.Image"));
        tampered(&signed, 0x10000, &bad);
        let (code, j) = probe_with(&[&right], &gzip(&bad));
        assert_eq!(code, 1, "{name} tampered: {j}");
        assert_eq!(j["signature"]["verified"], false);
        assert_eq!(j["authenticode"]["digest_matches"], false);
        assert_ne!(
            sbverify(&right, &bad),
            0,
            "{name} tampered: sbverify disagrees"
        );
    }

    // A chain: signed by a leaf, trusted through its CA.
    let (ca_key, ca) = self_signed(&dir, "ca", "kernel-probe-test-ca", "-newkey rsa:2048");
    let leaf_key = dir.join("leaf.key");
    let leaf = dir.join("leaf.pem");
    sh(&format!(
        "cd '{d}' && openssl req -newkey rsa:2048 -nodes -subj /CN=kernel-probe-test-leaf \
         -keyout '{lk}' -out leaf.csr 2>/dev/null && openssl x509 -req -in leaf.csr -CA '{ca}' \
         -CAkey '{cak}' -CAcreateserial -days 3650 -out '{l}' 2>/dev/null",
        d = dir.display(),
        lk = leaf_key.display(),
        ca = ca.display(),
        cak = ca_key.display(),
        l = leaf.display()
    ));
    let kernel = &kernels.last().unwrap().1;
    let signed = dir.join("leaf-signed.Image");
    sbsign(&leaf_key, &leaf, kernel, &signed);
    let gz = gzip(&signed);
    let (code, j) = probe_with(&[&ca], &gz);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["signature"]["signer"], "CN=kernel-probe-test-leaf");
    assert_eq!(j["signature"]["cert"], ca.to_str().unwrap());
    assert_eq!(sbverify(&ca, &signed), 0);
    let (code, _) = probe_with(&[&other], &gz);
    assert_eq!(code, 1);
    assert_ne!(sbverify(&other, &signed), 0);

    // Zero padding after the certificate table breaks the digest for both;
    // --output --trim writes the signed bytes back.
    let padded = dir.join("leaf-padded.Image");
    let mut bytes = std::fs::read(&signed).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&padded, bytes).unwrap();
    let (code, j) = probe_with(&[&ca], &padded);
    assert_eq!(code, 1, "{j}");
    assert!(j["signature"]["error"]
        .as_str()
        .unwrap()
        .contains("4096 bytes follow the certificate table"));
    assert_ne!(sbverify(&ca, &padded), 0);
    let trimmed = dir.join("leaf-trimmed.Image");
    let r = probe_json([
        padded.as_os_str(),
        "--output".as_ref(),
        trimmed.as_os_str(),
        "--trim".as_ref(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(probe_with(&[&ca], &trimmed).0, 0);
    assert_eq!(sbverify(&ca, &trimmed), 0);

    // An unsigned image with --cert: nothing to verify, not a failure.
    let (code, j) = probe_with(&[&ca], kernel);
    assert_eq!(code, 0);
    assert_eq!(j["signature"]["verified"], false);
    assert_eq!(j["signature"]["error"], "the image is not signed");
    // Without --cert the key is there, null.
    let r = probe_json([&gz]);
    assert_eq!(r.json[0]["signature"], Value::Null);
    // A file that is not a certificate is a usage error.
    let r = probe_json(["--cert".as_ref(), kernel.as_os_str(), gz.as_os_str()]);
    assert_eq!(r.code, 2);
}

/// A throw-away RSA key and a certificate for it issued by `ca` (the name
/// of an earlier one in `dir`), with these extensions (openssl `-extfile`
/// lines, e.g. `basicConstraints=critical,CA:FALSE`).
fn issued(dir: &Path, name: &str, cn: &str, ca: &str, exts: &[&str]) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(dir.join(format!("{name}.ext")), exts.join("\n") + "\n").unwrap();
    sh(&format!(
        "cd '{d}' && openssl req -newkey rsa:2048 -nodes -subj /CN={cn} -keyout '{k}' -out {name}.csr \
         2>/dev/null && openssl x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key \
         -CAcreateserial -days 3650 -extfile {name}.ext -out '{p}' 2>/dev/null",
        d = dir.display(),
        k = key.display(),
        p = pem.display()
    ));
    (key, pem)
}

/// A throw-away self-signed CA (RSA) named `name`: this basicConstraints
/// (`critical,CA:TRUE[,pathlen:N]`) and a keyUsage with keyCertSign.
fn make_ca(dir: &Path, name: &str, cn: &str, basic_constraints: &str) -> PathBuf {
    let (_, pem) = self_signed(
        dir,
        name,
        cn,
        &format!(
            "-newkey rsa:2048 -addext basicConstraints={basic_constraints} \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
    pem
}

/// sbsign with the signer's certificate and `chain` embedded (--addcert).
fn sbsign_chain(key: &Path, cert: &Path, chain: &[&Path], input: &Path, output: &Path) {
    let add = output.with_extension("chain.pem");
    let mut pems = Vec::new();
    for c in chain {
        pems.extend(std::fs::read(c).unwrap());
    }
    std::fs::write(&add, pems).unwrap();
    sh(&format!(
        "sbsign --key '{}' --cert '{}' --addcert '{}' --output '{}' '{}' 2>&1",
        key.display(),
        cert.display(),
        add.display(),
        output.display(),
        input.display()
    ));
}

/// `sbverify --verbose --cert`: (exit code, its output).
fn sbverify_verbose(cert: &Path, image: &Path) -> (i32, String) {
    let out = Command::new("sbverify")
        .args(["--verbose", "--cert"])
        .arg(cert)
        .arg(image)
        .output()
        .expect("run sbverify");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The human report of `probe-run --cert CERT IMAGE`.
fn probe_text(cert: &Path, image: &Path) -> String {
    let out = Command::new(probe_run())
        .arg("--cert")
        .arg(cert)
        .arg(image)
        .output()
        .expect("run probe-run");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const LEAF: &[&str] = &[
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=codeSigning",
];
const INTERMEDIATE: &[&str] = &[
    "basicConstraints=critical,CA:TRUE",
    "keyUsage=critical,keyCertSign,cRLSign",
];

/// CA -> leaf1 (cA=FALSE) -> leaf2: leaf1's key signed leaf2's certificate,
/// leaf2's key signed the image, leaf1 is embedded as an intermediate.
/// Trusting the CA must not make leaf1 a CA: OpenSSL (sbverify) says
/// "invalid CA certificate", probe-run names the certificate and why.
#[test]
fn leaf_certificate_cannot_act_as_intermediate() {
    for tool in ["openssl", "sbsign", "sbverify"] {
        require_tool(tool);
    }
    let dir = scratch("signed-leaf-as-ca");
    let kernel = &debian_kernels()["unsigned"];
    let ca = make_ca(&dir, "ca", "kernel-probe-test-ca", "critical,CA:TRUE");
    let (leaf1_key, leaf1) = issued(
        &dir,
        "leaf1",
        "kernel-probe-test-leaf1",
        "ca",
        &[
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
        ],
    );
    let (leaf2_key, leaf2) = issued(&dir, "leaf2", "kernel-probe-test-leaf2", "leaf1", LEAF);
    let signed = dir.join("leaf2-signed.Image");
    sbsign_chain(&leaf2_key, &leaf2, &[&leaf1], kernel, &signed);

    let (code, j) = probe_with(&[&ca], &signed);
    let sig = &j["signature"];
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["ok"], true, "the probe verdict is unchanged");
    assert_eq!(sig["verified"], false, "{sig}");
    assert_eq!(sig["cert"], Value::Null);
    assert_eq!(sig["signer"], "CN=kernel-probe-test-leaf2");
    assert_eq!(sig["serial"], serial_of(&leaf2).as_str());
    assert_eq!(
        sig["error"],
        "certificate CN=kernel-probe-test-leaf1 is not a CA (basicConstraints cA=FALSE) \
         and cannot issue CN=kernel-probe-test-leaf2"
    );
    let text = probe_text(&ca, &signed);
    assert!(
        text.contains("NOT VERIFIED: certificate CN=kernel-probe-test-leaf1 is not a CA"),
        "{text}"
    );
    let (code, out) = sbverify_verbose(&ca, &signed);
    assert_ne!(code, 0, "sbverify accepts it:\n{out}");
    assert!(out.contains("invalid CA certificate"), "{out}");

    // Trusting leaf1 itself does not make it a CA either, for both.
    let (code, j) = probe_with(&[&leaf1], &signed);
    assert_eq!(code, 1, "{j}");
    assert!(j["signature"]["error"]
        .as_str()
        .unwrap()
        .contains("(basicConstraints cA=FALSE) and cannot issue"));
    assert_ne!(sbverify(&leaf1, &signed), 0);

    // leaf1 signing the image itself, trusted through the CA: fine for both.
    let direct = dir.join("leaf1-signed.Image");
    sbsign(&leaf1_key, &leaf1, kernel, &direct);
    let (code, j) = probe_with(&[&ca], &direct);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["signature"]["signer"], "CN=kernel-probe-test-leaf1");
    assert_eq!(sbverify(&ca, &direct), 0);
}

/// CA -> intermediate (cA=TRUE, keyCertSign) -> leaf, the intermediate
/// embedded: verifies with the CA, for both; and so does trusting the
/// intermediate itself.
#[test]
fn ca_intermediate_leaf_chain_verifies() {
    for tool in ["openssl", "sbsign", "sbverify"] {
        require_tool(tool);
    }
    let dir = scratch("signed-intermediate");
    let kernel = &debian_kernels()["unsigned"];
    let ca = make_ca(&dir, "ca", "kernel-probe-test-ca", "critical,CA:TRUE");
    let (_, inter) = issued(
        &dir,
        "inter",
        "kernel-probe-test-intermediate",
        "ca",
        INTERMEDIATE,
    );
    let (leaf_key, leaf) = issued(&dir, "leaf", "kernel-probe-test-leaf", "inter", LEAF);
    let signed = dir.join("leaf-signed.Image");
    sbsign_chain(&leaf_key, &leaf, &[&inter], kernel, &signed);

    for trust in [&ca, &inter] {
        let (code, j) = probe_with(&[trust], &signed);
        let sig = &j["signature"];
        assert_eq!(code, 0, "{j}");
        assert_eq!(sig["verified"], true);
        assert_eq!(sig["signer"], "CN=kernel-probe-test-leaf");
        assert_eq!(sig["serial"], serial_of(&leaf).as_str());
        assert_eq!(sig["cert"], trust.to_str().unwrap());
        assert_eq!(sig["error"], Value::Null);
        let (code, out) = sbverify_verbose(trust, &signed);
        assert_eq!(code, 0, "sbverify refuses it:\n{out}");
    }
}

/// The other checks OpenSSL makes on issuers, against sbverify: an
/// intermediate whose keyUsage lacks keyCertSign, and a pathLenConstraint
/// exceeded (on the trusted CA and on an intermediate).
#[test]
fn issuer_key_usage_and_path_len_like_sbverify() {
    for tool in ["openssl", "sbsign", "sbverify"] {
        require_tool(tool);
    }
    let dir = scratch("signed-issuer-checks");
    let kernel = &debian_kernels()["unsigned"];
    let ca = make_ca(&dir, "ca", "kernel-probe-test-ca", "critical,CA:TRUE");
    let ca0 = make_ca(
        &dir,
        "ca0",
        "kernel-probe-test-ca0",
        "critical,CA:TRUE,pathlen:0",
    );

    // CA -> intermediate (cA=TRUE, keyUsage digitalSignature) -> leaf.
    let (_, noku) = issued(
        &dir,
        "noku",
        "kernel-probe-test-noku",
        "ca",
        &[
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,digitalSignature",
        ],
    );
    let (k, leaf) = issued(&dir, "noku-leaf", "kernel-probe-test-leaf", "noku", LEAF);
    let signed = dir.join("noku.Image");
    sbsign_chain(&k, &leaf, &[&noku], kernel, &signed);
    let (code, j) = probe_with(&[&ca], &signed);
    assert_eq!(code, 1, "{j}");
    assert_eq!(
        j["signature"]["error"],
        "certificate CN=kernel-probe-test-noku cannot issue CN=kernel-probe-test-leaf: \
         keyUsage lacks keyCertSign"
    );
    let (code, out) = sbverify_verbose(&ca, &signed);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("invalid CA certificate"), "{out}");

    // ca0 (pathLenConstraint 0) -> intermediate -> leaf: one too many.
    let (_, inter) = issued(
        &dir,
        "inter0",
        "kernel-probe-test-intermediate",
        "ca0",
        INTERMEDIATE,
    );
    let (k, leaf) = issued(
        &dir,
        "inter0-leaf",
        "kernel-probe-test-leaf",
        "inter0",
        LEAF,
    );
    let signed = dir.join("pathlen.Image");
    sbsign_chain(&k, &leaf, &[&inter], kernel, &signed);
    let (code, j) = probe_with(&[&ca0], &signed);
    assert_eq!(code, 1, "{j}");
    assert_eq!(
        j["signature"]["error"],
        format!(
            "certificate CN=kernel-probe-test-ca0 (--cert {}) cannot issue \
             CN=kernel-probe-test-intermediate: pathLenConstraint 0 exceeded \
             (1 intermediate certificate below it)",
            ca0.display()
        )
    );
    let (code, out) = sbverify_verbose(&ca0, &signed);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("path length constraint exceeded"), "{out}");
    // ca0 -> leaf directly: within the constraint, for both.
    let (k, leaf) = issued(&dir, "ca0-leaf", "kernel-probe-test-leaf", "ca0", LEAF);
    let signed = dir.join("pathlen-ok.Image");
    sbsign(&k, &leaf, kernel, &signed);
    assert_eq!(probe_with(&[&ca0], &signed).0, 0);
    assert_eq!(sbverify(&ca0, &signed), 0);

    // CA -> intermediate (pathLenConstraint 0) -> intermediate -> leaf.
    let (_, i0) = issued(
        &dir,
        "i0",
        "kernel-probe-test-i0",
        "ca",
        &[
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "keyUsage=critical,keyCertSign",
        ],
    );
    let (_, i1) = issued(&dir, "i1", "kernel-probe-test-i1", "i0", INTERMEDIATE);
    let (k, leaf) = issued(&dir, "i1-leaf", "kernel-probe-test-leaf", "i1", LEAF);
    let signed = dir.join("pathlen-intermediate.Image");
    sbsign_chain(&k, &leaf, &[&i1, &i0], kernel, &signed);
    let (code, j) = probe_with(&[&ca], &signed);
    assert_eq!(code, 1, "{j}");
    assert_eq!(
        j["signature"]["error"],
        "certificate CN=kernel-probe-test-i0 cannot issue CN=kernel-probe-test-i1: \
         pathLenConstraint 0 exceeded (1 intermediate certificate below it)"
    );
    let (code, out) = sbverify_verbose(&ca, &signed);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("path length constraint exceeded"), "{out}");
}

#[test]
fn debian_signed_kernel_verifies_with_its_embedded_certificate() {
    for tool in ["openssl", "sbverify", "gzip"] {
        require_tool(tool);
    }
    let dir = scratch("signed-debian");
    let image = &debian_kernels()["signed"];
    let p7 = dir.join("debian.p7");
    std::fs::write(&p7, pkcs7_of(&std::fs::read(image).unwrap())).unwrap();
    let embedded = dir.join("embedded.pem");
    sh(&format!(
        "openssl pkcs7 -inform DER -in '{}' -print_certs -out '{}'",
        p7.display(),
        embedded.display()
    ));
    let gz = gzip_copy(image, &dir.join("debian-signed.gz"));
    let (code, j) = probe_with(&[&embedded], &gz);
    let sig = &j["signature"];
    eprintln!("Debian's signed kernel: {sig}");
    assert_eq!(code, 0, "{j}");
    assert_eq!(sig["verified"], true);
    let signer = sig["signer"].as_str().unwrap();
    assert!(
        signer.starts_with("CN=Debian Secure Boot Signer"),
        "{signer}"
    );
    assert_eq!(sig["serial"], serial_of(&embedded).as_str());
    assert_eq!(sbverify(&embedded, image), 0);

    // An unrelated certificate: both refuse.
    let (_, other) = self_signed(&dir, "other", "unrelated", "-newkey rsa:2048");
    let (code, j) = probe_with(&[&other], &gz);
    assert_eq!(code, 1);
    assert_eq!(j["signature"]["verified"], false);
    assert_eq!(j["signature"]["signer"], signer);
    assert_ne!(sbverify(&other, image), 0);
}

/// `osslsigncode verify`'s "Calculated message digest" (exits nonzero when it
/// cannot build a chain; the digest line is printed anyway).
fn osslsigncode_digest(image: &Path) -> String {
    let out = Command::new("osslsigncode")
        .args(["verify", "-in"])
        .arg(image)
        .output()
        .expect("run osslsigncode");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Calculated message digest"))
        .and_then(|l| l.split(':').nth(1))
        // A mismatch is followed by "mismatch!!!" on the same line.
        .and_then(|h| h.split_whitespace().next())
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| panic!("no calculated digest in osslsigncode's output:\n{text}"))
}

#[test]
fn debian_signed_digest_equals_osslsigncode_and_detects_tampering() {
    for tool in ["osslsigncode", "gzip"] {
        require_tool(tool);
    }
    let dir = scratch("signed-digest");
    let image = &debian_kernels()["signed"];
    let expected = osslsigncode_digest(image);
    assert_eq!(expected.len(), 64, "{expected}");
    let gz = gzip_copy(image, &dir.join("debian-signed.gz"));
    let r = probe_json([&gz]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = &r.json[0]["authenticode"];
    assert_eq!(a["digest"], expected.as_str(), "{a}");
    assert_eq!(a["signed_digest"], expected.as_str());
    assert_eq!(a["digest_matches"], true);

    let bad = dir.join("tampered.Image");
    tampered(image, 0x10000, &bad);
    let bad_digest = osslsigncode_digest(&bad);
    assert_ne!(bad_digest, expected);
    let r = probe_json([&gzip(&bad)]);
    assert_eq!(
        r.code, 0,
        "the probe verdict does not depend on the signature"
    );
    let a = &r.json[0]["authenticode"];
    assert_eq!(a["digest"], bad_digest.as_str());
    assert_eq!(a["signed_digest"], expected.as_str());
    assert_eq!(a["digest_matches"], false);
}

fn gzip_copy(image: &Path, gz: &Path) -> PathBuf {
    sh(&format!(
        "gzip -9 -c '{}' > '{}'",
        image.display(),
        gz.display()
    ));
    gz.to_path_buf()
}

/// Issue 12 item 3, tried as the issue did: Debian's signed Image with its
/// certificate directory 8 bytes longer than its WIN_CERTIFICATE (what
/// pesign >= 0.110 leaves, which does not round dwLength up) is signed for
/// the kernel (verify_pefile.c only refuses `wrapper.length > size`), with
/// the digest osslsigncode computes for the original (the table is outside
/// the hash; osslsigncode itself refuses the longer table: it reads the 8
/// bytes as a second, empty entry); one byte of dwLength beyond the
/// directory is broken.
#[test]
fn certificate_directory_longer_than_its_wrapper_is_signed() {
    for tool in ["osslsigncode", "openssl", "gzip"] {
        require_tool(tool);
    }
    let dir = scratch("signed-longer-dir");
    let image = &debian_kernels()["signed"];
    let mut img = std::fs::read(image).unwrap();
    let (off, size) = raw_cert_dir(&img);
    assert_eq!(
        off as usize + size as usize,
        img.len(),
        "table ends the file"
    );
    let pe = raw_header(&img).pe_offset as usize;
    let size_field = pe + 0x18 + 112 + 4 * 8 + 4;
    img.extend_from_slice(&[0; 8]);
    img[size_field..size_field + 4].copy_from_slice(&(size + 8).to_le_bytes());
    let longer = dir.join("longer-dir.Image");
    std::fs::write(&longer, &img).unwrap();
    let expected = osslsigncode_digest(image);

    let p7 = dir.join("debian.p7");
    std::fs::write(&p7, pkcs7_of(&img)).unwrap();
    let embedded = dir.join("embedded.pem");
    sh(&format!(
        "openssl pkcs7 -inform DER -in '{}' -print_certs -out '{}'",
        p7.display(),
        embedded.display()
    ));
    for input in [longer.clone(), gzip(&longer)] {
        let (code, j) = probe_with(&[&embedded], &input);
        assert_eq!(code, 0, "{j}");
        let pe = &j["pe"];
        assert_eq!(pe["signed"], true, "{j}");
        assert_eq!(pe["cert_problem"], Value::Null, "{j}");
        assert_eq!(pe["signature_size"], size + 8, "{j}");
        assert_eq!(j["authenticode"]["digest"], expected.as_str(), "{j}");
        assert_eq!(j["authenticode"]["digest_matches"], true, "{j}");
        assert_eq!(j["signature"]["verified"], true, "{j}");
    }

    // dwLength one byte past the directory: what the kernel refuses.
    let wrapper = u32::from_le_bytes(img[off as usize..off as usize + 4].try_into().unwrap());
    img[off as usize..off as usize + 4].copy_from_slice(&(size + 9).to_le_bytes());
    assert!(wrapper <= size + 8);
    let broken = dir.join("wrapper-too-long.Image");
    std::fs::write(&broken, &img).unwrap();
    let (code, j) = probe_with(&[&embedded], &broken);
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["pe"]["signed"], false, "{j}");
    assert_eq!(
        j["pe"]["cert_problem"], "WIN_CERTIFICATE length is larger than the certificate table",
        "{j}"
    );
}

/// `pesign -h`: the Authenticode SHA-256 pesign computes (lowercase hex).
fn pesign_digest(image: &Path) -> String {
    let out = String::from_utf8(sh(&format!("pesign -h -i '{}'", image.display()))).unwrap();
    out.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in pesign -h: {out}"))
        .to_ascii_lowercase()
}

/// Kernels signed with the real pesign (Fedora, RHEL and SUSE sign with
/// it), from a throw-away NSS database holding a throw-away certificate.
/// pesign (>= 0.110) writes dwLength unrounded and the directory entry
/// rounded up to 8: both with dwLength % 8 == 0 and != 0 (the certificate's
/// CN length moves it), the image is signed for the kernel's rule, its
/// digest is pesign's (and osslsigncode's), `--cert` verifies it as
/// `sbverify --cert` does, and so does its gzip and its zstd.
#[test]
fn pesign_signed_kernels_are_signed() {
    for tool in [
        "pesign",
        "certutil",
        "pk12util",
        "openssl",
        "sbverify",
        "osslsigncode",
        "gzip",
        "zstd",
    ] {
        require_tool(tool);
    }
    let dir = scratch("signed-pesign");
    let unsigned = &debian_kernels()["unsigned"];
    let expected = pesign_digest(unsigned);
    let (_, other) = self_signed(&dir, "other", "unrelated", "-newkey rsa:2048");
    let mut seen_aligned = false;
    let mut seen_unaligned = false;
    for k in 0..8 {
        if seen_aligned && seen_unaligned {
            break;
        }
        let cn = format!("kernel-probe-pesign{}", "x".repeat(k));
        let (key, pem) = self_signed(&dir, &format!("pesign{k}"), &cn, "-newkey rsa:2048");
        let db = dir.join(format!("nssdb{k}"));
        let p12 = dir.join(format!("pesign{k}.p12"));
        let signed = dir.join(format!("pesign{k}.efi"));
        std::fs::create_dir_all(&db).unwrap();
        sh(&format!(
            "openssl pkcs12 -export -inkey '{key}' -in '{pem}' -name kptest -passout pass: -out '{p12}' && \
             certutil -N -d 'sql:{db}' --empty-password && \
             pk12util -i '{p12}' -d 'sql:{db}' -W '' >/dev/null && \
             pesign -n '{db}' -c kptest -i '{img}' -o '{signed}' -s 2>&1",
            key = key.display(),
            pem = pem.display(),
            p12 = p12.display(),
            db = db.display(),
            img = unsigned.display(),
            signed = signed.display(),
        ));
        let bytes = std::fs::read(&signed).unwrap();
        let (off, size) = raw_cert_dir(&bytes);
        let dw_length =
            u32::from_le_bytes(bytes[off as usize..off as usize + 4].try_into().unwrap());
        assert_eq!(
            size,
            dw_length.div_ceil(8) * 8,
            "pesign's layout: the directory rounded up"
        );
        let aligned = dw_length % 8 == 0;
        if (aligned && seen_aligned) || (!aligned && seen_unaligned) {
            continue;
        }
        seen_aligned |= aligned;
        seen_unaligned |= !aligned;
        eprintln!(
            "pesign, CN of {} chars: dwLength {dw_length}, directory {size}",
            cn.len()
        );
        assert_eq!(
            pesign_digest(&signed),
            expected,
            "the signature is outside the digest"
        );
        if aligned {
            // bookworm's osslsigncode 2.5 reads only tables whose directory
            // size equals dwLength; 2.9 reads both.
            assert_eq!(osslsigncode_digest(&signed), expected);
        }
        assert_eq!(
            sbverify(&pem, &signed),
            0,
            "sbverify --cert accepts pesign's signature"
        );
        assert_ne!(sbverify(&other, &signed), 0);
        let zst = dir.join(format!("pesign{k}.zst"));
        sh(&format!(
            "zstd -3 -q -c '{}' > '{}'",
            signed.display(),
            zst.display()
        ));
        for input in [signed.clone(), gzip(&signed), zst] {
            let (code, j) = probe_with(&[&pem], &input);
            assert_eq!(code, 0, "{}: {j}", input.display());
            assert_eq!(j["pe"]["signed"], true, "{j}");
            assert_eq!(j["pe"]["cert_problem"], Value::Null, "{j}");
            assert_eq!(j["authenticode"]["digest"], expected.as_str(), "{j}");
            assert_eq!(j["authenticode"]["digest_matches"], true, "{j}");
            assert_eq!(j["signature"]["verified"], true, "{j}");
            assert_eq!(j["signature"]["serial"], serial_of(&pem).as_str());
            let (code, j) = probe_with(&[&other], &input);
            assert_eq!(
                (code, &j["signature"]["verified"]),
                (1, &Value::Bool(false)),
                "{j}"
            );
        }
        // pesign -S shows the signature that probe-run verified.
        let listed =
            String::from_utf8(sh(&format!("pesign -S -i '{}'", signed.display()))).unwrap();
        assert!(listed.contains(&cn), "pesign -S: {listed}");
    }
    assert!(
        seen_aligned && seen_unaligned,
        "CN lengths 0-7 give every dwLength % 8"
    );
}
