#!/usr/bin/env bash
# Fetch Debian's real arm64 kernels (trixie's 6.12 series) into the cache and
# extract their uncompressed Image (Debian ships /boot/vmlinuz-* uncompressed on
# arm64). Prints one line per kernel: "NAME PATH-TO-IMAGE".
#   unsigned  linux-image-<abi>-arm64-unsigned   (4K pages, no signature)
#   signed    linux-image-<abi>-arm64            (Debian-signed PE/COFF)
#   16k       linux-image-<abi>-arm64-16k-unsigned (16K pages)
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"

# The ABI comes from trixie's meta-package linux-image-arm64 (6.12), so it
# follows the archive without editing this script.
abi=$(kp_apt_private cache show linux-image-arm64:arm64 |
  awk '/^Version: 6\.12/{found=1} found && /^Depends:/{print; exit}' |
  grep -o 'linux-image-6\.12[^ ,]*-arm64' | head -n1 | sed 's/^linux-image-//; s/-arm64$//')
[ -n "$abi" ] || kp_die "cannot resolve the 6.12 arm64 kernel ABI from trixie's linux-image-arm64"

extract() { # NAME PACKAGE
  local name=$1 pkg=$2 deb out
  deb=$(kp_deb_download private "$pkg" arm64)
  out=$KP_CACHE/kernels/$(basename "$deb" .deb)
  if [ ! -s "$out/Image" ]; then
    kp_log "extracting $pkg"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out.tmp" --wildcards './boot/vmlinuz-*'
    mv "$out.tmp"/boot/vmlinuz-* "$out.tmp/Image"
    rm -rf "$out.tmp/boot" "$out" && mv "$out.tmp" "$out"
  fi
  printf '%s %s\n' "$name" "$out/Image"
}

extract unsigned "linux-image-$abi-arm64-unsigned"
extract signed "linux-image-$abi-arm64"
extract 16k "linux-image-$abi-arm64-16k-unsigned"
