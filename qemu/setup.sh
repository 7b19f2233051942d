#!/usr/bin/env bash
# Install what the kernel build and the QEMU guests need (Debian 12, as root).
# Idempotent: a second run only checks.
#  - Debian packages (LLVM 19, Debian's rustc-web toolchain pinned to one
#    version across rustc-web / rust-web-src / libstd-rust-web-dev amd64+arm64,
#    kernel build deps, qemu-system-arm, UEFI firmware, aarch64 cross gcc);
#  - busybox-static:arm64 extracted into the cache (never installed: that
#    would replace the host's busybox);
#  - bindgen-cli installed with cargo into the cache.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kp_ensure_arm64
kp_apt_install clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libssl-dev cpio \
  qemu-system-arm qemu-efi-aarch64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross xz-utils zstd \
  gzip make python3 perl kmod ca-certificates debian-archive-keyring dpkg-dev file

# --- Rust toolchain, all parts pinned to the same version ---------------------
rust_pkgs=(rustc-web rust-web-src "libstd-rust-web-dev:$(dpkg --print-architecture)" libstd-rust-web-dev:arm64)
installed_versions() {
  local p
  for p in "${rust_pkgs[@]}"; do
    dpkg-query -W -f='${Status} ${Version}\n' "$p" 2>/dev/null | awk '/install ok installed/{print $4}' || true
  done
}
ver=$(installed_versions | sort -u)
n=$(installed_versions | wc -l)
if [ "$n" -ne ${#rust_pkgs[@]} ] || [ "$(printf '%s\n' "$ver" | wc -l)" -ne 1 ]; then
  # The newest version that every one of the packages has (security updates
  # can reach one architecture before the other).
  ver=
  for v in $(apt-cache madison rustc-web | awk '{print $3}'); do
    all=1
    for p in "${rust_pkgs[@]:1}"; do
      apt-cache madison "$p" | awk '{print $3}' | grep -xF -- "$v" >/dev/null || { all=0; break; }
    done
    [ $all = 1 ] && { ver=$v; break; }
  done
  [ -n "$ver" ] || kp_die "no version of rustc-web that rust-web-src and libstd-rust-web-dev (both archs) share"
  kp_log "installing Rust toolchain pinned at $ver"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --allow-downgrades \
    "${rust_pkgs[@]/%/=$ver}" >/dev/null
fi
[ "$(installed_versions | sort -u | wc -l)" -eq 1 ] || kp_die "Rust toolchain packages disagree on version"
ver=$(dpkg-query -W -f='${Version}' rustc-web)

# --- cargo (for bindgen-cli): rustup's if present, else Debian's cargo-web ----
if ! command -v cargo >/dev/null; then
  kp_log "no cargo in PATH: installing cargo-web=$ver"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "cargo-web=$ver" >/dev/null
fi

# --- bindgen-cli into the cache ------------------------------------------------
if [ ! -x "$KP_BINDGEN" ]; then
  kp_log "cargo install bindgen-cli $KP_BINDGEN_VERSION (takes ~2-4 min)"
  rm -rf "$KP_CACHE/bindgen-$KP_BINDGEN_VERSION.tmp"
  cargo install --locked --quiet "bindgen-cli@$KP_BINDGEN_VERSION" \
    --root "$KP_CACHE/bindgen-$KP_BINDGEN_VERSION.tmp"
  rm -rf "$KP_CACHE/bindgen-$KP_BINDGEN_VERSION"
  mv "$KP_CACHE/bindgen-$KP_BINDGEN_VERSION.tmp" "$KP_CACHE/bindgen-$KP_BINDGEN_VERSION"
fi

# --- busybox-static:arm64, extracted, never installed ----------------------------
deb=$(kp_deb_download system busybox-static arm64)
bbdir=$KP_CACHE/busybox/$(basename "$deb" .deb)
if [ ! -x "$bbdir/bin/busybox" ]; then
  kp_log "extracting $(basename "$deb")"
  rm -rf "$bbdir.tmp" && mkdir -p "$bbdir.tmp"
  dpkg-deb -x "$deb" "$bbdir.tmp"
  rm -rf "$bbdir" && mv "$bbdir.tmp" "$bbdir"
fi

# --- record versions ------------------------------------------------------------
{
  echo "rust-toolchain-debian $ver (rustc-web rust-web-src libstd-rust-web-dev amd64+arm64)"
  echo "rustc $("$KP_RUSTC" --version)"
  echo "clang $(clang-19 --version | head -n1)"
  echo "bindgen $("$KP_BINDGEN" --version | head -n1)"
  echo "qemu $(qemu-system-aarch64 --version | head -n1)"
  echo "busybox $(basename "$deb" .deb)"
} >"$KP_TOOLCHAIN_FILE.tmp"
mv "$KP_TOOLCHAIN_FILE.tmp" "$KP_TOOLCHAIN_FILE"
kp_log "toolchain ready (versions in $KP_TOOLCHAIN_FILE):"
sed 's/^/  /' "$KP_TOOLCHAIN_FILE" >&2
