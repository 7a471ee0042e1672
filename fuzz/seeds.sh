#!/usr/bin/env bash
# Write seed corpora (a few valid inputs per target) into fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release --example seeds -- corpus
