#!/usr/bin/env bash
# probe-run for the arm64 guest: a static aarch64 binary built by rustup's
# cargo driving Debian's rustc-web (which has the aarch64 std from
# libstd-rust-web-dev:arm64), linked with the aarch64 gcc. Prints its path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KP_REPO"
kp_apt_install gcc-aarch64-linux-gnu libc6-dev-arm64-cross rustc-web libstd-rust-web-dev:arm64
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_DIR=$KP_REPO/target/guest
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
kp_log "building probe-run for aarch64 (static, $($RUSTC --version))"
cargo build --release -q --locked -p userspace-harness --bin probe-run --target aarch64-unknown-linux-gnu >&2
bin=$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release/probe-run
file -b "$bin" | grep -q 'ARM aarch64.*statically linked' || kp_die "$bin is not a static aarch64 binary: $(file -b "$bin")"
printf '%s\n' "$bin"
