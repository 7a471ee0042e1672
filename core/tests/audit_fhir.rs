//! FHIR R4 AuditEvent export, checked by the independent HL7 JSON-schema
//! validator in tests/fhir (fails, never skips, when it is missing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use caduceus_core::audit::{
    Action, AuditEntry, AuditEvent, AuditKey, AuditLog, Outcome, PseudonymKind, fhir,
};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn every_action_exports_a_valid_fhir_r4_audit_event() {
    let key = AuditKey::from_bytes([3; 32]);
    let mut log = AuditLog::new("praxis.example/audit").unwrap();
    let mut resources = Vec::new();
    for (i, action) in Action::all().enumerate() {
        let mut ev = AuditEvent::new(
            1_763_800_000_123,
            key.pseudonym(PseudonymKind::Staff, "s1"),
            "doctor",
            action,
            "pms",
        )
        .unwrap();
        if i % 2 == 0 {
            ev = ev
                .subject(key.pseudonym(PseudonymKind::Subject, "4711"))
                .category("clinical-photos")
                .unwrap()
                .record("env-1")
                .unwrap()
                .purpose("treatment")
                .unwrap()
                .legal_basis("gdpr-9-2-h")
                .unwrap()
                .correlation("c-1")
                .unwrap();
        }
        if i % 3 == 1 {
            ev = ev.outcome(Outcome::Denied("no-access".into())).unwrap();
        }
        let bytes = log.append(&ev).unwrap().bytes;
        let entry = AuditEntry::from_bytes(&bytes).unwrap();
        let json = fhir::audit_event(&entry, "praxis.example/audit");
        assert_eq!(json["recorded"], "2025-11-22T08:26:40.123Z");
        assert_eq!(json["agent"][0]["requestor"], true);
        resources.push(json);
    }
    let dir = std::env::temp_dir().join(format!("caduceus-audit-fhir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("audit-events.json");
    std::fs::write(&file, serde_json::to_string_pretty(&resources).unwrap()).unwrap();

    let validator = workspace().join("tests/fhir/validate.js");
    assert!(
        workspace().join("tests/fhir/node_modules").is_dir(),
        "the FHIR validator is not installed: run `make fhir-deps` (needs node and npm)"
    );
    let out = Command::new("node")
        .arg(&validator)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install Node.js and run `make fhir-deps`")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "FHIR validation failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("valid: ").count(),
        Action::all().count(),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
