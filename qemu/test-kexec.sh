#!/usr/bin/env bash
# probe-run load in a real arm64 guest (the kernel qemu/build-kernel.sh builds,
# with kexec_file and a crashkernel reservation), end to end:
#   baseline     the kernel's own kexec_file_load refuses Image.gz and vmlinuz.efi (EINVAL);
#                a corrupted Image.gz is refused by probe-run before any system call;
#                a raw Image from a pipe loads from the probed bytes (not a second open);
#                --crash loads when crashkernel= is what the report says
#   crash-small  with crashkernel= 2 MiB below that: EADDRNOTAVAIL, the message names the size
#                (from kexec_file_load, and from probe-run's own layout with --syscall classic)
#   exec         `probe-run load --exec` of our Image.gz, our vmlinuz.efi, the gzip'd
#                Debian-signed 6.12 kernel and a UKI (ukify) of our Image: each second
#                kernel boots and prints the marker that only its own command line carries
#                (the UKI's: its embedded .cmdline, with its embedded .initrd); and
#                Image.gz once more with --syscall classic (kexec_load: probe-run places
#                the segments, device tree and purgatory itself)
#   kdump        with crashkernel=64M, --syscall file and --syscall classic: load --crash,
#                a memory marker, a panic; the crash kernel's /proc/vmcore is ET_CORE,
#                covers the RAM outside the crash region and holds the marker
# Ends with "N passed, M failed"; exit 1 on any failure.
# KP_KERNEL_DIR=DIR uses that kernel dir (Image, Image.gz, vmlinuz.efi) instead of kp_kernel_dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kexec-lib.sh"
cd "$KP_REPO"

kdir=${KP_KERNEL_DIR:-$(kp_kernel_dir)}
guest_probe_run=$(qemu/build-guest-probe-run.sh)
cargo build --release -q -p userspace-harness
host_probe_run=$KP_REPO/target/release/probe-run
signed=$(tests/fetch-debian-kernels.sh | awk '$1 == "signed" {print $2}')

work=$KP_CACHE/kexec-test
images=$work/images
mkdir -p "$images"
cp "$kdir/Image" "$kdir/Image.gz" "$kdir/vmlinuz.efi" "$images/"
if [ ! -s "$images/debian-signed.gz" ] || [ "$images/debian-signed.gz" -ot "$signed" ]; then
  kp_log "gzip -9 Debian's signed kernel"
  gzip -9 -c "$signed" >"$images/debian-signed.gz.tmp" && mv "$images/debian-signed.gz.tmp" "$images/debian-signed.gz"
fi
python3 - "$kdir/Image.gz" "$images/corrupt.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 2] ^= 0x55
open(sys.argv[2], "wb").write(d)
PY
cp "$(kp_initramfs)" "$images/second.cpio.gz"
# A UKI (ukify, systemd's arm64 stub) of our Image with the second
# initramfs and a command line that carries its marker.
uki_marker=uki-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
kp_uki "$images/own.uki.efi" "$kdir/Image" "$images/second.cpio.gz" \
  "console=ttyAMA0 panic=-1 kp.scenario=boot kp.marker=$uki_marker"

# The reservation the report asks for (kernel + this initrd), from the host probe-run.
needed=$("$host_probe_run" --json --initrd "$images/second.cpio.gz" "$images/Image.gz" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["crashkernel_min"])')
needed_mib=$(((needed + 1048575) / 1048576))
kp_log "report: crashkernel_min=$needed bytes -> crashkernel=${needed_mib}M"

initrd=$(kp_initramfs --add "$guest_probe_run:/bin/probe-run" --add "$images:/images" \
  --add "$KP_REPO/qemu/guest-kexec/kexec.sh:/scenarios/kexec.sh")

first=$kdir/Image

