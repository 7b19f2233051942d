#!/usr/bin/env bash
# The kernel module in a real arm64 kernel (the one qemu/build-kernel.sh builds):
#   - kernel_probe.ko builds with one make, without a warning;
#   - in the guest, every case of the test corpus (tests/src/corpus.rs, made from
#     our kernel's Image) goes through /dev/kernel-probe in writes of odd sizes and
#     its report equals probe-run's JSON on the host, field by field (path aside);
#   - 16 concurrent writers each get their own file's answer;
#   - rmmod is refused while a file is open and works after close;
#   - with max_image_size=16 MiB a 2 GiB bomb stops with EFBIG;
#   - floods of empty deflate blocks (valid-flood-*.gz) are probed in bounded
#     writes that yield between steps: no soft lockup (the debug kernel has the
#     detector on);
#   - the console shows no Oops, BUG, WARNING or panic.
# Ends with "N passed, M failed"; exit 1 on any failure.
#   KP_MODULE_TIMEOUT  guest time limit in seconds (default 1200; 2400 for debug)
#   KP_KERNEL_FLAVOUR=debug  run it all on the debug kernel (qemu/kernel-debug.config:
#       KASAN, kmemleak, lockdep, DEBUG_LIST, DEBUG_VM), 2 GiB guest; the module is built
#       out of tree in $KP_CACHE/kmod-debug (kp_kernel_module); the corpus is the same as the
#       normal run's (made from the normal kernel's Image). Extra checks: the module is
#       KASAN-instrumented, KASAN/kmemleak/lockdep are live in the guest, kmemleak finds
#       nothing after rmmod (scan, clear before insmod; two scans after), lockdep still
#       on at the end, and no KASAN, kmemleak, lockdep, list-corruption or WARN report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KP_REPO"

flavour=${KP_KERNEL_FLAVOUR:-}
[ "$flavour" = default ] && flavour=
kdir=$(kp_kernel_dir)
work=$KP_CACHE/module-test${flavour:+-$flavour}
mkdir -p "$work"

kp_log "building kernel_probe.ko against $kdir/obj"
buildlog=$work/kmod-build.log
ko=$(kp_kernel_module "$kdir" "$flavour" "$buildlog")

kp_log "building probe-run and the corpus generator"
cargo build --release -q -p userspace-harness -p kernel-probe-tests
probe_run=${PROBE_RUN:-$KP_REPO/target/release/probe-run}
# The corpus is made from the normal kernel's Image for every flavour (same cases).
image=$kdir/Image
[ -z "$flavour" ] || image=$(KP_KERNEL_FLAVOUR='' qemu/build-kernel.sh)/Image
corpus=$(kp_corpus "$image")

# Signed images for the Authenticode parity: Debian's signed kernel, and the
# same with one byte changed inside a section (the digest must then differ).
signed=$(tests/fetch-debian-kernels.sh | awk '$1 == "signed" {print $2}')
extra=$work/extra-$(basename "$(dirname "$signed")")
if [ ! -s "$extra/debian-signed-tampered.gz" ]; then
  rm -rf "$extra.tmp" && mkdir -p "$extra.tmp"
  gzip -1 -c "$signed" >"$extra.tmp/debian-signed.gz"
  python3 - "$signed" "$extra.tmp/tampered" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[0x20000] ^= 0x01  # inside .text
open(sys.argv[2], "wb").write(d)
PY
  gzip -1 -c "$extra.tmp/tampered" >"$extra.tmp/debian-signed-tampered.gz" && rm "$extra.tmp/tampered"
  rm -rf "$extra" && mv "$extra.tmp" "$extra"
fi

initrd=$(kp_initramfs --add "$ko:/lib/kernel_probe.ko" --add "$corpus:/corpus" --add "$extra:/extra" \
  --add "$KP_REPO/qemu/guest-module/module.sh:/scenarios/module.sh")
