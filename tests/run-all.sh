#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with the Rust toolchain:
# installs every package it needs, then runs
#   1. formatting and clippy (-D warnings) over the workspace
#   2. cargo test: unit, property and engine tests of kernel-probe; probe-run's
#      CLI tests; integration tests over Debian's real arm64 kernels and the
#      adversarial corpus
#   3. mutation testing of the core code changed since .cargo/mutants-base
#      (tests/mutants-in-diff.sh), fuzz smoke runs of every cargo-fuzz target
#      (bounded time)
#   4. Miri over the zeroed-Prober contract the kernel module relies on
#   5. QEMU: boot tests (Debian's and our own kernels, decompressed by probe-run,
#      boot under qemu-system-aarch64; builds the kernel, cached), the kernel
#      module against the corpus, and probe-run load / kexec end to end (kexec_file
#      on our kernel, kexec_load on Debian's own 7.x and 6.12 kernels, kdump on both)
# and ends with "N passed, M failed" over the suites. Exit status 1 if any failed.
#
# KP_SKIP="fuzz qemu"   skip suites (for a quick local loop; CI skips nothing)
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"
cd "$KP_REPO"

skip=" ${KP_SKIP:-} "
passed=0 failed=0 failures=()
suite() { # NAME COMMAND...
  local name=$1; shift
  if [[ $skip == *" $name "* ]]; then
    kp_log "=== $name: skipped (KP_SKIP)"
    return 0
  fi
  kp_log "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    kp_log "=== $name: PASS ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)) failures+=("$name")
    kp_log "=== $name: FAIL ($((SECONDS - t0)) s)"
  fi
}

command -v cargo >/dev/null || kp_die "cargo is needed (the Rust toolchain)"
kp_apt_install gzip pigz busybox xz-utils bzip2 zstd lz4 cpio file python3 sbsigntool osslsigncode openssl pesign libnss3-tools

suite fmt cargo fmt --all -- --check
suite clippy cargo clippy --workspace --all-targets -q -- -D warnings
# The toolchain and arm64 multiarch first: the integration tests download
# Debian's arm64 kernels and sign the project's own kernel when it is built.
suite qemu-setup qemu/setup.sh
# What the scripts resolve from Debian's moving archive exists today.
suite archive tests/check-archive.sh
# The kernel patch: checkpatch --strict clean, applies to every 7.x series.
suite patches qemu/check-patches.sh
suite build cargo build --release -q -p userspace-harness
export PROBE_RUN=$KP_REPO/target/release/probe-run
suite cargo-test cargo test --workspace -q
# Mutants in core code changed since .cargo/mutants-base must be caught by the
# core's own tests (cargo-mutants; seconds when nothing changed).
suite mutants tests/mutants-in-diff.sh
fuzz() {
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked -q
  kernel-probe/fuzz/run-smoke.sh
}
suite fuzz fuzz
miri() {
  rustup component add --toolchain nightly miri rust-src >/dev/null
  (cd kernel-probe && cargo +nightly miri test -q --test zeroed)
}
suite miri miri
suite qemu-boot qemu/test-boot.sh
suite kernel-module qemu/test-module.sh
suite kernel-module-debug env KP_KERNEL_FLAVOUR=debug qemu/test-module.sh
suite kexec qemu/test-kexec.sh
# probe-run load on Debian's own kernels (kexec_load: no kexec_file there), kdump on both.
suite kexec-classic qemu/test-classic.sh
suite kexec-hook qemu/test-kexec-hook.sh
suite kexec-hook-debug env KP_KERNEL_FLAVOUR=debug qemu/test-kexec-hook.sh

if [ ${#failures[@]} -gt 0 ]; then
  kp_log "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
