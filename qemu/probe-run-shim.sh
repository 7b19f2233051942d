#!/usr/bin/env bash
# Stand-in for probe-run used only with PROBE_RUN=shim (testing the boot path
# before probe-run exists). NOT a validator: gzip -dc for Image.gz, and for an
# EFI zboot image the gzip payload at the offset/size in its header.
#   probe-run-shim.sh --output OUT IMAGE
set -euo pipefail
[ "$1" = --output ] && [ $# -eq 3 ] || { echo "usage: $0 --output OUT IMAGE" >&2; exit 2; }
out=$2 in=$3
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
if [ "$(head -c8 "$in" | od -An -c | tr -d ' ')" = 'MZ\0\0zimg' ]; then
  off=$(od -An -tu4 -j8 -N4 "$in" | tr -d ' ') len=$(od -An -tu4 -j12 -N4 "$in" | tr -d ' ')
  tail -c +$((off + 1)) "$in" | head -c "$len" | gzip -dc >"$tmp" || exit 1
else
  gzip -dc "$in" >"$tmp" || exit 1
fi
mv "$tmp" "$out"
