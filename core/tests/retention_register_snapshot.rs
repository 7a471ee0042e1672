#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Snapshot test of the Art. 30 register of the default policy
//! (`policies/de-practice.toml`), as Markdown and JSON.
//!
//! The expected files are checked in under `core/tests/snapshots/`. After an
//! intended change to the policy or the register renderer, regenerate them
//! and review the diff:
//!
//! ```sh
//! UPDATE_SNAPSHOTS=1 cargo test -p caduceus-core --test retention_register_snapshot
//! ```

use std::path::PathBuf;

use caduceus_core::retention::{DEFAULT_POLICY, Policy};

fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "at the end".to_owned(), |i| format!("at line {}", i + 1));
        panic!(
            "{} differs from the rendered register ({line}); if the change is intended, run with UPDATE_SNAPSHOTS=1 and review the diff",
            path.display()
        );
    }
}

#[test]
fn default_register_markdown() {
    let p = Policy::parse(DEFAULT_POLICY).unwrap();
    check("de-practice-register.md", &p.register_markdown());
}

#[test]
fn default_register_json() {
    let p = Policy::parse(DEFAULT_POLICY).unwrap();
    check(
        "de-practice-register.json",
        &format!(
            "{}\n",
            serde_json::to_string_pretty(&p.register_json()).unwrap()
        ),
    );
}