log=$work/console.log
kp_log "booting the guest (log: $log)"
set +e
runargs=(--timeout "${KP_MODULE_TIMEOUT:-1200}")
[ -z "$flavour" ] || runargs=(--timeout "${KP_MODULE_TIMEOUT:-2400}" --mem 2G)
t0=$(date +%s)
qemu/run.sh --kernel "$kdir/Image" --initrd "$initrd" --scenario module "${runargs[@]}" --log "$log"
boot=$?
kp_log "guest run: $(($(date +%s) - t0)) s"
set -e

# The module probes with the running kernel's rules (endianness, mixed-endian
# support, granules, PAGE_SIZE, as image_load() has them): probe-run gets the
# same rules from the line the module printed, so the two must agree.
target=$(grep -o 'KP-TARGET kernel_probe: target .*' "$log" | head -n1 | tr -d '\r')
kp_log "module's target: ${target#KP-TARGET kernel_probe: target }"
rules=()
case $target in *endian=big*) rules+=(--target-endian big) ;; esac
case $target in *mixed_endian=1*) rules+=(--mixed-endian) ;; esac
granules=$(printf '%s\n' "$target" | sed -n 's/.*granules=\([0-9k,]*\).*/\1/p')
granules=${granules%,}
[ -n "$granules" ] && rules+=(--page-sizes "$granules")
page_size=$(printf '%s\n' "$target" | sed -n 's/.*page_size=\([0-9]*\).*/\1/p')
[ "${page_size:-}" = 4096 ] || kp_log "warning: guest PAGE_SIZE ${page_size:-unknown}; probe-run assumes 4096"
kp_log "probe-run on the host: the expected answers (${rules[*]})"
files=$(awk -F'\t' '!/^#/ && NF {print $1}' "$corpus/cases.tsv")
(cd "$corpus" && "$probe_run" --json "${rules[@]}" $files >"$work/expected.jsonl") || true
(cd "$extra" && "$probe_run" --json "${rules[@]}" debian-signed.gz debian-signed-tampered.gz >>"$work/expected.jsonl") || true
(cd "$corpus" && "$probe_run" --json "${rules[@]}" --max-size 16M bomb-2g.gz valid-gzip9.gz >"$work/expected-small.jsonl") || true

asan=0
[ -z "$flavour" ] || asan=$(llvm-nm$KP_LLVM_SUFFIX -u "$ko" | grep -c ' __asan_' || true)
python3 - "$log" "$work/expected.jsonl" "$work/expected-small.jsonl" "$buildlog" "$boot" "$flavour" "$asan" "$target" <<'PY'
import json, re, sys
log, expected, expected_small, buildlog, boot, flavour, asan, target = sys.argv[1:9]
console = open(log, errors="replace").read().replace("\r", "")
passed = failed = 0
def check(ok, what):
    global passed, failed
    print(("PASS " if ok else "FAIL ") + what)
    if ok: passed += 1
    else: failed += 1
def strip(j):
    # "signature" is probe-run's own (--cert, userspace only), and so is
    # "uki_authenticode" (a digest of the whole file, which the module, fed a
    # stream, does not hold): not the module's.
    return {k: v for k, v in j.items() if k not in ("path", "signature", "uki_authenticode")}
def load(p):
    return {json.loads(l)["path"]: strip(json.loads(l)) for l in open(p) if l.strip()}

warnings = [l for l in open(buildlog) if re.search(r"\bwarning\b", l, re.I)]
check(not warnings, "module builds without warnings" + (": " + warnings[0].strip() if warnings else ""))
check(boot == "0", "guest booted and ran the module scenario (run.sh exit %s)" % boot)
check("KP-MODULE-DONE" in console, "guest scenario completed")

# The module took its rules from this kernel (cortex-a57 under QEMU: 4K and
# 64K granules, no 16K, mixed endianness): the Debian 16K kernel's page size
# and the big-endian image then get this kernel's answer, not the defaults.
check("granules=" in target and "16k" not in target and "page_size=4096" in target,
      "module took the guest CPU's granules (no 16K on cortex-a57) and PAGE_SIZE: %s" % target)
exp = load(expected)
mod = {}
for m in re.finditer(r"^KP-MOD (\S+) (\d+) (.*)$", console, re.M):
    try:
        mod[m.group(1)] = (m.group(2), strip(json.loads(m.group(3))))
    except ValueError:
        mod[m.group(1)] = (m.group(2), {"unparsable": m.group(3)[:200]})
