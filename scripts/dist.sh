#!/usr/bin/env bash
# Build the release libcaduceus (cdylib + staticlib) and install it with its
# header, pkg-config file and CMake package into a prefix:
#
#   PREFIX/include/caduceus.h
#   PREFIX/lib/libcaduceus.so            (libcaduceus.dylib on macOS)
#   PREFIX/lib/libcaduceus.a
#   PREFIX/lib/pkgconfig/caduceus.pc
#   PREFIX/lib/cmake/caduceus/caduceusConfig.cmake
#   PREFIX/lib/cmake/caduceus/caduceusConfigVersion.cmake
#
# Usage: scripts/dist.sh [PREFIX]   (default target/dist; `make dist PREFIX=...`)
# The version is caduceus-ffi's (the workspace version in Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PREFIX=${1:-target/dist}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
CARGO=${CARGO:-cargo}

# The version: from cargo itself (resolves `version.workspace = true`).
VERSION=$("$CARGO" metadata --no-deps --format-version 1 --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys
pkgs = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "caduceus-ffi"]
print(pkgs[0]["version"])')
REPOSITORY=$("$CARGO" metadata --no-deps --format-version 1 --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys
pkgs = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "caduceus-ffi"]
print(pkgs[0].get("repository") or "")')
if ! [[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+) ]]; then
  echo "dist: cannot read the version of caduceus-ffi (got '$VERSION')" >&2
  exit 1
fi
MAJOR=${BASH_REMATCH[1]} MINOR=${BASH_REMATCH[2]} PATCH=${BASH_REMATCH[3]}

# The header must describe the library being installed.
if ! grep -q "^#define CADUCEUS_VERSION \"$VERSION\"$" include/caduceus.h; then
  echo "dist: include/caduceus.h does not define CADUCEUS_VERSION \"$VERSION\"; run make header" >&2
  exit 1
fi

case "$(uname -s)" in
  Darwin) SHARED_SUFFIX=.dylib ;;
  *) SHARED_SUFFIX=.so ;;
esac

echo "dist: building libcaduceus $VERSION (release)"
# Compiler output is shown only when the build fails.
if ! build_log=$("$CARGO" build --release -p caduceus-ffi 2>&1); then
  printf '%s\n' "$build_log" >&2
  echo "dist: cargo build --release -p caduceus-ffi failed" >&2
  exit 1
fi
TARGET_DIR=$("$CARGO" metadata --no-deps --format-version 1 --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
LIBDIR=$TARGET_DIR/release

install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/caduceus"
install -m 644 include/caduceus.h "$PREFIX/include/caduceus.h"
install -m 755 "$LIBDIR/libcaduceus$SHARED_SUFFIX" "$PREFIX/lib/libcaduceus$SHARED_SUFFIX"
install -m 644 "$LIBDIR/libcaduceus.a" "$PREFIX/lib/libcaduceus.a"

fill() { # template output
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" \
    -e "s|@VERSION_MAJOR@|$MAJOR|g" -e "s|@VERSION_MINOR@|$MINOR|g" -e "s|@VERSION_PATCH@|$PATCH|g" \
    -e "s|@SHARED_SUFFIX@|$SHARED_SUFFIX|g" -e "s|@REPOSITORY@|$REPOSITORY|g" "$1" >"$2.tmp"
  if grep -n '@[A-Z_]*@' "$2.tmp" >&2; then
    echo "dist: unfilled placeholder in $1" >&2
    rm -f "$2.tmp"
    exit 1
  fi
  chmod 644 "$2.tmp"
  mv "$2.tmp" "$2"
}
fill ffi/pkg/caduceus.pc.in "$PREFIX/lib/pkgconfig/caduceus.pc"
fill ffi/pkg/caduceusConfig.cmake.in "$PREFIX/lib/cmake/caduceus/caduceusConfig.cmake"
fill ffi/pkg/caduceusConfigVersion.cmake.in "$PREFIX/lib/cmake/caduceus/caduceusConfigVersion.cmake"

echo "dist: installed libcaduceus $VERSION into $PREFIX"
(cd "$PREFIX" && find include lib -type f | sort | sed 's/^/  /')
