#!/usr/bin/env bash
# The kernel's own kexec_file_load() of compressed kernels, with kernel_probe.ko
# registered as its decompressor (qemu/patches/0001-*), in a real arm64 guest
# (the kernel qemu/build-kernel.sh builds: patched, KEXEC_SIG with a throw-away
# trusted key, lockdown LSM). Every load is `probe-run load --no-probe`: the
# file reaches the system call untouched.
#   loads        without the module Image.gz and vmlinuz.efi get EINVAL (the
#                baseline); with it, Image.gz, vmlinuz.efi (gzip zboot), the
#                gzip'd Debian-signed kernel, a zstd zboot, Image.zst and a UKI
#                load (0) and the module says what it made, of the size
#                probe-run reports; a raw Image is left to the stock path;
#                corrupt gzip -> EBADMSG, a 2 GiB bomb -> EFBIG (guest memory
#                unchanged), Image.xz -> EINVAL; --crash loads at crashkernel_min;
#                rmmod while loads run is refused or lands between them, never
#                a crash; after rmmod, and with kexec_hook=0, the stock EINVAL;
#                under lockdown (forced verification): signed by the build's key
#                -> 0, tampered -> EPERM, unsigned -> EPERM, zboot signed only
#                outside -> 0, Debian's (an untrusted key) -> EPERM, the raw
#                signed Image -> 0
#   crash-small  crashkernel= 2 MiB below crashkernel_min: EADDRNOTAVAIL
#   exec         each of Image.gz, vmlinuz.efi, the gzip'd Debian kernel, the UKI:
#                --exec boots the second kernel to the marker of its command line
#   kdump        the crash kernel from Image.gz; `echo c > /proc/sysrq-trigger`
#                boots it and it finds the first kernel's memory in /proc/vmcore
# The console must show no Oops, BUG, WARNING, KASAN, kmemleak or lockdep report.
#   KP_KERNEL_FLAVOUR=debug  the same on the debug kernel (KASAN, kmemleak,
#                lockdep; kmemleak must find nothing after rmmod)
# Ends with "N passed, M failed"; exit 1 on any failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KP_REPO"

flavour=${KP_KERNEL_FLAVOUR:-}
[ "$flavour" = default ] && flavour=
kdir=$(kp_kernel_dir)
work=$KP_CACHE/kexec-hook${flavour:+-$flavour}
images=$work/images
mkdir -p "$images"
ko=$(kp_kernel_module "$kdir" "$flavour" "$work/kmod-build.log")
guest_probe_run=$(qemu/build-guest-probe-run.sh)
cargo build --release -q -p userspace-harness -p kernel-probe-tests
host_probe_run=$KP_REPO/target/release/probe-run
signed=$(tests/fetch-debian-kernels.sh | awk '$1 == "signed" {print $2}')
# The second kernels are the default flavour's (the debug one boots too slowly
# to be worth a second boot); the zstd zboot comes from the zstd flavour.
own=$kdir
[ -z "$flavour" ] || own=$(KP_KERNEL_FLAVOUR='' qemu/build-kernel.sh)
zstd_kdir=$(KP_KERNEL_FLAVOUR=zstd qemu/build-kernel.sh)
kp_apt_install sbsigntool xz-utils zstd >&2

# --- the images (remade when the kernel changes) ------------------------------------
stamp=$( (cat "$own/Image" "$kdir/kexec-test.crt" "$zstd_kdir/vmlinuz.efi" "$signed" qemu/test-kexec-hook.sh tests/src/corpus.rs) | sha256sum | cut -c1-16)
if [ "$(cat "$images/.stamp" 2>/dev/null)" != "$stamp" ]; then
  kp_log "making the test images in $images"
  rm -rf "$images" && mkdir -p "$images"
  cp "$own/Image" "$own/Image.gz" "$own/vmlinuz.efi" "$images/"
  cp "$zstd_kdir/vmlinuz.efi" "$images/zboot-zstd.efi"
  zstd -q -19 -c "$own/Image" >"$images/Image.zst"
  xz -1 -c "$own/Image" >"$images/Image.xz"
  gzip -9 -c "$signed" >"$images/debian-signed.gz"
  python3 - "$own/Image.gz" "$images/corrupt.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 2] ^= 0x55
