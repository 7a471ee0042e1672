//! Fixtures shared by the integration tests: envelopes, and the FHIR R4
//! validator in tests/fhir.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use caduceus_core::envelope::{self, Labels};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::testing::DeterministicRng;

/// The labels every test envelope carries.
pub fn labels() -> Labels {
    Labels::new(
        "p-7f3a91",
        "clinical-photos",
        "treatment-communication",
        "image/jpeg",
        1_763_800_000,
    )
    .unwrap()
}

/// `len` bytes of a simple non-constant pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A fresh subject-category key from `seed`, and `plaintext` sealed to it.
pub fn sealed_to_new_key(seed: u64, plaintext: &[u8]) -> (DeterministicRng, PrivateKey, Vec<u8>) {
    let mut rng = DeterministicRng::new(seed);
    let key = PrivateKey::generate(KeyKind::SubjectCategory, &mut rng);
    let sealed = envelope::seal(&[key.public_key()], &labels(), plaintext, &mut rng).unwrap();
    (rng, key, sealed)
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Write `json` to a fresh temporary directory as `name` and run the
/// independent HL7 JSON-schema validator (tests/fhir/validate.js) on it.
/// Returns the directory (for the caller to remove) and node's output.
/// Fails, never skips, when node or the validator is not installed.
fn run_fhir_validator(json: &str, name: &str) -> (PathBuf, Output) {
    let fhir = workspace().join("tests/fhir");
    assert!(
        fhir.join("node_modules").is_dir(),
        "the FHIR validator is not installed: run `make fhir-deps` (needs node and npm)"
    );
    let dir = std::env::temp_dir().join(format!("caduceus-fhir-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, json).unwrap();
    let out = Command::new("node")
        .arg(fhir.join("validate.js"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install Node.js and run `make fhir-deps`")
        });
    (dir, out)
}

/// Validate `json` (a FHIR R4 resource or an array of them) with the HL7
/// validator, written to a temporary file `name`; fails the test with the
/// validator's report when it is invalid (the file is then kept). Returns
/// the validator's standard output (one `valid: ` line per resource).
pub fn validate_fhir(json: &str, name: &str) -> String {
    let (dir, out) = run_fhir_validator(json, name);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "FHIR validation failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    stdout
}

/// Assert that the HL7 validator rejects `json` (written to a temporary
/// file `name`).
pub fn assert_fhir_invalid(json: &str, name: &str) {
    let (dir, out) = run_fhir_validator(json, name);
    assert!(
        !out.status.success(),
        "the FHIR validator accepted {name}:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
