//! The consent gate and the outbound gate (docs/WHATSAPP.md, sections 4
//! and 7), on events built as the parser returns them. The fixture-driven
//! end-to-end tests (signed bodies through verify, parse and decide) are in
//! `whatsapp_flow.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::access::StaffKey;
use caduceus_core::audit::{Action, AuditKey, Outcome};
use caduceus_core::consent::{ConsentPolicy, ConsentStatus, Ledger};
use caduceus_core::envelope::{self, EnvelopeError};
use caduceus_core::keys::{KeyKind, PrivateKey};
use caduceus_core::retention::{DEFAULT_POLICY, Policy};
use caduceus_core::testing::DeterministicRng;
use caduceus_core::whatsapp::{
    Address, CONSENT_PAYLOAD_PREFIX, Contact, Decision, DecisionKind, DeliveryStatus, Event,
    EventKind, Forbidden, IdentityMap, InboundMessage, Intake, IntakeConfig, KeyringSet, Media,
    MediaKind, MessageBody, MessageContext, MessageKind, OutboundState, PlatformError,
    PreferenceValue, ReplyKind, Route, SendDecision, Sensitive, StatusUpdate, SystemChange,
    TemplateCategoryUpdate, UserPreference, may_send,
};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const PHONE: &str = "4915100000001";
const BSUID: &str = "DE.1234567890123456789";
const TEXT: &str = "Mein Zahn tut seit gestern weh";
const NOTICE_TEXT: &str = "Datenschutzhinweis der Praxis Dr. Beispiel (Art. 13 DSGVO) ...";

struct World {
    intake: Intake,
    ledger: Ledger,
    ids: IdentityMap,
    keys: KeyringSet,
    gate: OutboundState,
    rng: DeterministicRng,
    doctor: PrivateKey,
    coordinator: PrivateKey,
    finance: PrivateKey,
    practice: PrivateKey,
}

fn world() -> World {
    let mut rng = DeterministicRng::new(7);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let doctor = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let coordinator = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let finance = PrivateKey::generate(KeyKind::Staff, &mut rng);
    let staff = vec![
        StaffKey {
            key: doctor.public_key(),
            roles: vec!["doctor".into()],
        },
        StaffKey {
            key: coordinator.public_key(),
            roles: vec!["coordinator".into()],
        },
        StaffKey {
            key: finance.public_key(),
            roles: vec!["finance".into()],
        },
    ];
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let notice = ledger
        .register_notice("privacy-chat", 1, "de", NOTICE_TEXT, T0 - 86_400, T0)
        .unwrap();
    let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    let config = IntakeConfig::new(practice.public_key(), staff, notice);
    let intake = Intake::new(AuditKey::from_bytes([9; 32]), &policy, config).unwrap();
    World {
        intake,
        ledger,
        ids: IdentityMap::new(),
        keys: KeyringSet::new(),
        gate: OutboundState::new(),
        rng,
        doctor,
        coordinator,
        finance,
        practice,
    }
}

impl World {
    fn decide(&mut self, kind: EventKind, now: i64) -> Decision {
        let event = Event {
            account_id: "102290129340398".into(),
            phone_number_id: Some("106540352242922".into()),
            kind,
        };
        self.intake
            .decide(
                &event,
                &self.ledger,
                &self.ids,
                &self.keys,
                now,
                &mut self.rng,
            )
            .unwrap()
    }

    /// Decide and apply, as a host does after persisting.
    fn run(&mut self, kind: EventKind, now: i64) -> Decision {
        let d = self.decide(kind, now);
        d.apply(&mut self.ledger, &mut self.ids, &mut self.keys, now)
            .unwrap();
        self.gate.apply(&d);
        d
    }
}

fn contact(wa: Option<&str>, uid: Option<&str>) -> Contact {
    Contact {
        wa_id: wa.map(Sensitive::new),
        user_id: uid.map(Sensitive::new),
        profile_name: Some(Sensitive::new("Erika Musterfrau")),
        ..Contact::default()
    }
}

fn msg(id: &str, from: Contact, t: i64, body: MessageBody) -> EventKind {
    EventKind::Message(InboundMessage {
        id: id.into(),
        from,
        timestamp: t,
        context: MessageContext::default(),
        body,
        errors: Vec::new(),
    })
}

fn text(id: &str, t: i64, body: &str) -> EventKind {
    msg(
        id,
        contact(Some(PHONE), None),
        t,
        MessageBody::Text(Sensitive::new(body)),
    )
}

fn button(id: &str, t: i64, payload: &str) -> EventKind {
    msg(
        id,
        contact(Some(PHONE), None),
        t,
        MessageBody::ButtonReply {
            id: payload.into(),
            title: Sensitive::new("Ja"),
        },
    )
}

fn image(id: &str, t: i64, bytes: &[u8]) -> EventKind {
    msg(
        id,
        contact(Some(PHONE), None),
        t,
        MessageBody::Media(Media {
            kind: MediaKind::Image,
            id: "1234567890987654321".into(),
            mime_type: Some("image/jpeg".into()),
            sha256: Some(caduceus_core::suite::sha256(&[bytes])),
            caption: Some(Sensitive::new("Die Wunde am Knie")),
            filename: None,
            voice: false,
            animated: false,
        }),
    )
}

