#!/usr/bin/env bash
# Build the project's Rust-enabled arm64 kernel (tinyconfig + qemu/kernel.config)
# with LLVM 19 and Debian's rustc, cached outside the repo.
#
#   qemu/build-kernel.sh            build if needed, print the kernel dir on stdout
#   KERNEL_SRC=/path/to/tree ...    use your own source tree instead of Debian's newest
#                                   linux-source-7.x (KP_LINUX_SOURCE=linux-source-7.2 pins a series)
#   --flavour debug  (or KP_KERNEL_FLAVOUR=debug)
#                                   also merge qemu/kernel-debug.config (KASAN, kmemleak,
#                                   lockdep, DEBUG_LIST, DEBUG_VM); cached in its own dir
#                                   $KP_CACHE/kernel/debug-<key>, `kernel/latest-debug`
#   --flavour zstd                  qemu/kernel-zstd.config: Fedora's zboot, a zstd payload
#
# The kernel dir ($KP_CACHE/kernel/<key>) holds Image, Image.gz, vmlinuz.efi,
# config, key.txt and obj/ (the O= build tree: use it as KDIR for out-of-tree
# modules). <key> hashes the source version, the fragment, rustc --version,
# the clang version and the bindgen version (and, for a flavour, its name and
# the sha256 of its extra fragment; the default flavour's key is unchanged). A stamp (obj/.kp-done) marks a
# finished build: with it, make is not run at all.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${KP_KERNEL_FLAVOUR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --flavour) flavour=${2:-}; shift 2 ;;
    --flavour=*) flavour=${1#--flavour=}; shift ;;
    *) kp_die "unknown argument: $1" ;;
  esac
done
[ "$flavour" = default ] && flavour=
frag=$KP_REPO/qemu/kernel.config
[ -f "$frag" ] || kp_die "missing $frag"
frags=("$frag")
if [ -n "$flavour" ]; then
  case $flavour in *[!a-z0-9_-]*) kp_die "flavour: [a-z0-9_-] only" ;; esac
  xfrag=$KP_REPO/qemu/kernel-$flavour.config
  [ -f "$xfrag" ] || kp_die "unknown flavour $flavour: missing $xfrag"
  frags+=("$xfrag")
fi

# --- source -----------------------------------------------------------------------
if [ -n "${KERNEL_SRC:-}" ]; then
  src=$(cd "$KERNEL_SRC" && pwd)
  [ -f "$src/Makefile" ] && [ -d "$src/arch/arm64" ] || kp_die "KERNEL_SRC=$src is not a kernel tree"
  srcid="own tree $src $(make -s -C "$src" kernelversion 2>/dev/null)"
  if git -C "$src" rev-parse HEAD >/dev/null 2>&1; then
    srcid="$srcid git $(git -C "$src" rev-parse HEAD)"
    [ -z "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null | head -n1)" ] ||
      srcid="$srcid dirty-$(git -C "$src" diff HEAD | sha256sum | cut -c1-12)"
  fi
else
  srcpkg=$(kp_linux_source_pkg)
  deb=$(kp_deb_download private "$srcpkg" all)
  srcroot=$KP_CACHE/src/$(basename "$deb" .deb)
  src=$srcroot/$srcpkg
  if [ ! -f "$srcroot/.kp-unpacked" ]; then
    kp_log "unpacking $(basename "$deb") (~1.7 GB, about a minute)"
    rm -rf "$srcroot" && mkdir -p "$srcroot"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$srcroot" "./usr/src/$srcpkg.tar.xz"
    tar -xJf "$srcroot/usr/src/$srcpkg.tar.xz" -C "$srcroot"
    rm -rf "${srcroot:?}/usr"
    [ -f "$src/Makefile" ] || kp_die "unexpected layout in $(basename "$deb")"
    touch "$srcroot/.kp-unpacked"
  fi
  srcid="debian $(basename "$deb" .deb)"
