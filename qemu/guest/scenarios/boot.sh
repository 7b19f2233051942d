# shellcheck shell=sh
# Scenario "boot": the kernel reached /init with a working console, proc and sysfs.
echo "KP-LOG boot: $(uname -a)"
[ -r /proc/cmdline ] && [ -d /sys/kernel ] && [ -c /dev/console ]
