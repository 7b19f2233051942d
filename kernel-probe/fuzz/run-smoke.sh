#!/bin/sh
# Build every kernel-probe fuzz target and run each for a bounded short time
# (default 20 s, override with FUZZ_SECONDS). Exits non-zero on any crash,
# assertion failure, leak or timeout. Needs a nightly toolchain and cargo-fuzz
# (cargo install cargo-fuzz --locked). No sanitizer (-s none): every crate on
# the probed path is safe Rust (kernel-probe forbids unsafe), so ASan buys
# nothing and costs 2-5x in executions.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
targets="probe gzip_header pe_zboot stream_vs_oneshot differential zstd_differential"

command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "run-smoke.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
}

# Seed corpora from the test suite's synthetic images.
(cd "$repo" && FUZZ_SEEDS_DIR="$here/corpus" \
    cargo test -q -p kernel-probe --test fuzz_seeds -- --ignored >/dev/null)

for t in $targets; do
    [ -n "$(ls -A "$here/corpus/$t" 2>/dev/null)" ] || {
        echo "run-smoke.sh: no seeds were written for $t" >&2
        exit 1
    }
done

cd "$here"
cargo "+$toolchain" fuzz build -O -s none
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log="artifacts/$t.smoke.log"
    mkdir -p artifacts
    echo "== $t: ${seconds}s"
    if cargo "+$toolchain" fuzz run -O -s none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$log" || true
    else
        echo "FAILED: $t (log: $here/$log)" >&2
        grep -v "^\s*\[" "$log" | cut -c1-300 | tail -40 >&2
        status=1
    fi
done
exit $status
