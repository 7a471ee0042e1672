#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Scoped ledger reads (docs/CONSENT.md 5.4): a ledger read for some
//! subjects answers for them exactly as the whole ledger does, appends what
//! the whole ledger would append, and refuses (never guesses) for anything
//! it does not hold.

use caduceus_core::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, LedgerReader,
    LedgerScope, NoticeRef, OptOutRequest, Refusal,
};

const T0: i64 = 1_763_800_000;
const PURPOSES: [&str; 4] = [
    "treatment-communication",
    "clinical-photos",
    "recall",
    "marketing",
];

fn event(
    id: &str,
    subject: &str,
    purposes: &[&str],
    status: ConsentStatus,
    notice: Option<&NoticeRef>,
    time: i64,
) -> ConsentEvent {
    ConsentEvent {
        id: id.into(),
        subject: subject.into(),
        purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
        status,
        method: ConsentMethod::ChatReply,
        notice: if status.grants() {
            notice.cloned()
        } else {
            None
        },
        channel: "whatsapp".into(),
        evidence: Some(format!("wamid.{id}")),
        recorded_by: "ingest".into(),
        time,
        expires_at: (status == ConsentStatus::Given && time % 3 == 0).then_some(time + 500),
    }
}

/// Twelve subjects with grants, refusals, withdrawals, STOPs, a second
/// notice and a retirement, interleaved.
fn busy_ledger() -> Ledger {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let n1 = l
        .register_notice("privacy-chat", 1, "de", "Hinweis v1", T0, T0)
        .unwrap();
    let mut t = T0;
    let mut granted = [[false; 4]; 12];
    for round in 0..6 {
        if round == 3 {
            l.register_notice("privacy-chat", 2, "de", "Hinweis v2", t, t)
                .unwrap();
            l.retire_notice("privacy-chat", 1, t + 1, t + 1).unwrap();
        }
        let notice = if round < 3 {
            n1.clone()
        } else {
            l.notice_ref("privacy-chat", 2, "de").unwrap()
        };
        #[allow(clippy::needless_range_loop)]
        for s in 0..12usize {
            t += 7;
            let subject = format!("p-{s}");
            let p = (s + round) % 4;
            let id = format!("r{round}-s{s}");
            if (s + round) % 5 == 4 {
                let req = OptOutRequest {
                    event_id: id,
                    subject,
                    reply: "Bitte stopp!".into(),
                    message_id: format!("wamid.stop{round}{s}"),
                    channel: "whatsapp".into(),
                    recorded_by: "ingest".into(),
                    time: t,
                };
                l.opt_out(req, t).unwrap();
                granted[s][2] = false;
                granted[s][3] = false;
                continue;
            }
            let status = if granted[s][p] && round % 2 == 1 {
                ConsentStatus::Withdrawn
            } else if s % 6 == 5 {
                ConsentStatus::Refused
            } else {
                ConsentStatus::Given
            };
            granted[s][p] = status.grants();
            l.append(
                event(&id, &subject, &[PURPOSES[p]], status, Some(&notice), t),
                t,
            )
            .unwrap();
        }
    }
    l
}

fn read_scoped(file: &[u8], scope: LedgerScope) -> Ledger {
    let mut r = LedgerReader::scoped(scope);
    // In uneven chunks, as a host reads a file.
    for chunk in file.chunks(333) {
        r.feed(chunk).unwrap();
    }
    r.finish().unwrap()
}

