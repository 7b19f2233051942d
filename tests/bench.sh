#!/usr/bin/env bash
# Benchmark (not a test; not in run-all.sh): probe-run against libdeflate,
# gzip, pigz and busybox on the gzip -9 of Debian's arm64 Image, and against
# libzstd (zstd -dc) on its zstd -19 and --ultra -22, in one run.
#
#   tests/bench.sh            ROUNDS=15 WARMUP=2 by default (env overrides)
#
# 1. Whole process, alternating rounds (every round runs each command once,
#    rotated), medians: probe-run (full), probe-run --output, probe-run --quick,
#    libdeflate-gunzip -c, gzip -dc, pigz -dc, busybox gunzip -c. Table: median
#    ms, ratio to libdeflate-gunzip, speed-up against every peer, MB/s
#    (decompressed bytes / median time), peak RSS (wait4's ru_maxrss, which is
#    GNU time -v's "Maximum resident set size"; cross-checked once with it).
# 2. --quick in-process per image on a ~4 MB-class and the 44 MB-class image.
# 3. The time probe-run takes to reject a 2 GiB gzip bomb at the default
#    256 MiB bound.
# Goals are printed as ratios, never asserted. The script fails if a command
# fails or its output is wrong (every decompressor's output must equal
# gzip -dc's, probe-run --output must be byte-identical, the bomb must be
# EFBIG). The timing runner is userspace-harness/benches/probe_bench.rs.
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"
cd "$KP_REPO"

ROUNDS=${ROUNDS:-15}
WARMUP=${WARMUP:-2}

command -v cargo >/dev/null || kp_die "cargo is needed (the Rust toolchain)"
kp_apt_install gzip libdeflate-tools pigz busybox time zstd
for t in libdeflate-gunzip gzip pigz busybox zstd /usr/bin/time; do
  command -v "$t" >/dev/null || kp_die "$t missing after install"
done

kp_log "building probe-run and the bench runner (release profile)"
cargo build --release -q -p userspace-harness
probe_run=$KP_REPO/target/release/probe-run
bench=$(cargo bench -q -p userspace-harness --bench probe_bench --no-run --message-format=json 2>/dev/null |
  grep '"name":"probe_bench"' | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
[ -x "$bench" ] || kp_die "could not build the probe_bench runner"

# The real Debian Image and its gzip -9, cached by the Image's name.
image=$(tests/fetch-debian-kernels.sh | awk '$1 == "unsigned" {print $2}')
[ -s "$image" ] || kp_die "no Debian Image"
name=$(basename "$(dirname "$image")")
work=$KP_CACHE/bench
mkdir -p "$work"
gz=$work/$name.Image.gz
if [ ! -s "$gz" ] || [ "$gz" -ot "$image" ]; then
  kp_log "gzip -9 $image"
  gzip -9 -c "$image" >"$gz.tmp" && mv "$gz.tmp" "$gz"
fi
isize=$(stat -c %s "$image")
csize=$(stat -c %s "$gz")

# Output of --output: tmpfs when there is one (no disk writeback in the timing).
outdir=$work
[ -d /dev/shm ] && [ -w /dev/shm ] && outdir=/dev/shm
out=$(mktemp "$outdir/kp-bench-out.XXXXXX")
trap 'rm -f "$out"' EXIT

kp_log "checking every command's output once"
want=$(sha256sum <"$image" | cut -d' ' -f1)
check() { # NAME COMMAND...
  local name=$1 got
  shift
  got=$("$@" | sha256sum | cut -d' ' -f1) || kp_die "$name failed"
  [ "$got" = "$want" ] || kp_die "$name: output differs from the Image"
}
check "gzip -dc" gzip -dc "$gz"
check "libdeflate-gunzip -c" libdeflate-gunzip -c "$gz"
check "pigz -dc" pigz -dc "$gz"
check "busybox gunzip -c" busybox gunzip -c "$gz"
rm -f "$out"
"$probe_run" --output "$out" "$gz" >/dev/null || kp_die "probe-run --output failed"
cmp -s "$out" <(gzip -dc "$gz") || kp_die "probe-run --output is not byte-identical to gzip -dc"
"$probe_run" --json "$gz" | grep -q "\"ok\":true,.*\"isize\":${isize}[,}]" || kp_die "probe-run: wrong verdict"
"$probe_run" --json --quick "$gz" | grep -q "\"ok\":true,.*\"isize\":${isize}[,}].*\"quick\":true" ||
  kp_die "probe-run --quick: wrong verdict"

cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
echo "machine: $(nproc) cores ($cpu), $(uname -sr); $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
echo "input: gzip -9 of $name Image: $csize bytes -> $isize bytes"
echo "probe-run: $(git -C "$KP_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$KP_REPO" diff --quiet 2>/dev/null || echo +dirty)"
echo

kp_log "whole-process timing: $WARMUP warm-up + $ROUNDS alternating rounds"
# NAME<TAB>EXIT<TAB>REMOVE-BEFORE<TAB>ARGV (space separated; paths have no spaces)
case "$gz$out$probe_run" in *' '*) kp_die "paths with spaces are not supported" ;; esac
printf '%s\t0\t%s\t%s\n' \
  "probe-run" - "$probe_run $gz" \
  "probe-run --output" "$out" "$probe_run --output $out $gz" \
  "probe-run --quick" - "$probe_run --quick $gz" \
  "libdeflate-gunzip -c" - "$(command -v libdeflate-gunzip) -c $gz" \
  "gzip -dc" - "$(command -v gzip) -dc $gz" \
  "pigz -dc" - "$(command -v pigz) -dc $gz" \
  "busybox gunzip -c" - "$(command -v busybox) gunzip -c $gz" |
  "$bench" run "$ROUNDS" "$WARMUP" "$isize" $((isize + csize + (2 << 20)))
