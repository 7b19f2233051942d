#!/usr/bin/env bash
# Boot tests: images that probe-run accepts and decompresses really boot.
#   debian-unsigned, debian-signed  Debian's arm64 kernels: Image -> gzip -9 ->
#                                   probe-run --output -> boots to the guest marker
#   own-image-gz                    our kernel's Image.gz -> probe-run -> boots
#   own-zboot                       our vmlinuz.efi (EFI zboot, gzip) -> probe-run
#                                   -> the inner Image boots
#   own-kernel-features             our Image (2 CPUs, crashkernel=64M) has modules,
#                                   kexec, a crash reservation, debugfs, misc devices
#   own-zboot-firmware              vmlinuz.efi itself boots through UEFI firmware
#   own-zstd-zboot, -firmware       the zstd flavour (Fedora's: zboot with a zstd payload):
#                                   probe-run's inner Image boots, and vmlinuz.efi boots
#                                   through UEFI firmware; own-image-zst: zstd -19 Image
#   debian-uki, own-uki,            UKIs made by ukify (systemd's arm64 stub) of Debian's
#   own-zboot-uki, own-uki-firmware Image, our Image and our vmlinuz.efi: probe-run's kernel
#                                   boots with the UKI's own .initrd and .cmdline, and our
#                                   UKI boots through UEFI firmware (systemd-stub)
#   negative-corrupt                Image.gz with a byte flipped in its deflate data,
#   negative-truncated              and cut in half: probe-run exits 1, writes no
#                                   output, nothing boots
# Ends with "N passed, M failed"; exits 1 on any failure.
#
# PROBE_RUN=path   probe-run binary (default: target/release/probe-run, built
#                  or refreshed with cargo first).
# KP_BOOT_TIMEOUT  per-boot timeout in seconds (default 240).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

timeout_s=${KP_BOOT_TIMEOUT:-240}
work=$(mktemp -d "${TMPDIR:-/tmp}/kp-test-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 results=()
pass() { passed=$((passed + 1)); results+=("PASS $1"); kp_log "PASS $1"; }
fail() { failed=$((failed + 1)); results+=("FAIL $1: $2"); kp_log "FAIL $1: $2"; }

# --- prerequisites -------------------------------------------------------------------
"$KP_REPO/qemu/setup.sh"
probe=${PROBE_RUN:-}
if [ -z "$probe" ]; then
  # Always through cargo, so the tests use the current sources (a no-op when up to date).
  kp_log "building probe-run (cargo build --release -p userspace-harness)"
  (cd "$KP_REPO" && cargo build --release -q -p userspace-harness) || kp_die "cannot build probe-run"
  probe=$KP_REPO/target/release/probe-run
fi
[ -x "$probe" ] || kp_die "no probe-run at $probe"
initrd=$("$KP_REPO/qemu/initramfs.sh")
kdir=
if kdir=$("$KP_REPO/qemu/build-kernel.sh"); then :; else kdir=; kp_log "own kernel build failed"; fi
mapfile -t debian < <("$KP_REPO/tests/fetch-debian-kernels.sh")

# probe_and_boot NAME COMPRESSED-IMAGE [ORIGINAL-IMAGE-TO-COMPARE]
probe_and_boot() {
  local name=$1 in=$2 orig=${3:-} out=$work/$1.Image rc=0
  "$probe" --output "$out" "$in" >"$work/$name.probe" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    sed 's/^/  probe-run: /' "$work/$name.probe" >&2
    fail "$name" "probe-run rejected $(basename "$in") (exit $rc)"
    return
  fi
  [ -s "$out" ] || { fail "$name" "probe-run exit 0 but no output file"; return; }
  if [ -n "$orig" ] && ! cmp -s "$out" "$orig"; then
    fail "$name" "probe-run output differs from the original Image"
    return
  fi
  if [ -n "${prefix:-}" ] && ! cmp -s -n "$(stat -c %s "$prefix")" "$out" "$prefix"; then
    fail "$name" "probe-run output does not start with the kernel's Image"
    return
  fi
  if "$KP_REPO/qemu/run.sh" --kernel "$out" --initrd "$initrd" --scenario boot \
    --marker "kp-$name-$$" --timeout "$timeout_s"; then
    pass "$name"
  else
    fail "$name" "decompressed image did not boot to the marker"
  fi
}

# --- (a) Debian's distro kernels -----------------------------------------------------
for line in "${debian[@]}"; do
  read -r dname dimage <<<"$line"
  case $dname in unsigned | signed) ;; *) continue ;; esac
  gzip -9 -c "$dimage" >"$work/debian-$dname.Image.gz"
  probe_and_boot "debian-$dname" "$work/debian-$dname.Image.gz" "$dimage"
