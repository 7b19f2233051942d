# shellcheck shell=bash
# Helpers shared by qemu/test-kexec.sh and qemu/test-classic.sh (source after
# lib.sh). The guest side is qemu/guest-kexec/kexec.sh.
#
# Set before use: work (log directory), first (the first kernel's Image),
# initrd (the first kernel's initramfs).

passed=0 failed=0
result() { # OK WHAT
  if [ "$1" = 1 ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi
}
rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }
# The last console line starting with $1 (empty, never a failure, when none).
line() { { grep -a "^$1" "$2" || true; } | tail -n1 | tr -d '\r'; }
# boot NAME MODE EXTRA-APPEND [NEXT-MARKER] [MEM] -> "rc log next"; with
# MODE exec or crash-dump the run passes when the second (crash) kernel prints
# its marker; otherwise when the first kernel's scenario passes.
boot() {
  local name=$1 mode=$2 extra=$3 next=${4:-second-$(rand)} mem=${5:-1G} log=$work/$1.log rc=0
  local args=(--kernel "$first" --initrd "$initrd" --scenario kexec --timeout 300 --log "$log" --mem "$mem")
  case $mode in
    exec | crash-dump | classic-baseline)
      qemu/run.sh "${args[@]}" --marker "$next" --expect-marker-only \
        --append "kp.marker=first-$(rand) kp.kexec=$mode kp.next=$next $extra" >&2 || rc=$? ;;
    *)
      qemu/run.sh "${args[@]}" --append "kp.kexec=$mode kp.next=$next $extra" >&2 || rc=$? ;;
  esac
  echo "$rc $log $next"
}
# check_exec LOG RC NEXT SYSCALL WHAT: the second kernel printed NEXT and
# probe-run said SYSCALL (kexec_file_load | kexec_load) accepted it.
check_exec() {
  local log=$1 rc=$2 next=$3 sc=$4 what=$5 ok=0 kernel
  if [ "$rc" = 0 ] && grep -aq "^KP-BOOTED $next" "$log" && grep -aq "^load: OK: $sc accepted" "$log" &&
    grep -aq "^load: syscall $sc " "$log"; then ok=1; fi
  kernel=$(line "KP-BOOTED $next" "$log" | grep -o 'kernel=[^ ]*' || true)
  result $ok "$what: the second kernel boots and prints $next (${kernel:-not booted}; $sc)"
}
# check_crash LOG RC NEXT SYSCALL MEM_MIB CRASH_MIB WHAT: the crash kernel
# booted (its marker), /proc/vmcore is an ELF core file (ET_CORE) whose size
# covers the first kernel's RAM outside the crash region, and it holds the
# memory marker the first kernel wrote just before the panic.
check_crash() {
  local log=$1 rc=$2 next=$3 sc=$4 mem=$5 crash=$6 what=$7 ok=0 loaded mark vm size phnum found
  loaded=$(line KP-CRASH-LOADED "$log")
  mark=$(line KP-MEMMARK "$log" | cut -d' ' -f2)
  vm=$(line KP-VMCORE "$log")
  size=$(echo "$vm" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
  phnum=$(echo "$vm" | sed -n 's/.*phnum=\([0-9]*\).*/\1/p')
  found=$(echo "$vm" | sed -n 's/.*memmark=\([^ ]*\).*/\1/p')
  if [ "$rc" = 0 ] && [[ $loaded == "KP-CRASH-LOADED exit=0 crash_loaded=1 syscall=$sc" ]] &&
    grep -aq "^KP-BOOTED $next" "$log" && [ -n "$mark" ] && [ "$found" = "KPMEMMARK$mark" ] &&
    [[ $vm == *" elf=7f454c46 type=4 "* ]] && [ "${phnum:-0}" -ge 2 ] &&
    [ "${size:-0}" -ge $(((mem - crash) << 20)) ] && [ "${size:-0}" -lt $((mem << 20)) ]; then ok=1; fi
  result $ok "$what: $sc --crash, panic ($(line KP-PANIC "$log" | cut -d' ' -f2)) -> the crash kernel's /proc/vmcore holds the first kernel's marker KPMEMMARK${mark:-?} (${vm:-no KP-VMCORE line}; ${loaded:-not loaded})"
}