cmp -s "$out" "$image" || kp_die "probe-run --output (last timed run) differs from the Image"
rss_time=$(/usr/bin/time -v "$probe_run" "$gz" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/{print $2}')
echo "GNU time -v cross-check, probe-run: Maximum resident set size $rss_time KiB"
echo

# --quick in process: the project's own kernel when it is built (cached),
# else a synthetic 4 MiB one (the Image's first 4 MiB, gzip -9).
small=$KP_CACHE/kernel/latest/Image.gz
if [ ! -s "$small" ]; then
  small=$work/$name.head4M.Image.gz
  if [ ! -s "$small" ] || [ "$small" -ot "$image" ]; then
    head -c $((4 << 20)) "$image" | gzip -9 >"$small.tmp" && mv "$small.tmp" "$small"
  fi
fi
kp_log "--quick in process"
"$bench" quick "$small" "$gz"
echo

# The 2 GiB bomb at the default 256 MiB bound (whole process; exit 1, EFBIG).
bomb=$work/bomb-2GiB.gz
[ -s "$bomb" ] || "$bench" bomb "$bomb"
verdict=$("$probe_run" --json "$bomb") && kp_die "the bomb was accepted"
grep -q '"errno_name":"EFBIG"' <<<"$verdict" || kp_die "the bomb was not refused with EFBIG: $verdict"
kp_log "2 GiB bomb"
echo "2 GiB gzip bomb ($(stat -c %s "$bomb") bytes), default 256 MiB bound, rejected with EFBIG:"
printf '%s\t1\t-\t%s\n' "probe-run bomb" "$probe_run $bomb" |
  "$bench" run 7 1 $((256 << 20)) 0
echo

# zstd (issue 12 item 5): the same Image at -19 and --ultra -22 --long=27 (a
# Fedora zboot payload is -22), probe-run against zstd -dc (libzstd, which
# streams through its window) and zstd -d into a file on tmpfs (which, like
# probe-run, holds the whole image). Goal: <= 1.5x zstd -dc, regression line 2x.
for level in 19 22; do
  zst=$work/$name.Image.$level.zst
  if [ ! -s "$zst" ] || [ "$zst" -ot "$image" ]; then
    kp_log "zstd -$level $image"
    case $level in
      22) zstd -q --ultra -22 --long=27 -T2 -c "$image" >"$zst.tmp" ;;
      *) zstd -q -"$level" -T2 -c "$image" >"$zst.tmp" ;;
    esac
    mv "$zst.tmp" "$zst"
  fi
  check "zstd -dc ($level)" zstd -dc -q "$zst"
  rm -f "$out"
  "$probe_run" --output "$out" "$zst" >/dev/null || kp_die "probe-run --output failed on $zst"
  cmp -s "$out" "$image" || kp_die "probe-run --output of $zst differs from the Image"
  "$probe_run" --json "$zst" | grep -q '"ok":true,.*"format":"zstd"' || kp_die "probe-run: wrong verdict on $zst"
  kp_log "zstd -$level: whole-process timing"
  echo "zstd -$level$([ "$level" = 22 ] && echo ' --ultra --long=27') of $name Image: $(stat -c %s "$zst") bytes -> $isize bytes"
  printf '%s\t0\t%s\t%s\n' \
    "probe-run" - "$probe_run $zst" \
    "probe-run --output" "$out" "$probe_run --output $out $zst" \
    "probe-run --quick" - "$probe_run --quick $zst" \
    "zstd -dc" - "$(command -v zstd) -dc -q $zst" \
    "zstd -d -o (tmpfs)" "$out" "$(command -v zstd) -d -q -o $out $zst" |
    "$bench" run "$ROUNDS" "$WARMUP" "$isize" 0
  echo