/// The payload of the button of a reply with this title.
fn payload_of(d: &Decision, kind: ReplyKind, choice: &str) -> String {
    let r = d.replies.iter().find(|r| r.kind == kind).expect("reply");
    r.buttons
        .iter()
        .map(|(p, _)| p.clone())
        .find(|p| p.starts_with(&format!("{CONSENT_PAYLOAD_PREFIX}{choice}:")))
        .expect("button")
}

/// Seal the fetched bytes as the media plan says (the host's part).
fn seal_media(w: &mut World, d: &Decision, bytes: &[u8]) -> Vec<u8> {
    let plan = d.media.as_ref().expect("media plan");
    assert_eq!(plan.sha256, caduceus_core::suite::sha256(&[bytes]));
    envelope::seal(&[plan.recipient], &plan.labels, bytes, &mut w.rng).unwrap()
}

#[test]
fn first_contact_keeps_nothing_and_sends_notice_and_consent_request() {
    let mut w = world();
    let d = w.decide(text("wamid.A1", T0, TEXT), T0 + 5);
    assert_eq!(d.kind, DecisionKind::AskConsent);
    assert!(d.record.is_none() && d.media.is_none() && d.keyring_record.is_none());
    assert!(d.consent_events.is_empty());
    // Audited as received, not stored.
    assert_eq!(d.audit_events.len(), 1);
    let a = &d.audit_events[0];
    assert_eq!(a.action(), Action::Create);
    assert_eq!(a.result(), &Outcome::Denied("not-stored-no-consent".into()));
    assert_eq!(a.subject_pseudonym(), d.subject.as_ref());
    // The notice (Art. 13), then the question with three buttons.
    assert_eq!(d.replies.len(), 2);
    assert_eq!(d.replies[0].kind, ReplyKind::Notice);
    assert_eq!(d.replies[0].text, NOTICE_TEXT);
    assert_eq!(d.replies[1].kind, ReplyKind::ConsentRequest);
    assert_eq!(d.replies[1].buttons.len(), 3);
    for (p, title) in &d.replies[1].buttons {
        assert!(p.starts_with(CONSENT_PAYLOAD_PREFIX) && p.ends_with(":privacy-chat:1:de"));
        assert!(!title.is_empty() && title.chars().count() <= 20);
    }
    assert_eq!(d.replies[0].to, Address::Phone(Sensitive::new(PHONE)));
    // Identity: one link to persist, dedupe key, window opened.
    assert_eq!(d.identity_links.len(), 1);
    assert!(d.dedupe_key.is_some());
    assert_eq!(d.last_inbound, Some(T0));
    // No content, phone number or name in the decision's Debug.
    let dbg = format!("{d:?}");
    for secret in [TEXT, PHONE, "Erika"] {
        assert!(!dbg.contains(secret), "{secret} leaked into Debug");
    }
    // The Graph API body of the question is an interactive button message.
    let json: serde_json::Value = serde_json::from_str(&d.replies[1].to_graph_json()).unwrap();
    assert_eq!(json["to"], PHONE);
    assert_eq!(json["type"], "interactive");
    assert_eq!(
        json["interactive"]["action"]["buttons"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn whole_first_contact_notice_consent_photo_doctor_opens_finance_cannot() {
    let mut w = world();
    let d1 = w.run(text("wamid.A1", T0, TEXT), T0 + 1);
    let yes_photos = payload_of(&d1, ReplyKind::ConsentRequest, "yes-photos");
    let d2 = w.run(button("wamid.A2", T0 + 60, &yes_photos), T0 + 61);
    match &d2.kind {
        DecisionKind::ConsentRecorded { status, purposes } => {
            assert_eq!(*status, ConsentStatus::Given);
            assert_eq!(purposes, &["treatment-communication", "clinical-photos"]);
        }
        other => panic!("{other:?}"),
    }
    let ev = &d2.consent_events[0];
    assert_eq!(ev.evidence.as_deref(), Some("wamid.A2"));
    assert_eq!(ev.notice.as_ref().unwrap().id, "privacy-chat");
    assert_eq!(ev.method.code(), "chat-reply");
    assert_eq!(d2.audit_events.len(), 2);
    assert!(
        d2.audit_events
            .iter()
            .all(|a| a.action() == Action::ConsentGiven)
    );
    let subject = d2.subject.clone().unwrap();
    assert!(
        w.ledger
            .decide(subject.as_str(), "clinical-photos", T0 + 62)
            .allowed
    );

    // The photo: a media plan, with a new keyring record wrapped to the
    // practice and the doctor only (clinical-photos readers).
    let photo = b"\xff\xd8\xff\xe0 synthetic jpeg bytes";
    let d3 = w.run(image("wamid.A3", T0 + 120, photo), T0 + 121);
    let DecisionKind::FetchMedia { record_id } = &d3.kind else {
        panic!("{:?}", d3.kind)
    };
    let plan = d3.media.as_ref().unwrap();
    assert_eq!(&plan.record_id, record_id);
    assert_eq!(plan.max_size, 5_000_000);
    assert_eq!(plan.labels.category, "clinical-photos");
    assert_eq!(plan.labels.purpose, "clinical-photos");
    assert_eq!(plan.labels.content_type, "image/jpeg");
    assert_eq!(plan.labels.subject, subject.as_str());
    let record = d3.keyring_record.clone().unwrap();
    assert_eq!(record.public_key(), plan.recipient);
    let sealed = seal_media(&mut w, &d3, photo);
    // The doctor opens it; finance and the coordinator cannot.
    let opened = envelope::open_with_keyring(&sealed, &record, &w.doctor).unwrap();
    assert_eq!(opened.plaintext, photo);
    assert!(envelope::open_with_keyring(&sealed, &record, &w.practice).is_ok());
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &w.finance).unwrap_err(),
        EnvelopeError::NoAccess
    );
    assert_eq!(
        envelope::open_with_keyring(&sealed, &record, &w.coordinator).unwrap_err(),
        EnvelopeError::NoAccess
    );
    // The stored-audit event is ready for the host.
    assert_eq!(plan.audit_stored.action(), Action::Create);
    assert_eq!(plan.audit_stored.record_id(), Some(record_id.as_str()));
    assert_eq!(
        plan.audit_failed("media-hash-mismatch").unwrap().result(),
        &Outcome::Failed("media-hash-mismatch".into())
    );

    // A text: sealed at once into chat-messages, readable by doctor and
    // coordinator, not finance.
    let d4 = w.run(text("wamid.A4", T0 + 180, TEXT), T0 + 181);
    let rec = d4.record.as_ref().unwrap();
    assert!(matches!(d4.kind, DecisionKind::Stored { .. }));
    let chat = d4.keyring_record.clone().unwrap();
    assert_eq!(chat.category(), "chat-messages");
    for k in [&w.doctor, &w.coordinator] {
        let o = envelope::open_with_keyring(&rec.envelope, &chat, k).unwrap();
        assert_eq!(o.plaintext, TEXT.as_bytes());
        assert_eq!(o.header.labels.content_type, "text/plain; charset=utf-8");
        assert_eq!(o.header.labels.created_at, T0 + 180);
    }
    assert!(envelope::open_with_keyring(&rec.envelope, &chat, &w.finance).is_err());
    let a = &d4.audit_events[0];
    assert_eq!(a.record_id(), Some(rec.record_id.as_str()));
    assert_eq!(a.legal_basis_code(), Some("eu-gdpr:A6-1-a;eu-gdpr:A9-2-a"));
    // The second text reuses the record: no new keyring record.
    let d5 = w.run(text("wamid.A5", T0 + 240, "Noch eine Frage"), T0 + 241);
    assert!(d5.keyring_record.is_none());
    let o = envelope::open_with_keyring(&d5.record.unwrap().envelope, &chat, &w.doctor).unwrap();
    assert_eq!(o.plaintext, b"Noch eine Frage");
}

#[test]
fn a_photo_without_photo_consent_is_not_kept_and_the_patient_is_asked() {
    let mut w = world();
    let d1 = w.run(text("wamid.B1", T0, "Hallo"), T0);
    let yes = payload_of(&d1, ReplyKind::ConsentRequest, "yes");
    w.run(button("wamid.B2", T0 + 10, &yes), T0 + 10);
    let d = w.run(image("wamid.B3", T0 + 20, b"img"), T0 + 20);
    assert_eq!(d.kind, DecisionKind::PhotoNotKept);
    assert!(d.media.is_none() && d.record.is_none() && d.keyring_record.is_none());
    assert_eq!(
        d.audit_events[0].result(),
        &Outcome::Denied("not-stored-no-photo-consent".into())
    );
    let photos = payload_of(&d, ReplyKind::PhotoConsentRequest, "photos");
    let c = w.run(button("wamid.B4", T0 + 30, &photos), T0 + 30);
    assert!(matches!(
        c.kind,
        DecisionKind::ConsentRecorded { ref purposes, .. } if purposes == &["clinical-photos"]
    ));
    let again = w.run(image("wamid.B5", T0 + 40, b"img"), T0 + 40);
    assert!(matches!(again.kind, DecisionKind::FetchMedia { .. }));
}

#[test]
fn keywords_ja_and_nein_answer_the_request_only_while_no_consent_is_in_effect() {
    let mut w = world();
    w.run(text("wamid.C1", T0, "Termin?"), T0);
    let no = w.run(text("wamid.C2", T0 + 5, "nein"), T0 + 5);
    assert!(matches!(
        no.kind,
        DecisionKind::ConsentRecorded {
            status: ConsentStatus::Refused,
            ..
        }
    ));
    // After a refusal: not stored, short reply, the buttons again.
    let after = w.run(text("wamid.C3", T0 + 10, TEXT), T0 + 10);
    assert_eq!(after.kind, DecisionKind::AskConsent);
    assert_eq!(after.replies[0].kind, ReplyKind::NotStored);
    assert_eq!(after.replies[1].kind, ReplyKind::ConsentRequest);
    let yes = w.run(text("wamid.C4", T0 + 15, "Ja!"), T0 + 15);
    assert!(matches!(
        yes.kind,
        DecisionKind::ConsentRecorded {
            status: ConsentStatus::Given,
            ..
        }
    ));
    // With consent in effect, "Ja" is content.
    let content = w.run(text("wamid.C5", T0 + 20, "Ja"), T0 + 20);
    assert!(matches!(content.kind, DecisionKind::Stored { .. }));
}

#[test]
fn stop_withdraws_marketing_and_recall_keeps_no_content_and_confirms() {
    let mut w = world();
    let d1 = w.run(text("wamid.D1", T0, "Hallo"), T0);
    w.run(
        button(
            "wamid.D2",
            T0 + 1,
            &payload_of(&d1, ReplyKind::ConsentRequest, "yes"),
        ),
        T0 + 1,
    );
    let d = w.run(text("wamid.D3", T0 + 2, "STOPP"), T0 + 2);
    let DecisionKind::OptedOut { purposes } = &d.kind else {
        panic!("{:?}", d.kind)
    };
    assert!(purposes.iter().any(|p| p == "marketing"));
    assert!(purposes.iter().any(|p| p == "recall"));
    assert!(d.record.is_none());
    assert_eq!(d.replies[0].kind, ReplyKind::OptOutConfirmation);
    assert!(
        d.audit_events
            .iter()
            .all(|a| a.action() == Action::ConsentWithdrawn)
    );
    let s = d.subject.unwrap();
    assert!(!w.ledger.decide(s.as_str(), "marketing", T0 + 3).allowed);
    // Treatment communication goes on (it does not stop on STOP).
    assert!(
        w.ledger
            .decide(s.as_str(), "treatment-communication", T0 + 3)
            .allowed
    );
}

#[test]
fn a_redelivered_event_decides_the_same_and_records_nothing_twice() {
    let mut w = world();
    let d1 = w.run(text("wamid.E1", T0, "Hallo"), T0);
    let yes = payload_of(&d1, ReplyKind::ConsentRequest, "yes");
    let first = w.run(button("wamid.E2", T0 + 1, &yes), T0 + 1);
    // Meta re-delivers after the 200: same dedupe key; the ledger already
    // has the event, so nothing is recorded again.
    let again = w.decide(button("wamid.E2", T0 + 1, &yes), T0 + 3600);
    assert_eq!(again.dedupe_key, first.dedupe_key);
    assert!(again.consent_events.is_empty() && again.audit_events.is_empty());
    assert_eq!(
        again.kind,
        DecisionKind::Ignored {
            reason: "already-recorded"
        }
    );
    let t1 = w.run(text("wamid.E3", T0 + 5, TEXT), T0 + 5);
    let t2 = w.decide(text("wamid.E3", T0 + 5, TEXT), T0 + 9);
    assert_eq!(t1.dedupe_key, t2.dedupe_key);
    assert_eq!(
        t1.record.as_ref().unwrap().record_id,
        t2.record.as_ref().unwrap().record_id
    );
    assert_ne!(t1.dedupe_key, d1.dedupe_key);
}

#[test]
fn revoke_marks_the_stored_copy_and_edit_links_the_new_version() {
    let mut w = world();
    let d1 = w.run(text("wamid.F1", T0, "Hallo"), T0);
    w.run(
        button(
            "wamid.F2",
            T0 + 1,
            &payload_of(&d1, ReplyKind::ConsentRequest, "yes"),
        ),
        T0 + 1,
    );
    let stored = w.run(text("wamid.F3", T0 + 2, TEXT), T0 + 2);
    let id = stored.record.as_ref().unwrap().record_id.clone();
    let edit = w.run(
        msg(
            "wamid.F4",
            contact(Some(PHONE), None),
            T0 + 3,
            MessageBody::Edit {
                original_message_id: "wamid.F3".into(),
                message: Box::new(MessageBody::Text(Sensitive::new("korrigiert"))),
            },
        ),
        T0 + 3,
    );
    let rec = edit.record.as_ref().unwrap();
    assert_eq!(rec.replaces.as_deref(), Some(id.as_str()));
    assert_ne!(rec.record_id, id);
    assert_eq!(edit.audit_events[0].action(), Action::Update);
    assert_eq!(edit.audit_events[0].correlation_id(), Some(id.as_str()));
    let revoke = w.run(
        msg(
            "wamid.F5",
            contact(Some(PHONE), None),
            T0 + 4,
            MessageBody::Revoke {
                original_message_id: "wamid.F3".into(),
            },
        ),
        T0 + 4,
    );
    assert_eq!(
        revoke.kind,
        DecisionKind::DeletionRequested {
            record_id: id.clone()
        }
    );
    assert_eq!(revoke.delete_record.as_deref(), Some(id.as_str()));
    assert_eq!(revoke.audit_events[0].action(), Action::ErasureRequest);
    assert_eq!(revoke.audit_events[0].record_id(), Some(id.as_str()));
}

#[test]
fn the_subject_stays_the_same_across_number_and_bsuid_changes() {
    let mut w = world();
    let d1 = w.run(text("wamid.G1", T0, "Hallo"), T0);
    let s = d1.subject.clone().unwrap();
    // Seen later with phone and BSUID: same subject, the BSUID linked.
    let d2 = w.run(
        msg(
            "wamid.G2",
            contact(Some(PHONE), Some(BSUID)),
            T0 + 1,
            MessageBody::Text(Sensitive::new("x")),
        ),
        T0 + 1,
    );
    assert_eq!(d2.subject.as_ref(), Some(&s));
    assert_eq!(d2.identity_links.len(), 1);
    // Phone withheld: the BSUID alone.
    let d3 = w.run(
        msg(
            "wamid.G3",
            contact(None, Some(BSUID)),
            T0 + 2,
            MessageBody::Text(Sensitive::new("x")),
        ),
        T0 + 2,
    );
    assert_eq!(d3.subject.as_ref(), Some(&s));
    // A contact without a phone number is answered by BSUID.
    assert_eq!(d3.replies[0].to, Address::UserId(Sensitive::new(BSUID)));
    // user_changed_number, then user_changed_user_id.
    let sys = w.run(
        msg(
            "wamid.G4",
            contact(Some(PHONE), None),
            T0 + 3,
            MessageBody::System(SystemChange::ChangedNumber {
                new_wa_id: Sensitive::new("4915100000099"),
            }),
        ),
        T0 + 3,
    );
    assert_eq!(sys.kind, DecisionKind::Audited);
    assert_eq!(sys.identity_links.len(), 1);
    let sys2 = w.run(
        msg(
            "wamid.G5",
            contact(Some("4915100000099"), None),
            T0 + 4,
            MessageBody::System(SystemChange::ChangedUserId {
                new_user_id: Sensitive::new("DE.999"),
            }),
        ),
        T0 + 4,
    );
    assert_eq!(sys2.subject.as_ref(), Some(&s));
    for c in [
        contact(Some("4915100000099"), None),
        contact(None, Some("DE.999")),
    ] {
        let d = w.decide(
            msg(
                "wamid.G6",
                c,
                T0 + 5,
                MessageBody::Text(Sensitive::new("x")),
            ),
            T0 + 5,
        );
        assert_eq!(d.subject.as_ref(), Some(&s));
    }
}

#[test]
fn events_far_in_the_future_or_past_are_refused_and_keep_nothing() {
    let mut w = world();
    let now = T0 + 100_000;
    let future = w.decide(text("wamid.H1", now + 301, TEXT), now);
    assert_eq!(
        future.kind,
        DecisionKind::Refused {
            reason: "timestamp-in-future"
        }
    );
    let at_skew = w.decide(text("wamid.H2", now + 300, TEXT), now);
    assert_eq!(at_skew.kind, DecisionKind::AskConsent);
    let old = w.decide(text("wamid.H3", now - 8 * 86_400 - 1, TEXT), now);
    assert_eq!(
        old.kind,
        DecisionKind::Refused {
            reason: "timestamp-too-old"
        }
    );
    for d in [&future, &old] {
        assert!(d.record.is_none() && d.replies.is_empty() && d.consent_events.is_empty());
        assert!(matches!(d.audit_events[0].result(), Outcome::Denied(_)));
        assert!(d.last_inbound.is_none());
    }
}

#[test]
fn statuses_are_audited_with_error_codes_and_dedupe_per_status() {
    let mut w = world();
    let status = |s: DeliveryStatus, errors: Vec<PlatformError>| {
        EventKind::Status(StatusUpdate {
            message_id: "wamid.OUT1".into(),
            status: s,
            timestamp: T0,
            recipient: contact(Some(PHONE), None),
            pricing_category: None,
            errors,
        })
    };
    let sent = w.decide(status(DeliveryStatus::Sent, vec![]), T0 + 1);
    let read = w.decide(status(DeliveryStatus::Read, vec![]), T0 + 1);
    let failed = w.decide(
        status(
            DeliveryStatus::Failed,
            vec![PlatformError {
                code: 131049,
                title: "This message was not delivered".into(),
            }],
        ),
        T0 + 1,
    );
    assert_ne!(sent.dedupe_key, read.dedupe_key);
    assert_ne!(read.dedupe_key, failed.dedupe_key);
    assert_eq!(sent.audit_events[0].result(), &Outcome::Success);
    assert_eq!(
        failed.audit_events[0].result(),
        &Outcome::Failed("whatsapp-error-131049".into())
    );
    // The status names the outbound record sealed under the same message id.
    let route = Route {
        category: "chat-messages".into(),
        purpose: "treatment-communication".into(),
    };
    let subject = sent.subject.clone().unwrap();
    let out = w
        .intake
        .seal_outbound(
            &subject,
            &route,
            "text/plain; charset=utf-8",
            b"Ihr Termin ist am Montag",
            "wamid.OUT1",
            &w.keys,
            T0,
            &mut w.rng,
        )
        .unwrap();
    let rec = out.record.as_ref().unwrap();
    assert_eq!(
        sent.audit_events[0].record_id(),
        Some(rec.record_id.as_str())
    );
    let kr = out.keyring_record.clone().unwrap();
    let o = envelope::open_with_keyring(&rec.envelope, &kr, &w.doctor).unwrap();
    assert_eq!(o.plaintext, b"Ihr Termin ist am Montag");
    assert_eq!(
        out.audit_events[0].correlation_id(),
        Some("whatsapp-outbound")
    );
}

#[test]
fn a_shredded_key_keeps_new_content_out() {
    let mut w = world();
    let d1 = w.run(text("wamid.I1", T0, "Hallo"), T0);
    w.run(
        button(
            "wamid.I2",
            T0 + 1,
            &payload_of(&d1, ReplyKind::ConsentRequest, "yes"),
        ),
        T0 + 1,
    );
    let d = w.run(text("wamid.I3", T0 + 2, TEXT), T0 + 2);
    let rec = d.keyring_record.unwrap();
    w.keys.insert(rec.shred(T0 + 3));
    let after = w.decide(text("wamid.I4", T0 + 4, TEXT), T0 + 4);
    assert_eq!(
        after.kind,
        DecisionKind::NotStored {
            reason: "key-shredded"
        }
    );
    assert!(after.record.is_none() && after.keyring_record.is_none());
}

#[test]
fn unsupported_messages_are_audited_not_stored() {
    let mut w = world();
    let d = w.decide(
        msg(
            "wamid.J1",
            contact(Some(PHONE), None),
            T0,
            MessageBody::Unsupported {
                message_type: "poll_creation".into(),
                errors: vec![],
            },
        ),
        T0,
    );
    assert_eq!(
        d.kind,
        DecisionKind::NotStored {
            reason: "unsupported-message-type"
        }
    );
    assert!(d.record.is_none() && d.replies.is_empty());
    assert_eq!(d.audit_events.len(), 1);
    let e = w.decide(EventKind::Errors(vec![]), T0);
    assert!(matches!(e.kind, DecisionKind::Ignored { .. }));
}

#[test]
fn value_errors_and_unsupported_changes_are_audited_without_personal_data() {
    let mut w = world();
    let e = w.decide(
        EventKind::Errors(vec![PlatformError {
            code: 131_000,
            title: "Something went wrong".into(),
        }]),
        T0,
    );
    assert_ignored_and_audited_alone(
        &e,
        "platform-errors",
        &Outcome::Failed("whatsapp-error-131000".into()),
        "whatsapp-platform-errors",
    );

    let u = w.decide(
        EventKind::Unsupported {
            field: "Account_Review_Update".into(),
            reason: "this field is not handled",
        },
        T0,
    );
    assert_ignored_and_audited_alone(
        &u,
        "unsupported-event",
        &Outcome::Denied("unsupported-event".into()),
        "whatsapp-unsupported-account-review-update",
    );
}

/// `d` is `ignored` for `reason`, changes nothing, and has one audit entry
/// with `outcome` and `correlation` that names no subject and no record.
fn assert_ignored_and_audited_alone(
    d: &Decision,
    reason: &str,
    outcome: &Outcome,
    correlation: &str,
) {
    assert!(matches!(d.kind, DecisionKind::Ignored { reason: r } if r == reason));
    assert_eq!(d.audit_events.len(), 1);
    let a = &d.audit_events[0];
    assert_eq!(a.result(), outcome);
    assert_eq!(a.correlation_id(), Some(correlation));
    assert_eq!(a.action(), Action::Create);
    assert!(a.subject_pseudonym().is_none() && a.record_id().is_none());
    assert!(d.dedupe_key.is_none() && d.replies.is_empty() && d.record.is_none());
    assert!(d.consent_events.is_empty());
}

fn consented_world() -> (World, String) {
    let mut w = world();
    let d1 = w.run(text("wamid.K1", T0, "Hallo"), T0);
    w.run(
        button(
            "wamid.K2",
            T0 + 1,
            &payload_of(&d1, ReplyKind::ConsentRequest, "yes"),
        ),
        T0 + 1,
    );
    let s = d1.subject.unwrap().as_str().to_owned();
    (w, s)
}

#[test]
fn free_form_only_in_the_window_and_never_without_consent_for_the_purpose() {
    let (w, s) = consented_world();
    let treat = "treatment-communication";
    let d = may_send(
        &w.ledger,
        &w.gate,
        &s,
        treat,
        MessageKind::FreeForm,
        T0 + 3600,
    );
    assert_eq!(
        d,
        SendDecision::FreeForm {
            window_ends: T0 + 1 + 86_400,
            basis: d_basis(&d)
        }
    );
    assert!(d.allowed());
    let late = may_send(
        &w.ledger,
        &w.gate,
        &s,
        treat,
        MessageKind::FreeForm,
        T0 + 1 + 86_400,
    );
    assert_eq!(
        late,
        SendDecision::TemplateRequired {
            category: "UTILITY".into()
        }
    );
    // Marketing never rides on treatment consent.
    let m = may_send(
        &w.ledger,
        &w.gate,
        &s,
        "marketing",
        MessageKind::FreeForm,
        T0 + 60,
    );
    assert_eq!(
        m,
        SendDecision::Forbidden(Forbidden::NoConsent {
            purpose: "marketing".into()
        })
    );
    // Recall has no consent either.
    let r = may_send(
        &w.ledger,
        &w.gate,
        &s,
        "recall",
        MessageKind::Template {
            name: "recall_reminder",
            language: "de",
            category: "UTILITY",
        },
        T0 + 60,
    );
    assert_eq!(r.code(), "forbidden");
    // An unknown patient gets nothing.
    let unknown = may_send(
        &w.ledger,
        &w.gate,
        "sbj-00000000000000000000000000000000",
        treat,
        MessageKind::FreeForm,
        T0,
    );
    assert!(!unknown.allowed());
}

fn d_basis(d: &SendDecision) -> Option<caduceus_core::consent::LegalBasis> {
    match d {
        SendDecision::FreeForm { basis, .. } | SendDecision::Template { basis, .. } => *basis,
        _ => None,
    }
}

#[test]
fn a_template_recategorised_to_marketing_needs_marketing_consent() {
    let (mut w, s) = consented_world();
    let treat = "treatment-communication";
    let tpl = MessageKind::Template {
        name: "appointment_reminder",
        language: "de",
        category: "UTILITY",
    };
    assert_eq!(
        may_send(&w.ledger, &w.gate, &s, treat, tpl, T0 + 100_000).code(),
        "template"
    );
    // Meta announces the change to MARKETING.
    let d = w.run(
        EventKind::TemplateCategory(TemplateCategoryUpdate {
            template_id: "1689556908129832".into(),
            name: "appointment_reminder".into(),
            language: "de".into(),
            previous_category: None,
            new_category: "UTILITY".into(),
            correct_category: Some("MARKETING".into()),
            update_timestamp: Some(T0 + 200_000),
        }),
        T0 + 100_000,
    );
    assert_eq!(d.kind, DecisionKind::Audited);
    assert_eq!(d.audit_events[0].action(), Action::PolicyChange);
    assert_eq!(d.template_category.as_ref().unwrap().category, "MARKETING");
    assert_eq!(
        may_send(&w.ledger, &w.gate, &s, treat, tpl, T0 + 100_001),
        SendDecision::Forbidden(Forbidden::TemplateIsMarketing {
            recategorised: true
        })
    );
}

#[test]
fn a_marketing_stop_in_whatsapp_is_recorded_and_named_by_the_gate() {
    let (mut w, s) = consented_world();
    let pref = |v: PreferenceValue, t: i64| {
        EventKind::UserPreference(UserPreference {
            contact: contact(Some(PHONE), None),
            category: "marketing_messages".into(),
            value: v,
            timestamp: t,
        })
    };
    let stop = w.run(pref(PreferenceValue::Stop, T0 + 10), T0 + 10);
    assert_eq!(
        stop.kind,
        DecisionKind::OptedOut {
            purposes: vec!["marketing".into()]
        }
    );
    assert_eq!(stop.consent_events[0].channel, "whatsapp-user-preferences");
    assert_eq!(
        may_send(
            &w.ledger,
            &w.gate,
            &s,
            "marketing",
            MessageKind::FreeForm,
            T0 + 20
        ),
        SendDecision::Forbidden(Forbidden::MarketingStopped { at: T0 + 10 })
    );
    // Resume is not consent: audited only, marketing stays forbidden.
    let resume = w.run(pref(PreferenceValue::Resume, T0 + 30), T0 + 30);
    assert_eq!(resume.kind, DecisionKind::Audited);
    assert!(resume.consent_events.is_empty());
    assert!(
        !may_send(
            &w.ledger,
            &w.gate,
            &s,
            "marketing",
            MessageKind::FreeForm,
            T0 + 40
        )
        .allowed()
    );
    // Redelivered stop: nothing recorded twice.
    let again = w.decide(pref(PreferenceValue::Stop, T0 + 10), T0 + 50);
    assert!(again.consent_events.is_empty());
    assert_eq!(again.dedupe_key, stop.dedupe_key);
}

#[test]
fn outbound_state_text_round_trips_and_refuses_garbage() {
    let (w, s) = consented_world();
    let mut st = w.gate.clone();
    st.set_template_category("appointment_reminder", "de", "marketing");
    let text = st.to_text();
    assert_eq!(OutboundState::from_text(&text).unwrap(), st);
    assert!(text.contains(&format!("window {s} ")));
    assert!(text.contains("template appointment_reminder de MARKETING"));
    assert!(OutboundState::from_text("window +4915100000001 5\n").is_err());
    assert!(OutboundState::from_text("window sbj-x 5 6\n").is_err());
    assert!(OutboundState::from_text("nonsense\n").is_err());
}

#[test]
fn decision_json_carries_what_to_persist_and_no_content_unless_asked() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut w = world();
    let d1 = w.run(text("wamid.L1", T0, TEXT), T0);
    let j = d1.to_json(false).to_string();
    for secret in [TEXT, PHONE, "Erika"] {
        assert!(!j.contains(secret), "{secret} in redacted JSON");
    }
    assert!(
        j.contains(NOTICE_TEXT),
        "the practice's notice text is not patient data"
    );
    let shown = d1.to_json(true).to_string();
    assert!(shown.contains(PHONE) && shown.contains("graph_request"));
    let yes = payload_of(&d1, ReplyKind::ConsentRequest, "yes");
    let d2 = w.run(button("wamid.L2", T0 + 1, &yes), T0 + 1);
    let v = d2.to_json(false);
    assert_eq!(v["kind"], "consent-recorded");
    let ev = &v["consent_events"][0];
    assert_eq!(ev["status"], "given");
    assert_eq!(ev["method"], "chat-reply");
    assert_eq!(ev["evidence"], "wamid.L2");
    assert_eq!(ev["notice"]["id"], "privacy-chat");
    assert_eq!(
        ev["notice"]["sha256"].as_str().unwrap().len(),
        64,
        "hex sha256"
    );
    assert_eq!(v["audit_events"][0]["action"], "consent-given");
    let d3 = w.run(text("wamid.L3", T0 + 2, TEXT), T0 + 2);
    let v = d3.to_json(false);
    assert_eq!(v["kind"], "stored");
    let env = b64
        .decode(v["record"]["envelope"].as_str().unwrap())
        .unwrap();
    let rec = caduceus_core::keys::KeyringRecord::from_bytes(
        &b64.decode(v["keyring_record"]["bytes"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let o = envelope::open_with_keyring(&env, &rec, &w.doctor).unwrap();
    assert_eq!(o.plaintext, TEXT.as_bytes());
    assert!(!v.to_string().contains(TEXT));
}

#[test]
fn intake_configurations_that_break_whatsapps_limits_are_refused() {
    use caduceus_core::whatsapp::{
        IntakeError, MAX_BUTTON_PAYLOAD, MAX_BUTTON_TITLE, MAX_EVENT_AGE,
    };
    assert_eq!(MAX_BUTTON_PAYLOAD, 256);
    assert_eq!(MAX_BUTTON_TITLE, 20);
    assert_eq!(MAX_EVENT_AGE, 8 * 86_400);
    let mut rng = DeterministicRng::new(1);
    let practice = PrivateKey::generate(KeyKind::Practice, &mut rng);
    let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
    let build = |notice_id: &str, title: &str, max_age: i64, ledger: &mut Ledger| {
        let notice = ledger
            .register_notice(notice_id, 1, "de", "Hinweis", T0, T0)
            .unwrap();
        let mut c = IntakeConfig::new(practice.public_key(), vec![], notice);
        c.texts.button_yes_photos = title.to_owned();
        c.max_age = max_age;
        Intake::new(AuditKey::from_bytes([1; 32]), &policy, c)
    };
    // The longest notice id (a 128-byte label) still gives payloads of at
    // most 256 bytes: "caduceus.consent.v1:yes-photos:<id>:1:de".
    let long_id = "n".repeat(128);
    let intake = build(&long_id, "Ja", MAX_EVENT_AGE, &mut ledger).unwrap();
    let payload = format!("{CONSENT_PAYLOAD_PREFIX}yes-photos:{long_id}:1:de");
    assert!(payload.len() <= MAX_BUTTON_PAYLOAD);
    drop(intake);
    assert!(build("a", &"x".repeat(MAX_BUTTON_TITLE), 0, &mut ledger).is_ok());
    assert!(matches!(
        build("b", &"x".repeat(MAX_BUTTON_TITLE + 1), 0, &mut ledger),
        Err(IntakeError::Config(_))
    ));
    // Titles count characters, not bytes.
    assert!(build("c", &"ä".repeat(MAX_BUTTON_TITLE), 0, &mut ledger).is_ok());
    assert!(matches!(
        build("d", "Ja", MAX_EVENT_AGE + 1, &mut ledger),
        Err(IntakeError::Config(_))
    ));
    assert!(matches!(
        build("e", "", 0, &mut ledger),
        Err(IntakeError::Config(_))
    ));
    // A category of a route that the policy lacks.
    let notice = ledger
        .register_notice("f", 1, "de", "Hinweis", T0, T0)
        .unwrap();
    let mut c = IntakeConfig::new(practice.public_key(), vec![], notice);
    c.routes.photo.category = "no-such-category".into();
    assert!(matches!(
        Intake::new(AuditKey::from_bytes([1; 32]), &policy, c),
        Err(IntakeError::Access(_))
    ));
}

#[test]
fn apply_is_all_or_nothing() {
    let mut w = world();
    let d1 = w.decide(text("wamid.M1", T0, "Hallo"), T0);
    let yes = payload_of(&d1, ReplyKind::ConsentRequest, "yes");
    let d = w.decide(button("wamid.M2", T0 + 1, &yes), T0 + 1);
    assert_eq!(d.identity_links.len(), 1);
    // The event got into the ledger some other way: apply fails and links
    // no identity.
    w.ledger
        .append(d.consent_events[0].clone(), T0 + 1)
        .unwrap();
    let before = w.ledger.len();
    assert!(
        d.apply(&mut w.ledger, &mut w.ids, &mut w.keys, T0 + 1)
            .is_err()
    );
    assert!(w.ids.is_empty());
    assert_eq!(w.ledger.len(), before);
}
