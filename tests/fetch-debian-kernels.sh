#!/usr/bin/env bash
# Fetch Debian's real arm64 kernels (trixie's 6.12 series) into the cache and
# extract their uncompressed Image (Debian ships /boot/vmlinuz-* uncompressed on
# arm64). Prints one line per kernel: "NAME PATH-TO-IMAGE".
#   unsigned  linux-image-<abi>-arm64-unsigned   (4K pages, no signature)
#   signed    linux-image-<abi>-arm64            (Debian-signed PE/COFF)
#   16k       linux-image-<abi>-arm64-16k-unsigned (16K pages)
#
#   tests/fetch-debian-kernels.sh --series 7
# instead fetches Debian's newest 7.x arm64 kernel (trixie-backports), resolved
# from the linux-image-arm64 meta-package's 7.x version (never pinned). Those
# packages ship the image as linux-binary-<abi>-arm64
# (/usr/lib/modules/<abi>-arm64/vmlinuz) and its config in linux-base-<abi>-arm64.
# Prints "7x PATH-TO-IMAGE" and "7x-config PATH-TO-CONFIG" (both in one
# cache directory named after the binary package's version).
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"

if [ "${1:-}" = --series ] && [ "${2:-}" = 7 ]; then
  abi=$(kp_apt_private cache show linux-image-arm64:arm64 |
    awk '/^Version: /{ok = ($2 ~ /^7\./)} ok && /^Depends:/{print}' |
    grep -o 'linux-image-7\.[^ ,]*-arm64' | sed 's/^linux-image-//; s/-arm64$//' | sort -V | tail -n1)
  [ -n "$abi" ] || kp_die "cannot resolve a 7.x arm64 kernel ABI from linux-image-arm64 (trixie-backports)"
  bin=$(kp_deb_download private "linux-binary-$abi-arm64" arm64)
  base=$(kp_deb_download private "linux-base-$abi-arm64" arm64)
  out=$KP_CACHE/kernels/$(basename "$bin" .deb)
  if [ ! -s "$out/Image" ] || [ ! -s "$out/config" ]; then
    kp_log "extracting linux-binary-$abi-arm64 and its config"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    dpkg-deb --fsys-tarfile "$bin" | tar -x -C "$out.tmp" --wildcards '*/vmlinuz'
    dpkg-deb --fsys-tarfile "$base" | tar -x -C "$out.tmp" --wildcards '*/config*'
    img=$(find "$out.tmp" -type f -name vmlinuz | head -n1)
    cfg=$(find "$out.tmp" -type f -name 'config*' | head -n1)
    [ -s "$img" ] && [ -s "$cfg" ] || kp_die "no vmlinuz or config in linux-binary/linux-base-$abi-arm64"
    mv "$img" "$out.tmp/Image.new" && mv "$cfg" "$out.tmp/config.new"
    find "$out.tmp" -mindepth 1 -maxdepth 1 ! -name '*.new' -exec rm -rf {} +
    mv "$out.tmp/Image.new" "$out.tmp/Image" && mv "$out.tmp/config.new" "$out.tmp/config"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  printf '7x %s\n7x-config %s\n' "$out/Image" "$out/config"
  exit 0
fi

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
