//! The shipped crates never enable caduceus-core's `test-rng` feature (the
//! predictable RNGs of `caduceus_core::testing`): a product built from them
//! cannot draw a key from a test RNG (the CLI, the C ABI and the uniffi
//! bindings). Asked of cargo's own feature resolution
//! (`cargo tree`), for the crates as they are built for release, that is
//! without dev-dependencies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// The features of caduceus-core that `package` enables, over the given
/// dependency edges.
fn core_features(package: &str, edges: &str) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--prefix", "none", "-p", package, "-e"])
        .arg(format!("{edges},features"))
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut features: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("caduceus-core feature \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect();
    features.sort();
    features.dedup();
    features
}

#[test]
fn shipped_crates_do_not_enable_the_test_rng() {
    for package in ["caduceus-cli", "caduceus-ffi", "caduceus-uniffi"] {
        let features = core_features(package, "normal,build");
        assert!(
            !features.is_empty(),
            "{package}: caduceus-core's features were not found in cargo tree's output"
        );
        assert!(
            !features.iter().any(|f| f == "test-rng"),
            "{package} enables caduceus-core/test-rng: {features:?}"
        );
    }
}

#[test]
fn the_check_sees_the_feature_where_tests_enable_it() {
    // The ffi crate's unit tests do use the test RNG (a dev-dependency), so
    // the same query with dev edges must report it: the check above is not
    // blind.
    let features = core_features("caduceus-ffi", "normal,build,dev");
    assert!(features.iter().any(|f| f == "test-rng"), "{features:?}");
}
