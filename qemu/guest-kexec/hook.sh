# Guest side of qemu/test-kexec-hook.sh (busybox sh): the kernel's own
# kexec_file_load() of compressed images, with kernel_probe.ko as its
# decompressor (qemu/patches/0001-*). Every load is `probe-run load --no-probe`:
# the file goes to the system call as it is, nothing is decompressed in
# userspace. Kernel command line:
#   kp.hook=MODE    loads | exec | crash-small | kdump
#   kp.next=MARKER  the marker the second kernel must print (its own command line)
#   kp.image=FILE   the image under /images (exec)
# Files: /bin/probe-run, /lib/kernel_probe.ko, /images/*.
# Lines for the host: "KP-HOOK <case> rc=<exit> errno=<NAME|0> loaded=<0|1> ..."
set -u
mode= next= image=
for arg in $KP_CMDLINE; do
  case $arg in
    kp.hook=*) mode=${arg#kp.hook=} ;;
    kp.next=*) next=${arg#kp.next=} ;;
    kp.image=*) image=${arg#kp.image=} ;;
  esac
done
second="console=ttyAMA0 panic=-1 kp.scenario=boot kp.marker=$next"
initrd=/images/second.cpio.gz
loaded() { cat /sys/kernel/kexec_loaded; }
crash_loaded() { cat /sys/kernel/kexec_crash_loaded; }
# The kernel_probe lines dmesg gained since the last call.
seen=0
news() {
  local all
  all=$(dmesg | grep -c 'kernel_probe: kexec_file_load')
  dmesg | grep 'kernel_probe: kexec_file_load' | tail -n $((all - seen)) | sed 's/^\[[^]]*\] //' | tr '\n' ';'
  seen=$all
}
# load CASE FILE [probe-run options]: one raw kexec_file_load of /images/FILE.
load() {
  local case=$1 file=$2 out rc errno
  shift 2
  news >/dev/null
  out=$(probe-run load --no-probe --initrd "$initrd" --append "$second" "$@" "/images/$file" 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  errno=$(echo "$out" | sed -n 's/.*kexec_file_load: \([A-Z]*\) (errno.*/\1/p' | head -n1)
  echo "KP-HOOK $case rc=$rc errno=${errno:-0} loaded=$(loaded) crash_loaded=$(crash_loaded) module=[$(news)]"
  probe-run load --unload >/dev/null 2>&1
}
insmod_hook() {
  insmod /lib/kernel_probe.ko "$@" || echo "KP-HOOK-INSMOD failed"
  echo "KP-HOOK-INSMOD $(dmesg | grep -o 'kernel_probe: kexec_file_load decompressor [a-z]*' | tail -n1)"
  news >/dev/null
}
meminfo() { awk '/^MemFree:/{print $2}' /proc/meminfo; }
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
# measure NAME FILE [probe-run load options]: wall time of one load and the
# largest drop of MemFree while it runs (sampled; the images are in the
# initramfs, so reading them takes no page cache), and what stays taken while
# it is loaded (informational: KP-MEASURE lines).
measure() {
  local name=$1 file=$2 base t0 t1 after
  shift 2
  rm -f /tmp/stop /tmp/min
  sync
  base=$(meminfo)
  (
    min=$base
    while [ ! -e /tmp/stop ]; do
      m=$(meminfo)
      [ "$m" -lt "$min" ] && min=$m && echo "$min" >/tmp/min
    done
  ) &
  t0=$(ms)
  probe-run load "$@" --initrd "$initrd" --append "$second" "/images/$file" >/dev/null 2>&1
  t1=$(ms)
  after=$(meminfo)
  touch /tmp/stop
  wait
  echo "KP-MEASURE $name $file ms=$((t1 - t0)) peak_kb=$((base - $(cat /tmp/min 2>/dev/null || echo "$base"))) held_kb=$((base - after)) loaded=$(loaded)"
  probe-run load --unload >/dev/null 2>&1
}

case $mode in
loads)
  kml=/sys/kernel/debug/kmemleak
  [ -e "$kml" ] && { echo scan >"$kml"; echo clear >"$kml"; }
  # The baseline: the stock kernel refuses compressed kernels.
  load baseline-Image.gz Image.gz
  load baseline-vmlinuz.efi vmlinuz.efi
  insmod_hook
  for f in Image.gz vmlinuz.efi debian-signed.gz zboot-zstd.efi Image.zst own.uki.efi Image; do
    load "$f" "$f"
  done
  # The two paths for the same file: the kernel decompresses (the stock
  # syscall with the module), or probe-run does (memfd + kexec_file_load).
  for f in Image.gz debian-signed.gz Image.gz debian-signed.gz; do
    measure in-kernel "$f" --no-probe
    measure userspace "$f" --syscall file
  done
  load corrupt.gz corrupt.gz
  before=$(meminfo)
  load bomb-2g.gz bomb-2g.gz
  echo "KP-HOOK-MEM before=$before after=$(meminfo)"
  load Image.xz Image.xz
  probe-run load --no-probe --crash --initrd "$initrd" --append "$second" /images/Image.gz >/dev/null 2>&1
  echo "KP-HOOK crash-fit rc=$? crash_loaded=$(crash_loaded) $(grep -o 'crashkernel=[^ ]*' /proc/cmdline)"
  probe-run load --unload --crash >/dev/null 2>&1
  # rmmod while loads are in flight: refused (EBUSY) while the kernel is
  # inside the module's decompressor (the hook holds a module reference),
  # done between two loads; never a crash. Every load either succeeds (module
  # there) or gets the stock EINVAL (module gone).
  rm -f /tmp/racer-started
  (
    i=0
    while [ $i -lt 6 ]; do
      touch /tmp/racer-started
      probe-run load --no-probe --initrd "$initrd" --append "$second" /images/debian-signed.gz >/tmp/race-$i 2>&1
      echo "rc=$?" >>/tmp/race-$i
      probe-run load --unload >/dev/null 2>&1
      i=$((i + 1))
    done
  ) &
  racer=$!
  # rmmod from when the first load has started (and is soon inside the
  # module's decompressor, which takes a while for 37 MB), until it works.
  n=0
  while [ ! -e /tmp/racer-started ] && [ $n -lt 500 ]; do n=$((n + 1)); usleep 10000; done
  usleep 200000
  tries=0
  while lsmod | grep -q '^kernel_probe '; do
    rmmod kernel_probe 2>/dev/null && break
    tries=$((tries + 1))
    usleep 20000
  done
  wait $racer
  ok=0 einval=0 other=0
  for f in /tmp/race-*; do
    if grep -q '^rc=0' "$f"; then ok=$((ok + 1))
    elif grep -q 'kexec_file_load: EINVAL' "$f"; then einval=$((einval + 1))
    else other=$((other + 1)); sed 's/^/  race| /' "$f"; fi
  done
  echo "KP-HOOK-RACE ok=$ok einval=$einval other=$other rmmod_busy=$tries"
  # After rmmod: the stock path again.
  load after-rmmod Image.gz
  insmod_hook kexec_hook=0
  load hook-off Image.gz
  rmmod kernel_probe
  if [ -e "$kml" ]; then
    echo scan >"$kml"; sleep 1; echo scan >"$kml"
    echo "KP-HOOK-KMEMLEAK $(grep -c 'unreferenced object' "$kml")"
  fi
  # Forced verification: lockdown (arm64 has no KEXEC_SIG_FORCE). The module
  # is loaded first (lockdown refuses unsigned modules from then on).
  insmod_hook
  mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
  echo integrity >/sys/kernel/security/lockdown
  echo "KP-HOOK-LOCKDOWN $(cat /sys/kernel/security/lockdown)"
  for f in signed.gz tampered.gz Image.gz signed-outer.efi debian-signed.gz signed.Image; do
    load "sig-$f" "$f"
  done
  ;;
crash-small)
  insmod_hook
  load crash-small Image.gz --crash
  ;;
exec)
  insmod_hook
  echo "KP-EXEC loading /images/$image"
  # Straight to the console: a pipe reader could be cut off by the reboot.
  probe-run load --no-probe --initrd "$initrd" --append "$second" --exec "/images/$image" 2>&1
  echo "KP-EXEC-FAILED loaded=$(loaded)"
  exit 1
  ;;
kdump)
  insmod_hook
  probe-run load --no-probe --crash --initrd "$initrd" --append "$second" /images/Image.gz 2>&1 | sed 's/^/  | /'
  echo "KP-KDUMP crash_loaded=$(crash_loaded) module=[$(news)]"
  [ "$(crash_loaded)" = 1 ] || exit 1
  # A string only this boot knows, in RAM (tmpfs pages): the crash kernel
  # must find it in /proc/vmcore.
  hex=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  mark=KPMEMMARK$hex
  i=0
  while [ $i -lt 256 ]; do echo "$mark"; i=$((i + 1)); done >/tmp/memmark
  echo "KP-MEMMARK $hex"
  sync
  echo c >/proc/sysrq-trigger
  echo "KP-KDUMP-FAILED still running"
  exit 1
  ;;
*)
  echo "KP-HOOK unknown mode '$mode'"
  exit 1
  ;;
esac
