//! The kernel module allocates its `Prober` from zeroed memory (building
//! 285 KB on a kernel stack is not an option) and then resets it. This checks
//! that an all-zero `Prober`, once reset, probes exactly like a new one. Run
//! under Miri (`cargo +nightly miri test --test zeroed`) it also checks that
//! all-zero bytes are a valid `Prober` at all.

mod common;

use common::*;
use kernel_probe::{probe, ProbeOptions, Prober};

/// Writes the zstd input the zeroed test uses (`--ignored`, by hand).
#[test]
#[ignore]
fn write_zstd_fixture() {
    let z = zstd::bulk::compress(&kernel(20_000), 19).unwrap();
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kernel-20000.zst"),
        z,
    )
    .unwrap();
}

#[test]
fn zeroed_then_reset_is_a_new_prober() {
    let img = kernel(20_000);
    let gz = gzip(&img, 6);
    // SAFETY: the documented contract of `Prober`: all-zero bytes are a
    // valid value (integers, arrays, bools, repr(u8) enums with variant 0,
    // miniz_oxide's state whose `Start` is 0). Miri checks it.
    let mut zeroed: Box<Prober> = unsafe { Box::new_zeroed().assume_init() };
    zeroed.reset(ProbeOptions::default());
    let mut fresh = Box::new(Prober::new(ProbeOptions::default()));
    // zstd -19 of `kernel(20_000)` (Miri cannot run libzstd to make it).
    let zst = include_bytes!("data/kernel-20000.zst");
    for input in [&img[..], &gz[..], &gz[..100], &zst[..], &zst[..200]] {
        let (mut a, mut b) = (VecOut::default(), VecOut::default());
        let ra = probe(&mut zeroed, input, &mut a, &mut Crc).map(|(r, i)| (r, i.to_vec()));
        let rb = probe(&mut fresh, input, &mut b, &mut Crc).map(|(r, i)| (r, i.to_vec()));
        assert_eq!(ra, rb);
        zeroed.reset(ProbeOptions::default());
        fresh.reset(ProbeOptions::default());
    }
}

/// The module's report line is allocated zeroed too: all-zero bytes are the
/// empty `heapless::String` (Miri checks the validity).
#[test]
fn zeroed_report_line_is_empty() {
    // SAFETY: heapless 0.8.0's String is a length and an array of
    // MaybeUninit<u8>: zero is the empty string. Miri checks it.
    let mut line: Box<kernel_probe::ReportLine> = unsafe { Box::new_zeroed().assume_init() };
    assert_eq!(line.as_str(), "");
    line.push_str("ok").unwrap();
    assert_eq!(line.as_str(), "ok");
}
