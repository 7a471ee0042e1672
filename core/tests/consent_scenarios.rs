#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Consent scenarios from the field, and bad input that must leave the
//! ledger unchanged.

use caduceus_core::consent::{
    Art6Basis, Art9Condition, ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy,
    ConsentStatus, EventRef, Ledger, LegalBasis, NoticeRef, OptOutOutcome, OptOutRequest, Refusal,
};

const T0: i64 = 1_763_800_000;
const DAY: i64 = 86_400;
const NOTICE_V1: &str = "Datenschutzhinweis v1: Wir speichern Ihre Nachrichten ...";
const NOTICE_V2: &str = "Datenschutzhinweis v2: Wir speichern Ihre Nachrichten verschluesselt ...";

struct Fixture {
    ledger: Ledger,
    v1: NoticeRef,
}

impl Fixture {
    /// Append p-1's consent `id` to `purposes` under notice v1, given and
    /// recorded at `time`.
    fn give(&mut self, id: &str, purposes: &[&str], time: i64) -> EventRef {
        self.ledger
            .append(given(id, "p-1", purposes, &self.v1, time), time)
            .unwrap()
    }
}

fn fixture(policy: ConsentPolicy) -> Fixture {
    let mut ledger = Ledger::new(policy).unwrap();
    let v1 = ledger
        .register_notice("privacy-chat", 1, "de", NOTICE_V1, T0, T0)
        .unwrap();
    Fixture { ledger, v1 }
}

fn event(
    id: &str,
    subject: &str,
    purposes: &[&str],
    status: ConsentStatus,
    notice: Option<&NoticeRef>,
    time: i64,
) -> ConsentEvent {
    let method = if status == ConsentStatus::Withdrawn {
        ConsentMethod::ChatReply
    } else {
        ConsentMethod::QrReception
    };
    ConsentEvent {
        id: id.into(),
        subject: subject.into(),
        purposes: purposes.iter().map(|p| (*p).into()).collect(),
        status,
        method,
        notice: notice.cloned(),
        channel: "reception-qr".into(),
        evidence: Some(format!("form-{id}")),
        recorded_by: "staff-7".into(),
        time,
        expires_at: None,
    }
}

fn given(
    id: &str,
    subject: &str,
    purposes: &[&str],
    notice: &NoticeRef,
    time: i64,
) -> ConsentEvent {
    event(
        id,
        subject,
        purposes,
        ConsentStatus::Given,
        Some(notice),
        time,
    )
}

fn withdrawn(id: &str, subject: &str, purposes: &[&str], time: i64) -> ConsentEvent {
    event(id, subject, purposes, ConsentStatus::Withdrawn, None, time)
}

fn stop(id: &str, subject: &str, reply: &str, time: i64) -> OptOutRequest {
    OptOutRequest {
        event_id: id.into(),
        subject: subject.into(),
        reply: reply.into(),
        message_id: format!("wamid.{id}"),
        channel: "whatsapp".into(),
        recorded_by: "ingest".into(),
        time,
    }
}

#[test]
fn qr_consent_at_reception_allows_keeping_chat_content() {
    let mut f = fixture(ConsentPolicy::default());
    // Before consent: no content may be kept (C1).
    let d = f.ledger.decide("p-1", "treatment-communication", T0 + 10);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::NoConsent));
    assert_eq!(d.event, None);

    let r = f.give("e1", &["treatment-communication"], T0 + 60);
    let d = f.ledger.decide("p-1", "treatment-communication", T0 + 61);
    assert!(d.allowed);
    assert_eq!(
        d.basis,
        Some(LegalBasis {
            art6: Art6Basis::Consent,
            art9: Some(Art9Condition::ExplicitConsent)
        })
    );
    assert_eq!(d.event, Some(r));
    assert_eq!(d.refusal, None);
    // The reference is the SHA-256 of the stored event bytes.
    assert_eq!(
        r.hash,
        caduceus_core::suite::sha256(&[f.ledger.event_bytes(r.seq).unwrap()])
    );
    // Asked about a time before the consent, the ledger answers from history.
    assert!(
        !f.ledger
            .decide("p-1", "treatment-communication", T0 + 59)
            .allowed
    );
}

