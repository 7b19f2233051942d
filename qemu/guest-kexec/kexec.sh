# Guest side of qemu/test-kexec.sh (busybox sh, first kernel). Kernel command line:
#   kp.kexec=MODE   baseline | exec | crash
#   kp.next=MARKER  the marker the second kernel must print (from its own command line)
#   kp.image=FILE   the image under /images to load (exec; a *.uki.efi is loaded
#                   with its own .initrd and .cmdline, which carries kp.next)
# Files: /bin/probe-run (aarch64, static), /images/*, /images/second.cpio.gz.
set -u
mode= next= image=
for arg in $KP_CMDLINE; do
  case $arg in
    kp.kexec=*) mode=${arg#kp.kexec=} ;;
    kp.next=*) next=${arg#kp.next=} ;;
    kp.image=*) image=${arg#kp.image=} ;;
  esac
done
second="console=ttyAMA0 panic=-1 kp.scenario=boot kp.marker=$next"
initrd=/images/second.cpio.gz
loaded() { cat /sys/kernel/kexec_loaded; }
crash_loaded() { cat /sys/kernel/kexec_crash_loaded; }
# errno NAME from probe-run's "kexec_file_load: NAME (errno N)" line
errno_of() { sed -n 's/.*kexec_file_load: \([A-Z]*\) (errno.*/\1/p' | head -n1; }

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
  ;;
exec)
  echo "KP-EXEC loading /images/$image"
  case $image in
    # A UKI brings its own initrd and command line (with the marker).
    *.uki.efi) probe-run load --exec "/images/$image" 2>&1 | sed 's/^/  | /' ;;
    *) probe-run load --initrd "$initrd" --append "$second" --exec "/images/$image" 2>&1 | sed 's/^/  | /' ;;
  esac
  # Only reached when the load or the reboot failed.
  echo "KP-EXEC-FAILED loaded=$(loaded)"
  exit 1
  ;;
*)
  echo "KP-KEXEC unknown mode '$mode'"
  exit 1
  ;;
esac
