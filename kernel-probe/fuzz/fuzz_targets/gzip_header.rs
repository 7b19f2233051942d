//! gzip member headers in fuzzer-chosen chunks: the first byte picks the
//! chunk size. Chunked parsing must agree with parsing in one call: same
//! error, or the same header length.
#![no_main]

use kernel_probe::gzip::HeaderParser;
use kernel_probe::ProbeError;
use kernel_probe_fuzz::Crc;
use libfuzzer_sys::fuzz_target;

/// Feed `data` in chunks of `chunk`; the header length once done.
fn parse(data: &[u8], chunk: usize) -> Result<Option<usize>, ProbeError> {
    let mut p = HeaderParser::new();
    let mut total = 0;
    for c in data.chunks(chunk) {
        let n = p.feed(c, &mut Crc)?;
        assert!(n <= c.len());
        total += n;
        if p.is_done() {
            return Ok(Some(total));
        }
        assert_eq!(n, c.len(), "an unfinished header consumes its whole chunk");
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(c % 64) + 1;
    let whole = parse(rest, rest.len().max(1));
    let chunked = parse(rest, chunk);
    assert_eq!(whole, chunked, "chunk size {chunk}");
    if let Ok(Some(len)) = whole {
        assert!(len >= 10 && len <= rest.len());
    }
});
