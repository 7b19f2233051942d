#!/usr/bin/env bash
# Mutation testing of the core code changed since the last full run: every
# mutant cargo-mutants makes in kernel-probe/src lines that differ from
# .cargo/mutants-base (the commit the last full `cargo mutants -p kernel-probe`
# run, or the tests written after it, left with no unexplained survivor) must
# be caught by kernel-probe's own tests. New rules arrive with tests.
# Equivalent mutants are listed in .cargo/mutants.toml with their reason; a
# new one goes there too. Bump .cargo/mutants-base after a full run.
# Exit 0 when every mutant in the diff is caught (or there is none).
set -euo pipefail
. "$(dirname "$0")/../qemu/lib.sh"
cd "$KP_REPO"

base=$(tr -d ' \n' <.cargo/mutants-base)
git cat-file -e "$base^{commit}" 2>/dev/null || kp_die ".cargo/mutants-base: $base is not a commit of this repository"
# Files waiting for a full run (.cargo/mutants-pending) are left out, and counted.
pending=()
while read -r p; do pending+=("$p"); done < <(grep -v '^\s*\(#\|$\)' .cargo/mutants-pending 2>/dev/null || true)
spec=(kernel-probe/src)
for p in "${pending[@]}"; do spec+=(":(exclude)$p"); done
if [ ${#pending[@]} -gt 0 ]; then
  np=$(git diff "$base" -- "${pending[@]}" | cargo mutants -p kernel-probe --in-diff /dev/stdin --list 2>/dev/null | wc -l || echo '?')
  echo "mutants: ${np} mutants in .cargo/mutants-pending (${pending[*]}) wait for a full run"
fi
if git diff --quiet "$base" -- "${spec[@]}"; then
  echo "mutants: kernel-probe/src is as at .cargo/mutants-base ($(git log -1 --format=%h "$base"))"
  exit 0
fi
version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -qx "cargo-mutants $version"; then
  kp_log "cargo install cargo-mutants $version (~3 min)"
  cargo install --locked -q "cargo-mutants@$version"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git diff "$base" -- "${spec[@]}" >"$work/core.diff"
n=$(cargo mutants -p kernel-probe --in-diff "$work/core.diff" --list 2>/dev/null | wc -l)
kp_log "core changes since $(git log -1 --format='%h %s' "$base" | cut -c1-60): $n mutants"
if [ "$n" -eq 0 ]; then
  echo "mutants: no core code changed since .cargo/mutants-base"
  exit 0
fi
cargo mutants -p kernel-probe --in-diff "$work/core.diff" --jobs 2 --timeout-multiplier 4 \
  --minimum-test-timeout 40 -o "$work" ||
  { sed -n '1,200p' "$work/mutants.out/missed.txt" 2>/dev/null; kp_die "mutants in changed core code survived (above)"; }
