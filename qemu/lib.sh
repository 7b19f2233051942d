# shellcheck shell=bash
# Common helpers for the qemu/ and tests/ scripts. Source it; do not run it.
#
# KERNEL_PROBE_CACHE  where downloads and builds are cached (outside the repo).
# Every cached item is keyed by its inputs, so a stale entry is never reused.

KP_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KP_CACHE=${KERNEL_PROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kernel-probe}
mkdir -p "$KP_CACHE"

kp_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kp_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run apt-get update once per process tree (marker in the cache, valid for 6 hours).
kp_apt_update_once() {
  local stamp=$KP_CACHE/.apt-updated
  if [ -z "$(find "$stamp" -mmin -360 2>/dev/null)" ]; then
    kp_log "apt-get update"
    apt-get update -q >/dev/null
    touch "$stamp"
  fi
}

# Enable arm64 multiarch (for libstd-rust-web-dev:arm64 and busybox-static:arm64).
kp_ensure_arm64() {
  [ "$(dpkg --print-architecture)" = arm64 ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    kp_log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    rm -f "$KP_CACHE/.apt-updated"
  fi
  kp_apt_update_once
}

# Install Debian packages that are missing (names may carry :arch).
kp_apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    kp_log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    rm -f "$KP_CACHE/.apt-updated"
  fi
  kp_apt_update_once
  kp_log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# apt-get/apt-cache against a private source list for another Debian suite
# (trixie, trixie-backports), without touching the machine's apt configuration.
# The archive address is read from the machine's own configuration, so none is
# written into the repository.
#   kp_apt_private get|cache ARGS...
kp_apt_private() {
  local tool=$1; shift
  local dir=$KP_CACHE/apt-private
  mkdir -p "$dir/lists/partial"
  if [ ! -f "$dir/sources.list" ]; then
    local uri
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null)
    [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] || kp_die "no Debian archive address in /etc/apt"
    {
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main"
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie-backports main"
    } >"$dir/sources.list"
  fi
  local opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
    -o "Dir::State::Lists=$dir/lists" -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
    -o APT::Sandbox::User=root)
  if [ -z "$(find "$dir/.updated" -mmin -360 2>/dev/null)" ]; then
    kp_log "apt-get update (private list: trixie, trixie-backports)"
    apt-get "${opts[@]}" update -q >/dev/null
    touch "$dir/.updated"
  fi
  case $tool in
    get) apt-get "${opts[@]}" "$@" ;;
    cache) apt-cache "${opts[@]}" "$@" ;;
    *) kp_die "kp_apt_private: get or cache, not $tool" ;;
  esac
}

# The newest Linux 7.x source package in trixie/trixie-backports
# (linux-source-7.2, linux-source-7.3, ...): Debian's archive moves on and
# drops old series, so the series is resolved, never pinned. KP_LINUX_SOURCE
# (a package name) overrides it. Prints the package name.
kp_linux_source_pkg() {
  if [ -n "${KP_LINUX_SOURCE:-}" ]; then
    printf '%s\n' "$KP_LINUX_SOURCE"
    return 0
  fi
  local pkg
  pkg=$(kp_apt_private cache search --names-only '^linux-source-7\.[0-9]+$' |
    awk '{print $1}' | sort -V | tail -n1)
  [ -n "$pkg" ] || kp_die "no linux-source-7.x package in trixie/trixie-backports"
  printf '%s\n' "$pkg"
}