done

# Floods of empty deflate blocks in front of the same Image (issue 11 item 2):
# the full probe must stay linear with a constant near zlib's (goal: within
# 5x), --quick must give up within its 32 KiB budget. zlib is measured through
# pigz -dc (zlib's inflate) and Python's zlib module; GNU gzip rebuilds the
# fixed tables per block as miniz_oxide 0.8.9 did (minutes), so it is left out.
zinfl=$work/zlib-inflate.py
printf '%s\n' 'import sys, zlib' 'zlib.decompress(open(sys.argv[1], "rb").read(), 31)' >"$zinfl"
for kind in fixed dynamic; do
  flood=$work/$name.flood-$kind-10M.gz
  if [ ! -s "$flood" ] || [ "$flood" -ot "$image" ]; then
    kp_log "making $flood"
    python3 "$KP_REPO/tests/flood-gen.py" "$flood.tmp" --kind "$kind" --bytes 10M --payload "$image" &&
      mv "$flood.tmp" "$flood"
  fi
  "$probe_run" --json "$flood" | grep -q '"ok":true' || kp_die "probe-run: the $kind flood is not a valid image"
  verdict=$("$probe_run" --json --quick "$flood") && kp_die "probe-run --quick accepted the $kind flood"
  grep -q '"errno_name":"EINVAL"' <<<"$verdict" ||
    kp_die "probe-run --quick: the $kind flood did not stop at the budget: $verdict"
  [ "$(pigz -dc "$flood" | sha256sum | cut -d' ' -f1)" = "$want" ] || kp_die "pigz -dc: $kind flood output differs"
  kp_log "10 MiB flood of empty $kind blocks"
  echo "10 MiB of empty $kind deflate blocks, then the Image's deflate data ($(stat -c %s "$flood") bytes):"
  printf '%s\t%s\t-\t%s\n' \
    "probe-run" 0 "$probe_run $flood" \
    "probe-run --quick" 1 "$probe_run --quick $flood" \
    "pigz -dc" 0 "$(command -v pigz) -dc $flood" \
    "python3 zlib" 0 "$(command -v python3) $zinfl $flood" |
    "$bench" run "${FLOOD_ROUNDS:-5}" 1 "$isize" 0
  echo
done
