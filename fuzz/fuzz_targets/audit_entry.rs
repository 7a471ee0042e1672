//! `AuditEntry::from_bytes` / `validate` / `header`: no panic; validate
//! agrees with from_bytes; canonical round trip; FHIR export never panics.
#![no_main]

use caduceus_core::audit::{AuditEntry, fhir};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = AuditEntry::from_bytes(data);
    let validated = AuditEntry::validate(data);
    assert_eq!(
        parsed.is_ok(),
        validated.is_ok(),
        "validate and from_bytes disagree"
    );
    if let Ok(e) = parsed {
        assert_eq!(validated.ok(), Some((e.sequence, e.prev_leaf)));
        assert_eq!(
            AuditEntry::header(data).ok(),
            Some((e.sequence, e.prev_leaf))
        );
        assert_eq!(
            e.to_bytes().ok().as_deref(),
            Some(data),
            "audit entry encoding is not canonical"
        );
        let _ = fhir::audit_event(&e, "fuzz.example/log");
    }
});