#[test]
fn photo_before_clinical_photos_consent_is_refused() {
    let mut f = fixture(ConsentPolicy::default());
    f.give("e1", &["treatment-communication"], T0);
    let d = f.ledger.decide("p-1", "clinical-photos", T0 + 1);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::NoConsent));
    f.give("e2", &["clinical-photos"], T0 + 5);
    let d = f.ledger.decide("p-1", "clinical-photos", T0 + 6);
    assert!(d.allowed);
    assert_eq!(d.basis.unwrap().art9, Some(Art9Condition::ExplicitConsent));
}

#[test]
fn marketing_is_blocked_with_only_treatment_consent() {
    let mut f = fixture(ConsentPolicy::default());
    f.give(
        "e1",
        &["treatment-communication", "clinical-photos", "recall"],
        T0,
    );
    let d = f.ledger.decide("p-1", "marketing", T0 + 1);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::NoConsent));
    assert!(f.ledger.decide("p-1", "recall", T0 + 1).allowed);
}

#[test]
fn stop_withdraws_marketing_and_recall_but_not_treatment() {
    let mut f = fixture(ConsentPolicy::default());
    f.give(
        "e1",
        &["treatment-communication", "marketing", "recall"],
        T0,
    );
    assert!(f.ledger.decide("p-1", "marketing", T0 + 1).allowed);

    // Not a keyword as a whole message: nothing happens.
    for reply in [
        "stop the reminders please",
        "Ich will nicht, dass Sie stoppen",
    ] {
        let out = f.ledger.opt_out(stop("e2", "p-1", reply, T0 + 5), T0 + 5);
        assert_eq!(out, Ok(OptOutOutcome::NotOptOut), "{reply}");
    }
    assert_eq!(f.ledger.len(), 1);

    let out = f
        .ledger
        .opt_out(stop("e2", "p-1", "  sToPp!! \n", T0 + 10), T0 + 10)
        .unwrap();
    let OptOutOutcome::Stopped {
        withdrawal: Some(w),
        objection: None,
    } = out
    else {
        panic!("expected a withdrawal only, got {out:?}");
    };
    assert_eq!(w.purposes, ["recall", "marketing"]);
    for purpose in ["marketing", "recall"] {
        let d = f.ledger.decide("p-1", purpose, T0 + 10);
        assert!(!d.allowed, "{purpose}");
        assert_eq!(d.refusal, Some(Refusal::Withdrawn { at: T0 + 10 }));
        assert_eq!(d.event, Some(w.event));
    }
    assert!(
        f.ledger
            .decide("p-1", "treatment-communication", T0 + 10)
            .allowed
    );
    // Recorded as an event with the message id as evidence.
    let rec = f.ledger.event(w.event.seq).unwrap();
    assert_eq!(rec.event.id, "e2");
    assert_eq!(rec.event.status, ConsentStatus::Withdrawn);
    assert_eq!(rec.event.method, ConsentMethod::ChatReply);
    assert_eq!(rec.event.evidence.as_deref(), Some("wamid.e2"));
    // History is kept, nothing overwritten (C5).
    let h = f.ledger.history("p-1");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].event.status, ConsentStatus::Given);
    // A second STOP withdraws nothing, but is still recorded: an objection.
    let out = f
        .ledger
        .opt_out(stop("e3", "p-1", "Bitte stopp", T0 + 20), T0 + 20)
        .unwrap();
    let OptOutOutcome::Stopped {
        withdrawal: None,
        objection: Some(o),
    } = out
    else {
        panic!("expected an objection, got {out:?}");
    };
    assert_eq!(o.purposes, ["recall", "marketing"]);
    let rec = f.ledger.event(o.event.seq).unwrap().event;
    assert_eq!(
        (rec.id.as_str(), rec.status, rec.evidence.as_deref()),
        ("e3", ConsentStatus::Refused, Some("wamid.e3"))
    );
    assert_eq!(f.ledger.len(), 3);
    // Opting in again is as easy: a new given event.
    f.give("e4", &["marketing"], T0 + 30);
    assert!(f.ledger.decide("p-1", "marketing", T0 + 31).allowed);
}

