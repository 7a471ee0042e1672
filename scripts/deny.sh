#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (configuration: deny.toml):
#   bans      no second version of a crypto crate, no wildcard versions;
#   licenses  every dependency under an allowed licence;
#   sources   crates.io only, no other registry, no git.
#   advisories  no crate with a RustSec advisory (vulnerable, unmaintained,
#               unsound, yanked), checked against the RustSec advisory
#               database: fetched when its host is reachable, otherwise a
#               local copy in ~/.cargo/advisory-dbs/ is used (--offline).
#               With neither, the check cannot run: this script says so
#               loudly and goes on (see SECURITY.md, "Supply chain").
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
mkdir -p target
cargo deny --locked --workspace check bans licenses sources "$@"

# The fuzz workspace has dependencies of its own (libfuzzer-sys, arbitrary).
cargo deny --locked --manifest-path fuzz/Cargo.toml check bans licenses sources "$@"

# Advisories. Fetch the database as a step of its own, so that "cannot
# fetch" is told apart from "found an advisory" by the exit status alone.
advisory_dbs=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
db_date() { # the commit date of the local copy of the RustSec database
  local crates
  crates=$(ls -d "$advisory_dbs"/advisory-db-*/crates 2>/dev/null | head -1)
  [ -n "$crates" ] && git -C "$(dirname "$crates")" log -1 --format=%cs 2>/dev/null
}
offline=()
if cargo deny fetch db >target/deny-fetch.log 2>&1; then
  :
elif when=$(db_date); then
  echo "deny.sh: the RustSec database cannot be fetched here (target/deny-fetch.log); checking against the local copy of $when"
  offline=(--offline)
else
  echo "deny.sh: WARNING: advisories NOT checked: the RustSec database cannot be fetched here (target/deny-fetch.log) and there is no local copy in $advisory_dbs (see SECURITY.md, \"Supply chain\")"
  echo "advisories: NOT CHECKED (RustSec database unreachable, no local copy)" >>target/not-run.log
  exit 0
fi
cargo deny --locked --workspace "${offline[@]}" check advisories "$@"
echo "deny.sh: advisories checked against the RustSec database of $(db_date || echo '?')"