open(sys.argv[2], "wb").write(d)
PY
  # The corpus' 2 GiB bomb (an Image header claiming 2 GiB, then zeros: 2 MB of
  # gzip), from the corpus the module test uses (cached, shared).
  cp "$(kp_corpus "$own/Image")/bomb-2g.gz" "$images/"
  # Signed with this build's trusted key; tampered after signing (one byte in
  # .text); our zboot signed on the outside only (its inner Image unsigned).
  sbsign --key "$kdir/kexec-test.key" --cert "$kdir/kexec-test.crt" --output "$images/signed.Image" "$own/Image" 2>/dev/null
  gzip -9 -c "$images/signed.Image" >"$images/signed.gz"
  python3 - "$images/signed.Image" "$images/tampered" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[0x20000] ^= 0x01
open(sys.argv[2], "wb").write(d)
PY
  gzip -9 -c "$images/tampered" >"$images/tampered.gz" && rm "$images/tampered"
  sbsign --key "$kdir/kexec-test.key" --cert "$kdir/kexec-test.crt" --output "$images/signed-outer.efi" "$own/vmlinuz.efi" 2>/dev/null
  cp "$(kp_initramfs)" "$images/second.cpio.gz"
  kp_uki "$images/own.uki.efi" "$own/Image" "$images/second.cpio.gz" "console=ttyAMA0 panic=-1"
  echo "$stamp" >"$images/.stamp"
fi
# What probe-run says of each image on the host: the module must make the same.
declare -A want_bytes want_format
for f in Image.gz vmlinuz.efi debian-signed.gz zboot-zstd.efi Image.zst own.uki.efi; do
  read -r want_format[$f] want_bytes[$f] < <("$host_probe_run" --json "$images/$f" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["format"], r["image_bytes"])')
done
needed=$("$host_probe_run" --json --initrd "$images/second.cpio.gz" "$images/Image.gz" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["crashkernel_min"])')
needed_mib=$(((needed + 1048575) / 1048576))
kp_log "report: crashkernel_min=$needed bytes -> crashkernel=${needed_mib}M"

initrd=$(kp_initramfs --add "$guest_probe_run:/bin/probe-run" --add "$ko:/lib/kernel_probe.ko" \
  --add "$images:/images" --add "$KP_REPO/qemu/guest-kexec/hook.sh:/scenarios/hook.sh")

passed=0 failed=0
result() { # OK WHAT
  if [ "$1" = 1 ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi
}
rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }
runargs=(--timeout 400)
[ -z "$flavour" ] || runargs=(--timeout 1200 --mem 2G)
# boot NAME MODE EXTRA-APPEND [--marker-only] -> "rc log next"
boot() {
  local name=$1 mode=$2 extra=$3 only=${4:-} next=second-$(rand) log=$work/$1.log rc=0
  local args=(--kernel "$kdir/Image" --initrd "$initrd" --scenario hook "${runargs[@]}" --log "$log")
  if [ -n "$only" ]; then
    qemu/run.sh "${args[@]}" --marker "$next" --expect-marker-only \
      --append "kp.marker=first-$(rand) kp.hook=$mode kp.next=$next $extra" >&2 || rc=$?
  else
    qemu/run.sh "${args[@]}" --append "kp.hook=$mode kp.next=$next $extra" >&2 || rc=$?
  fi
  echo "$rc $log $next"
}
line() { grep -a "^$1" "$2" | tail -n1 | tr -d '\r'; }
check_line() { # LOG PREFIX REGEX WHAT
  local l
  l=$(line "$2" "$1")
  result $([[ $l =~ $3 ]] && echo 1 || echo 0) "$4 ($l)"
}
clean_console() { # LOG WHAT
  local bad
  bad=$(grep -aE 'Oops|BUG:|WARNING:|Kernel panic - not syncing: [^s]|KASAN|kmemleak: [0-9]+ new suspected|possible circular locking|INFO: task|soft lockup|list_(add|del) corruption' "$1" | head -n3 | tr -d '\r' || true)
  result $([ -z "$bad" ] && echo 1 || echo 0) "$2: console has no kernel report${bad:+ ($bad)}"
}
ok_load() { # LOG FILE
  local f=$2 fmt=${want_format[$2]} n=${want_bytes[$2]}
  check_line "$1" "KP-HOOK $f " "^KP-HOOK $f rc=0 errno=0 loaded=1 crash_loaded=0 module=\[kernel_probe: kexec_file_load: $fmt -> Image of $n bytes;\]$" \
    "stock kexec_file_load of $f = 0 with the module, which made the ${n}-byte Image probe-run reports ($fmt)"
}
err_load() { # LOG CASE ERRNO WHAT [MODULE-REGEX]
  check_line "$1" "KP-HOOK $2 " "^KP-HOOK $2 rc=1 errno=$3 loaded=0 crash_loaded=0 module=\[${5:-}\]$" "$4"
}