fi

# --- patches: qemu/patches/*.patch, applied in name order to Debian's source --------
# The unpacked tree is patched in place once per patch set (stamp
# .kp-patched holds its hash; the applied copies in .kp-patches are reversed
# first when the set changes). A tree of your own (KERNEL_SRC) is never
# changed: the patch set is reported as applied or not, and the module then
# builds with or without the kexec_file hook.
patches=("$KP_REPO"/qemu/patches/*.patch)
[ -f "${patches[0]}" ] || patches=()
patchid=$(cat "${patches[@]}" </dev/null | sha256sum | cut -c1-16)
apply_patches() {
  local stamp=$srcroot/.kp-patched keep=$srcroot/.kp-patches p
  [ "$(cat "$stamp" 2>/dev/null)" = "$patchid" ] && return 0
  if [ -d "$keep" ]; then
    for p in $(ls -r "$keep"/*.patch 2>/dev/null); do
      kp_log "reverting the earlier $(basename "$p")"
      patch -s -R -p1 -d "$src" <"$p" || kp_die "cannot revert $p from $src (remove $srcroot to unpack afresh)"
    done
  fi
  rm -rf "$keep" "$stamp" && mkdir -p "$keep"
  for p in "${patches[@]}"; do
    kp_log "applying qemu/patches/$(basename "$p")"
    patch -s -p1 -d "$src" --no-backup-if-mismatch <"$p" || kp_die "qemu/patches/$(basename "$p") does not apply to $srcid"
    cp "$p" "$keep/"
  done
  printf '%s\n' "$patchid" >"$stamp"
}
if [ -n "${KERNEL_SRC:-}" ]; then
  for p in "${patches[@]}"; do
    if patch -s -R -p1 -d "$src" --dry-run -f <"$p" >/dev/null 2>&1; then
      kp_log "your tree has qemu/patches/$(basename "$p")"
    else
      kp_log "your tree lacks qemu/patches/$(basename "$p"): the module builds without what it adds"
    fi
  done
  patchid="own tree"
fi

# --- key ----------------------------------------------------------------------------
toolid=$(kp_toolchain_id)
keytxt=$(printf 'source: %s\nfragment-sha256: %s\ntoolchain: %s\npatches-sha256: %s\n' \
  "$srcid" "$(sha256sum <"$frag" | cut -d' ' -f1)" "$toolid" "$patchid")
latest=latest
if [ -n "$flavour" ]; then
  keytxt=$(printf '%s\nflavour: %s\nflavour-fragment-sha256: %s\n' \
    "$keytxt" "$flavour" "$(sha256sum <"$xfrag" | cut -d' ' -f1)")
fi
key=$(printf '%s' "$keytxt" | sha256sum | cut -c1-16)
if [ -n "$flavour" ]; then key=$flavour-$key; latest=latest-$flavour; fi
kdir=$KP_CACHE/kernel/$key
obj=$kdir/obj

# Also for a cached build: out-of-tree modules build against this tree's headers.
if [ -z "${KERNEL_SRC:-}" ]; then
  exec 8>"$srcroot/.kp-patch-lock"
  flock 8
  apply_patches
  exec 8>&-
fi

if [ -f "$obj/.kp-done" ] && [ -s "$kdir/Image" ] && [ -s "$kdir/Image.gz" ] && [ -s "$kdir/vmlinuz.efi" ]; then
  kp_log "kernel up to date: $kdir"
  ln -sfn "$key" "$KP_CACHE/kernel/$latest" 2>/dev/null || true
  printf '%s\n' "$kdir"
  exit 0
fi

# Only one kernel build at a time (2 cores, ~1 GB RSS).
mkdir -p "$KP_CACHE/kernel"
exec 9>"$KP_CACHE/kernel/.lock"
flock -n 9 || { kp_log "another kernel build is running: waiting for its lock"; flock 9; }
if [ -f "$obj/.kp-done" ]; then ln -sfn "$key" "$KP_CACHE/kernel/$latest"; printf '%s\n' "$kdir"; exit 0; fi

mkdir -p "$obj"
printf '%s\n' "$keytxt" >"$kdir/key.txt"

# A throw-away signing key for kexec_file's signature check, made for this
# build and trusted by it alone (CONFIG_SYSTEM_TRUSTED_KEYS): tests sign
# images with kexec-test.key/.crt. Never committed, never reused elsewhere.
if [ ! -s "$kdir/kexec-test.crt" ] || [ ! -s "$kdir/kexec-test.key" ]; then
  openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -subj "/CN=kernel-probe kexec test key (this build only)/" \
    -keyout "$kdir/kexec-test.key" -out "$kdir/kexec-test.crt" 2>/dev/null ||
    kp_die "openssl could not make the kexec test key"
fi
mapfile -t margs < <(kp_kmake_args)
kmake() { make -s -C "$src" O="$obj" "${margs[@]}" "$@"; }

kp_log "kernel build dir $kdir"
kp_log "source: $srcid"
kmake rustavailable >/dev/null || kp_die "Rust is not available for this kernel (see: make rustavailable)"

# --- configure: tinyconfig + fragment, then check the fragment was honoured -------
kp_log "configuring: tinyconfig + $(for f in "${frags[@]}"; do printf '%s ' "$(basename "$f")"; done)"
kmake tinyconfig >/dev/null
(cd "$obj" && ARCH=arm64 LLVM="$KP_LLVM_SUFFIX" "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "${frags[@]}") >/dev/null
"$src/scripts/config" --file "$obj/.config" --set-str SYSTEM_TRUSTED_KEYS "$kdir/kexec-test.crt"
kmake olddefconfig >/dev/null
bad=0
# A later fragment overrides an earlier one's line for the same option (the
# zstd flavour unsets KERNEL_GZIP): check only each option's last line.
wanted() {
  cat "$@" | grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' | tac |
    awk '{ s = $0; sub(/^# /, "", s); sub(/[= ].*/, "", s); if (!seen[s]++) print }' | tac
}
while IFS= read -r line; do
  case $line in
    CONFIG_*=*) grep -qxF -- "$line" "$obj/.config" || {
        kp_log "fragment option not honoured: $line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo unset))"
        bad=1
      } ;;
    "# CONFIG_"*" is not set") grep -qE "^${line:2:-11}=" "$obj/.config" && {
        kp_log "fragment option not honoured: $line"
        bad=1
      } ;;
  esac
