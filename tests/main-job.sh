#!/usr/bin/env bash
# The main job: probe-run on a real arm64 Image.gz. Fetches Debian's arm64
# kernel (trixie, 6.12) from Debian's archive into the cache, compresses its
# Image with gzip -9, probes it (human report and JSON), writes the
# decompressed Image with --output and checks it against gzip -dc.
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"
cd "$KP_REPO"

command -v cargo >/dev/null || kp_die "cargo is needed (the Rust toolchain)"
kp_apt_install gzip
kp_log "building probe-run (release)"
cargo build --release -q -p userspace-harness
probe_run=$KP_REPO/target/release/probe-run

image=$(tests/fetch-debian-kernels.sh | awk '$1 == "unsigned" {print $2}')
work=$KP_CACHE/main-job
mkdir -p "$work"
gz=$work/Image.gz
if [ ! -s "$gz" ] || [ "$gz" -ot "$image" ]; then
  kp_log "gzip -9 $image"
  gzip -9 -c "$image" >"$gz.tmp" && mv "$gz.tmp" "$gz"
fi

echo "\$ probe-run $gz"
"$probe_run" "$gz"
echo
echo "\$ probe-run --json $gz"
"$probe_run" --json "$gz"
echo
out=$work/Image
rm -f "$out"
echo "\$ probe-run --quick --json $gz"
"$probe_run" --quick --json "$gz"
echo
echo "\$ probe-run --output $out $gz"
"$probe_run" --output "$out" "$gz" >/dev/null
if cmp -s "$out" <(gzip -dc "$gz"); then
  echo "decompressed Image written to $out: identical to gzip -dc ($(stat -c %s "$out") bytes)"
else
  kp_die "--output differs from gzip -dc"
fi