# KP_HOOK_CASES="loads kdump" runs some of the boots (all by default).
cases=" ${KP_HOOK_CASES:-loads crash-small exec kdump} "
want() { [[ $cases == *" $1 "* ]]; }

# --- loads ---------------------------------------------------------------------------------
if want loads; then
read -r rc log _ < <(boot loads loads "crashkernel=${needed_mib}M")
result $([ "$rc" = 0 ] && echo 1 || echo 0) "loads guest ran (log $log)"
err_load "$log" baseline-Image.gz EINVAL "without the module: kexec_file_load of Image.gz is EINVAL (the baseline)"
err_load "$log" baseline-vmlinuz.efi EINVAL "without the module: kexec_file_load of vmlinuz.efi is EINVAL (the baseline)"
check_line "$log" "KP-HOOK-INSMOD" "decompressor registered$" "insmod registers the decompressor"
for f in Image.gz vmlinuz.efi debian-signed.gz zboot-zstd.efi Image.zst own.uki.efi; do ok_load "$log" "$f"; done
check_line "$log" "KP-HOOK Image " '^KP-HOOK Image rc=0 errno=0 loaded=1 crash_loaded=0 module=\[\]$' \
  "a raw Image loads by the stock path (the module says 'not mine': no line)"
err_load "$log" corrupt.gz EBADMSG "a corrupt Image.gz: EBADMSG from the module" 'kernel_probe: kexec_file_load: refused gzip: [^;]*\(EBADMSG\);'
err_load "$log" bomb-2g.gz EFBIG "a 2 GiB gzip bomb: EFBIG at max_image_size" 'kernel_probe: kexec_file_load: refused gzip: [^;]*\(EFBIG\);'
mem=$(line KP-HOOK-MEM "$log")
before=$(sed -n 's/.*before=\([0-9]*\).*/\1/p' <<<"$mem") after=$(sed -n 's/.*after=\([0-9]*\).*/\1/p' <<<"$mem")
result $([ -n "$before" ] && [ -n "$after" ] && [ $((before - after)) -lt 16384 ] && echo 1 || echo 0) \
  "the bomb leaves guest memory as it was (MemFree $before -> $after kB)"
err_load "$log" Image.xz EINVAL "Image.xz: EINVAL, named by the module" 'kernel_probe: kexec_file_load: refused [a-z]*: [^;]*\(EINVAL\);'
check_line "$log" "KP-HOOK crash-fit" "^KP-HOOK crash-fit rc=0 crash_loaded=1 crashkernel=${needed_mib}M$" \
  "--crash of Image.gz (stock syscall) loads at crashkernel=${needed_mib}M, the size probe-run reports"
check_line "$log" "KP-HOOK-RACE" '^KP-HOOK-RACE ok=[1-6] einval=[0-5] other=0 rmmod_busy=[1-9][0-9]*$' \
  "rmmod while loads run: refused while a load is inside the module, each load either loads or gets the stock EINVAL"
err_load "$log" after-rmmod EINVAL "after rmmod: the stock EINVAL again"
check_line "$log" "KP-HOOK-INSMOD" "decompressor registered$" "insmod again registers again"
err_load "$log" hook-off EINVAL "kexec_hook=0: the module leaves kexec_file_load alone (EINVAL)"
result $(grep -aq 'kernel_probe: kexec_file_load decompressor off (kexec_hook=0)' "$log" && echo 1 || echo 0) \
  "kexec_hook=0 is logged"
if [ -n "$flavour" ]; then
  check_line "$log" "KP-HOOK-KMEMLEAK" '^KP-HOOK-KMEMLEAK 0$' "kmemleak: nothing unreferenced after the loads and rmmod"
  # The checkers are live (a report-free console means something), and the
  # module itself is instrumented.
  for live in 'KernelAddressSanitizer initialized' 'Lock dependency validator' 'kmemleak: Kernel memory leak detector initialized'; do
    result $(grep -aq "$live" "$log" && echo 1 || echo 0) "debug kernel: '$live' on the console"
  done
  asan=$(llvm-nm$KP_LLVM_SUFFIX -u "$ko" | grep -c ' __asan_' || true)
  result $([ "$asan" -gt 0 ] && echo 1 || echo 0) "the module is KASAN-instrumented ($asan __asan_* symbols)"
