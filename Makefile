# Caduceus: `make demo` runs the main job, `make test` runs every test.
CARGO ?= cargo
SHELL := /bin/bash

.PHONY: all build test fmt-check clippy fhir-deps unit ctest header doc demo bench fmt clean deny fuzz fuzz-smoke

all: build

build:
	$(CARGO) build --workspace --release

## Every check CI runs: formatting, lints, all tests, documentation.
test: fmt-check clippy deny fhir-deps unit ctest doc
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
.PHONY: dist deny fuzz fuzz-smoke
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

## Fuzzing (fuzz/, its own cargo-fuzz workspace; needs `cargo install
## cargo-fuzz`). `make fuzz` seeds fuzz/corpus and runs every target for
## FUZZ_SECONDS (default 60); `make fuzz-smoke` runs each for 20 s. Logs go
## to fuzz/target/fuzz-logs/, crashes to fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = envelope_inspect envelope_open envelope_stream_open key_text \
	keyring_record consent_event consent_ledger audit_entry \
	audit_note_checkpoint audit_proofs policy_toml
.PHONY: fuzz fuzz-smoke deny fuzz fuzz-smoke
fuzz:
	cd fuzz && ./seeds.sh
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build
	@mkdir -p fuzz/target/fuzz-logs
	set -o pipefail; cd fuzz && failed=; for t in $(FUZZ_TARGETS); do \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) > target/fuzz-logs/$$t.log 2>&1 \
	    || failed="$$failed $$t"; \
	  echo "$$t: $$(grep -E 'DONE|panicked|SUMMARY|Test unit written' target/fuzz-logs/$$t.log | tr '\n' ' ')"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed"; exit 1; fi

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

## Supply chain (deny.toml): bans, licenses, sources with the pinned
## cargo-deny (installed on first use). Advisories: see SECURITY.md.
.PHONY: deny deny fuzz fuzz-smoke
deny:
	bash scripts/deny.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
