#!/usr/bin/env bash
# Generate the Kotlin, Swift and Python sources of the uniffi bindings from
# the built library (uniffi library mode), with the workspace's pinned
# uniffi-bindgen (exactly the uniffi version the library is built with).
#
# Usage: scripts/bindings-generate.sh [OUT]   (default: bindings/, i.e. the
# checked-in sources; scripts/bindings-check.sh generates into a temporary
# directory and compares).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bindings}
cargo build -p caduceus-uniffi --quiet
cargo build -p uniffi-bindgen --quiet
LIB=target/debug/libcaduceus_uniffi.so
BINDGEN=target/debug/uniffi-bindgen
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for lang in kotlin swift python; do
  "$BINDGEN" generate --library "$LIB" --language "$lang" --no-format --out-dir "$TMP/$lang" >/dev/null
done
# Kotlin: one file, health/caduceus/caduceus.kt, in the Maven project.
rm -rf "$OUT/kotlin/src/main/kotlin/health"
mkdir -p "$OUT/kotlin/src/main/kotlin"
cp -r "$TMP/kotlin/health" "$OUT/kotlin/src/main/kotlin/"
# Swift: the module's source, and the C header with its module map as the
# caduceusFFI target of bindings/swift/Package.swift.
mkdir -p "$OUT/swift/Sources/Caduceus" "$OUT/swift/Sources/caduceusFFI/include"
cp "$TMP/swift/Caduceus.swift" "$OUT/swift/Sources/Caduceus/Caduceus.swift"
cp "$TMP/swift/caduceusFFI.h" "$OUT/swift/Sources/caduceusFFI/include/caduceusFFI.h"
cp "$TMP/swift/caduceusFFI.modulemap" "$OUT/swift/Sources/caduceusFFI/include/module.modulemap"
# Python: the module maturin packages (it regenerates the same file when it
# builds the wheel).
mkdir -p "$OUT/python/caduceus"
cp "$TMP/python/caduceus.py" "$OUT/python/caduceus/caduceus.py"
echo "bindings generated into $OUT/{kotlin,swift,python}"
