//! Signed-note and checkpoint parsers on arbitrary UTF-8: `note::open`,
//! `Checkpoint::parse` / `open`, `NoteVerifier::parse`, `NoteSigner::parse`,
//! `Pseudonym::parse`, `AuditKey::parse`, `merkle::parse_hash`. Properties:
//! no panic; text forms round-trip.
#![no_main]

use std::sync::OnceLock;

use caduceus_core::audit::{AuditKey, Checkpoint, Pseudonym, merkle, note};
use libfuzzer_sys::fuzz_target;

fn verifiers() -> &'static [note::NoteVerifier] {
    static V: OnceLock<Vec<note::NoteVerifier>> = OnceLock::new();
    V.get_or_init(|| {
        vec![
            note::NoteSigner::from_seed("fuzz.example/log", &[7; 32])
                .expect("signer")
                .verifier(),
            note::NoteVerifier::parse(
                "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            )
            .expect("Go vkey"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(opened) = note::open(s, verifiers()) {
        assert!(!opened.verified_by.is_empty());
        assert!(s.starts_with(&opened.text));
    }
    let _ = Checkpoint::open(s, verifiers());
    if let Ok(c) = Checkpoint::parse(s) {
        assert_eq!(c.to_text(), s, "checkpoint text is not canonical");
    }
    if let Ok(v) = note::NoteVerifier::parse(s) {
        let again = note::NoteVerifier::parse(&v.to_string()).expect("verifier text parses back");
        assert!(again == v);
    }
    if let Ok(k) = note::NoteSigner::parse(s) {
        let again =
            note::NoteSigner::parse(&k.to_secret_string()).expect("signer text parses back");
        assert!(again.verifier() == k.verifier());
    }
    if let Ok(p) = Pseudonym::parse(s) {
        assert_eq!(Pseudonym::parse(&p.to_string()).ok(), Some(p));
    }
    if let Ok(k) = AuditKey::parse(s) {
        let again = AuditKey::parse(&k.to_secret_string()).expect("audit key text parses back");
        assert_eq!(again.to_secret_string(), k.to_secret_string());
    }
    if let Some(h) = merkle::parse_hash(s) {
        assert_eq!(merkle::parse_hash(&merkle::hash_to_base64(&h)), Some(h));
    }
});