check(len(mod) == len(exp) and len(exp) > 40, "every corpus case answered (%d of %d)" % (len(mod), len(exp)))
auth = {n: (mod.get(n, ("", {}))[1] or {}).get("authenticode") for n in ("debian-signed.gz", "debian-signed-tampered.gz")}
check(bool(auth["debian-signed.gz"]) and auth["debian-signed.gz"].get("digest_matches") is True,
      "module: Debian's signed kernel, Authenticode digest matches its signature")
check(bool(auth["debian-signed-tampered.gz"]) and auth["debian-signed-tampered.gz"].get("digest_matches") is False,
      "module: one byte changed in a section, the digest no longer matches")
for name, want in sorted(exp.items()):
    bs, got = mod.get(name, ("-", None))
    if got == want:
        check(True, "%s: %s (writes of %s bytes)" % (name, want["errno_name"], bs))
    else:
        keys = [k for k in want if got is None or got.get(k) != want[k]]
        check(False, "%s: module %s != probe-run %s; differing keys %s" % (
            name, None if got is None else got.get("errno_name"), want["errno_name"], keys))

par = {m.group(1): m.group(2) for m in re.finditer(r"^KP-PAR (\S+) (.*)$", console, re.M)}
check(len(par) == 16, "16 concurrent writers reported (%d)" % len(par))
for name, line in sorted(par.items()):
    try:
        got = strip(json.loads(line))
    except ValueError:
        got = None
    check(got == exp.get(name), "concurrent %s: same answer as probe-run" % name)

small = load(expected_small)
got_small = {m.group(1): m.group(2) for m in re.finditer(r"^KP-SMALL (\S+) (.*)$", console, re.M)}
for name, want in sorted(small.items()):
    try:
        got = strip(json.loads(got_small.get(name, "")))
    except ValueError:
        got = None
    check(got == want, "max_image_size=16M %s: %s" % (name, want["errno_name"]))
check(small.get("bomb-2g.gz", {}).get("errno_name") == "EFBIG", "the bomb is EFBIG at 16 MiB")

for m in re.finditer(r"^KP-CHECK (\S+) (\S+)(.*)$", console, re.M):
    check(m.group(2) == "ok", "guest check %s%s" % (m.group(1), m.group(3)))
for bad in ("Oops", "BUG:", "WARNING:", "kernel BUG", "Kernel panic", "Call trace"):
    check(bad not in console, "console has no %r" % bad)
if flavour == "debug":
    check(int(asan) > 0, "the module is KASAN-instrumented (%s __asan_* symbols)" % asan)
    for live in ("KernelAddressSanitizer initialized", "kmemleak: Kernel memory leak detector initialized"):
        check(live in console, "debug kernel: %r on the console" % live)
    for name in ("kasan-live", "kmemleak-live", "lockdep-live", "softlockup-live", "kmemleak", "lockdep-active"):
        check(re.search(r"^KP-CHECK %s ok" % name, console, re.M) is not None, "debug guest check %s ran and is ok" % name)
    for bad in ("BUG: KASAN", "unreferenced object", "suspected memory leak", "possible circular locking",
                "possible recursive locking", "inconsistent lock state", "suspicious RCU usage",
                "lock held when returning", "bad unlock balance", "sleeping function called from invalid context",
                "list_add corruption", "list_del corruption", "DEBUG_LOCKS_WARN_ON", "VM_BUG_ON", "Unable to handle",
                "turning off the locking correctness validator", "soft lockup", "rcu_sched self-detected stall",
                "rcu: INFO"):
        check(bad not in console, "debug kernel: console has no %r" % bad)
times = [(m.group(1), int(m.group(2))) for m in re.finditer(r"^KP-TIME (\S+) (\d+)$", console, re.M)]
if times:
    print("guest probe times (TCG, informational): " + ", ".join("%s %d ms" % t for t in times if t[0].startswith("valid") or t[0].startswith("bomb")))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
