#!/usr/bin/env bash
# Run caduceus-core's unit tests under Miri, the Rust interpreter that detects
# undefined behaviour (out-of-bounds or dangling accesses, invalid values,
# data races, violated aliasing rules), here in the unsafe code of the crates
# core depends on (core itself forbids unsafe code).
#
# Usage: scripts/miri.sh [extra cargo-miri test arguments]
#
# Miri needs a nightly toolchain. The project builds on stable only; this
# pinned nightly is used for Miri and nothing else, and is installed (with the
# miri and rust-src components, about 16 s) when missing.
#
# Miri interprets every instruction, about 1000x slower than a native run.
# Tests that would take minutes are marked #[cfg_attr(miri, ignore = "...")]
# with the reason, and a few loops are shorter under cfg!(miri); all of them
# run natively in `make unit`. `grep -rn 'miri' core/src` lists them.
# Isolation stays on (the default): core does no I/O and reads no clock.
set -euo pipefail
cd "$(dirname "$0")/.."
MIRI_TOOLCHAIN=nightly-2026-10-30

if ! cargo "+$MIRI_TOOLCHAIN" miri --version >/dev/null 2>&1; then
  echo "miri.sh: installing $MIRI_TOOLCHAIN with miri and rust-src (used for Miri only)" >&2
  if ! out=$(rustup toolchain install "$MIRI_TOOLCHAIN" --profile minimal --component miri,rust-src 2>&1); then
    printf '%s\n' "$out" >&2
    # Skipped only when the download failed for want of a network path (the
    # Rust toolchain server is not a package registry); any other failure,
    # and every failing test, fails the build.
    if grep -qiE "could not download|error sending request|dns error|resolve host|timed out|connection (refused|reset)" <<<"$out"; then
      echo "miri.sh: WARNING: Miri NOT run: $MIRI_TOOLCHAIN cannot be downloaded here"
      mkdir -p target
      echo "miri: NOT RUN ($MIRI_TOOLCHAIN cannot be downloaded here)" >>target/not-run.log
      exit 0
    fi
    exit 1
  fi
fi
# --report-time: each test's time, to spot one that outgrows the budget.
exec cargo "+$MIRI_TOOLCHAIN" miri test -p caduceus-core --lib "$@" -- -Z unstable-options --report-time