done < <(wanted "${frags[@]}")
[ $bad -eq 0 ] || kp_die "the kernel config does not match $(for f in "${frags[@]}"; do printf 'qemu/%s ' "$(basename "$f")"; done)(dependencies missing?)"
cp "$obj/.config" "$kdir/config"

# --- build ---------------------------------------------------------------------------
kp_log "building ${flavour:+$flavour flavour: }Image Image.gz vmlinuz.efi modules (-j$(nproc); ~8-9 min cold on 2 cores${flavour:+, more for debug})"
t0=$(date +%s)
kmake -j"$(nproc)" Image Image.gz vmlinuz.efi modules >"$kdir/build.log" 2>&1 ||
  { tail -n 40 "$kdir/build.log" >&2; kp_die "kernel build failed (log: $kdir/build.log)"; }
for f in Image Image.gz vmlinuz.efi; do
  cp "$obj/arch/arm64/boot/$f" "$kdir/$f.tmp" && mv "$kdir/$f.tmp" "$kdir/$f"
done
touch "$obj/.kp-done"
ln -sfn "$key" "$KP_CACHE/kernel/$latest"
kp_log "kernel built in $(($(date +%s) - t0)) s: $(make -s -C "$src" O="$obj" "${margs[@]}" kernelrelease 2>/dev/null)"
printf '%s\n' "$kdir"
