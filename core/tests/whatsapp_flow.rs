//! Signed webhook bodies (tests/fixtures/whatsapp/, signatures computed by
//! Python's hmac in sign.py) taken the whole way a host takes them: verify
//! the signature, parse, decide, persist (here: apply to in-memory state),
//! fetch and seal media, open as staff (docs/WHATSAPP.md sections 1 to 7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use caduceus_core::access::StaffKey;
use caduceus_core::audit::{AuditKey, AuditLog, Outcome, PseudonymKind};
use caduceus_core::consent::{ConsentPolicy, ConsentStatus, Ledger};
use caduceus_core::envelope::{self, EnvelopeError};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{
    Decision, DecisionKind, EventKind, Forbidden, IdentityMap, Intake, IntakeConfig, KeyringSet,
    MessageKind, OutboundState, ParseLimits, SendDecision, SignatureError, may_send, parse_webhook,
    verify_signature,
};

/// Just after the fixtures' messages (timestamps 1790000001 to 1790000403).
const NOW: i64 = 1_790_000_500;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/whatsapp")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

fn secret() -> Vec<u8> {
    read("app-secret.txt")
}

/// The body and its header value.
fn signed(name: &str) -> (Vec<u8>, String) {
    let sig = String::from_utf8(read(&format!("{name}.sig"))).unwrap();
    (read(name), sig.trim().to_owned())
}

struct Host {
    intake: Intake,
    key: AuditKey,
    ledger: Ledger,
    ids: IdentityMap,
    keys: KeyringSet,
    gate: OutboundState,
    log: AuditLog,
    rng: DeterministicRng,
    doctor: PrivateKey,
    finance: PrivateKey,
    /// Sealed records by record id.
    records: Vec<(String, Vec<u8>)>,
}

fn host() -> Host {
    let mut rng = DeterministicRng::new(11);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let finance = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let notice = ledger
        .register_notice(
            "privacy-chat",
            1,
            "de",
            "Datenschutzhinweis",
            1_780_000_000,
            1_780_000_000,
        )
        .unwrap();
    let staff = vec![
        StaffKey {
            key: doctor.public_key(),
            roles: vec!["doctor".into()],
        },
        StaffKey {
            key: finance.public_key(),
            roles: vec!["finance".into()],
        },
    ];
    let key = AuditKey::from_bytes([5; 32]);
    let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    let intake = Intake::new(
        key.clone(),
        &policy,
        IntakeConfig::new(practice.public_key(), staff, notice),
    )
    .unwrap();
    Host {
        intake,
        key,
        ledger,
        ids: IdentityMap::new(),
        keys: KeyringSet::new(),
        gate: OutboundState::new(),
        log: AuditLog::new("praxis.example/audit").unwrap(),
        rng,
        doctor,
        finance,
        records: Vec::new(),
    }
}

impl Host {
    /// Verify, parse and decide every event of a signed fixture, persisting
    /// each decision before the next (as one transaction per delivery).
    fn deliver(&mut self, name: &str) -> Vec<Decision> {
        let (body, sig) = signed(name);
        verify_signature(&body, Some(&sig), &[&secret()]).unwrap();
        let hook = parse_webhook(&body, &ParseLimits::default()).unwrap();
        let mut out = Vec::new();
        for event in &hook.events {
            let d = self
                .intake
                .decide(
                    event,
                    &self.ledger,
                    &self.ids,
                    &self.keys,
                    NOW,
                    &mut self.rng,
                )
                .unwrap();
            self.persist(&d);
            out.push(d);
        }
        out
    }

    fn persist(&mut self, d: &Decision) {
        d.apply(&mut self.ledger, &mut self.ids, &mut self.keys, NOW)
            .unwrap();
        self.gate.apply(d);
        for a in &d.audit_events {
            self.log.append(a).unwrap();
        }
        if let Some(r) = &d.record {
            self.records.push((r.record_id.clone(), r.envelope.clone()));
        }
    }

    fn only(&mut self, name: &str) -> Decision {
        let mut d = self.deliver(name);
        assert_eq!(d.len(), 1, "{name}");
        d.remove(0)
    }
}

/// The plaintext strings of the fixtures that must never appear in a
/// decision's redacted JSON or Debug.
const SECRETS: [&str; 6] = [
    "Termin am Dienstag",
    "4915100000001",
    "Erika",
    "DE.1234567890123456789",
    "Foto vom Zahn",
    "Korrektur",
];

