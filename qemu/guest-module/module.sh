# Guest side of qemu/test-module.sh (busybox sh). Needs /lib/kernel_probe.ko and
# /corpus (with cases.tsv). Prints machine-readable lines; the host compares.
#   KP-MOD <file> <bs> <json>      one probe of each corpus file through the device
#   KP-PAR <file> <json>           16 concurrent writers
#   KP-SMALL <file> <json>         with max_image_size=16 MiB
#   KP-TIME <file> <ms>            probe time in the guest (informational)
#   KP-TARGET <module's line>      endianness, granules, page size it took from the kernel
#   KP-CHECK <name> ok|fail ...    module life-cycle checks
#   KP-KMEMLEAK <line>             /sys/kernel/debug/kmemleak after rmmod (debug kernels only)
set -u
dev=/dev/kernel-probe
check() { echo "KP-CHECK $1 $2${3:+ $3}"; }
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

# probe FILE BS: write FILE with writes of BS bytes, print the report line.
probe() {
  exec 3<>"$dev" || return 1
  dd if="$1" bs="$2" 2>/dev/null >&3
  cat <&3
  exec 3>&-
}

# Debug kernels (qemu/kernel-debug.config): the checkers are live; kmemleak forgets
# what it suspected before the module was loaded. Nothing is printed on other kernels.
kml=/sys/kernel/debug/kmemleak
if dmesg | grep -q 'KernelAddressSanitizer initialized'; then check kasan-live ok; fi
if [ -e /proc/lockdep_stats ]; then check lockdep-live ok; fi
if [ "$(cat /proc/sys/kernel/soft_watchdog 2>/dev/null)" = 1 ]; then check softlockup-live ok; fi
if [ -e "$kml" ]; then
  echo scan >"$kml" && echo clear >"$kml" && check kmemleak-live ok || check kmemleak-live fail
fi

insmod /lib/kernel_probe.ko || { check insmod fail; exit 1; }
check insmod ok
[ -c "$dev" ] && check device ok || check device fail
dmesg | grep -q 'kernel_probe: /dev/kernel-probe, max_image_size=268435456' &&
  check param-default ok || check param-default fail
# The kexec_file decompressor (qemu/patches/0001-*) is registered by default.
dmesg | grep -q 'kernel_probe: kexec_file_load decompressor registered' &&
  check kexec-hook-registered ok || check kexec-hook-registered fail
# The rules the module took from this kernel (the host probes with the same).
echo "KP-TARGET $(dmesg | grep -o 'kernel_probe: target .*' | head -n1)"

# Every corpus case, with write sizes that cut headers and trailers anywhere;
# 4 MiB writes are taken 1 MiB at a time (short writes dd completes).
i=0
for bs in 1000000 4093 65536 511 131072 4194304; do eval "bs$i=$bs"; i=$((i + 1)); done
n=0
while IFS="$(printf '\t')" read -r file errno class; do
  case $file in '#'*|'') continue ;; esac
  eval "bs=\$bs$((n % 6))"
  n=$((n + 1))
  t0=$(ms)
  line=$(probe "/corpus/$file" "$bs")
  t1=$(ms)
  echo "KP-MOD $file $bs $line"
  echo "KP-TIME $file $((t1 - t0))"
done </corpus/cases.tsv
# Signed images (Authenticode parity), when the host added them.
for f in /extra/*; do
  [ -f "$f" ] || continue
  echo "KP-MOD $(basename "$f") 65536 $(probe "$f" 65536)"
done

# 16 concurrent writers, each its own open file and its own image.
set -- $(ls /corpus | grep -v cases.tsv | grep -v '^bomb' | head -n 16)
for f in "$@"; do
  ( line=$(probe "/corpus/$f" 8191); echo "$line" >"/tmp/par-$f" ) &
done
wait
for f in "$@"; do echo "KP-PAR $f $(cat "/tmp/par-$f")"; done

# An open file pins the module; the last close releases it.
exec 4<>"$dev"
if rmmod kernel_probe 2>/dev/null; then check rmmod-while-open fail; else check rmmod-while-open ok; fi
printf 'partial' >&4
exec 4>&-
if rmmod kernel_probe; then check rmmod-after-close ok; else check rmmod-after-close fail; fi
[ -e "$dev" ] && check device-gone fail || check device-gone ok

# The parameter is the bound: a bomb stops at 16 MiB with EFBIG.
insmod /lib/kernel_probe.ko max_image_size=16777216 || check insmod-param fail
dmesg | grep -q 'max_image_size=16777216' && check param-set ok || check param-set fail
for f in bomb-2g.gz valid-gzip9.gz; do echo "KP-SMALL $f $(probe "/corpus/$f" 65536)"; done
free_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
check mem-available ok "$free_kb"
rmmod kernel_probe && check rmmod-final ok || check rmmod-final fail

# kmemleak after rmmod: objects younger than 5 s are not reported, so wait, scan, and
# scan again (as Documentation/dev-tools/kmemleak.rst recommends); print what it holds.
if [ -e "$kml" ]; then
  sleep 6; echo scan >"$kml"; sleep 6; echo scan >"$kml"
  sed 's/^/KP-KMEMLEAK /' "$kml"
  n=$(grep -c 'unreferenced object' "$kml")
  [ "$n" = 0 ] && check kmemleak ok || check kmemleak fail "$n unreferenced objects"
fi
# lockdep turns itself off after its first report: it must still be on.
if [ -e /proc/lockdep_stats ]; then
  dl=$(awk '/debug_locks:/ {print $2}' /proc/lockdep_stats)
  [ "$dl" = 1 ] && check lockdep-active ok || check lockdep-active fail "debug_locks=$dl"
fi

# The kernel log must be clean.
if dmesg | grep -E 'Oops|BUG:|WARNING:|kernel BUG|Call trace|Kernel panic|list_(add|del) corruption|suspected memory leak' >/tmp/bad; then
  check dmesg fail "$(head -c 300 /tmp/bad | tr '\n' '|')"
else
  check dmesg ok
fi
echo "KP-MODULE-DONE"
