//! Export of audit entries as FHIR R4 `AuditEvent` resources, shaped after
//! IHE Basic Audit Log Patterns (BALP).
//!
//! Mapping (docs/AUDIT.md section 7): `type` is the BALP/DICOM event type
//! (RESTful operation for create/read/update/delete, DICOM 110106 Export,
//! 110114 User Authentication, 110113 Security Alert, 110110 Patient Record,
//! 110100 Application Activity), `subtype` carries the RESTful interaction
//! where one applies and always the Caduceus action code; `action` is
//! C/R/U/D/E; `recorded` the entry time; `outcome` 0 (success), 4 (denied)
//! or 8 (failed); one `agent` (the staff pseudonym, `requestor = true`, with
//! its role); `source.observer` the source system; `entity` the patient
//! pseudonym (role Patient), the record and the log position.
//!
//! ```
//! use caduceus_core::audit::{Action, AuditEntry, AuditEvent, Pseudonym, fhir};
//! let actor = Pseudonym::parse("stf-00112233445566778899aabbccddeeff0").unwrap();
//! let event = AuditEvent::new(1_763_800_000_000, actor, "doctor", Action::Read, "pms").unwrap();
//! let entry = AuditEntry { sequence: 0, prev_leaf: [0; 32], event };
//! let json = fhir::audit_event(&entry, "praxis.example/audit");
//! assert_eq!(json["resourceType"], "AuditEvent");
//! assert_eq!(json["action"], "R");
//! assert_eq!(json["recorded"], "2025-11-22T08:26:40.000Z");
//! ```

use serde_json::{Value, json};

use super::entry::{Action, AuditEntry, Outcome};

/// Code system of Caduceus action codes (the `subtype` of every event).
pub const ACTION_SYSTEM: &str = "urn:caduceus:audit:action";
/// Identifier system of staff pseudonyms.
pub const STAFF_SYSTEM: &str = "urn:caduceus:pseudonym:staff";
/// Identifier system of subject (patient) pseudonyms.
pub const SUBJECT_SYSTEM: &str = "urn:caduceus:pseudonym:subject";
/// Code system of roles.
pub const ROLE_SYSTEM: &str = "urn:caduceus:audit:role";
/// Code system of purposes.
pub const PURPOSE_SYSTEM: &str = "urn:caduceus:audit:purpose";
/// Identifier system of record and envelope ids.
pub const RECORD_SYSTEM: &str = "urn:caduceus:record";
/// Identifier system of source systems.
pub const SOURCE_SYSTEM: &str = "urn:caduceus:source";

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL: &str = "http://hl7.org/fhir/restful-interaction";

fn event_type(action: Action) -> Value {
    let (system, code, display) = match action {
        Action::Create | Action::Read | Action::Update | Action::Delete | Action::Shred => {
            (EVENT_TYPE, "rest", "RESTful Operation")
        }
        Action::Export => (DCM, "110106", "Export"),
        Action::Login | Action::Logout => (DCM, "110114", "User Authentication"),
        Action::BreachDetected => (DCM, "110113", "Security Alert"),
        Action::ConsentGiven
        | Action::ConsentWithdrawn
        | Action::ErasureRequest
        | Action::ErasureCompleted => (DCM, "110110", "Patient Record"),
        _ => (DCM, "110100", "Application Activity"),
    };
    json!({"system": system, "code": code, "display": display})
}

fn action_code(action: Action) -> &'static str {
    match action {
        Action::Create | Action::ConsentGiven => "C",
        Action::Read | Action::Export => "R",
        Action::Update | Action::ConsentWithdrawn | Action::PolicyChange | Action::KeyChange => "U",
        Action::Delete | Action::Shred | Action::ErasureCompleted => "D",
        _ => "E",
    }
}