fn assert_no_plaintext(d: &Decision) {
    let json = d.to_json(false).to_string();
    let dbg = format!("{d:?}");
    for s in SECRETS {
        assert!(!json.contains(s), "{s} in decision JSON");
        assert!(!dbg.contains(s), "{s} in decision Debug");
    }
    if let Some(r) = &d.record {
        let raw = String::from_utf8_lossy(&r.envelope);
        for s in SECRETS {
            assert!(!raw.contains(s), "{s} in an envelope");
        }
    }
}

#[test]
fn whole_first_contact_notice_photo_consent_photo_doctor_opens_finance_cannot() {
    let mut h = host();
    // 1. The first message: nothing kept, notice and consent request.
    let d = h.only("text.json");
    assert_eq!(d.kind, DecisionKind::AskConsent);
    assert!(d.record.is_none() && d.keyring_record.is_none());
    assert_no_plaintext(&d);
    let subject = d.subject.clone().unwrap();
    assert_eq!(
        subject,
        h.key
            .pseudonym(PseudonymKind::Subject, "whatsapp:wa:4915100000001")
    );
    // 2. The patient presses "Ja, auch Fotos".
    let d = h.only("consent-yes-photos-button.json");
    match &d.kind {
        DecisionKind::ConsentRecorded { status, purposes } => {
            assert_eq!(*status, ConsentStatus::Given);
            assert_eq!(purposes, &["treatment-communication", "clinical-photos"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.subject.as_ref(), Some(&subject));
    // 3. The photo: fetched (here: the fixture's bytes, whose SHA-256 the
    //    webhook announces) and sealed by the media plan.
    let d = h.only("image.json");
    let plan = d.media.clone().expect("fetch-media");
    assert_no_plaintext(&d);
    let photo = read("image.bin");
    assert_eq!(caduceus_core::suite::sha256(&[&photo]), plan.sha256);
    assert!(photo.len() as u64 <= plan.max_size);
    // Fetched in chunks, sealed while its SHA-256 is checked.
    let (mut sealed, mut sealer) = plan.begin_seal(&mut h.rng).unwrap();
    for chunk in photo.chunks(7) {
        sealer.push(chunk, &mut sealed).unwrap();
    }
    let done = sealer.finish(&mut sealed).unwrap();
    assert_eq!(done.size, photo.len() as u64);
    h.log.append(&plan.audit_stored).unwrap();
    // A download that differs in one byte produces no envelope that opens.
    let mut bad = photo.clone();
    bad[3] ^= 1;
    let (mut partial, mut s2) = plan.begin_seal(&mut h.rng).unwrap();
    s2.push(&bad, &mut partial).unwrap();
    assert_eq!(
        s2.finish(&mut partial).unwrap_err(),
        caduceus_core::whatsapp::MediaError::HashMismatch
    );
    let kr = d.keyring_record.clone().unwrap();
    assert!(envelope::open_with_keyring(&partial, &kr, &h.doctor).is_err());
    h.log
        .append(&plan.audit_failed("media-hash-mismatch").unwrap())
        .unwrap();
    let record = d.keyring_record.clone().unwrap();
    assert_eq!(record.category(), "clinical-photos");
    // 4. The doctor opens it; finance cannot.
    let opened = envelope::open_with_keyring(&sealed, &record, &h.doctor).unwrap();
    assert_eq!(opened.plaintext, photo);
    assert_eq!(opened.header.labels.subject, subject.as_str());
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &h.finance).unwrap_err(),
        EnvelopeError::NoAccess
    );
    // 5. The text again (a redelivery would be deduplicated; this is a new
    //    decision of the same message): stored, readable by the doctor.
    let d = h.only("text.json");
    let DecisionKind::Stored { record_id } = &d.kind else {
        panic!("{:?}", d.kind)
    };
    let chat = d.keyring_record.clone().unwrap();
    let env = &d.record.as_ref().unwrap().envelope;
    let o = envelope::open_with_keyring(env, &chat, &h.doctor).unwrap();
    assert!(
        String::from_utf8(o.plaintext)
            .unwrap()
            .contains("Termin am Dienstag")
    );
    assert_no_plaintext(&d);
    // 6. The patient edits, then deletes that message.
    let edit = h.only("edit.json");
    assert_eq!(
        edit.record.as_ref().unwrap().replaces.as_deref(),
        Some(record_id.as_str())
    );
    let revoke = h.only("revoke.json");
    assert_eq!(revoke.delete_record.as_deref(), Some(record_id.as_str()));
    // The audit log holds every step and verifies.
    assert!(h.log.size() >= 7);
}

#[test]
fn a_replayed_webhook_records_nothing_twice() {
    let mut h = host();
    h.only("text.json");
    let first = h.only("consent-yes-button.json");
    let events = h.ledger.len();
    let log = h.log.size();
    let again = h.only("consent-yes-button.json");
    assert_eq!(again.dedupe_key, first.dedupe_key);
    // A host without a database keeps a bounded dedupe set: the second
    // delivery is skipped whole.
    let mut seen =
        caduceus_core::whatsapp::DedupeSet::new(1000, caduceus_core::whatsapp::DEDUPE_WINDOW)
            .unwrap();
    assert_eq!(
        seen.insert(first.dedupe_key.unwrap(), NOW).unwrap(),
        caduceus_core::whatsapp::Seen::New
    );
    assert_eq!(
        seen.insert(again.dedupe_key.unwrap(), NOW + 3600).unwrap(),
        caduceus_core::whatsapp::Seen::Duplicate
    );
    assert_eq!(
        again.kind,
        DecisionKind::Ignored {
            reason: "already-recorded"
        }
    );
    assert_eq!(h.ledger.len(), events);
    assert_eq!(h.log.size(), log);
    // A stored message redelivered gets the same record id (a store keyed
    // on it keeps one copy) and the same dedupe key.
    let a = h.only("text.json");
    let b = h.only("text.json");
    assert_eq!(a.dedupe_key, b.dedupe_key);
    assert_eq!(
        a.record.as_ref().unwrap().record_id,
        b.record.as_ref().unwrap().record_id
    );
}

#[test]
fn a_contact_with_only_a_user_id_and_one_seen_later_with_both() {
    let mut h = host();
    let d = h.only("text-bsuid-only.json");
    assert_eq!(d.kind, DecisionKind::AskConsent);
    assert_eq!(
        d.subject.unwrap(),
        h.key.pseudonym(
            PseudonymKind::Subject,
            "whatsapp:bsuid:DE.3234567890123456789"
        )
    );
    let json = d.replies[0].to_graph_json();
    assert!(json.contains("\"recipient\":\"DE.3234567890123456789\""));
    assert!(!json.contains("\"to\""));
    // First by BSUID, then by phone and BSUID: one subject.
    let both = h.deliver("text-then-both.json");
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].subject, both[1].subject);
    assert_eq!(both[1].identity_links.len(), 1, "the phone id is linked");
}