# Download one package into the cache (if not there yet) and print the .deb path.
#   kp_deb_download private|system NAME ARCH
# "private" looks it up in trixie/trixie-backports, "system" in the machine's
# own suites. The candidate version is resolved first, and the cached file name
# carries that version, so a newer upload is fetched and an old one not reused.
kp_deb_download() {
  local where=$1 name=$2 arch=$3 dir=$KP_CACHE/debs ver
  mkdir -p "$dir"
  if [ "$where" = private ]; then
    ver=$(kp_apt_private cache show "$name:$arch" 2>/dev/null | awk '/^Version:/{print $2; exit}')
  else
    kp_apt_update_once
    ver=$(apt-cache show "$name:$arch" 2>/dev/null | awk '/^Version:/{print $2; exit}')
  fi
  [ -n "$ver" ] || kp_die "package $name:$arch not found in the $where suites"
  local file=$dir/${name}_${ver//:/%3a}_${arch}.deb
  if [ ! -s "$file" ]; then
    kp_log "downloading $name:$arch=$ver"
    (
      cd "$dir"
      if [ "$where" = private ]; then
        kp_apt_private get download -q "$name:$arch=$ver"
      else
        apt-get -o APT::Sandbox::User=root download -q "$name:$arch=$ver"
      fi
    ) >/dev/null || kp_die "download of $name:$arch=$ver failed"
  fi
  [ -s "$file" ] || kp_die "expected $file after download"
  printf '%s\n' "$file"
}

# ---------------------------------------------------------------------------
# Kernel toolchain (qemu/setup.sh installs it; the kernel and module builds use it)

# Debian's Rust-for-Linux toolchain: rustc-web, rust-web-src and
# libstd-rust-web-dev (amd64 + arm64) pinned to one version.
KP_RUSTC=/usr/bin/rustc
KP_RUSTDOC=/usr/bin/rustdoc
KP_LLVM_SUFFIX=-19
# bindgen-cli version installed with cargo into the cache (Debian's is too old).
KP_BINDGEN_VERSION=${KP_BINDGEN_VERSION:-0.72.1}
KP_BINDGEN=$KP_CACHE/bindgen-$KP_BINDGEN_VERSION/bin/bindgen
# Where setup.sh records the versions it installed.
export KP_TOOLCHAIN_FILE=$KP_CACHE/toolchain-versions.txt

# Path of the extracted busybox-static:arm64 binary (setup.sh extracts it).
kp_busybox() {
  local f
  f=$(ls -d "$KP_CACHE"/busybox/*/bin/busybox 2>/dev/null | sort | tail -n1)
  [ -n "$f" ] && [ -x "$f" ] || kp_die "busybox for arm64 not extracted yet: run qemu/setup.sh"
  printf '%s\n' "$f"
}

# make arguments for an arm64 LLVM + Rust kernel build (kernel and out-of-tree modules).
kp_kmake_args() {
  printf '%s\n' ARCH=arm64 "LLVM=$KP_LLVM_SUFFIX" "RUSTC=$KP_RUSTC" "RUSTDOC=$KP_RUSTDOC" \
    "HOSTRUSTC=$KP_RUSTC" "BINDGEN=$KP_BINDGEN"
}

# One line that identifies the toolchain (part of the kernel build key).
kp_toolchain_id() {
  [ -x "$KP_RUSTC" ] || kp_die "$KP_RUSTC missing: run qemu/setup.sh"
  [ -x "$KP_BINDGEN" ] || kp_die "$KP_BINDGEN missing: run qemu/setup.sh"
  printf '%s | %s | %s\n' "$("$KP_RUSTC" --version)" \
    "$(clang$KP_LLVM_SUFFIX --version | head -n1)" "$("$KP_BINDGEN" --version | head -n1)"
}

# The project's kernel dir ($KP_CACHE/kernel/<key>: Image, Image.gz, vmlinuz.efi,
# config, obj/ = KDIR for out-of-tree modules). Builds it first if needed
# (seconds when cached).
kp_kernel_dir() { "$KP_REPO/qemu/build-kernel.sh"; }

# Build kernel_probe.ko against a kernel dir and print the .ko's path:
#   kp_kernel_module KDIR FLAVOUR LOG   (FLAVOUR '' = the default kernel)
# The default flavour's module is built in kernel-probe/kmod; another
# flavour's in a copy of the module's sources under $KP_CACHE/kmod-FLAVOUR
# (Kbuild's M= refuses a source dir that holds the normal build's objects),
# so the two builds never overwrite each other's objects. Same Kbuild, same
# deps.mk, same sources. The build must be warning-free (the caller checks).
kp_kernel_module() {
  local kdir=$1 flavour=$2 log=$3 mod=$KP_REPO/kernel-probe/kmod margs
  if [ -z "$flavour" ]; then
    make -C "$mod" KDIR="$kdir/obj" BINDGEN="$KP_BINDGEN" >"$log" 2>&1 ||
      { tail -40 "$log" >&2; kp_die "module build failed (log: $log)"; }
    printf '%s\n' "$mod/kernel_probe.ko"
    return 0
  fi
  local work=$KP_CACHE/kmod-$flavour
  make -C "$mod" deps.mk >"$log" 2>&1 || { cat "$log" >&2; kp_die "deps.mk failed"; }
  mkdir -p "$work" && rm -f "$work"/*.rs "$work"/*.c
  cp -p "$mod/Kbuild" "$mod/deps.mk" "$mod"/*.rs "$mod"/*.c "$work/"
  mapfile -t margs < <(kp_kmake_args)
  make -C "$kdir/obj" M="$work" "${margs[@]}" modules >>"$log" 2>&1 ||
    { tail -40 "$log" >&2; kp_die "module build failed (log: $log)"; }
  printf '%s\n' "$work/kernel_probe.ko"
}

# The test corpus (tests/src/corpus.rs) made from IMAGE by make-corpus (built by
# the caller: cargo build -p kernel-probe-tests), cached by the image's and
# corpus.rs's hashes; prints its directory.
kp_corpus() {
  local image=$1 key corpus
  key=$( (sha256sum <"$image"; sha256sum <"$KP_REPO/tests/src/corpus.rs") | sha256sum | cut -c1-16)
  corpus=$KP_CACHE/module-test/corpus-$key
  if [ ! -s "$corpus/cases.tsv" ]; then
    rm -rf "$corpus.tmp"
    "$KP_REPO/target/release/make-corpus" "$image" "$corpus.tmp" >&2
    mv "$corpus.tmp" "$corpus"
  fi
  printf '%s\n' "$corpus"
}

# Path of a guest initramfs; arguments as qemu/initramfs.sh (--add HOST:/GUEST ...).
kp_initramfs() { "$KP_REPO/qemu/initramfs.sh" "$@"; }

# ---------------------------------------------------------------------------
# Packages from newer suites, extracted (never installed over the host's)

# Extract a .deb once into $KP_CACHE/extracted/<deb name without .deb>/ (the
# name carries package, version and architecture) and print the directory.
kp_extract() {
  local deb=$1 dir
  dir=$KP_CACHE/extracted/$(basename "$deb" .deb)
  if [ ! -f "$dir/.kp-done" ]; then
    kp_log "extracting $(basename "$deb")"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp"
    touch "$dir.tmp/.kp-done"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  printf '%s\n' "$dir"
}

# systemd's ukify and arm64 stub from trixie (bookworm's systemd 252 has
# neither), extracted; ukify runs with the distribution's python3 and
# python3-pefile. Prints "UKIFY STUB".
kp_ukify() {
  kp_apt_install python3-pefile >&2
  local u s
  u=$(kp_extract "$(kp_deb_download private systemd-ukify all)")
  s=$(kp_extract "$(kp_deb_download private systemd-boot-efi arm64)")
  [ -s "$u/usr/bin/ukify" ] || kp_die "no ukify in systemd-ukify"
  [ -s "$s/usr/lib/systemd/boot/efi/linuxaa64.efi.stub" ] || kp_die "no linuxaa64.efi.stub in systemd-boot-efi:arm64"
  printf '%s %s\n' "$u/usr/bin/ukify" "$s/usr/lib/systemd/boot/efi/linuxaa64.efi.stub"
}

# ukify build of a UKI: kp_uki OUT KERNEL INITRD CMDLINE [extra ukify args...]
# (ukify's scratch files, a whole decompressed kernel among them, go into a
# private TMPDIR that is removed.)
kp_uki() {
  local out=$1 kernel=$2 initrd=$3 cmdline=$4 ukify stub tmp
  shift 4
  read -r ukify stub < <(kp_ukify)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kp-ukify.XXXXXX")
  printf 'ID=kernel-probe\nNAME="kernel-probe test UKI"\nVERSION_ID=1\n' >"$tmp/os-release"
  TMPDIR=$tmp /usr/bin/python3 "$ukify" build --efi-arch aa64 --stub "$stub" --linux "$kernel" \
    --initrd "$initrd" --cmdline "$cmdline" --os-release "@$tmp/os-release" --output "$tmp/uki.efi" \
    "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; rm -rf "$tmp"; kp_die "ukify build failed"; }
  mv "$tmp/uki.efi" "$out"
  rm -rf "$tmp"
}
