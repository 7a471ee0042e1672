#!/usr/bin/env bash
# The installed package works as a vendor uses it: `make dist` into a
# temporary prefix, then build examples/c/webhook_worker.c
#   1. with pkg-config against the shared library (run with LD_LIBRARY_PATH),
#   2. with pkg-config --static against libcaduceus.a,
#   3. with CMake, find_package(caduceus) and caduceus::caduceus (shared),
#   4. with CMake and -DCADUCEUS_USE_STATIC=ON,
# runs each binary, and checks the CMake version file; and that the result
# code table of docs/FFI.md lists exactly the codes of include/caduceus.h.
# Closes with "c-packaging: N passed, N failed". Usage: scripts/c-packaging-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# The webhook worker reads the signed webhook fixtures from here.
export CADUCEUS_WHATSAPP_FIXTURES=$ROOT/tests/fixtures/whatsapp
TMP=$(mktemp -d "${TMPDIR:-/tmp}/caduceus-pkg.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix
CFLAGS=(-std=c11 -Wall -Wextra -Wpedantic -Werror -O2)
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }

# run NAME BINARY [env...]: the example exits 0 and reports no failed check.
run() {
  local name=$1 bin=$2
  shift 2
  local out
  if out=$(env "$@" "$bin" 2>&1) && grep -Eq '^webhook_worker: [0-9]+ passed, 0 failed$' <<<"$out"; then
    pass "$name runs ($(tail -n 1 <<<"$out"))"
  else
    printf '%s\n' "$out" | sed 's/^/    /'
    fail "$name run"
  fi
}

# needs BINARY yes|no: whether the binary depends on libcaduceus.so.
needs_shared() {
  local bin=$1 want=$2 have=no
  if readelf -d "$bin" | grep -q 'NEEDED.*\[libcaduceus\.so\]'; then have=yes; fi
  if [ "$have" = "$want" ]; then
    pass "$(basename "$bin") links libcaduceus.so: $have"
  else
    fail "$(basename "$bin") links libcaduceus.so: $have, expected $want"
  fi
}

echo "== docs/FFI.md result codes"
# Each code of the header's enum must appear as "| N | `NAME` | ... |";
# the missing rows are printed ready to paste.
if codes_out=$(python3 - include/caduceus.h docs/FFI.md <<'PY'
import re, sys
header, doc = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
enum = header[header.index("enum caduceus_result"):]
enum = enum[: enum.index("};")]
codes, comment = [], []
for line in enum.splitlines():
    line = line.strip()
    m = re.match(r"(CADUCEUS_\w+) = (\d+),", line)
    if line.startswith("//"):
        comment.append(line[2:].strip())
        continue
    if m:
        codes.append((m.group(2), m.group(1), " ".join(comment)))
    comment = []
listed = set(re.findall(r"^\| (\d+) \| `(CADUCEUS_\w+)` \|", doc, re.M))
missing = [c for c in codes if (c[0], c[1]) not in listed]
extra = listed - {(c[0], c[1]) for c in codes}
for n, name, text in missing:
    print(f"missing: | {n} | `{name}` | {text} |")
for n, name in sorted(extra):
    print(f"not in the header: {n} {name}")
print(f"{len(codes)} codes")
sys.exit(1 if missing or extra else 0)
PY
); then
  pass "docs/FFI.md lists the $(tail -n 1 <<<"$codes_out") of the header"
else
  sed 's/^/    /' <<<"$codes_out"
  fail "docs/FFI.md result code table differs from include/caduceus.h"
fi

echo "== make dist PREFIX=$PREFIX"
make --no-print-directory dist PREFIX="$PREFIX"
for f in include/caduceus.h lib/libcaduceus.so lib/libcaduceus.a lib/pkgconfig/caduceus.pc \
  lib/cmake/caduceus/caduceusConfig.cmake lib/cmake/caduceus/caduceusConfigVersion.cmake; do
  [ -f "$PREFIX/$f" ] || { fail "missing $f"; continue; }
