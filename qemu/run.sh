#!/usr/bin/env bash
# Boot a kernel in qemu-system-aarch64 with the test guest and decide pass/fail
# from the serial console.
#
#   qemu/run.sh --kernel IMAGE [options]
#     --initrd CPIO       guest initramfs (default: qemu/initramfs.sh output)
#     --scenario NAME     kp.scenario= for the guest's /init (default: boot)
#     --marker STR        kp.marker= the guest must print as "KP-BOOTED STR"
#                         (default: a random one)
#     --append ARGS       extra kernel command-line arguments
#     --cmdline LINE      the whole kernel command line instead (a UKI's own;
#                         it must carry kp.marker=<--marker>)
#     --timeout SEC       hard limit for the whole run (default: 180)
#     --log FILE          console log (default: a new file under $KP_CACHE/logs)
#     --expect-marker-only  pass once the marker is seen (no KP-RESULT needed)
#     --efi               boot through UEFI firmware (QEMU_EFI.fd, acpi=off):
#                         needed for vmlinuz.efi (zboot); the command line
#                         is then given with -append too (EFI stub reads it)
#     --acpi              with --efi: QEMU's plain `-M virt` (ACPI tables, which
#                         the firmware then gives the kernel instead of a DT)
#     --uki               the image is a UKI: no -initrd and no -append (the
#                         stub takes its embedded .initrd and .cmdline; the
#                         marker must be in that command line)
#     --smp N  --mem SIZE --cpu MODEL   (defaults: 1, 1G, cortex-a57)
#     --interactive       console on this terminal, kp.shell=1, no checks
# Exit 0 when the console shows "KP-BOOTED <marker>" and
# "KP-RESULT <scenario> PASS"; otherwise 1, after printing the console tail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel='' initrd='' scenario=boot marker='' append='' whole_cmdline='' timeout_s=180 log='' efi=0 smp=1 mem=1G cpu=cortex-a57
interactive=0 marker_only=0 acpi=0 uki=0
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --scenario) scenario=$2; shift 2 ;;
    --marker) marker=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --cmdline) whole_cmdline=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --efi) efi=1; shift ;;
    --acpi) acpi=1; shift ;;
    --uki) uki=1; efi=1; shift ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --interactive) interactive=1; shift ;;
    --expect-marker-only) marker_only=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) kp_die "unknown argument: $1 (see --help)" ;;
  esac
done
[ -n "$kernel" ] || kp_die "--kernel IMAGE is required"
[ -s "$kernel" ] || kp_die "kernel image $kernel missing or empty"
if [ $uki = 0 ]; then
  [ -n "$initrd" ] || initrd=$("$KP_REPO/qemu/initramfs.sh")
  [ -s "$initrd" ] || kp_die "initramfs $initrd missing or empty"
fi
[ -n "$marker" ] || marker=kp-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
case $marker$scenario in *[!A-Za-z0-9._-]*) kp_die "marker and scenario: [A-Za-z0-9._-] only" ;; esac
if [ -z "$log" ]; then
  mkdir -p "$KP_CACHE/logs"
  log=$KP_CACHE/logs/$(date +%Y%m%d-%H%M%S)-$scenario-$marker.log
fi

cmdline="console=ttyAMA0 panic=-1 kp.scenario=$scenario kp.marker=$marker"
[ $interactive = 1 ] && cmdline="$cmdline kp.shell=1"
[ -n "$append" ] && cmdline="$cmdline $append"
[ -n "$whole_cmdline" ] && cmdline=$whole_cmdline
machine=virt
qargs=(-cpu "$cpu" -smp "$smp" -m "$mem" -nic none -no-reboot -kernel "$kernel")
[ $uki = 1 ] || qargs+=(-initrd "$initrd" -append "$cmdline")
if [ $efi = 1 ]; then
  fw=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
  [ -f "$fw" ] || kp_die "$fw missing: run qemu/setup.sh"
  [ $acpi = 1 ] || machine=virt,acpi=off
  qargs+=(-bios "$fw")
fi

if [ $interactive = 1 ]; then
  exec qemu-system-aarch64 -M "$machine" -nographic "${qargs[@]}"
fi

kp_log "booting $(basename "$kernel") scenario=$scenario marker=$marker (timeout ${timeout_s}s, log $log)"
: >"$log"
t0=$(date +%s)
set +e
timeout -k 5 "$timeout_s" qemu-system-aarch64 -M "$machine" -display none -monitor none \
  -serial "file:$log" "${qargs[@]}" </dev/null >"$log.qemu" 2>&1
rc=$?
set -e
dt=$(($(date +%s) - t0))

fail=
grep -aq "^KP-BOOTED $marker\b" "$log" || fail="marker 'KP-BOOTED $marker' not seen"
if [ -z "$fail" ] && [ $marker_only = 0 ]; then
  if grep -aq "^KP-RESULT $scenario PASS" "$log"; then :
  elif grep -aq "^KP-RESULT $scenario " "$log"; then fail="scenario $scenario: $(grep -a "^KP-RESULT $scenario " "$log" | tail -n1 | tr -d '\r')"
  else fail="no KP-RESULT line for scenario $scenario"; fi
fi
[ $rc -eq 124 ] || [ $rc -eq 137 ] && fail="${fail:+$fail; }timed out after ${timeout_s}s"
if [ -z "$fail" ] && [ $rc -ne 0 ]; then fail="qemu exited with $rc"; fi

if [ -n "$fail" ]; then
  {
    echo "---- last 40 console lines ($log) ----"
    tail -n 40 "$log" | tr -d '\r'
    [ -s "$log.qemu" ] && { echo "---- qemu output ----"; tail -n 20 "$log.qemu"; }
    echo "----"
  } >&2
  kp_log "FAIL: $fail (${dt}s)"
  exit 1
fi
kp_log "ok: $(grep -a "^KP-BOOTED $marker" "$log" | head -n1 | tr -d '\r') (${dt}s)"
rm -f "$log.qemu"
exit 0
