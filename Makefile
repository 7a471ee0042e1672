# Caduceus: `make demo` runs the main job, `make test` runs every test.
CARGO ?= cargo
SHELL := /bin/bash

.PHONY: all build test fmt-check clippy fhir-deps unit ctest header doc demo bench fmt clean

all: build

build:
	$(CARGO) build --workspace --release

## Every check CI runs: formatting, lints, all tests, documentation.
test: fmt-check clippy fhir-deps unit ctest doc
	@python3 scripts/test-summary.py target/test-output.log target/c-tests.log

fmt-check:
	$(CARGO) fmt --all -- --check

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

## Install libcaduceus, caduceus.h, caduceus.pc and the CMake package into
## PREFIX (default target/dist): make dist PREFIX=/opt/caduceus
.PHONY: dist
dist:
	bash scripts/dist.sh "$(PREFIX)"

## Regenerate include/caduceus.h with the pinned cbindgen.
header:
	UPDATE_HEADER=1 $(CARGO) test -p caduceus-ffi --test header

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The main job: a walk-through of the CLI on a sample image.
demo:
	$(CARGO) build --release -p caduceus-cli
	bash examples/demo.sh target/release/caduceus

## Benchmarks (figures in docs/BENCHMARKS.md); not part of `make test`.
bench:
	$(CARGO) bench -p caduceus-core --bench envelope
	$(CARGO) bench -p caduceus-core --bench consent
	$(CARGO) bench -p caduceus-core --bench retention
	$(CARGO) bench -p caduceus-core --bench audit
	bash scripts/bench-cli.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