done
VERSION=$(sed -n 's/^#define CADUCEUS_VERSION "\(.*\)"$/\1/p' "$PREFIX/include/caduceus.h")

echo "== pkg-config"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
if [ "$(pkg-config --modversion caduceus)" = "$VERSION" ]; then
  pass "pkg-config --modversion caduceus = $VERSION"
else
  fail "pkg-config --modversion caduceus = $(pkg-config --modversion caduceus), header says $VERSION"
fi
read -r -a PC_CFLAGS <<<"$(pkg-config --cflags caduceus)"
read -r -a PC_LIBS <<<"$(pkg-config --libs caduceus)"
read -r -a PC_STATIC <<<"$(pkg-config --static --libs caduceus | sed 's/-lcaduceus\b/-l:libcaduceus.a/')"
if gcc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" examples/c/webhook_worker.c "${PC_LIBS[@]}" -o "$TMP/webhook_worker-pc"; then
  pass "gcc \$(pkg-config --cflags --libs caduceus)"
  needs_shared "$TMP/webhook_worker-pc" yes
  run "pkg-config shared build" "$TMP/webhook_worker-pc" LD_LIBRARY_PATH="$PREFIX/lib"
else
  fail "gcc \$(pkg-config --cflags --libs caduceus)"
fi
if gcc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" examples/c/webhook_worker.c "${PC_STATIC[@]}" -o "$TMP/webhook_worker-pc-static"; then
  pass "gcc \$(pkg-config --static --libs caduceus) with libcaduceus.a"
  needs_shared "$TMP/webhook_worker-pc-static" no
  run "pkg-config static build" "$TMP/webhook_worker-pc-static"
else
  fail "gcc \$(pkg-config --static --libs caduceus) with libcaduceus.a"
fi

echo "== CMake"
for mode in shared static; do
  build=$TMP/build-$mode
  extra=()
  [ "$mode" = static ] && extra=(-DCADUCEUS_USE_STATIC=ON)
  if cmake -S examples/c -B "$build" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
    "${extra[@]}" >"$TMP/cmake-$mode.log" 2>&1 &&
    cmake --build "$build" >>"$TMP/cmake-$mode.log" 2>&1; then
    pass "cmake find_package(caduceus) + caduceus::caduceus ($mode)"
    if [ "$mode" = shared ]; then
      needs_shared "$build/webhook_worker" yes
      run "CMake shared build" "$build/webhook_worker" LD_LIBRARY_PATH="$PREFIX/lib"
    else
      needs_shared "$build/webhook_worker" no
      run "CMake static build" "$build/webhook_worker"
    fi
  else
    sed 's/^/    /' "$TMP/cmake-$mode.log"
    fail "cmake build ($mode)"
  fi
done

# The version file: a later major version is refused, this one accepted EXACT.
mkdir -p "$TMP/version-check"
cat >"$TMP/version-check/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.14)
project(version_check LANGUAGES C)
find_package(caduceus 99 CONFIG QUIET)
if(caduceus_FOUND)
  message(FATAL_ERROR "caduceus \${caduceus_VERSION} claims to satisfy 99")
endif()
find_package(caduceus $VERSION EXACT CONFIG REQUIRED)
if(NOT caduceus_VERSION STREQUAL "$VERSION")
  message(FATAL_ERROR "caduceus_VERSION is \${caduceus_VERSION}")
endif()
CMAKE
if cmake -S "$TMP/version-check" -B "$TMP/version-check/build" -DCMAKE_PREFIX_PATH="$PREFIX" \
  >"$TMP/version-check.log" 2>&1; then
  pass "caduceusConfigVersion.cmake accepts $VERSION EXACT"
else
  sed 's/^/    /' "$TMP/version-check.log"
  fail "caduceusConfigVersion.cmake"
fi

echo "c-packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
