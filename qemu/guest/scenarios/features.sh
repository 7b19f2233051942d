# shellcheck shell=sh
# Scenario "features": the project's kernel has what the module and kexec work
# need. Boot it with --smp 2 --append crashkernel=64M.
ok=0
check() { if eval "$2"; then echo "KP-LOG features: ok $1"; else echo "KP-LOG features: MISSING $1"; ok=1; fi; }
check modules '[ -r /proc/modules ]'
check kexec '[ -r /sys/kernel/kexec_loaded ]'
check kexec-crash '[ -r /sys/kernel/kexec_crash_loaded ]'
check crashkernel-reserved '[ "$(cat /sys/kernel/kexec_crash_size 2>/dev/null || echo 0)" -gt 0 ]'
check debugfs 'grep -q " /sys/kernel/debug debugfs " /proc/mounts'
check tmpfs 'grep -q " /tmp tmpfs " /proc/mounts'
check devtmpfs 'grep -q " /dev devtmpfs " /proc/mounts'
check smp '[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ]'
check misc-device '[ -d /sys/class/misc ]'
exit $ok
