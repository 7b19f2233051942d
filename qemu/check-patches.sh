#!/usr/bin/env bash
# The kernel patches (qemu/patches/*.patch) as an upstream submission needs them:
#   - scripts/checkpatch.pl --strict finds nothing (the newest linux-source-7.x's
#     checkpatch);
#   - each applies, in order, to every linux-source-7.x series Debian's archive
#     has (trixie-backports: 7.2 and 7.3 today), checked on the files they touch,
#     extracted from each series' source package (cached);
#   - each is under 150 changed lines.
# Ends with "N passed, M failed"; exit 1 on any failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KP_REPO"

patches=(qemu/patches/*.patch)
[ -f "${patches[0]}" ] || kp_die "no qemu/patches/*.patch"
passed=0 failed=0
result() { # OK WHAT
  if [ "$1" = 1 ]; then passed=$((passed + 1)); echo "PASS $2"; else failed=$((failed + 1)); echo "FAIL $2"; fi
}

# Every 7.x series in the archive: the files the patches touch and checkpatch
# (with the data files it reads), extracted once per source package version.
files=$(grep -h '^+++ b/' "${patches[@]}" | sed 's|^+++ b/||' | sort -u)
tools="scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch"
newest=$(kp_linux_source_pkg)
for pkg in $(kp_apt_private cache search --names-only '^linux-source-7\.[0-9]+$' | awk '{print $1}' | sort -V); do
  deb=$(kp_deb_download private "$pkg" all)
  dir=$KP_CACHE/patch-check/$(basename "$deb" .deb)
  if [ ! -f "$dir/.kp-done" ]; then
    kp_log "extracting $(echo $files $tools) from $(basename "$deb")"
    rm -rf "$dir" && mkdir -p "$dir"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O "./usr/src/$pkg.tar.xz" |
      tar -xJ -C "$dir" $(for f in $files $tools; do printf '%s/%s ' "$pkg" "$f"; done)
    touch "$dir/.kp-done"
  fi
  ok=1
  work=$(mktemp -d) && cp -r "$dir/$pkg/." "$work/"
  for p in "${patches[@]}"; do
    patch -s -p1 -d "$work" --dry-run <"$p" >/dev/null 2>&1 && patch -s -p1 -d "$work" <"$p" >/dev/null 2>&1 || ok=0
  done
  rm -rf "$work"
  result $ok "qemu/patches apply to $(basename "$deb" .deb)"
  [ "$pkg" = "$newest" ] || continue
  for p in "${patches[@]}"; do
    out=$(cd "$dir/$pkg" && perl scripts/checkpatch.pl --strict --no-tree "$KP_REPO/$p" 2>&1 || true)
    sum=$(grep -a '^total:' <<<"$out" || echo "no summary")
    result $([[ $sum == "total: 0 errors, 0 warnings, 0 checks,"* ]] && echo 1 || echo 0) \
      "checkpatch --strict (from $pkg) $(basename "$p"): $sum"
    n=$(awk '/^diff --git /{d=1} d && /^[+-]/ && !/^(\+\+\+|---) /{n++} END{print n+0}' "$p")
    result $([ "$n" -lt 150 ] && echo 1 || echo 0) "$(basename "$p"): $n changed lines (< 150)"
  done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
