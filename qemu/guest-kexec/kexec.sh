# Guest side of qemu/test-kexec.sh and qemu/test-classic.sh (busybox sh, first
# kernel). Kernel command line:
#   kp.kexec=MODE     baseline | crash-small | exec | crash-dump | classic-baseline | lockdown
#   kp.next=MARKER    the marker the second kernel must print (from its own command line)
#   kp.image=FILE     the image under /images to load (exec, crash-dump; a *.uki.efi is
#                     loaded with its own .initrd and .cmdline, which carries kp.next)
#   kp.syscall=S      probe-run load --syscall S (file | classic | auto; default auto)
# crash-dump loads a crash kernel, writes a random "KPMEMMARK<12 hex>" into RAM
# (8 MiB of copies in a tmpfs file; printed as "KP-MEMMARK <hex>"), and panics:
# `echo c > /proc/sysrq-trigger`, or, on a kernel without CONFIG_MAGIC_SYSRQ,
# vm.panic_on_oom=1 and a tmpfs filled until the OOM panic. The crash kernel's
# boot scenario then prints KP-VMCORE with the marker it found in /proc/vmcore.
# Files: /bin/probe-run (aarch64, static), /images/*, /images/second.cpio.gz.
set -u
mode= next= image= syscall=auto
for arg in $KP_CMDLINE; do
  case $arg in
    kp.kexec=*) mode=${arg#kp.kexec=} ;;
    kp.next=*) next=${arg#kp.next=} ;;
    kp.image=*) image=${arg#kp.image=} ;;
    kp.syscall=*) syscall=${arg#kp.syscall=} ;;
  esac
done
second="console=ttyAMA0 panic=-1 kp.scenario=boot kp.marker=$next"
initrd=/images/second.cpio.gz
loaded() { cat /sys/kernel/kexec_loaded; }
crash_loaded() { cat /sys/kernel/kexec_crash_loaded; }
# errno NAME from probe-run's "kexec_file_load: NAME (errno N)" line
errno_of() { sed -n 's/.*kexec_file_load: \([A-Z]*\) (errno.*/\1/p' | head -n1; }

crash_dump() {
  out=$(probe-run load --syscall "$syscall" --crash --initrd "$initrd" --append "$second" "/images/$image" 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-CRASH-LOADED exit=$rc crash_loaded=$(crash_loaded) $(echo "$out" | grep -o '^load: syscall [a-z_]*' | tr ' ' '=' | sed 's/^load:=//')"
  [ "$(crash_loaded)" = 1 ] || exit 1
  m=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  echo "KP-MEMMARK $m"
  yes "KPMEMMARK$m" | head -c 8388608 >/tmp/memmark
  sync
  if [ -e /proc/sysrq-trigger ]; then
    echo "KP-PANIC sysrq"
    echo c >/proc/sysrq-trigger
  else
    echo "KP-PANIC oom (no /proc/sysrq-trigger: vm.panic_on_oom=1, tmpfs filled)"
    echo 1 >/proc/sys/vm/panic_on_oom
    mkdir -p /mnt/fill && mount -t tmpfs -o size=100% fill /mnt/fill
    cat /dev/zero >/mnt/fill/zero
  fi
  # Only reached when no panic happened.
  echo "KP-CRASH-NO-PANIC"
  exit 1
}

case $mode in
baseline)
  # The problem first: the kernel's own kexec_file_load refuses compressed kernels.
  for f in Image.gz vmlinuz.efi; do
    out=$(probe-run load --no-probe --initrd "$initrd" --append "$second" "/images/$f" 2>&1)
    echo "KP-BASELINE $f $(echo "$out" | errno_of) loaded=$(loaded)"
  done
  # A corrupted Image.gz is refused before any system call.
  out=$(probe-run load --initrd "$initrd" --append "$second" /images/corrupt.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  # probe-run prints exactly one load line: "not attempted" when it refuses
  # before the system call, "OK"/"FAILED" after one.
  echo "KP-NEGATIVE exit=$rc refused=$(echo "$out" | grep -c '^load: not attempted: the image was rejected') attempted=$(echo "$out" | grep -c '^load: \(OK\|FAILED\)') loaded=$(loaded)"
  # The kernel gets the bytes that were probed, never a second open of the
  # path: a raw Image read from a pipe (which a second open could not read
  # again) is copied into the sealed memfd and loads.
  out=$(cat /images/Image | probe-run load --initrd "$initrd" --append "$second" /proc/self/fd/0 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-PIPE exit=$rc loaded=$(loaded) memfd=$(echo "$out" | grep -c 'copied into a sealed memfd')"
  probe-run load --unload >/dev/null 2>&1
  echo "KP-PIPE-UNLOAD loaded=$(loaded)"
  # The crash kernel with the reservation the report asked for.
  out=$(probe-run load --crash --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-CRASH-FIT exit=$rc crash_loaded=$(crash_loaded) $(grep -o 'crashkernel=[^ ]*' /proc/cmdline)"
  ;;
crash-small)
  out=$(probe-run load --crash --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-CRASH-SMALL exit=$rc errno=$(echo "$out" | errno_of) crash_loaded=$(crash_loaded) needs=$(echo "$out" | sed -n 's/.*needs at least \([0-9]*\) bytes.*/\1/p')"
  # The classic path lays the segments out itself: refused before the system call, same size named.
  out=$(probe-run load --syscall classic --crash --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-CRASH-SMALL-CLASSIC exit=$rc errno=$(echo "$out" | sed -n 's/^load: FAILED: kexec_load: \([A-Z]*\) (errno.*/\1/p') crash_loaded=$(crash_loaded) needs=$(echo "$out" | sed -n 's/.*needs at least \([0-9]*\) bytes.*/\1/p')"
  ;;
exec)
  echo "KP-EXEC loading /images/$image (--syscall $syscall)"
  # Straight to the console, not through a pipe: a reader process could be
  # cut off by the reboot before it prints probe-run's last lines (probe-run
  # drains the terminal before it reboots).
  case $image in
    # A UKI brings its own initrd and command line (with the marker).
    *.uki.efi) probe-run load --syscall "$syscall" --exec "/images/$image" 2>&1 ;;
    *) probe-run load --syscall "$syscall" --initrd "$initrd" --append "$second" --exec "/images/$image" 2>&1 ;;
  esac
  # Only reached when the load or the reboot failed.
  echo "KP-EXEC-FAILED loaded=$(loaded)"
  exit 1
  ;;
crash-dump)
  crash_dump
  ;;
classic-baseline)
  # Debian's kernels: no kexec_file_load. --syscall file says so; auto falls
  # back to kexec_load and says why; a corrupt image never reaches either.
  out=$(probe-run load --syscall file --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  echo "$out" | sed 's/^/  | /'
  echo "KP-FILE-ONLY $(echo "$out" | errno_of) loaded=$(loaded) explained=$(echo "$out" | grep -c 'no kexec_file_load (CONFIG_KEXEC_FILE)')"
  out=$(probe-run load --initrd "$initrd" --append "$second" /images/corrupt.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-NEGATIVE exit=$rc refused=$(echo "$out" | grep -c '^load: not attempted: the image was rejected') attempted=$(echo "$out" | grep -c '^load: \(OK\|FAILED\|syscall\)') loaded=$(loaded)"
  out=$(probe-run load --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-AUTO exit=$rc loaded=$(loaded) $(echo "$out" | grep -c '^load: syscall kexec_load (auto: kexec_file_load is ENOSYS')"
  probe-run load --unload >/dev/null 2>&1
  echo "KP-AUTO-UNLOAD loaded=$(loaded)"
  # With kp.image=, the same boot goes on to the kdump case.
  [ -z "$image" ] || crash_dump
  ;;
lockdown)
  # A device tree that is none is refused before the system call.
  out=$(probe-run load --syscall classic --dtb "$initrd" --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-BAD-DTB exit=$rc refused=$(echo "$out" | grep -c '^load: FAILED: kexec_load: not a usable device tree: no FDT magic (0xd00dfeed); refused before the system call') loaded=$(loaded)"
  # Lockdown forbids kexec_load: EPERM, and the message says so.
  mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
  echo integrity >/sys/kernel/security/lockdown
  echo "KP-LOCKDOWN-SET $(cat /sys/kernel/security/lockdown)"
  out=$(probe-run load --initrd "$initrd" --append "$second" /images/Image.gz 2>&1)
  rc=$?
  echo "$out" | sed 's/^/  | /'
  echo "KP-LOCKDOWN exit=$rc $(echo "$out" | sed -n 's/^load: FAILED: kexec_load: \([A-Z]*\) (errno.*/\1/p') explained=$(echo "$out" | grep -c 'lockdown forbids kexec_load') loaded=$(loaded)"
  ;;
*)
  echo "KP-KEXEC unknown mode '$mode'"
  exit 1
  ;;
esac
