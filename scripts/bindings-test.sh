#!/usr/bin/env bash
# The uniffi bindings' tests (`make bindings-test`, part of `make test`):
#   1. the checked-in generated sources are fresh (scripts/bindings-check.sh);
#   2. the Python wheel, built by maturin (uniffi mode) and pip-installed
#      into a virtualenv under target/, passes bindings/python/tests; its
#      cross-language step seals an image for the other languages;
#   3. the Kotlin Maven project (bindings/kotlin) compiles the generated
#      Kotlin and passes its JUnit 5 suite against the built library; it
#      opens what Python sealed and seals for Python;
#   4. the C ABI (libcaduceus) opens what Python sealed;
#   5. Python opens what Kotlin sealed;
#   6. examples/python/intake.py runs.
# Logs: target/bindings-python.log (pytest), target/bindings-kotlin.log
# (Maven/surefire), target/bindings-other.log (check, C, example), read by
# scripts/test-summary.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=target/bindings-venv
XLANG=$ROOT/target/bindings-xlang
PYLOG=target/bindings-python.log
KTLOG=target/bindings-kotlin.log
OTHERLOG=target/bindings-other.log
mkdir -p target
: >"$PYLOG"
: >"$KTLOG"
: >"$OTHERLOG"
rm -rf "$XLANG"
mkdir -p "$XLANG"
export CADUCEUS_XLANG_DIR=$XLANG

echo "== bindings: generated sources are fresh"
bash scripts/bindings-check.sh | tee -a "$OTHERLOG"

echo "== bindings: Python wheel (maturin) in $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# Pinned tools, installed once into the virtualenv.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin==1.16.0" "pytest==9.0.3"
rm -rf target/wheels/caduceus-*.whl
(cd bindings && "$ROOT/$VENV/bin/maturin" build --quiet --out "$ROOT/target/wheels" 2>&1 | tail -n 3)
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  target/wheels/caduceus-*.whl

echo "== bindings: pytest (bindings/python/tests)"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider bindings/python/tests \
  --ignore=bindings/python/tests/test_xlang_read.py 2>&1 | tee -a "$PYLOG"

echo "== bindings: Kotlin (bindings/kotlin, JUnit 5)"
cargo build -p caduceus-uniffi -p caduceus-ffi --quiet
(cd bindings/kotlin && mvn -B -ntp test -Dstyle.color=never \
  -Dcaduceus.libdir="$ROOT/target/debug" -Dcaduceus.xlang="$XLANG" \
  -Dcaduceus.fixtures="$ROOT/tests/fixtures/whatsapp") 2>&1 | tee -a "$KTLOG" \
  | grep -E 'Tests run:|FAIL|ERROR|BUILD' || true
grep -q 'BUILD SUCCESS' "$KTLOG"

echo "== bindings: C ABI opens the Python envelope"
mkdir -p target/bindings-c
gcc -std=c11 -Wall -Wextra -Werror -Iinclude bindings/tests/c/open_python_envelope.c \
  -Ltarget/debug -lcaduceus -o target/bindings-c/open_python_envelope
LD_LIBRARY_PATH=target/debug target/bindings-c/open_python_envelope "$XLANG" | tee -a "$OTHERLOG"

echo "== bindings: Python opens the Kotlin envelope"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider bindings/python/tests/test_xlang_read.py 2>&1 \
  | tee -a "$PYLOG"

echo "== bindings: examples/python/intake.py"
"$VENV/bin/python" examples/python/intake.py tests/fixtures/whatsapp | tee target/bindings-example.log
if grep -q '^intake example: done' target/bindings-example.log; then
  echo "python-example: 1 passed, 0 failed" | tee -a "$OTHERLOG"
else
  echo "python-example: 0 passed, 1 failed" | tee -a "$OTHERLOG"
  exit 1
fi
# pytest's exit status is hidden by tee: fail on its summary.
if grep -Eq '[0-9]+ (failed|error)' "$PYLOG"; then
  exit 1
fi
