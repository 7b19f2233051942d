#!/usr/bin/env bash
# Build the busybox test guest as a gzip'd newc cpio, cached by its inputs, and
# print its path.
#   qemu/initramfs.sh [--add HOSTPATH:GUESTPATH]...
# The guest gets busybox-static:arm64 (extracted by setup.sh), qemu/guest/init
# as /init and qemu/guest/scenarios/*.sh as /scenarios/. --add copies a host
# file or directory to GUESTPATH (absolute), e.g. a probe binary, a module or
# an extra scenario: --add my.sh:/scenarios/my.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

adds=()
while [ $# -gt 0 ]; do
  case $1 in
    --add) [ $# -ge 2 ] || kp_die "--add needs HOSTPATH:GUESTPATH"; adds+=("$2"); shift 2 ;;
    --add=*) adds+=("${1#--add=}"); shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) kp_die "unknown argument: $1 (see --help)" ;;
  esac
done

bb=$(kp_busybox)
guest=$KP_REPO/qemu/guest
# Everything that goes in, as "guestpath hostpath" pairs.
inputs=("/bin/busybox $bb" "/init $guest/init")
for f in "$guest"/scenarios/*.sh; do inputs+=("/scenarios/$(basename "$f") $f"); done
for a in "${adds[@]+"${adds[@]}"}"; do
  host=${a%%:*} gpath=${a#*:}
  [ "$host" != "$a" ] && [ -n "$host" ] && [ "${gpath#/}" != "$gpath" ] ||
    kp_die "--add $a: want HOSTPATH:/ABSOLUTE/GUESTPATH"
  [ -e "$host" ] || kp_die "--add $a: $host does not exist"
  inputs+=("$gpath $(cd "$(dirname "$host")" && pwd)/$(basename "$host")")
done

# Key: guest paths, file contents and modes of every input.
key=$(
  for i in "${inputs[@]}"; do
    g=${i%% *} h=${i#* }
    echo "== $g"
    (cd "$h" 2>/dev/null && find . -print0 | sort -z | xargs -0 stat -c '%n %a %F' &&
      find . -type f -print0 | sort -z | xargs -0 -r sha256sum) ||
      { stat -c '%a' "$h"; sha256sum <"$h"; }
  done | sha256sum | cut -c1-16
)
out=$KP_CACHE/initramfs/$key.cpio.gz
if [ -s "$out" ]; then
  kp_log "initramfs up to date: $out"
  printf '%s\n' "$out"
  exit 0
fi

mkdir -p "$KP_CACHE/initramfs"
stage=$(mktemp -d "$KP_CACHE/initramfs/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,scenarios}
for i in "${inputs[@]}"; do
  g=${i%% *} h=${i#* }
  mkdir -p "$stage$(dirname "$g")"
  cp -a --no-preserve=ownership "$h" "$stage$g"
done
chmod 755 "$stage/init" "$stage/bin/busybox"
# A console node so the kernel can give /init its stdio (root only; /init
# also re-opens /dev/console after mounting devtmpfs).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
  cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9n) >"$out.tmp"
mv "$out.tmp" "$out"
kp_log "initramfs built: $out ($(stat -c %s "$out") bytes)"
printf '%s\n' "$out"
