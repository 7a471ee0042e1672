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
    let bundle: Value = serde_json::from_str(&l.export_fhir("p-1", T0 + 10)).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    // e3 is the STOP: a withdrawal of marketing and an objection to recall.
    assert_eq!(entries.len(), 6);
    let first = &entries[0]["resource"];
    assert_eq!(first["status"], "active");
    assert_eq!(first["patient"]["identifier"]["value"], "p-1");
    assert_eq!(first["dateTime"], "2025-11-22T08:26:41Z");
    assert_eq!(first["provision"]["type"], "permit");
    assert_eq!(first["provision"]["period"]["end"], "2026-12-27T08:26:40Z");
    assert_eq!(first["provision"]["purpose"][2]["code"], "marketing");
    // Still active for treatment communication and photos; marketing is
    // denied from the STOP on.
    assert_eq!(first["provision"]["provision"][0]["type"], "deny");
    assert_eq!(
        first["provision"]["provision"][0]["purpose"][0]["code"],
        "marketing"
    );
    assert_eq!(
        first["provision"]["provision"][0]["period"]["start"],
        "2025-11-22T08:26:43Z"
    );
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
        [
            "active", "rejected", "inactive", "rejected", "inactive", "inactive"
        ],
        "the renewal e4 ended with the expiry e5"
    );
    assert_eq!(
        entries[4]["resource"]["provision"]["period"]["end"],
        "2025-11-22T08:26:45Z"
    );
    // An unknown subject is an empty (valid) bundle.
    let empty = l.export_fhir("p-unknown", T0 + 10);

    let resources: Vec<Value> = std::iter::once(bundle.clone())
        .chain(entries.iter().map(|e| e["resource"].clone()))
        .chain(std::iter::once(serde_json::from_str(&empty).unwrap()))
        .collect();
    let stdout = common::validate_fhir(
        &serde_json::to_string_pretty(&resources).unwrap(),
        "consent-bundle.json",
    );
    assert_eq!(stdout.matches("valid: ").count(), 8, "{stdout}");
    println!("{stdout}");
}

/// The FHIR resources of `subject` at `at`, by event id.
fn fhir_by_id(l: &Ledger, subject: &str, at: i64) -> (Value, Vec<(String, Value)>) {
    let bundle: Value = serde_json::from_str(&l.export_fhir(subject, at)).unwrap();
    let resources = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let r = e["resource"].clone();
            (r["identifier"][0]["value"].as_str().unwrap().to_owned(), r)
        })
        .collect();
    (bundle, resources)
}

#[test]
fn a_consent_that_ended_later_exports_as_inactive_with_its_period_ended() {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let chat = l
        .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis", T0, T0)
        .unwrap();
    let photo = l
        .register_notice("photo-notice", 1, "de", "Hinweis Fotos", T0, T0)
        .unwrap();
    let mk = |id: &str, purpose: &str, status, notice: Option<_>, time: i64| ConsentEvent {
        id: id.into(),
        subject: "p-2".into(),
        purposes: vec![purpose.into()],
        status,
        method: ConsentMethod::QrReception,
        notice,
        channel: "reception-qr".into(),
        evidence: None,
        recorded_by: "staff-2".into(),
        time,
        expires_at: None,
    };
    // Later withdrawn by STOP.
    l.append(
        mk(
            "a1",
            "marketing",
            ConsentStatus::Given,
            Some(chat.clone()),
            T0 + 1,
        ),
        T0 + 1,
    )
    .unwrap();
    // Expires by its own expiry time.
    let mut a2 = mk(
        "a2",
        "recall",
        ConsentStatus::Given,
        Some(chat.clone()),
        T0 + 2,
    );
    a2.expires_at = Some(T0 + 5);
    l.append(a2, T0 + 2).unwrap();
    // Its notice is retired later.
    l.append(
        mk(
            "a3",
            "clinical-photos",
            ConsentStatus::Given,
            Some(photo),
            T0 + 3,
        ),
        T0 + 3,
    )
    .unwrap();
    // Refused.
    l.append(
        mk(
            "a4",
            "treatment-communication",
            ConsentStatus::Refused,
            None,
            T0 + 4,
        ),
        T0 + 4,
    )
    .unwrap();

    // Before anything ended: all three consents are active.
    let (early, r) = fhir_by_id(&l, "p-2", T0 + 4);
    let status = |r: &[(String, Value)], id: &str| {
        r.iter().find(|(i, _)| i == id).unwrap().1["status"].clone()
    };
    for id in ["a1", "a2", "a3"] {
        assert_eq!(status(&r, id), "active", "{id}");
    }
    assert_eq!(status(&r, "a4"), "rejected");

    l.opt_out(
        OptOutRequest {
            event_id: "a5".into(),
            subject: "p-2".into(),
            reply: "Bitte stopp".into(),
            message_id: "wamid.stop".into(),
            channel: "whatsapp".into(),
            recorded_by: "ingest".into(),
            time: T0 + 10,
        },
        T0 + 10,
    )
    .unwrap();
    l.retire_notice("photo-notice", 1, T0 + 50, T0 + 50)
        .unwrap();

    let (late, r) = fhir_by_id(&l, "p-2", T0 + 1000);
    let end =
        |id: &str| r.iter().find(|(i, _)| i == id).unwrap().1["provision"]["period"]["end"].clone();
    for id in ["a1", "a2", "a3", "a5"] {
        assert_eq!(status(&r, id), "inactive", "{id}");
    }
    assert_eq!(status(&r, "a4"), "rejected");
    assert_eq!(end("a1"), "2025-11-22T08:26:50Z", "ended by the STOP");
    assert_eq!(end("a2"), "2025-11-22T08:26:45Z", "ended at its expiry");
    assert_eq!(
        end("a3"),
        "2025-11-22T08:27:30Z",
        "ended when its notice was retired"
    );
    // No active consent is left for any purpose.
    assert!(r.iter().all(|(_, v)| v["status"] != "active"));

    let all: Vec<Value> = [early, late]
        .into_iter()
        .flat_map(|b| {
            let entries: Vec<Value> = b["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"].clone())
                .collect();
            std::iter::once(b).chain(entries)
        })
        .collect();
    let n = all.len();
    let stdout = common::validate_fhir(
        &serde_json::to_string_pretty(&all).unwrap(),
        "consent-ended.json",
    );
    assert_eq!(stdout.matches("valid: ").count(), n, "{stdout}");
}

#[test]
fn a_mangled_consent_is_rejected_by_the_validator() {
    // The validator is not a rubber stamp: a wrong status code fails.
    let l = ledger();
    let mut bundle: Value = serde_json::from_str(&l.export_fhir("p-1", T0 + 10)).unwrap();
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
            "dpv:ConsentRefused",
            "dpv:RenewedConsentGiven",
            "dpv:ConsentExpired"
        ],
        "the STOP is kept as an objection to recall"
    );
    assert_eq!(records.len(), 4);
}