fn restful(action: Action) -> Option<&'static str> {
    match action {
        Action::Create => Some("create"),
        Action::Read => Some("read"),
        Action::Update => Some("update"),
        Action::Delete | Action::Shred => Some("delete"),
        _ => None,
    }
}

/// RFC 3339 instant with milliseconds, UTC (`YYYY-MM-DDThh:mm:ss.sssZ`),
/// of a time in Unix milliseconds: [`crate::time::format_rfc3339_millis`].
pub fn instant(time_ms: i64) -> String {
    crate::time::format_rfc3339_millis(time_ms)
}

/// The FHIR R4 `AuditEvent` of one entry of the log named `origin`.
pub fn audit_event(entry: &AuditEntry, origin: &str) -> Value {
    let ev = &entry.event;
    let mut subtype = Vec::new();
    if let Some(r) = restful(ev.action()) {
        subtype.push(json!({"system": RESTFUL, "code": r}));
    }
    subtype.push(json!({"system": ACTION_SYSTEM, "code": ev.action().code()}));

    let (outcome, outcome_desc) = match ev.result() {
        Outcome::Success => ("0", None),
        Outcome::Denied(r) => ("4", Some(format!("denied: {r}"))),
        Outcome::Failed(r) => ("8", Some(format!("failed: {r}"))),
    };

    let mut entities = Vec::new();
    if let Some(subject) = ev.subject_pseudonym() {
        let mut patient = json!({
            "what": {"identifier": {"system": SUBJECT_SYSTEM, "value": subject.as_str()}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"}
        });
        if let Some(c) = ev.data_category()
            && let Some(obj) = patient.as_object_mut()
        {
            obj.insert(
                "detail".to_owned(),
                json!([{"type": "data-category", "valueString": c}]),
            );
        }
        entities.push(patient);
    }
    if let Some(record) = ev.record_id() {
        let mut rec = json!({
            "what": {"identifier": {"system": RECORD_SYSTEM, "value": record}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"}
        });
        if let Some(c) = ev.data_category()
            && let Some(obj) = rec.as_object_mut()
        {
            obj.insert(
                "detail".to_owned(),
                json!([{"type": "data-category", "valueString": c}]),
            );
        }
        entities.push(rec);
    }
    let mut log_detail = vec![
        json!({"type": "log-origin", "valueString": origin}),
        json!({"type": "log-index", "valueString": entry.sequence.to_string()}),
    ];
    if let Some(c) = ev.correlation_id() {
        log_detail.push(json!({"type": "correlation-id", "valueString": c}));
    }
    if let Some(l) = ev.legal_basis_code() {
        log_detail.push(json!({"type": "legal-basis", "valueString": l}));
    }
    entities.push(json!({
        "what": {"display": "caduceus audit log entry"},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        "detail": log_detail
    }));

    let mut out = json!({
        "resourceType": "AuditEvent",
        "id": format!("cdau-{}", entry.sequence),
        "type": event_type(ev.action()),
        "subtype": subtype,
        "action": action_code(ev.action()),
        "recorded": instant(ev.time_ms()),
        "outcome": outcome,
        "agent": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser", "display": "human user"}]},
            "role": [{"coding": [{"system": ROLE_SYSTEM, "code": ev.role()}]}],
            "who": {"identifier": {"system": STAFF_SYSTEM, "value": ev.actor().as_str()}},
            "requestor": true
        }],
        "source": {
            "site": origin,
            "observer": {"identifier": {"system": SOURCE_SYSTEM, "value": ev.source()}, "display": ev.source()},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]
        },
        "entity": entities
    });
    if let Some(obj) = out.as_object_mut() {
        if let Some(d) = outcome_desc {
            obj.insert("outcomeDesc".to_owned(), Value::String(d));
        }
        if let Some(p) = ev.purpose_of_use() {
            obj.insert(
                "purposeOfEvent".to_owned(),
                json!([{"coding": [{"system": PURPOSE_SYSTEM, "code": p}]}]),
            );
        }
    }
    out
}