#[test]
fn a_stop_from_a_patient_without_consent_is_kept_as_an_objection() {
    let mut f = fixture(ConsentPolicy::default());
    let out = f
        .ledger
        .opt_out(stop("e1", "p-new", "STOP", T0), T0)
        .unwrap();
    let OptOutOutcome::Stopped {
        withdrawal: None,
        objection: Some(o),
    } = out
    else {
        panic!("expected an objection, got {out:?}");
    };
    assert_eq!(o.purposes, ["recall", "marketing"]);
    assert_eq!(f.ledger.history("p-new").len(), 1);
    let d = f.ledger.decide("p-new", "recall", T0 + 1);
    assert_eq!(d.refusal, Some(Refusal::Refused { at: T0 }));
}

#[test]
fn stop_with_partial_consent_records_a_withdrawal_and_an_objection() {
    // Reviews rest on legitimate interests when no consent is in effect:
    // a STOP must end that too (Art. 21(1) GDPR).
    let policy = ConsentPolicy::from_toml(
        r#"
        [[purpose]]
        id = "treatment-communication"
        health-data = true
        opt-out = false
        [[purpose]]
        id = "reviews"
        alternative = { art6 = "legitimate-interests" }
        [[purpose]]
        id = "marketing"
        "#,
    )
    .unwrap();
    let mut f = fixture(policy);
    f.give("e1", &["treatment-communication", "marketing"], T0);
    assert!(f.ledger.decide("p-1", "reviews", T0 + 1).allowed);
    // An id too long for the objection's suffix (on a copy): both events
    // are still recorded, the objection's id shortened with a hash.
    let mut copy = f.ledger.clone();
    let long = "x".repeat(120);
    let out = copy
        .opt_out(stop(&long, "p-1", "STOP", T0 + 2), T0 + 2)
        .unwrap();
    let OptOutOutcome::Stopped {
        withdrawal: Some(w),
        objection: Some(o),
    } = out
    else {
        panic!("expected both events, got {out:?}");
    };
    assert_eq!(copy.event(w.event.seq).unwrap().event.id, long);
    let oid = copy.event(o.event.seq).unwrap().event.id;
    assert!(oid.len() <= 128 && oid.ends_with("-objection"), "{oid}");
    assert!(oid.starts_with(&"x".repeat(101)), "{oid}");

    let out = f
        .ledger
        .opt_out(stop("e2", "p-1", "Unsubscribe!", T0 + 2), T0 + 2)
        .unwrap();
    assert_eq!(out.stopped_purposes(), ["marketing", "reviews"]);
    let OptOutOutcome::Stopped {
        withdrawal: Some(w),
        objection: Some(o),
    } = out
    else {
        panic!("expected both events, got {out:?}");
    };
    assert_eq!(w.purposes, ["marketing"]);
    assert_eq!(o.purposes, ["reviews"]);
    assert_eq!(
        f.ledger.event(o.event.seq).unwrap().event.id,
        "e2-objection"
    );
    let d = f.ledger.decide("p-1", "reviews", T0 + 3);
    assert!(!d.allowed, "the objection blocks the alternative basis");
    assert_eq!(d.refusal, Some(Refusal::Refused { at: T0 + 2 }));
    assert!(
        f.ledger
            .decide("p-1", "treatment-communication", T0 + 3)
            .allowed
    );
    // The ledger file round-trips with both events.
    let again = Ledger::from_bytes(&f.ledger.to_bytes().unwrap()).unwrap();
    assert_eq!(again, f.ledger);
}

