#!/usr/bin/env bash
# probe-run load on Debian's own arm64 kernels, which have kexec_load but no
# kexec_file_load (CONFIG_KEXEC=y, "# CONFIG_KEXEC_FILE is not set"): the
# newest 7.x in trixie-backports (resolved from the archive by
# tests/fetch-debian-kernels.sh --series 7) and trixie's 6.12 (the signed
# Image), each booted as the first kernel with the busybox initramfs and the
# static aarch64 probe-run:
#   config       the 7.x package's config says KEXEC=y and KEXEC_FILE not set
#   baseline     --syscall file: ENOSYS, explained; a corrupt Image.gz is refused
#                before any system call; auto falls back to kexec_load and says why
#   exec         probe-run load --exec of the gzip'd Debian kernel and of our
#                Image.gz: the second kernel boots and prints the marker only its
#                command line carries; the load line says kexec_load
#   refusals     --dtb of a file that is no device tree: refused before the system
#                call; under lockdown (integrity) kexec_load is EPERM, explained
#   purgatory    the committed purgatory bytes are what gen-purgatory.sh assembles
#   crash        with crashkernel=: load --crash (our Image.gz on both Debian kernels,
#                the gzip'd Debian 7.x kernel on itself), a memory marker, a panic
#                (sysrq c): the crash kernel's /proc/vmcore is ET_CORE, covers the
#                RAM outside the crash region and holds the marker
# Ends with "N passed, M failed"; exit 1 on any failure.
# KP_KERNEL_DIR=DIR uses that kernel dir (Image, Image.gz) instead of kp_kernel_dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kexec-lib.sh"
cd "$KP_REPO"

kdir=${KP_KERNEL_DIR:-$(kp_kernel_dir)}
guest_probe_run=$(qemu/build-guest-probe-run.sh)
deb7=$(tests/fetch-debian-kernels.sh --series 7)
deb7_image=$(awk '$1 == "7x" {print $2}' <<<"$deb7")
deb7_config=$(awk '$1 == "7x-config" {print $2}' <<<"$deb7")
deb612_image=$(tests/fetch-debian-kernels.sh | awk '$1 == "signed" {print $2}')

work=$KP_CACHE/classic-test
mkdir -p "$work/images-7" "$work/images-612"
gz() { # SRC DST: gzip -9 once per source (a newer source is compressed again)
  if [ ! -s "$2" ] || [ "$2" -ot "$1" ]; then
    kp_log "gzip -9 $(basename "$(dirname "$1")")"
    gzip -9n -c "$1" >"$2.tmp" && mv "$2.tmp" "$2"
  fi
}
gz "$deb7_image" "$work/images-7/debian7.gz"
gz "$deb612_image" "$work/images-612/debian612.gz"
second=$(kp_initramfs)
for d in images-7 images-612; do
  cp "$kdir/Image.gz" "$second" "$work/$d/"
  mv "$work/$d/$(basename "$second")" "$work/$d/second.cpio.gz"
done
python3 - "$kdir/Image.gz" "$work/images-7/corrupt.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 2] ^= 0x55
open(sys.argv[2], "wb").write(d)
PY
guest() { kp_initramfs --add "$guest_probe_run:/bin/probe-run" --add "$1:/images" \
  --add "$KP_REPO/qemu/guest-kexec/kexec.sh:/scenarios/kexec.sh"; }
initrd7=$(guest "$work/images-7")
initrd612=$(guest "$work/images-612")

# --- the purgatory probe-run carries is what its source assembles to --------------------
result "$(userspace-harness/purgatory/gen-purgatory.sh --check >&2 && echo 1 || echo 0)" \
  "userspace-harness/src/purgatory_blob.rs is what gen-purgatory.sh assembles from purgatory.S"

