//! Streaming with fuzzer-chosen chunk boundaries gives exactly the one-shot
//! verdict, errors included, and the same image bytes.
#![no_main]

use kernel_probe_fuzz::{oneshot, streamed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: how many chunk sizes (1-4); then two bytes each.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 4) + 1;
    if rest.len() < 2 * n {
        return;
    }
    let (sizes, input) = rest.split_at(2 * n);
    let chunks: Vec<usize> = sizes
        .chunks(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % 8192 + 1)
        .collect();
    let (a, ai) = oneshot(input);
    let (b, bi) = streamed(input, &chunks);
    assert_eq!(a, b, "chunks {chunks:?}");
    assert!(ai == bi, "image bytes differ");
});