#[test]
fn consent_under_v1_stays_valid_after_v2_unless_policy_demands_reconsent() {
    // Default: v2 does not invalidate consents under v1.
    let mut f = fixture(ConsentPolicy::default());
    let r1 = f.give("e1", &["recall"], T0);
    let v2 = f
        .ledger
        .register_notice("privacy-chat", 2, "de", NOTICE_V2, T0 + DAY, T0 + DAY)
        .unwrap();
    assert_ne!(v2.sha256, f.v1.sha256);
    let d = f.ledger.decide("p-1", "recall", T0 + 2 * DAY);
    assert!(d.allowed);
    assert_eq!(d.event, Some(r1));
    // The old event still points at what the patient saw.
    let seen = f
        .ledger
        .find_notice(&f.ledger.event(0).unwrap().event.notice.unwrap())
        .unwrap();
    assert_eq!(seen.text, NOTICE_V1);

    // A purpose that demands re-consent: v2 retires consents under v1.
    let mut policy = ConsentPolicy::default();
    policy.purposes[2].require_current_notice = true;
    let mut f = fixture(policy);
    f.give("e1", &["recall"], T0);
    assert!(f.ledger.decide("p-1", "recall", T0 + DAY).allowed);
    let v2 = f
        .ledger
        .register_notice("privacy-chat", 2, "de", NOTICE_V2, T0 + DAY, T0 + DAY)
        .unwrap();
    let d = f.ledger.decide("p-1", "recall", T0 + 2 * DAY);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::NoticeRetired { at: T0 + DAY }));
    // Before v2 was registered, the consent counted.
    assert!(f.ledger.decide("p-1", "recall", T0 + DAY - 1).allowed);
    // Re-consent under v2 (renewed).
    f.ledger
        .append(
            event(
                "e2",
                "p-1",
                &["recall"],
                ConsentStatus::Renewed,
                Some(&v2),
                T0 + 3 * DAY,
            ),
            T0 + 3 * DAY,
        )
        .unwrap();
    assert!(f.ledger.decide("p-1", "recall", T0 + 3 * DAY).allowed);
}

#[test]
fn retired_notice_version_stops_its_consents() {
    let mut f = fixture(ConsentPolicy::default());
    f.give("e1", &["marketing"], T0);
    f.ledger
        .retire_notice("privacy-chat", 1, T0 + 100, T0 + 100)
        .unwrap();
    let d = f.ledger.decide("p-1", "marketing", T0 + 100);
    assert_eq!(d.refusal, Some(Refusal::NoticeRetired { at: T0 + 100 }));
    assert!(f.ledger.decide("p-1", "marketing", T0 + 99).allowed);
    assert!(matches!(
        f.ledger
            .retire_notice("privacy-chat", 1, T0 + 200, T0 + 200),
        Err(ConsentError::NoticeAlreadyRetired { .. })
    ));
}

#[test]
fn expiry() {
    let mut f = fixture(ConsentPolicy::default());
    let mut e = given("e1", "p-1", &["recall"], &f.v1, T0);
    e.expires_at = Some(T0 + 365 * DAY);
    let r = f.ledger.append(e, T0).unwrap();
    assert!(f.ledger.decide("p-1", "recall", T0 + 365 * DAY - 1).allowed);
    let d = f.ledger.decide("p-1", "recall", T0 + 365 * DAY);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::Expired { at: T0 + 365 * DAY }));
    assert_eq!(d.event, Some(r));
    // An explicit expiry event works too.
    let mut f = fixture(ConsentPolicy::default());
    f.give("e1", &["recall"], T0);
    f.ledger
        .append(
            event(
                "e2",
                "p-1",
                &["recall"],
                ConsentStatus::Expired,
                None,
                T0 + 9,
            ),
            T0 + 9,
        )
        .unwrap();
    assert_eq!(
        f.ledger.decide("p-1", "recall", T0 + 9).refusal,
        Some(Refusal::Expired { at: T0 + 9 })
    );
}

