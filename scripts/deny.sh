#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (configuration: deny.toml):
#   bans      no second version of a crypto crate, no wildcard versions;
#   licenses  every dependency under an allowed licence;
#   sources   crates.io only, no other registry, no git.
# Advisories (RustSec) are NOT checked here: the build machines cannot reach
# the advisory database. Run `cargo deny check advisories` where it is
# reachable (see SECURITY.md, "Supply chain").
# Usage: scripts/deny.sh   (from anywhere; installs the pinned cargo-deny
# into ~/.cargo/bin first if it is missing or another version)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
  echo "deny.sh: installing cargo-deny $CARGO_DENY_VERSION (a few minutes)" >&2
  cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
fi
# --locked: check exactly Cargo.lock, never update it. Not --offline: cargo
# metadata may need to download crates for other targets (Windows, WASM)
# that a Linux build never fetched; crates.io is reachable.
exec cargo deny --locked --workspace check bans licenses sources "$@"
