#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! FHIR R4 `Consent` export, checked by the independent HL7 FHIR R4 JSON
//! schema validator in tests/fhir (the test fails, never skips, when node or
//! the validator is missing), and the ISO/IEC TS 27560-shaped export.

mod common;

use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, OptOutRequest,
};
use serde_json::Value;

const T0: i64 = 1_763_800_000;

/// A ledger where p-1 has every status and method, with and without notice,
/// evidence and expiry.
fn ledger() -> Ledger {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let v1 = l
        .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis", T0, T0)
        .unwrap();
    let mk = |id: &str, purposes: &[&str], status, method, time: i64| ConsentEvent {
        id: id.into(),
        subject: "p-1".into(),
        purposes: purposes.iter().map(|p| (*p).into()).collect(),
        status,
        method,
        notice: Some(v1.clone()),
        channel: "reception-qr".into(),
        evidence: Some(format!("form-{id}")),
        recorded_by: "staff-2".into(),
        time,
        expires_at: None,
    };
    let mut e = mk(
        "e1",
        &["treatment-communication", "clinical-photos", "marketing"],
        ConsentStatus::Given,
        ConsentMethod::QrReception,
        T0 + 1,
    );
    e.expires_at = Some(T0 + 400 * 86_400);
    l.append(e, T0 + 1).unwrap();
    l.append(
        mk(
            "e2",
            &["recall"],
            ConsentStatus::Refused,
            ConsentMethod::AnamnesisForm,
            T0 + 2,
        ),
        T0 + 2,
    )
    .unwrap();
    l.opt_out(
        OptOutRequest {
            event_id: "e3".into(),
            subject: "p-1".into(),
            reply: "STOP".into(),
            message_id: "wamid.HBgLNDkxNzY".into(),
            channel: "whatsapp".into(),
            recorded_by: "ingest".into(),
            time: T0 + 3,
        },
        T0 + 3,
    )
    .unwrap();
    l.append(
        mk(
            "e4",
            &["recall"],
            ConsentStatus::Renewed,
            ConsentMethod::InPersonDocumented,
            T0 + 4,
        ),
        T0 + 4,
    )
    .unwrap();
    let mut x = mk(
        "e5",
        &["recall"],
        ConsentStatus::Expired,
        ConsentMethod::Other,
        T0 + 5,
    );
    x.notice = None;
    x.evidence = None;
    l.append(x, T0 + 5).unwrap();
    l
}

#[test]
fn fhir_consent_export_is_valid_fhir_r4() {
    let l = ledger();
    let bundle: Value = serde_json::from_str(&l.export_fhir("p-1")).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 5);
    let first = &entries[0]["resource"];
    assert_eq!(first["status"], "active");
    assert_eq!(first["patient"]["identifier"]["value"], "p-1");
    assert_eq!(first["dateTime"], "2025-11-22T08:26:41Z");
    assert_eq!(first["provision"]["type"], "permit");
    assert_eq!(first["provision"]["period"]["end"], "2026-12-27T08:26:40Z");
    assert_eq!(first["provision"]["purpose"][2]["code"], "marketing");
    assert_eq!(
        first["sourceReference"]["identifier"]["value"],
        hex::encode(caduceus_core::suite::sha256(&[b"Datenschutzhinweis"]))
    );
    assert_eq!(
        first["id"],
        hex::encode(l.event(0).unwrap().event_ref.hash),
        "the resource id is the event hash"
    );
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["active", "rejected", "inactive", "active", "inactive"]
    );
    // An unknown subject is an empty (valid) bundle.
    let empty = l.export_fhir("p-unknown");

    let resources: Vec<Value> = std::iter::once(bundle.clone())
        .chain(entries.iter().map(|e| e["resource"].clone()))
        .chain(std::iter::once(serde_json::from_str(&empty).unwrap()))
        .collect();
    let stdout = common::validate_fhir(
        &serde_json::to_string_pretty(&resources).unwrap(),
        "consent-bundle.json",
    );
    assert_eq!(stdout.matches("valid: ").count(), 7, "{stdout}");
    println!("{stdout}");
}

#[test]
fn a_mangled_consent_is_rejected_by_the_validator() {
    // The validator is not a rubber stamp: a wrong status code fails.
    let l = ledger();
    let mut bundle: Value = serde_json::from_str(&l.export_fhir("p-1")).unwrap();
    bundle["entry"][0]["resource"]["status"] = Value::String("given".into());
    common::assert_fhir_invalid(&bundle.to_string(), "bad.json");
}

#[test]
fn iso27560_export_has_dpv_terms_and_history_per_purpose() {
    let l = ledger();
    let v: Value = serde_json::from_str(&l.export_iso27560("p-1")).unwrap();
    assert_eq!(v["@context"]["dpv"], "https://w3id.org/dpv#");
    let records = v["records"].as_array().unwrap();
    let by_purpose = |p: &str| {
        records
            .iter()
            .find(|r| r["purpose"]["id"] == p)
            .unwrap_or_else(|| panic!("no record for {p}"))
    };
    let marketing = by_purpose("marketing");
    assert_eq!(marketing["state"], "dpv:ConsentWithdrawn");
    assert_eq!(marketing["consentType"], "dpv:ExpressedConsent");
    assert_eq!(marketing["piiPrincipalId"], "p-1");
    assert_eq!(
        marketing["purpose"]["lawfulBasis"],
        serde_json::json!(["dpv:Consent", "eu-gdpr:A6-1-a"])
    );
    let events = marketing["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["evidence"], "wamid.HBgLNDkxNzY");
    assert_eq!(events[1]["method"], "chat-reply");
    let photos = by_purpose("clinical-photos");
    assert_eq!(photos["state"], "dpv:ConsentGiven");
    assert_eq!(photos["consentType"], "dpv:ExplicitlyExpressedConsent");
    assert_eq!(
        photos["purpose"]["lawfulBasis"],
        serde_json::json!(["dpv:Consent", "eu-gdpr:A6-1-a", "eu-gdpr:A9-2-a"])
    );
    let recall = by_purpose("recall");
    let states: Vec<&str> = recall["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventState"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "dpv:ConsentRefused",
            "dpv:RenewedConsentGiven",
            "dpv:ConsentExpired"
        ]
    );
    assert_eq!(records.len(), 4);
}
