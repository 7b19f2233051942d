#!/usr/bin/env bash
# The build's inputs come from Debian's archive, which moves on: old series and
# point releases leave it. This checks that what the scripts resolve is real
# today: the newest linux-source-7.x (qemu/build-kernel.sh), the 6.12 kernels
# and the newest 7.x kernel (tests/fetch-debian-kernels.sh) each have a
# downloadable candidate,
# and the resolved source series is the newest 7.x the archive lists.
# Prints what it resolved; ends with "N passed, M failed".
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"

passed=0 failed=0
result() { # OK WHAT
  if [ "$1" = 1 ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi
}
candidate() { kp_apt_private cache policy "$1" 2>/dev/null | awk '/Candidate:/{print $2; exit}'; }

src=$(KP_LINUX_SOURCE='' kp_linux_source_pkg)
ver=$(candidate "$src")
result "$([[ $src =~ ^linux-source-7\.[0-9]+$ && -n $ver && $ver != "(none)" ]] && echo 1 || echo 0)" \
  "kernel source resolves to $src $ver"
newest=$(kp_apt_private cache pkgnames linux-source-7. | grep -E '^linux-source-7\.[0-9]+$' | sort -V | tail -n1)
result "$([ "$src" = "$newest" ] && echo 1 || echo 0)" "it is the newest 7.x series the archive lists ($newest)"
uri=$(kp_apt_private get download --print-uris -q "$src=$ver" 2>/dev/null | head -n1 | cut -d' ' -f2)
result "$([[ $uri == "${src}_"*_all.deb ]] && echo 1 || echo 0)" "$src $ver is downloadable ($uri)"

kernels=$("$KP_REPO/tests/fetch-debian-kernels.sh" 2>/dev/null) || kernels=
for name in unsigned signed 16k; do
  img=$(printf '%s\n' "$kernels" | awk -v n="$name" '$1 == n {print $2}')
  result "$([ -n "$img" ] && [ -s "$img" ] && echo 1 || echo 0)" \
    "Debian 6.12 $name kernel resolved and extracted (${img:-none})"
done
# Debian's newest 7.x kernel (qemu/test-classic.sh boots it as the first kernel).
k7=$("$KP_REPO/tests/fetch-debian-kernels.sh" --series 7 2>/dev/null) || k7=
img=$(printf '%s\n' "$k7" | awk '$1 == "7x" {print $2}')
cfg=$(printf '%s\n' "$k7" | awk '$1 == "7x-config" {print $2}')
result "$([ -n "$img" ] && [ -s "$img" ] && [ -n "$cfg" ] && [ -s "$cfg" ] && echo 1 || echo 0)" \
  "Debian 7.x kernel (linux-binary + linux-base from trixie-backports) resolved and extracted (${img:-none})"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
