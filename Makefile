# Caduceus: `make demo` runs the main job, `make test` runs every test.
CARGO ?= cargo

.PHONY: all build test fmt-check clippy unit doc demo bench fmt clean

all: build

build:
	$(CARGO) build --workspace --release

## Every check CI runs: formatting, lints, all tests, documentation.
test: fmt-check clippy unit doc

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

## The main job: a walk-through of the CLI on a sample image.
demo:
	$(CARGO) build --release -p caduceus-cli
	bash examples/demo.sh target/release/caduceus

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