#[test]
fn a_scoped_ledger_answers_for_its_subjects_as_the_whole_ledger_does() {
    let whole = busy_ledger();
    let file = whole.to_bytes().unwrap();
    for s in 0..12 {
        let subject = format!("p-{s}");
        let part = read_scoped(&file, LedgerScope::new().subject(&subject));
        assert_eq!(part.len(), whole.len());
        assert!(part.scope().is_some());
        assert_eq!(part.subject_count(), 1);
        assert_eq!(part.history(&subject), whole.history(&subject), "{subject}");
        assert!(!part.history(&subject).is_empty());
        for r in whole.history(&subject) {
            assert_eq!(part.event(r.event_ref.seq), Some(r.clone()));
            assert_eq!(
                part.event_bytes(r.event_ref.seq),
                whole.event_bytes(r.event_ref.seq)
            );
            assert_eq!(part.event_by_id(&r.event.id), Some(r));
        }
        for purpose in PURPOSES {
            for at in (T0..T0 + 700).step_by(37) {
                assert_eq!(
                    part.decide(&subject, purpose, at),
                    whole.decide(&subject, purpose, at),
                    "{subject} {purpose} {at}"
                );
            }
        }
        assert_eq!(
            part.export_fhir(&subject, T0 + 900),
            whole.export_fhir(&subject, T0 + 900)
        );
        assert_eq!(
            part.export_iso27560(&subject),
            whole.export_iso27560(&subject)
        );
        assert_eq!(part.notices(), whole.notices());
        // Another subject's events are counted, never answered for.
        let other = format!("p-{}", (s + 1) % 12);
        assert!(part.history(&other).is_empty());
        let d = part.decide(&other, "treatment-communication", T0 + 900);
        assert!(!d.allowed);
        assert_eq!(d.refusal, Some(Refusal::NotHeld));
        let many = part.decide_many(&[subject.as_str(), other.as_str()], "marketing", T0 + 900);
        assert_eq!(many[0], whole.decide(&subject, "marketing", T0 + 900));
        assert_eq!(many[1].refusal, Some(Refusal::NotHeld));
        let foreign = whole.history(&other)[0].event_ref.seq;
        assert_eq!(part.event(foreign), None);
    }
}

#[test]
fn appends_to_a_scoped_ledger_give_the_bytes_the_whole_ledger_would_append() {
    let mut whole = busy_ledger();
    let file = whole.to_bytes().unwrap();
    let t = T0 + 1000;
    let new = event(
        "late-1",
        "p-3",
        &["recall"],
        ConsentStatus::Given,
        whole.notice_ref("privacy-chat", 2, "de").as_ref(),
        t,
    );
    let stop = OptOutRequest {
        event_id: "late-2".into(),
        subject: "p-3".into(),
        reply: "STOP".into(),
        message_id: "wamid.late".into(),
        channel: "whatsapp".into(),
        recorded_by: "ingest".into(),
        time: t + 1,
    };
    let mut part = read_scoped(&file, LedgerScope::opt_out(&stop).event_id("late-1"));
    let before = whole.len() as u64;
    let r1 = part.append(new.clone(), t).unwrap();
    let o1 = part.opt_out(stop.clone(), t + 1).unwrap();
    assert_eq!(whole.append(new, t).unwrap(), r1);
    assert_eq!(whole.opt_out(stop, t + 1).unwrap(), o1);
    assert_eq!(
        r1.seq, before,
        "sequence numbers are those of the whole file"
    );

    let save = part.unsaved();
    assert!(save.is_append());
    let mut appended = file.clone();
    appended.extend_from_slice(save.bytes());
    assert_eq!(appended, whole.to_bytes().unwrap());
    part.mark_saved(&save).unwrap();
    assert!(part.unsaved().is_empty());
    assert_eq!(Ledger::from_bytes(&appended).unwrap(), whole);
}

