#!/usr/bin/env bash
# Fail when the checked-in generated binding sources (bindings/kotlin,
# bindings/swift, bindings/python) are stale: regenerate them into a
# temporary directory and compare. Fix with `make bindings`.
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
bash scripts/bindings-generate.sh "$TMP" >/dev/null
status=0
for f in kotlin/src/main/kotlin/health/caduceus/caduceus.kt \
         swift/Sources/Caduceus/Caduceus.swift \
         swift/Sources/caduceusFFI/include/caduceusFFI.h \
         swift/Sources/caduceusFFI/include/module.modulemap \
         python/caduceus/caduceus.py; do
  if ! cmp -s "$TMP/$f" "bindings/$f"; then
    echo "STALE: bindings/$f differs from what the library generates; run 'make bindings'" >&2
    status=1
  fi
done
if [ $status -eq 0 ]; then
  echo "bindings-check: 1 passed, 0 failed"
else
  echo "bindings-check: 0 passed, 1 failed"
fi
exit $status