# --- baseline, negative, crash with the right size --------------------------------------
read -r rc log _ < <(boot baseline baseline "crashkernel=${needed_mib}M")
result $([ "$rc" = 0 ] && echo 1 || echo 0) "baseline guest ran (log $log)"
for f in Image.gz vmlinuz.efi; do
  l=$(line "KP-BASELINE $f" "$log")
  result $([[ $l == "KP-BASELINE $f EINVAL loaded=0" ]] && echo 1 || echo 0) "kexec_file_load of raw $f: EINVAL from the kernel ($l)"
done
l=$(line KP-NEGATIVE "$log")
result $([[ $l == "KP-NEGATIVE exit=1 refused=1 attempted=0 loaded=0" ]] && echo 1 || echo 0) "corrupt Image.gz refused before any system call, nothing loaded ($l)"
l=$(line "KP-PIPE " "$log")
result $([[ $l == "KP-PIPE exit=0 loaded=1 memfd=1" ]] && echo 1 || echo 0) "a raw Image from a pipe loads from the bytes probed (sealed memfd), not a second open ($l)"
l=$(line KP-PIPE-UNLOAD "$log")
result $([[ $l == "KP-PIPE-UNLOAD loaded=0" ]] && echo 1 || echo 0) "--unload unloads it ($l)"
l=$(line KP-CRASH-FIT "$log")
result $([[ $l == "KP-CRASH-FIT exit=0 crash_loaded=1 crashkernel=${needed_mib}M" ]] && echo 1 || echo 0) "--crash loads with crashkernel=${needed_mib}M, the size the report names ($l)"

# --- crash with 2 MiB less -------------------------------------------------------------
small=$((needed_mib - 2))
read -r rc log _ < <(boot crash-small crash-small "crashkernel=${small}M")
l=$(line "KP-CRASH-SMALL " "$log")
result $([[ $l == "KP-CRASH-SMALL exit=1 errno=EADDRNOTAVAIL crash_loaded=0 needs=$needed" ]] && echo 1 || echo 0) \
  "--crash with crashkernel=${small}M: EADDRNOTAVAIL naming the needed $needed bytes ($l)"
l=$(line KP-CRASH-SMALL-CLASSIC "$log")
result $([[ $l == "KP-CRASH-SMALL-CLASSIC exit=1 errno=EADDRNOTAVAIL crash_loaded=0 needs=$needed" ]] && echo 1 || echo 0) \
  "--syscall classic --crash with crashkernel=${small}M: refused before kexec_load, EADDRNOTAVAIL naming the same $needed bytes ($l)"

# --- exec: each second kernel boots with its own marker ----------------------------------
for img in Image.gz vmlinuz.efi debian-signed.gz own.uki.efi; do
  marker=
  [ "$img" = own.uki.efi ] && marker=$uki_marker
  read -r rc log next < <(boot "exec-$img" exec "kp.image=$img" $marker)
  ok=0
  if [ "$rc" = 0 ] && grep -aq "^KP-BOOTED $next" "$log" && grep -aq "kexec_file_load accepted" "$log"; then ok=1; fi
  if [ "$img" = own.uki.efi ] && ! grep -aq "load: from the UKI: .initrd and .cmdline" "$log"; then ok=0; fi
  kernel=$(line "KP-BOOTED $next" "$log" | grep -o 'kernel=[^ ]*' || true)
  result $ok "probe-run load --exec $img: the second kernel boots and prints $next ($kernel)"
done
read -r rc log next < <(boot exec-classic-Image.gz exec "kp.image=Image.gz kp.syscall=classic")
check_exec "$log" "$rc" "$next" kexec_load "probe-run load --syscall classic --exec Image.gz"

# --- kdump through either system call ----------------------------------------------------
for sc in file classic; do
  read -r rc log next < <(boot "kdump-$sc" crash-dump "crashkernel=64M kp.image=Image.gz kp.syscall=$sc")
  check_crash "$log" "$rc" "$next" "$([ $sc = file ] && echo kexec_file_load || echo kexec_load)" 1024 64 \
    "our kernel, --syscall $sc"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