fi
check_line "$log" "KP-HOOK-LOCKDOWN" '\[integrity\]' "lockdown raised to integrity (verification forced)"
check_line "$log" "KP-HOOK sig-signed.gz " '^KP-HOOK sig-signed.gz rc=0 errno=0 loaded=1 ' \
  "forced verification: Image.gz signed by the build's trusted key loads (the kernel checked the decompressed Image)"
err_load "$log" sig-tampered.gz EPERM "forced verification: the signed Image tampered after signing, gzip'd: EPERM" 'kernel_probe: kexec_file_load: gzip -> Image of [0-9]* bytes;'
err_load "$log" sig-Image.gz EPERM "forced verification: the unsigned Image.gz: EPERM" 'kernel_probe: kexec_file_load: gzip -> Image of [0-9]* bytes;'
check_line "$log" "KP-HOOK sig-signed-outer.efi " '^KP-HOOK sig-signed-outer.efi rc=0 errno=0 loaded=1 ' \
  "forced verification: a zboot signed only outside (inner Image unsigned) loads on the file's signature"
err_load "$log" sig-debian-signed.gz EPERM "forced verification: Debian's kernel (a key this kernel does not trust): EPERM" 'kernel_probe: kexec_file_load: gzip -> Image of [0-9]* bytes;'
check_line "$log" "KP-HOOK sig-signed.Image " '^KP-HOOK sig-signed.Image rc=0 errno=0 loaded=1 crash_loaded=0 module=\[\]$' \
  "forced verification: the raw signed Image loads by the stock path"
grep -a '^KP-MEASURE' "$log" | tr -d '\r' | sed 's/^/  /'
clean_console "$log" loads
fi

# --- crash-small ------------------------------------------------------------------------------
if want crash-small; then
small=$((needed_mib - 2))
read -r rc log _ < <(boot crash-small crash-small "crashkernel=${small}M")
check_line "$log" "KP-HOOK crash-small " '^KP-HOOK crash-small rc=1 errno=EADDRNOTAVAIL .*crash_loaded=0 ' \
  "--crash of Image.gz with crashkernel=${small}M (2 MiB under crashkernel_min): EADDRNOTAVAIL"
fi

# --- exec: each second kernel boots with its own marker ----------------------------------------
want exec && for img in Image.gz vmlinuz.efi debian-signed.gz own.uki.efi; do
  read -r rc log next < <(boot "exec-$img" exec "kp.image=$img" marker-only)
  ok=0
  if [ "$rc" = 0 ] && grep -aq "^KP-BOOTED $next" "$log" && grep -aq "kexec_file_load accepted the file as it is" "$log" &&
    grep -aq "kernel_probe: kexec_file_load: ${want_format[$img]} -> Image" "$log"; then ok=1; fi
  kernel=$(grep -a "^KP-BOOTED $next" "$log" | grep -o 'kernel=[^ ]*' | tr -d '\r')
  result $ok "stock kexec_file_load + kexec of $img: the second kernel boots and prints $next ($kernel)"
  clean_console "$log" "exec $img"
done

# --- kdump ----------------------------------------------------------------------------------------
if want kdump; then
# The crash kernel must also *run* in the reservation: crashkernel_min is the
# bound for loading it (kernel, initrd, DTB); 64 MiB more leaves it room to boot.
kdump_mib=$((needed_mib + 64))
read -r rc log next < <(boot kdump kdump "crashkernel=${kdump_mib}M" marker-only)
check_line "$log" "KP-KDUMP " '^KP-KDUMP crash_loaded=1 module=\[kernel_probe: kexec_file_load: gzip -> Image of [0-9]+ bytes;\]$' \
  "the crash kernel loads from Image.gz through the module"
hex=$(line "KP-MEMMARK" "$log" | awk '{print $2}')
result $(grep -aq "^KP-BOOTED $next" "$log" && echo 1 || echo 0) \
  "echo c > /proc/sysrq-trigger: the crash kernel boots and prints $next"
check_line "$log" "KP-VMCORE" "^KP-VMCORE size=[1-9][0-9]* elf=7f454c46 type=4 phnum=[1-9][0-9]* memmark=KPMEMMARK${hex:-none}$" \
  "the crash kernel's /proc/vmcore is an ELF core with the first kernel's memory (marker KPMEMMARK$hex)"
clean_console "$log" "kdump (the panic is sysrq's own)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