#[test]
fn a_scoped_ledger_refuses_what_it_cannot_check() {
    let whole = busy_ledger();
    let file = whole.to_bytes().unwrap();
    let notice = whole.notice_ref("privacy-chat", 2, "de");
    let t = T0 + 1000;
    // p-1's first event id is r0-s1; the scope declares it for p-0.
    let mut part = read_scoped(
        &file,
        LedgerScope::new()
            .subject("p-0")
            .event_id("new-0")
            .event_id("r0-s1"),
    );
    let before = part.clone();
    let cases = [
        (
            event(
                "new-0",
                "p-1",
                &["recall"],
                ConsentStatus::Given,
                notice.as_ref(),
                t,
            ),
            "subject not held",
        ),
        (
            event(
                "undeclared",
                "p-0",
                &["recall"],
                ConsentStatus::Given,
                notice.as_ref(),
                t,
            ),
            "id not declared",
        ),
        (
            event(
                "r0-s1",
                "p-0",
                &["recall"],
                ConsentStatus::Given,
                notice.as_ref(),
                t,
            ),
            "id used by another subject",
        ),
    ];
    for (e, why) in cases {
        let err = part.append(e.clone(), t).unwrap_err();
        match why {
            "id used by another subject" => {
                assert!(
                    matches!(err, ConsentError::DuplicateEventId(_)),
                    "{why}: {err:?}"
                );
            }
            _ => assert!(matches!(err, ConsentError::NotHeld), "{why}: {err:?}"),
        }
        assert!(part.append_all(&[e], t).is_err(), "{why}");
        assert_eq!(part, before, "{why}: the ledger changed");
    }
    // It never writes a whole file of only the part it holds.
    assert!(matches!(part.to_bytes(), Err(ConsentError::NotHeld)));
    assert!(part.unsaved().is_empty());
    // A message says what to do, and names no subject.
    let msg = ConsentError::NotHeld.to_string();
    assert!(msg.contains("scope") && !msg.contains("p-"), "{msg}");
}

#[test]
fn an_objection_id_taken_by_another_subject_is_seen_by_a_scoped_read() {
    let mut whole = busy_ledger();
    let t = T0 + 1000;
    let notice = whole.notice_ref("privacy-chat", 2, "de");
    // p-5 already has an event named like p-4's future objection.
    whole
        .append(
            event(
                "stop-x-objection",
                "p-5",
                &["recall"],
                ConsentStatus::Refused,
                None,
                t,
            ),
            t,
        )
        .unwrap();
    whole
        .append(
            event(
                "m-4",
                "p-4",
                &["marketing"],
                ConsentStatus::Given,
                notice.as_ref(),
                t,
            ),
            t,
        )
        .unwrap();
    let file = whole.to_bytes().unwrap();
    let stop = OptOutRequest {
        event_id: "stop-x".into(),
        subject: "p-4".into(),
        reply: "abmelden".into(),
        message_id: "wamid.x".into(),
        channel: "whatsapp".into(),
        recorded_by: "ingest".into(),
        time: t + 1,
    };
    let mut part = read_scoped(&file, LedgerScope::opt_out(&stop));
    let a = part.opt_out(stop.clone(), t + 1).unwrap();
    let b = whole.opt_out(stop, t + 1).unwrap();
    assert_eq!(a, b);
    let mut appended = file.clone();
    appended.extend_from_slice(part.unsaved().bytes());
    assert_eq!(appended, whole.to_bytes().unwrap());
    let objection = whole.history("p-4").last().unwrap().event.id.clone();
    assert_ne!(objection, "stop-x-objection");
    assert!(objection.ends_with("-objection"));
}

#[test]
fn a_scoped_read_still_refuses_a_damaged_entry_of_a_subject_it_does_not_hold() {
    let whole = busy_ledger();
    let file = whole.to_bytes().unwrap();
    // Damage a byte inside an event of p-7, then read for p-0 only.
    let id = whole.history("p-7")[0].event.id.clone();
    let at = file
        .windows(id.len())
        .position(|w| w == id.as_bytes())
        .unwrap();
    let mut bad = file.clone();
    bad[at] ^= 0x01;
    let mut r = LedgerReader::scoped(LedgerScope::new().subject("p-0"));
    let err = r.feed(&bad).unwrap_err();
    assert!(matches!(err, ConsentError::MalformedLedger(_)), "{err:?}");
    // And a scope that holds nothing verifies the whole file and counts it.
    let empty = read_scoped(&file, LedgerScope::new());
    assert_eq!(empty.len(), whole.len());
    assert_eq!(empty.subject_count(), 0);
    assert!(format!("{:?}", LedgerScope::new().subject("p-0")).contains("subjects: 1"));
    assert!(!format!("{:?}", LedgerScope::new().subject("p-0")).contains("p-0"));
}
