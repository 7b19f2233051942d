//! The PE/COFF view, the zboot header, the arm64 header and the container
//! sniffer over any bytes.
#![no_main]

use kernel_probe::container::sniff;
use kernel_probe::pe::{CertCheck, PeInfo, PE_HEADER_WINDOW};
use kernel_probe::zboot::ZbootHeader;
use kernel_probe::{Arm64ImageHeader, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let full = PeInfo::parse(data, len);
    // A prefix of at least the header window sees the same PE header; only
    // the certificate blob may go unchecked.
    if data.len() > PE_HEADER_WINDOW {
        let head = PeInfo::parse(&data[..PE_HEADER_WINDOW], len);
        match (&full, &head) {
            (Ok(f), Ok(h)) => {
                assert_eq!(
                    (f.pe_offset, f.machine, f.size_of_headers),
                    (h.pe_offset, h.machine, h.size_of_headers)
                );
                assert_eq!(
                    f.cert.map(|c| (c.offset, c.size)),
                    h.cert.map(|c| (c.offset, c.size))
                );
                if let (Some(fc), Some(hc)) = (f.cert, h.cert) {
                    if hc.check != CertCheck::NotChecked {
                        assert_eq!(fc.check, hc.check);
                    }
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("window changes the PE verdict: {full:?} vs {head:?}"),
        }
    }
    if let Ok(pe) = full {
        let _ = (pe.signed(), pe.signature_size(), pe.cert_problem());
    }
    for file_len in [None, Some(len)] {
        if let Ok(z) = ZbootHeader::parse(data, file_len) {
            assert!(z.payload_end() >= u64::from(z.payload_offset));
            if file_len.is_some() {
                assert!(z.payload_end() <= len);
            }
        }
    }
    if let Ok(h) = Arm64ImageHeader::parse(data) {
        let _ = h.validate(&Target::default());
        let _ = (
            h.page_size(),
            h.reserved_nonzero(),
            h.kernel_segment_bytes(),
            h.has_pe_header(),
        );
    }
    let _ = sniff(data);
});