#[test]
fn a_number_change_keeps_the_pseudonym() {
    let mut h = host();
    let s = h.only("text.json").subject.unwrap();
    let d = h.only("system-changed-number.json");
    assert_eq!(d.kind, DecisionKind::Audited);
    assert_eq!(d.subject.as_ref(), Some(&s));
    let r = h
        .ids
        .resolve(
            &h.key,
            &caduceus_core::whatsapp::Contact {
                wa_id: Some(caduceus_core::whatsapp::Sensitive::new("4915100000011")),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.subject, s);
    let d = h.only("system-changed-user-id.json");
    assert_eq!(d.kind, DecisionKind::Audited);
}

#[test]
fn statuses_preferences_and_templates_from_signed_bodies() {
    let mut h = host();
    let failed = h.only("status-failed.json");
    assert_eq!(failed.kind, DecisionKind::Audited);
    assert_eq!(
        failed.audit_events[0].result(),
        &Outcome::Failed("whatsapp-error-131049".into())
    );
    for name in [
        "status-sent.json",
        "status-delivered.json",
        "status-read.json",
    ] {
        let d = h.only(name);
        assert_eq!(d.kind, DecisionKind::Audited, "{name}");
        assert_eq!(d.audit_events[0].result(), &Outcome::Success, "{name}");
        assert_no_plaintext(&d);
    }
    // Consent, then the patient stops marketing in WhatsApp.
    h.only("text.json");
    h.only("consent-yes-button.json");
    let stop = h.only("user-preferences-stop.json");
    assert_eq!(
        stop.kind,
        DecisionKind::OptedOut {
            purposes: vec!["marketing".into()]
        }
    );
    let s = stop.subject.clone().unwrap();
    assert!(matches!(
        may_send(
            &h.ledger,
            &h.gate,
            s.as_str(),
            "marketing",
            MessageKind::FreeForm,
            NOW
        ),
        SendDecision::Forbidden(Forbidden::MarketingStopped { .. })
    ));
    let resume = h.only("user-preferences-resume.json");
    assert!(resume.consent_events.is_empty());
    // A template Meta will re-categorise to MARKETING.
    let tpl = MessageKind::Template {
        name: "checkup_invite_de",
        language: "de",
        category: "UTILITY",
    };
    assert_eq!(
        may_send(
            &h.ledger,
            &h.gate,
            s.as_str(),
            "treatment-communication",
            tpl,
            NOW
        )
        .code(),
        "template"
    );
    let d = h.only("template-category-impending.json");
    assert_eq!(d.template_category.as_ref().unwrap().category, "MARKETING");
    assert_eq!(
        may_send(
            &h.ledger,
            &h.gate,
            s.as_str(),
            "treatment-communication",
            tpl,
            NOW
        ),
        SendDecision::Forbidden(Forbidden::TemplateIsMarketing {
            recategorised: true
        })
    );
    for name in [
        "template-status-approved.json",
        "template-status-rejected.json",
        "template-category-completed.json",
    ] {
        assert_eq!(h.only(name).kind, DecisionKind::Audited, "{name}");
    }
}

#[test]
fn every_fixture_is_decided_without_panic_and_without_plaintext_outside_envelopes() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 40);
    let mut decided = 0;
    for name in &names {
        let mut h = host();
        let (body, sig) = signed(name);
        assert!(
            verify_signature(&body, Some(&sig), &[&secret()]).is_ok(),
            "{name}: stale signature"
        );
        let Ok(hook) = parse_webhook(&body, &ParseLimits::default()) else {
            continue; // malformed.json, too-deep.json, not-whatsapp.json
        };
        for event in &hook.events {
            let d = h
                .intake
                .decide(event, &h.ledger, &h.ids, &h.keys, NOW, &mut h.rng)
                .unwrap();
            assert_no_plaintext(&d);
            // Nobody has consent in a fresh host: nothing is sealed.
            assert!(d.record.is_none() && d.media.is_none(), "{name}");
            if matches!(event.kind, EventKind::Message(_)) {
                assert!(d.dedupe_key.is_some(), "{name}");
            }
            decided += 1;
        }
    }
    assert!(decided >= 40, "{decided}");
}

