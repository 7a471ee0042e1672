//! FHIR R4 AuditEvent export, checked by the independent HL7 JSON-schema
//! validator in tests/fhir (fails, never skips, when it is missing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use caduceus_core::audit::{
    Action, AuditEntry, AuditEvent, AuditKey, AuditLog, Outcome, PseudonymKind, fhir,
};

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
    let stdout = common::validate_fhir(
        &serde_json::to_string_pretty(&resources).unwrap(),
        "audit-events.json",
    );
    assert_eq!(
        stdout.matches("valid: ").count(),
        Action::all().count(),
        "{stdout}"
    );
}
