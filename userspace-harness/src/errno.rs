//! JSON for inputs that could not be read at all (no verdict): the OS errno
//! and its name.

use std::io;

fn name(errno: i32) -> &'static str {
    match errno {
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::EISDIR => "EISDIR",
        libc::EIO => "EIO",
        libc::ENOMEM => "ENOMEM",
        libc::EPERM => "EPERM",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        _ => "E?",
    }
}

/// A report line for an I/O failure, with the same keys as a verdict.
pub fn io_error_json(path: &str, error: &io::Error) -> String {
    let errno = error.raw_os_error().unwrap_or(libc::EIO);
    let q = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    format!(
        "{{\"path\":{},\"ok\":false,\"errno\":{errno},\"errno_name\":\"{}\",\"error\":{},\
         \"format\":null,\"input_size\":null,\"image_bytes\":null,\"header\":null,\"pe\":null,\
         \"gzip\":null,\"zboot\":null,\"authenticode\":null,\"kdump_bytes_needed\":null,\"crashkernel_min\":null,\"quick\":null}}\n",
        q(path),
        name(errno),
        q(&error.to_string())
    )
}
