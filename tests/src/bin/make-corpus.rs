//! make-corpus IMAGE DIR: write the valid and adversarial test corpus
//! derived from the raw arm64 IMAGE into DIR, with DIR/cases.tsv listing the
//! errno each file must get.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [image, dir] = args.as_slice() else {
        eprintln!("usage: make-corpus IMAGE DIR");
        std::process::exit(2);
    };
    let img = std::fs::read(image).unwrap_or_else(|e| {
        eprintln!("make-corpus: {image}: {e}");
        std::process::exit(2)
    });
    match kernel_probe_tests::corpus::write(&img, std::path::Path::new(dir)) {
        Ok(cases) => println!("{} cases in {dir}", cases.len()),
        Err(e) => {
            eprintln!("make-corpus: {dir}: {e}");
            std::process::exit(2)
        }
    }
}