# --- the artefact: Debian's 7.x kernel has kexec_load and no kexec_file_load -------------
ver7=$(basename "$(dirname "$deb7_image")")
result "$(grep -qx 'CONFIG_KEXEC=y' "$deb7_config" && grep -qx '# CONFIG_KEXEC_FILE is not set' "$deb7_config" &&
  grep -qx 'CONFIG_CRASH_DUMP=y' "$deb7_config" && echo 1 || echo 0)" \
  "$ver7: config has CONFIG_KEXEC=y, CONFIG_CRASH_DUMP=y, # CONFIG_KEXEC_FILE is not set"

# --- Debian 7.x: baseline, then kdump, in one boot --------------------------------------
first=$deb7_image initrd=$initrd7
mem=1024 crash=64
read -r rc log next < <(boot deb7-baseline-crash classic-baseline "crashkernel=${crash}M kp.image=Image.gz" "" "${mem}M")
l=$(line KP-FILE-ONLY "$log")
result $([[ $l == "KP-FILE-ONLY ENOSYS loaded=0 explained=1" ]] && echo 1 || echo 0) "Debian 7.x: --syscall file is ENOSYS, explained ($l)"
l=$(line KP-NEGATIVE "$log")
result $([[ $l == "KP-NEGATIVE exit=1 refused=1 attempted=0 loaded=0" ]] && echo 1 || echo 0) "Debian 7.x: a corrupt Image.gz is refused before any system call ($l)"
l=$(line "KP-AUTO " "$log")
result $([[ $l == "KP-AUTO exit=0 loaded=1 1" ]] && echo 1 || echo 0) "Debian 7.x: auto loads Image.gz with kexec_load, saying kexec_file_load is ENOSYS ($l)"
l=$(line KP-AUTO-UNLOAD "$log")
result $([[ $l == "KP-AUTO-UNLOAD loaded=0" ]] && echo 1 || echo 0) "Debian 7.x: --unload unloads it (kexec_load) ($l)"
check_crash "$log" "$rc" "$next" kexec_load "$mem" "$crash" "Debian 7.x kdump of our Image.gz"

# --- Debian's own kernel as its own crash kernel (the gzip'd 7.x Image) --------------------
read -r rc log next < <(boot deb7-crash-debian7 crash-dump "crashkernel=192M kp.image=debian7.gz" "" "${mem}M")
check_crash "$log" "$rc" "$next" kexec_load "$mem" 192 "Debian 7.x kdump of the gzip'd Debian 7.x kernel"

# --- refusals: a device tree that is none, lockdown ---------------------------------------
read -r rc log _ < <(boot deb7-lockdown lockdown "")
l=$(line KP-BAD-DTB "$log")
result $([[ $l == "KP-BAD-DTB exit=2 refused=1 loaded=0" ]] && echo 1 || echo 0) "Debian 7.x: --dtb of a file that is no device tree is refused before the system call ($l)"
l=$(line KP-LOCKDOWN "$log")
result $([[ $l == "KP-LOCKDOWN exit=1 EPERM explained=1 loaded=0" ]] && [[ $(line KP-LOCKDOWN-SET "$log") == *"[integrity]"* ]] && echo 1 || echo 0) \
  "Debian 7.x under lockdown=integrity: kexec_load is EPERM, explained ($l)"

# --- exec: Debian 7.x into the gzip'd Debian 7.x kernel and into our Image.gz -------------
for img in debian7.gz Image.gz; do
  read -r rc log next < <(boot "deb7-exec-$img" exec "kp.image=$img")
  check_exec "$log" "$rc" "$next" kexec_load "Debian 7.x: probe-run load --exec $img"
done

# --- Debian 6.12 (the signed Image): exec into its gzip'd self and into our Image.gz ------
first=$deb612_image initrd=$initrd612
for img in debian612.gz Image.gz; do
  read -r rc log next < <(boot "deb612-exec-$img" exec "kp.image=$img")
  check_exec "$log" "$rc" "$next" kexec_load "Debian 6.12: probe-run load --exec $img"
done
read -r rc log next < <(boot deb612-crash crash-dump "crashkernel=${crash}M kp.image=Image.gz" "" "${mem}M")
check_crash "$log" "$rc" "$next" kexec_load "$mem" "$crash" "Debian 6.12 kdump of our Image.gz"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