done
[ ${#debian[@]} -ge 2 ] || fail debian "could not fetch Debian's kernels"

# --- (b) the project's own kernel ------------------------------------------------------
if [ -n "$kdir" ]; then
  probe_and_boot own-image-gz "$kdir/Image.gz" "$kdir/Image"
  prefix=$kdir/Image probe_and_boot own-zboot "$kdir/vmlinuz.efi" # payload = Image padded to image_size
  if "$KP_REPO/qemu/run.sh" --kernel "$kdir/Image" --initrd "$initrd" --scenario features \
    --smp 2 --append crashkernel=64M --marker "kp-features-$$" --timeout "$timeout_s"; then
    pass own-kernel-features
  else
    fail own-kernel-features "modules/kexec/crashkernel/debugfs/SMP check failed in the guest"
  fi
  if "$KP_REPO/qemu/run.sh" --efi --kernel "$kdir/vmlinuz.efi" --initrd "$initrd" --scenario boot \
    --marker "kp-zboot-fw-$$" --timeout "$timeout_s"; then
    pass own-zboot-firmware
  else
    fail own-zboot-firmware "vmlinuz.efi did not boot through UEFI firmware"
  fi
else
  for n in own-image-gz own-zboot own-kernel-features own-zboot-firmware; do fail "$n" "no kernel (qemu/build-kernel.sh failed)"; done
fi

# --- (d) our kernel as Fedora builds it: EFI zboot with a zstd payload -----------------
if zdir=$("$KP_REPO/qemu/build-kernel.sh" --flavour zstd); then
  if grep -aq 'zstd' <(head -c 64 "$zdir/vmlinuz.efi"); then
    prefix=$zdir/Image probe_and_boot own-zstd-zboot "$zdir/vmlinuz.efi"
    zstd -q -19 -c "$zdir/Image" >"$work/own.Image.zst"
    probe_and_boot own-image-zst "$work/own.Image.zst" "$zdir/Image"
    if "$KP_REPO/qemu/run.sh" --efi --kernel "$zdir/vmlinuz.efi" --initrd "$initrd" --scenario boot \
      --marker "kp-zstd-fw-$$" --timeout "$timeout_s"; then
      pass own-zstd-zboot-firmware
    else
      fail own-zstd-zboot-firmware "the zstd vmlinuz.efi did not boot through UEFI firmware"
    fi
  else
    fail own-zstd-zboot "the zstd flavour's vmlinuz.efi does not name zstd in its zboot header"
  fi
else
  fail own-zstd-zboot "qemu/build-kernel.sh --flavour zstd failed"
fi

# --- (e) UKIs made by the real ukify with systemd's arm64 stub ---------------------------
# uki_boot NAME KERNEL [PREFIX]: a UKI of KERNEL with the test initramfs and a
# command line carrying the marker. probe-run --output gives the kernel, and
# the UKI's own initrd and command line (cut out where probe-run's JSON says
# they are) boot it.
uki_boot() {
  local name=$1 kernel=$2 marker=kp-$1-$$ u=$work/$1.efi j
  kp_uki "$u" "$kernel" "$initrd" "console=ttyAMA0 panic=-1 kp.scenario=boot kp.marker=$marker" ||
    { fail "$name" "ukify failed"; return; }
  j=$("$probe" --json "$u") || { fail "$name" "probe-run rejected the UKI: $j"; return; }
  local off size cmd
  off=$(sed -n 's/.*"initrd_offset":\([0-9]*\).*/\1/p' <<<"$j")
  size=$(sed -n 's/.*"initrd_size":\([0-9]*\).*/\1/p' <<<"$j")
  cmd=$(sed -n 's/.*"uki":{[^}]*"cmdline":"\([^"]*\)".*/\1/p' <<<"$j")
  [ -n "$off" ] && [ -n "$size" ] && [ -n "$cmd" ] || { fail "$name" "no .initrd/.cmdline in the report: $j"; return; }
  tail -c +"$((off + 1))" "$u" | head -c "$size" >"$work/$name.initrd"
  cmp -s "$work/$name.initrd" "$initrd" || { fail "$name" "the UKI's .initrd is not the initramfs"; return; }
  "$probe" --output "$work/$name.Image" "$u" >/dev/null || { fail "$name" "probe-run --output failed"; return; }
  if [ -n "${3:-}" ]; then
    cmp -s -n "$(stat -c %s "$3")" "$work/$name.Image" "$3" || { fail "$name" "the extracted kernel is not the Image"; return; }
  fi
  if "$KP_REPO/qemu/run.sh" --kernel "$work/$name.Image" --initrd "$work/$name.initrd" --cmdline "$cmd" \
    --marker "$marker" --timeout "$timeout_s"; then
    pass "$name"
  else
    fail "$name" "the kernel probe-run took out of the UKI did not boot with its .initrd and .cmdline"
  fi
  if [ "${uki_firmware:-0}" = 1 ]; then
    if "$KP_REPO/qemu/run.sh" --uki --kernel "$u" --marker "$marker" --timeout "$timeout_s"; then
      pass "$name-firmware"
    else
      fail "$name-firmware" "the UKI did not boot through UEFI firmware and systemd-stub"
    fi
  fi
}
for line in "${debian[@]}"; do
  read -r dname dimage <<<"$line"
  [ "$dname" = unsigned ] && uki_boot debian-uki "$dimage" "$dimage"
done
if [ -n "$kdir" ]; then
  uki_firmware=1 uki_boot own-uki "$kdir/Image" "$kdir/Image"
  uki_boot own-zboot-uki "$kdir/vmlinuz.efi" "$kdir/Image"
fi

# --- (c) negative: corrupt and truncated deflate data -----------------------------------
# negative NAME BAD-FILE: probe-run must exit 1 and leave no output file; nothing is booted.
negative() {
  local name=$1 bad=$2 out=$work/$1.out rc=0
  "$probe" --output "$out" "$bad" >"$work/$name.probe" 2>&1 || rc=$?
  sed 's/^/  probe-run: /' "$work/$name.probe" >&2
  if [ $rc -ne 1 ]; then
    fail "$name" "probe-run exit $rc, want 1 (rejected)"
  elif [ -n "$(find "$work" -maxdepth 1 -name "$name.out*" -print -quit)" ]; then
    fail "$name" "probe-run rejected it but left an output file"
  else
    pass "$name"
  fi
}
neg_src=${kdir:+$kdir/Image.gz}
[ -n "$neg_src" ] || neg_src=$work/debian-unsigned.Image.gz
if [ -s "$neg_src" ]; then
  size=$(stat -c %s "$neg_src") off=$(($(stat -c %s "$neg_src") / 2))
  cp "$neg_src" "$work/corrupt.gz"
  old=$(od -An -tu1 -j "$off" -N1 "$work/corrupt.gz" | tr -d ' ')
  printf "$(printf '\\%03o' $((old ^ 0xff)))" | dd of="$work/corrupt.gz" bs=1 seek="$off" conv=notrunc status=none
  cmp -s "$work/corrupt.gz" "$neg_src" && kp_die "corrupting $work/corrupt.gz failed"
  kp_log "negative-corrupt: byte $off of $size flipped"
  negative negative-corrupt "$work/corrupt.gz"
  head -c "$off" "$neg_src" >"$work/truncated.gz"
  negative negative-truncated "$work/truncated.gz"
else
  fail negative-corrupt "no Image.gz to corrupt"
  fail negative-truncated "no Image.gz to truncate"
fi

echo
printf '%s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
