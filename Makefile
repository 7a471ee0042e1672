# Caduceus: `make demo` runs the main job, `make test` runs every test.
CARGO ?= cargo
SHELL := /bin/bash

.PHONY: all build test fmt-check clippy fhir-deps unit ctest header doc demo demo-envelope bench fmt clean deny dist fuzz fuzz-smoke miri fuzz-and-miri test-start bindings bindings-test bench-python

all: build

build:
	$(CARGO) build --workspace --release

## Every check CI runs: formatting, lints, all tests, documentation.
test: test-start fmt-check clippy deny fhir-deps unit ctest bindings-test fuzz-and-miri doc
	@python3 scripts/test-summary.py --not-run target/not-run.log Rust=target/test-output.log \
	  C=target/c-tests.log "fuzz targets=target/fuzz.log" "Rust under Miri=target/miri.log" \
	  Python=target/bindings-python.log Kotlin=target/bindings-kotlin.log \
	  "bindings checks=target/bindings-other.log"

## Checks that cannot run on a machine (no route to the RustSec database or
## to the Rust toolchain server) add a line to target/not-run.log; the
## summary prints them.
test-start:
	@mkdir -p target && rm -f target/not-run.log

fmt-check:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The independent FHIR R4 validator (HL7 JSON schema + ajv) used by the tests.
fhir-deps:
	cd tests/fhir && npm ci --no-audit --no-fund --silent

unit:
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace 2>&1 | tee target/test-output.log

## The C ABI tests and C examples under ASan+UBSan and valgrind.
ctest:
	@mkdir -p target
	set -o pipefail; bash scripts/c-tests.sh 2>&1 | tee target/c-tests.log
	set -o pipefail; bash scripts/c-packaging-test.sh 2>&1 | tee -a target/c-tests.log

## Regenerate the checked-in Kotlin, Swift and Python sources of the uniffi
## bindings (bindings/kotlin, bindings/swift, bindings/python) from the
## built library, with the workspace's pinned uniffi-bindgen.
bindings:
	bash scripts/bindings-generate.sh

## The bindings' tests: generated sources fresh, pytest against the
## maturin-built wheel (venv under target/), the Kotlin JUnit suite (Maven),
## the cross-language envelopes (Python -> Kotlin and C, Kotlin -> Python)
## and examples/python/intake.py. Part of `make test`.
bindings-test:
	@mkdir -p target
	bash scripts/bindings-test.sh

## Install libcaduceus, caduceus.h, caduceus.pc and the CMake package into
## PREFIX (default target/dist): make dist PREFIX=/opt/caduceus
dist:
	bash scripts/dist.sh "$(PREFIX)"

## Regenerate include/caduceus.h with the pinned cbindgen.
header:
	UPDATE_HEADER=1 $(CARGO) test -p caduceus-ffi --test header

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The main job: a practice's day. `caduceus demo` starts the intake server
## (`caduceus serve`) and a fake Graph API on loopback with a fresh store and
## plays signed WhatsApp deliveries against it (docs/SERVER.md).
demo:
	$(CARGO) build --release -p caduceus-cli
	target/release/caduceus demo

## The envelope walk-through of the CLI on a sample X-ray (keys, keyring,
## seal, inspect, open, access, tamper, shred).
demo-envelope:
	$(CARGO) build --release -p caduceus-cli
	bash examples/demo.sh target/release/caduceus

## Benchmarks (figures in docs/BENCHMARKS.md); not part of `make test`.
bench:
	$(CARGO) bench -p caduceus-core --bench envelope
	$(CARGO) bench -p caduceus-core --bench consent
	$(CARGO) bench -p caduceus-core --bench ledger_append
	$(CARGO) bench -p caduceus-core --bench retention
	$(CARGO) bench -p caduceus-core --bench audit
	bash scripts/bench-cli.sh
	$(CARGO) bench -p caduceus-server --bench serve

## Python bindings against `cryptography` AESGCM and PyNaCl (figures in
## docs/BINDINGS.md); not part of `make test`.
bench-python:
	python3 scripts/bench-python.py

## Fuzzing (fuzz/, its own cargo-fuzz workspace; scripts/fuzz.sh installs
## the pinned cargo-fuzz). `make fuzz` seeds fuzz/corpus, replays the saved
## crash inputs in fuzz/regressions and runs every target for FUZZ_SECONDS
## (default 60); `make fuzz-smoke`, part of `make test`, runs each for 20 s.
## Logs: fuzz/target/fuzz-logs/; a new crash input: fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p target
	set -o pipefail; bash scripts/fuzz.sh $(FUZZ_SECONDS) 2>&1 | tee target/fuzz.log

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

## The fuzz smoke run and Miri each keep one core busy once built: run them
## side by side (their output lines interleave).
fuzz-and-miri:
	$(MAKE) --no-print-directory -j2 --output-sync=line fuzz-smoke miri

## caduceus-core's unit tests under Miri (undefined behaviour in the unsafe
## code of core's dependencies), with a pinned nightly used for Miri only
## (scripts/miri.sh installs it). Part of `make test`.
miri:
	@mkdir -p target
	set -o pipefail; bash scripts/miri.sh 2>&1 | tee target/miri.log

## Supply chain (deny.toml): bans, licenses, sources with the pinned
## cargo-deny (installed on first use). Advisories: see SECURITY.md.
deny:
	bash scripts/deny.sh

fmt:
	$(CARGO) fmt --all
	cd fuzz && $(CARGO) fmt --all

clean:
	$(CARGO) clean
