# shellcheck shell=sh
# Scenario "boot": the kernel reached /init with a working console, proc and sysfs.
# In a crash kernel (kdump) it also reports what /proc/vmcore holds:
#   KP-VMCORE size=BYTES elf=7f454c46 type=4 phnum=N memmark=STR|none
# where memmark is the first "KPMEMMARK<12 hex>" string found in the dump (the
# first kernel writes one into RAM before it panics: qemu/guest-kexec/kexec.sh).
echo "KP-LOG boot: $(uname -a)"
if [ -e /proc/vmcore ]; then
  # e_ident[0..4], e_type (offset 16) and e_phnum (offset 56) of the ELF core header.
  hdr=$(od -An -tx1 -N64 /proc/vmcore | tr -s ' \n' ' ')
  set -- $hdr
  elf=$1$2$3$4
  shift 16
  type=$(( 0x$2$1 ))
  shift 40
  phnum=$(( 0x$2$1 ))
  # strings stops at the first hit (grep -m1 closes the pipe).
  mark=$(strings -n 21 /proc/vmcore | grep -m1 -o 'KPMEMMARK[0-9a-f]\{12\}')
  echo "KP-VMCORE size=$(stat -c %s /proc/vmcore) elf=$elf type=$type phnum=$phnum memmark=${mark:-none}"
fi
[ -r /proc/cmdline ] && [ -d /sys/kernel ] && [ -c /dev/console ]