#[test]
fn bad_bodies_get_typed_errors_or_ignored_decisions() {
    let mut h = host();
    // A body re-serialised by a proxy: the signature fails.
    let (body, sig) = signed("text-umlaut-escaped.json");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let proxied = serde_json::to_vec(&v).unwrap();
    assert_ne!(proxied, body);
    assert_eq!(
        verify_signature(&proxied, Some(&sig), &[&secret()]),
        Err(SignatureError::Mismatch)
    );
    // Wrong and missing signatures.
    let (body, _) = signed("text.json");
    let (_, other) = signed("image.json");
    assert_eq!(
        verify_signature(&body, Some(&other), &[&secret()]),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(&body, None, &[&secret()]),
        Err(SignatureError::Missing)
    );
    // A contact without any id: nothing decided for anybody.
    for d in h.deliver("no-contact-id.json") {
        assert!(
            matches!(d.kind, DecisionKind::Ignored { .. }),
            "{:?}",
            d.kind
        );
        assert!(d.subject.is_none() && d.replies.is_empty());
    }
    // Timestamps far from now: refused, nothing kept.
    let (body, _) = signed("text.json");
    let hook = parse_webhook(&body, &ParseLimits::default()).unwrap();
    for (now, reason) in [
        (1_790_000_001 - 301, "timestamp-in-future"),
        (1_790_000_001 + 8 * 86_400 + 1, "timestamp-too-old"),
    ] {
        let d = h
            .intake
            .decide(&hook.events[0], &h.ledger, &h.ids, &h.keys, now, &mut h.rng)
            .unwrap();
        assert_eq!(d.kind, DecisionKind::Refused { reason });
        assert!(d.replies.is_empty() && d.record.is_none());
    }
}
