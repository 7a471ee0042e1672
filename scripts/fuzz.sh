#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for a bounded time.
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (default: every target)
#
# 1. installs the pinned cargo-fuzz if it is missing or another version;
# 2. writes the seed corpora (fuzz/seeds.sh) and builds the targets with
#    AddressSanitizer (RUSTC_BOOTSTRAP=1: libFuzzer needs -Z flags, and the
#    project builds on stable only);
# 3. replays every saved crash input in fuzz/regressions/<target>/ once;
# 4. fuzzes each target for SECONDS from its corpus (fuzz/corpus/<target>/,
#    which grows run by run).
#
# For each target it prints the executions and coverage libFuzzer reported,
# and a line "fuzz-<target>: 1 passed, 0 failed" (or "0 passed, 1 failed")
# that scripts/test-summary.py counts. Logs: fuzz/target/fuzz-logs/<target>.log;
# a crash input lands in fuzz/artifacts/<target>/. Exits non-zero if any
# target crashed, leaked, timed out or failed to build.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_FUZZ_VERSION=0.13.2
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION (a minute or two)" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cd fuzz
export RUSTC_BOOTSTRAP=1
./seeds.sh
cargo fuzz build
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  list=$(cargo fuzz list) # not in a process substitution: a failure must stop the script
  mapfile -t targets <<<"$list"
fi
if [ "${#targets[@]}" -eq 0 ] || [ -z "${targets[0]}" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
bin_dir=target/x86_64-unknown-linux-gnu/release
mkdir -p target/fuzz-logs

failed=()
for t in "${targets[@]}"; do
  log=target/fuzz-logs/$t.log
  ok=1
  # Saved crash inputs first: each must now run clean.
  mapfile -t saved < <(find "regressions/$t" -type f 2>/dev/null | sort)
  if [ "${#saved[@]}" -gt 0 ]; then
    if ! "$bin_dir/$t" "${saved[@]}" > "$log.regressions" 2>&1; then
      echo "fuzz $t: a saved regression input fails again (see $log.regressions)"
      ok=0
    fi
  fi
  mkdir -p "corpus/$t"
  # -timeout: an input that takes 60 s is a bug (hang), not slowness.
  if ! cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" \
      -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1; then
    ok=0
  fi
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  echo "fuzz $t: ${runs:-?} executions in ${seconds} s, ${cov:-no coverage line}, ${#saved[@]} saved regression input(s) replayed"
  if [ "$ok" = 1 ]; then
    echo "fuzz-$t: 1 passed, 0 failed"
  else
    grep -E 'panicked|ERROR: |SUMMARY|Test unit written|Output of' "$log" | head -8 || true
    echo "fuzz-$t: 0 passed, 1 failed"
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/target/fuzz-logs/)"
  exit 1
fi