#[test]
fn refusal_and_unknown_purpose_reasons() {
    let mut f = fixture(ConsentPolicy::default());
    let r = f
        .ledger
        .append(
            event(
                "e1",
                "p-1",
                &["marketing"],
                ConsentStatus::Refused,
                Some(&f.v1),
                T0,
            ),
            T0,
        )
        .unwrap();
    let d = f.ledger.decide("p-1", "marketing", T0);
    assert_eq!(d.refusal, Some(Refusal::Refused { at: T0 }));
    assert_eq!(d.event, Some(r));
    let d = f.ledger.decide("p-1", "astrology", T0);
    assert_eq!(d.refusal, Some(Refusal::UnknownPurpose));
    assert_eq!(Refusal::UnknownPurpose.code(), "purpose-unknown");
}

#[test]
fn treatment_may_rest_on_the_treatment_contract_when_the_policy_says_so() {
    let mut policy = ConsentPolicy::default();
    let contract = LegalBasis {
        art6: Art6Basis::Contract,
        art9: Some(Art9Condition::HealthCare),
    };
    policy.purposes[0].alternative = Some(contract);
    let mut f = fixture(policy);
    // No consent: allowed on Art. 6(1)(b) + Art. 9(2)(h) with § 22 BDSG, and the decision says so.
    let d = f.ledger.decide("p-new", "treatment-communication", T0);
    assert!(d.allowed);
    assert_eq!(d.basis, Some(contract));
    assert_eq!(d.event, None);
    assert!(Art9Condition::HealthCare.article().contains("§ 22"));
    // With consent, the decision relies on the consent.
    f.give("e1", &["treatment-communication"], T0);
    assert_eq!(
        f.ledger
            .decide("p-1", "treatment-communication", T0)
            .basis
            .unwrap()
            .art6,
        Art6Basis::Consent
    );
    // An explicit withdrawal is respected.
    f.ledger
        .append(
            withdrawn("e2", "p-1", &["treatment-communication"], T0 + 1),
            T0 + 1,
        )
        .unwrap();
    assert!(
        !f.ledger
            .decide("p-1", "treatment-communication", T0 + 1)
            .allowed
    );
    // Clinical photos still need explicit consent.
    assert!(!f.ledger.decide("p-new", "clinical-photos", T0).allowed);
}

#[test]
fn bulk_decisions_match_single_decisions() {
    let mut f = fixture(ConsentPolicy::default());
    for i in 0..50 {
        let purposes: &[&str] = if i % 3 == 0 {
            &["marketing"]
        } else {
            &["recall"]
        };
        f.ledger
            .append(
                given(&format!("e{i}"), &format!("p-{i}"), purposes, &f.v1, T0 + i),
                T0 + i,
            )
            .unwrap();
    }
    let names: Vec<String> = (0..60).map(|i| format!("p-{i}")).collect();
    let bulk = f.ledger.decide_many(&names, "marketing", T0 + 100);
    let ids: Vec<_> = f.ledger.subject_ids().collect();
    assert_eq!(ids.len(), 50);
    let by_id = f.ledger.decide_ids(&ids, "marketing", T0 + 100);
    for (i, name) in names.iter().enumerate() {
        let single = f.ledger.decide(name, "marketing", T0 + 100);
        assert_eq!(bulk[i], single);
        if i < 50 {
            assert_eq!(by_id[i], single);
            assert_eq!(
                f.ledger.subject_name(ids[i]).as_deref(),
                Some(name.as_str())
            );
        }
        assert_eq!(single.allowed, i < 50 && i % 3 == 0, "{name}");
    }
    assert!(
        f.ledger
            .decide_many(&names, "nope", T0)
            .iter()
            .all(|d| d.refusal == Some(Refusal::UnknownPurpose))
    );
}

