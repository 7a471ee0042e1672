#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests of the consent ledger: whatever the sequence of events,
//! a purpose is never allowed after its latest withdrawal unless a later
//! given (or renewed) event exists; decisions agree with a naive model that
//! replays the history; rejected events leave the ledger unchanged; and the
//! ledger file round-trips.

use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, NoticeRef,
};
use proptest::prelude::*;

const PURPOSES: [&str; 4] = [
    "treatment-communication",
    "clinical-photos",
    "recall",
    "marketing",
];
const STATUSES: [ConsentStatus; 5] = [
    ConsentStatus::Given,
    ConsentStatus::Refused,
    ConsentStatus::Withdrawn,
    ConsentStatus::Expired,
    ConsentStatus::Renewed,
];
const T0: i64 = 1_700_000_000;

#[derive(Debug, Clone)]
struct Op {
    subject: u8,
    purposes: u8,
    status: usize,
    dt: i64,
    expiry: Option<i64>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..3,
        1u8..16,
        0usize..5,
        -2i64..6,
        prop::option::of(1i64..8),
    )
        .prop_map(|(subject, purposes, status, dt, expiry)| Op {
            subject,
            purposes,
            status,
            dt,
            expiry,
        })
}

fn to_event(i: usize, op: &Op, time: i64, notice: &NoticeRef) -> ConsentEvent {
    let status = STATUSES[op.status];
    ConsentEvent {
        id: format!("e{i}"),
        subject: format!("p-{}", op.subject),
        purposes: (0..4)
            .filter(|b| op.purposes & (1 << b) != 0)
            .map(|b| PURPOSES[b].to_owned())
            .collect(),
        status,
        method: ConsentMethod::ChatReply,
        notice: status.grants().then(|| notice.clone()),
        channel: "whatsapp".into(),
        evidence: None,
        recorded_by: "staff-1".into(),
        time,
        expires_at: if status.grants() {
            op.expiry.map(|e| time + e)
        } else {
            None
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_allowed_after_latest_withdrawal_without_later_consent(ops in prop::collection::vec(op(), 0..40)) {
        let mut ledger = Ledger::new(ConsentPolicy::default()).unwrap();
        let notice = ledger.register_notice("n", 1, "de", "Hinweis", T0, T0).unwrap();
        let mut accepted: Vec<ConsentEvent> = Vec::new();
        let mut clock = T0;
        for (i, op) in ops.iter().enumerate() {
            clock += op.dt; // may go backwards: out-of-order events must be refused
            let e = to_event(i, op, clock, &notice);
            let before = ledger.clone();
            match ledger.append(e.clone(), clock) {
                Ok(_) => accepted.push(e),
                Err(_) => prop_assert_eq!(&ledger, &before),
            }
        }
        prop_assert_eq!(ledger.len(), accepted.len());
        let back = Ledger::from_bytes(&ledger.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&back, &ledger);

        for s in 0..3u8 {
            let subject = format!("p-{s}");
            for purpose in PURPOSES {
                for at in (T0 - 1)..=(clock + 10) {
                    let d = ledger.decide(&subject, purpose, at);
                    let relevant: Vec<&ConsentEvent> = accepted
                        .iter()
                        .filter(|e| e.subject == subject && e.time <= at
                            && e.purposes.iter().any(|p| p == purpose))
                        .collect();
                    // The property of the issue.
                    if let Some(w) = relevant.iter().rposition(|e| e.status == ConsentStatus::Withdrawn)
                        && d.allowed
                    {
                        prop_assert!(relevant[w + 1..].iter().any(|e| e.status.grants()),
                            "{subject}/{purpose} allowed at {at} after a withdrawal without later consent");
                    }
                    // A naive model: the latest relevant event decides.
                    let model = relevant.last().is_some_and(|e| {
                        e.status.grants() && e.expires_at.is_none_or(|x| at < x)
                    });
                    prop_assert_eq!(d.allowed, model, "{}/{} at {}", subject, purpose, at);
                    prop_assert_eq!(back.decide(&subject, purpose, at), d);
                }
            }
        }
    }
}
