#!/usr/bin/env bash
# Build and run the C ABI tests and C examples:
#   1. with gcc -Wall -Wextra -Wpedantic -Werror, AddressSanitizer and
#      UndefinedBehaviorSanitizer, linked against the static library;
#   2. under valgrind (zero errors, zero leaks), linked against the shared library.
# The intake test and the webhook worker read the signed webhook fixtures
# from $CADUCEUS_WHATSAPP_FIXTURES (tests/fixtures/whatsapp by default).
# Usage: scripts/c-tests.sh   (from the workspace root; builds libcaduceus first)
set -euo pipefail
cd "$(dirname "$0")/.."
export CADUCEUS_WHATSAPP_FIXTURES=${CADUCEUS_WHATSAPP_FIXTURES:-$PWD/tests/fixtures/whatsapp}
cargo build -p caduceus-ffi --quiet
LIBDIR=target/debug
OUT=target/c-tests
mkdir -p "$OUT"
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -Itests/c)
SANITIZE=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
LIBS=(-lpthread -ldl -lm)
sources=(tests/c/test_*.c examples/c/*.c)
status=0
for src in "${sources[@]}"; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  gcc "${CFLAGS[@]}" "${SANITIZE[@]}" "$src" "$LIBDIR/libcaduceus.a" "${LIBS[@]}" -o "$OUT/$name-asan"
  gcc "${CFLAGS[@]}" "$src" -L"$LIBDIR" -lcaduceus "${LIBS[@]}" -o "$OUT/$name"
  echo "== $name (ASan + UBSan)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$OUT/$name-asan" || status=1
  echo "== $name (valgrind)"
  LD_LIBRARY_PATH="$LIBDIR" valgrind --quiet --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    "$OUT/$name" || status=1
done
exit $status