/// Every kind of bad input: a typed error, and the ledger unchanged.
#[test]
fn bad_input_is_refused_and_leaves_the_ledger_unchanged() {
    let mut f = fixture(ConsentPolicy::default());
    f.give("e1", &["recall"], T0 + 100);
    let before = f.ledger.clone();
    let bytes_before = f.ledger.to_bytes().unwrap();
    let v1 = f.v1.clone();

    let mut check = |e: ConsentEvent, now: i64, want: &dyn Fn(&ConsentError) -> bool| {
        let err = f.ledger.append(e, now).unwrap_err();
        assert!(want(&err), "unexpected error {err:?}");
        // Messages carry no pseudonyms.
        assert!(!err.to_string().contains("p-1"), "{err}");
        assert_eq!(f.ledger, before);
        assert_eq!(f.ledger.to_bytes().unwrap(), bytes_before);
    };
    check(
        given("e2", "p-1", &["astrology"], &v1, T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::UnknownPurpose(p) if p == "astrology"),
    );
    check(
        given("e2", "p-1", &["recall"], &v1, T0 + 50),
        T0 + 200,
        &|e| matches!(e, ConsentError::OutOfOrder { latest, .. } if *latest == T0 + 100),
    );
    check(
        withdrawn("e2", "p-2", &["marketing"], T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::WithoutPriorConsent { purpose, .. } if purpose == "marketing"),
    );
    check(
        withdrawn("e2", "p-1", &["recall", "marketing"], T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::WithoutPriorConsent { purpose, .. } if purpose == "marketing"),
    );
    check(
        given("e1", "p-1", &["recall"], &v1, T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::DuplicateEventId(id) if id == "e1"),
    );
    let mut forged = v1.clone();
    forged.sha256[0] ^= 1;
    check(
        given("e2", "p-1", &["recall"], &forged, T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::UnknownNotice { .. }),
    );
    let mut other_lang = v1.clone();
    other_lang.language = "en".into();
    check(
        given("e2", "p-1", &["recall"], &other_lang, T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::UnknownNotice { .. }),
    );
    check(
        given("e2", "p-1", &["recall"], &v1, T0 + 1000),
        T0 + 200,
        &|e| {
            matches!(
                e,
                ConsentError::InFuture {
                    ahead: 800,
                    skew: 300,
                    ..
                }
            )
        },
    );
    check(
        event(
            "e2",
            "p-1",
            &["recall"],
            ConsentStatus::Given,
            None,
            T0 + 200,
        ),
        T0 + 200,
        &|e| matches!(e, ConsentError::NoticeRequired(_)),
    );
    check(
        given("e2", "p 1 ", &["recall"], &v1, T0 + 200),
        T0 + 200,
        &|e| matches!(e, ConsentError::InvalidLabel("subject pseudonym")),
    );
    check(given("e2", "p-1", &[], &v1, T0 + 200), T0 + 200, &|e| {
        matches!(e, ConsentError::NoPurposes(_))
    });
    let mut exp = given("e2", "p-1", &["recall"], &v1, T0 + 200);
    exp.expires_at = Some(T0 + 200);
    check(exp, T0 + 200, &|e| {
        matches!(e, ConsentError::InvalidExpiry(_))
    });

    // Within the skew is fine.
    f.ledger
        .append(given("e2", "p-1", &["recall"], &v1, T0 + 500), T0 + 200)
        .unwrap();

    // Notices: duplicates, bad text, bad language, future, unknown retirement.
    let before = f.ledger.clone();
    assert!(matches!(
        f.ledger
            .register_notice("privacy-chat", 1, "de", "other wording", T0, T0),
        Err(ConsentError::DuplicateNotice { .. })
    ));
    assert_eq!(
        f.ledger
            .register_notice("privacy-chat", 3, "de", "", T0, T0),
        Err(ConsentError::InvalidNoticeText)
    );
    assert_eq!(
        f.ledger
            .register_notice("privacy-chat", 3, "d e", "x", T0, T0),
        Err(ConsentError::InvalidLanguage)
    );
    assert!(matches!(
        f.ledger
            .register_notice("privacy-chat", 3, "de", "x", T0 + 10_000, T0),
        Err(ConsentError::InFuture { .. })
    ));
    assert!(matches!(
        f.ledger.retire_notice("privacy-chat", 9, T0, T0),
        Err(ConsentError::UnknownNotice { .. })
    ));
    assert_eq!(f.ledger, before);
    // An opt-out that fails (duplicate event id) changes nothing either.
    f.give("e3", &["marketing"], T0 + 600);
    let before = f.ledger.clone();
    assert!(matches!(
        f.ledger
            .opt_out(stop("e3", "p-1", "STOP", T0 + 700), T0 + 700),
        Err(ConsentError::DuplicateEventId(_))
    ));
    assert_eq!(f.ledger, before);
}

#[test]
fn error_messages_say_what_to_do() {
    let e = ConsentError::UnknownPurpose("astrology".into());
    assert!(e.to_string().contains("add it to the consent policy"));
    let e = ConsentError::OutOfOrder {
        event: "e9".into(),
        time: 1,
        latest: 2,
    };
    assert!(e.to_string().contains("time order"));
}

#[test]
fn debug_output_holds_no_pseudonyms() {
    let mut f = fixture(ConsentPolicy::default());
    f.ledger
        .append(given("e1", "p-secret", &["recall"], &f.v1, T0), T0)
        .unwrap();
    assert!(!format!("{:?}", f.ledger).contains("p-secret"));
}

#[test]
fn a_batch_lands_whole_or_not_at_all() {
    let mut f = fixture(ConsentPolicy::default());
    f.give("e0", &["marketing"], T0 + 10);
    let before = f.ledger.to_bytes().unwrap();
    let now = T0 + DAY;
    let grant = given("b1", "p-2", &["recall"], &f.v1, T0 + 20);
    let bad_batches: Vec<(Vec<ConsentEvent>, &str)> = vec![
        (
            vec![
                grant.clone(),
                given("e0", "p-2", &["recall"], &f.v1, T0 + 21),
            ],
            "an id already in the ledger",
        ),
        (
            vec![grant.clone(), grant.clone()],
            "an id repeated within the batch",
        ),
        (
            vec![
                grant.clone(),
                given("b2", "p-2", &["marketing"], &f.v1, T0 + 19),
            ],
            "a subject going back in time within the batch",
        ),
        (
            vec![
                withdrawn("b3", "p-1", &["marketing"], T0 + 30),
                withdrawn("b4", "p-1", &["marketing"], T0 + 31),
            ],
            "a second withdrawal of what the first already withdrew",
        ),
        (
            vec![
                grant.clone(),
                withdrawn("b5", "p-2", &["marketing"], T0 + 30),
            ],
            "a withdrawal of what the batch never granted",
        ),
    ];
    for (batch, why) in &bad_batches {
        assert!(f.ledger.check_append_all(batch, now).is_err(), "{why}");
        assert!(f.ledger.append_all(batch, now).is_err(), "{why}");
        assert_eq!(
            f.ledger.to_bytes().unwrap(),
            before,
            "{why}: the ledger changed"
        );
    }

    // Grant then withdraw in one batch, for a subject new to the ledger:
    // the same bytes and decisions as appending the events one by one.
    let good = vec![
        grant,
        given("b6", "p-2", &["marketing"], &f.v1, T0 + 25),
        withdrawn("b7", "p-2", &["recall", "marketing"], T0 + 30),
        withdrawn("b8", "p-1", &["marketing"], T0 + 30),
    ];
    let mut one_by_one = f.ledger.clone();
    for e in &good {
        one_by_one.append(e.clone(), now).unwrap();
    }
    let refs = f.ledger.append_all(&good, now).unwrap();
    assert_eq!(refs.len(), good.len());
    assert_eq!(f.ledger.to_bytes().unwrap(), one_by_one.to_bytes().unwrap());
    for subject in ["p-1", "p-2"] {
        for purpose in ["recall", "marketing"] {
            for at in [T0 + 22, T0 + 26, T0 + 31] {
                assert_eq!(
                    f.ledger.decide(subject, purpose, at),
                    one_by_one.decide(subject, purpose, at),
                    "{subject} {purpose} {at}"
                );
            }
        }
    }
    assert!(f.ledger.decide("p-2", "marketing", T0 + 26).allowed);
    assert!(!f.ledger.decide("p-2", "marketing", T0 + 31).allowed);
    assert!(f.ledger.check_append_all(&[], now).is_ok());
}
