#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The consent event record and ledger file: round trips, the byte layout
//! of docs/CONSENT.md (a worked example reproduced byte for byte), and
//! strict parsing of malformed or truncated input.

use caduceus_core::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, NoticeRef,
};
use caduceus_core::suite::sha256;

const T0: i64 = 1_763_800_000;

/// p-1 withdraws consent to marketing by a WhatsApp reply.
fn marketing_withdrawn(
    id: &str,
    evidence: Option<&str>,
    recorded_by: &str,
    time: i64,
) -> ConsentEvent {
    ConsentEvent {
        id: id.into(),
        subject: "p-1".into(),
        purposes: vec!["marketing".into()],
        status: ConsentStatus::Withdrawn,
        method: ConsentMethod::ChatReply,
        notice: None,
        channel: "whatsapp".into(),
        evidence: evidence.map(Into::into),
        recorded_by: recorded_by.into(),
        time,
        expires_at: None,
    }
}

fn sample_ledger() -> Ledger {
    let mut policy = ConsentPolicy::default();
    policy.purposes[2].require_current_notice = true;
    let mut l = Ledger::new(policy).unwrap();
    let v1 = l
        .register_notice("privacy-chat", 1, "de", "Hinweis v1", T0, T0)
        .unwrap();
    l.register_notice("privacy-chat", 1, "en", "Notice v1", T0, T0)
        .unwrap();
    let mut ev = ConsentEvent {
        id: "e1".into(),
        subject: "p-1".into(),
        purposes: vec!["treatment-communication".into(), "marketing".into()],
        status: ConsentStatus::Given,
        method: ConsentMethod::QrReception,
        notice: Some(v1.clone()),
        channel: "reception-qr".into(),
        evidence: Some("form-1".into()),
        recorded_by: "staff-1".into(),
        time: T0 + 1,
        expires_at: Some(T0 + 1000),
    };
    l.append(ev.clone(), T0 + 1).unwrap();
    ev.id = "e2".into();
    ev.subject = "p-2".into();
    ev.expires_at = None;
    l.append(ev, T0 + 2).unwrap();
    l.register_notice("privacy-chat", 2, "de", "Hinweis v2", T0 + 3, T0 + 3)
        .unwrap();
    l.retire_notice("privacy-chat", 1, T0 + 50, T0 + 50)
        .unwrap();
    l.append(
        marketing_withdrawn("e3", Some("wamid.X"), "ingest", T0 + 60),
        T0 + 60,
    )
    .unwrap();
    l
}

#[test]
fn ledger_round_trip_preserves_state_decisions_and_hashes() {
    let l = sample_ledger();
    let bytes = l.to_bytes();
    let back = Ledger::from_bytes(&bytes).unwrap();
    assert_eq!(back, l);
    assert_eq!(back.to_bytes(), bytes);
    for subject in ["p-1", "p-2", "p-3"] {
        for p in ["treatment-communication", "marketing", "recall"] {
            for at in [T0, T0 + 10, T0 + 49, T0 + 50, T0 + 60, T0 + 2000] {
                assert_eq!(back.decide(subject, p, at), l.decide(subject, p, at));
            }
        }
        assert_eq!(back.history(subject), l.history(subject));
    }
    // Each event's hash is SHA-256 of its record, and the record round-trips.
    for i in 0..l.len() as u64 {
        let rec = l.event(i).unwrap();
        let b = l.event_bytes(i).unwrap();
        assert_eq!(rec.event_ref.hash, sha256(&[b]));
        assert_eq!(rec.event.hash().unwrap(), rec.event_ref.hash);
        assert_eq!(ConsentEvent::from_bytes(b).unwrap(), rec.event);
    }
}

/// The worked example of docs/CONSENT.md, section 4.4, byte for byte.
#[test]
fn event_record_matches_the_documented_example() {
    let e = ConsentEvent {
        id: "e1".into(),
        subject: "p-1".into(),
        purposes: vec!["marketing".into()],
        status: ConsentStatus::Given,
        method: ConsentMethod::ChatReply,
        notice: Some(NoticeRef {
            id: "n".into(),
            version: 1,
            language: "de".into(),
            sha256: sha256(&[b"Hinweis"]),
        }),
        channel: "whatsapp".into(),
        evidence: Some("wamid.A".into()),
        recorded_by: "s-1".into(),
        time: 1_700_000_000,
        expires_at: None,
    };
    let bytes = e.to_bytes().unwrap();
    let expected = concat!(
        "4344434501",                                                       // "CDCE", version 1
        "9b",                                                               // array of 11
        "a26531",                                                           // id "e1"
        "a3702d31",                                                         // subject "p-1"
        "91a96d61726b6574696e67", // purposes ["marketing"]
        "a5676976656e",           // status "given"
        "aa636861742d7265706c79", // method "chat-reply"
        "94a16e01a26465c420",     // notice ["n", 1, "de", bin 8 of 32 bytes:
        "2e2011d96a4116985c5cfb35df7d4f59083c21b70c8a5ac927e41a1f92f89329", // SHA-256("Hinweis")]
        "a87768617473617070",     // channel "whatsapp"
        "a777616d69642e41",       // evidence "wamid.A"
        "a3732d31",               // recorded_by "s-1"
        "ce6553f100",             // time 1700000000 (uint 32)
        "c0",                     // expires_at nil
    );
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(bytes.len(), 109);
    assert_eq!(
        hex::encode(e.hash().unwrap()),
        "5606c1655270b8e5224a21a1d472059c77be66c064b2a9a94c5c95c799443db3"
    );
    assert_eq!(ConsentEvent::from_bytes(&bytes).unwrap(), e);
}

#[test]
fn truncated_or_extended_ledgers_are_refused() {
    let l = sample_ledger();
    let bytes = l.to_bytes();
    for cut in 0..bytes.len() {
        assert!(Ledger::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Ledger::from_bytes(&trailing),
        Err(ConsentError::MalformedLedger(_))
    ));
    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    assert!(matches!(
        Ledger::from_bytes(&bad_magic),
        Err(ConsentError::MalformedLedger(_))
    ));
    let mut v = bytes.clone();
    v[4] = 2;
    assert_eq!(
        Ledger::from_bytes(&v),
        Err(ConsentError::UnsupportedVersion(2))
    );
    assert!(Ledger::from_bytes(b"").is_err());
    assert!(Ledger::from_bytes(b"CDCL\x01").is_err(), "no policy entry");
}

#[test]
fn every_single_byte_flip_is_refused() {
    let l = sample_ledger();
    let bytes = l.to_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(
            Ledger::from_bytes(&b).is_err(),
            "flip at {i} went unnoticed"
        );
    }
}

/// Re-seal a ledger whose entries were edited: recompute the end entry.
fn reseal(mut bytes_without_end: Vec<u8>, entries: u64) -> Vec<u8> {
    let digest = sha256(&[&bytes_without_end]);
    let mut body = vec![0x92];
    assert!(entries < 128);
    body.push(entries as u8);
    body.extend_from_slice(&[0xc4, 0x20]);
    body.extend_from_slice(&digest);
    bytes_without_end.push(5);
    bytes_without_end.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes_without_end.extend_from_slice(&body);
    bytes_without_end
}

#[test]
fn replayed_files_are_validated_like_appends() {
    let l = sample_ledger();
    let bytes = l.to_bytes();
    // Duplicate the last event entry: a duplicate id must be refused.
    let last = l.event_bytes(l.len() as u64 - 1).unwrap();
    let end_len = 5 + 4 + 32;
    let entries = 1 + 3 + 1 + l.len() as u64;
    let mut dup = bytes[..bytes.len() - end_len].to_vec();
    // The sealed file reproduces exactly.
    assert_eq!(reseal(dup.clone(), entries), bytes);
    dup.push(4);
    dup.extend_from_slice(&(last.len() as u32).to_be_bytes());
    dup.extend_from_slice(last);
    let dup = reseal(dup, entries + 1);
    let err = Ledger::from_bytes(&dup).unwrap_err();
    assert!(
        matches!(&err, ConsentError::InvalidEntry { source, .. } if matches!(**source, ConsentError::DuplicateEventId(_))),
        "{err:?}"
    );
    // An unknown entry tag.
    let mut unknown = bytes[..bytes.len() - end_len].to_vec();
    unknown.extend_from_slice(&[9, 0, 0, 0, 0]);
    let unknown = reseal(unknown, entries + 1);
    assert!(matches!(
        Ledger::from_bytes(&unknown),
        Err(ConsentError::MalformedLedger(_))
    ));
}

#[test]
fn non_canonical_event_bodies_are_refused() {
    let e = marketing_withdrawn("e1", None, "s-1", 5);
    let bytes = e.to_bytes().unwrap();
    // The time 5 is a positive fixint (0x05) right before the final nil;
    // rewrite it as uint8 (0xcc 0x05): valid MessagePack, not canonical.
    let n = bytes.len();
    assert_eq!(&bytes[n - 2..], &[0x05, 0xc0]);
    let mut long = bytes[..n - 2].to_vec();
    long.extend_from_slice(&[0xcc, 0x05, 0xc0]);
    assert!(matches!(
        ConsentEvent::from_bytes(&long),
        Err(ConsentError::MalformedEvent(_))
    ));
    // An unknown status code.
    let hex = hex::encode(&bytes).replace(
        &hex::encode(b"\xa9withdrawn"),
        &hex::encode(b"\xa9withdrawm"),
    );
    assert_eq!(
        ConsentEvent::from_bytes(&hex::decode(hex).unwrap()),
        Err(ConsentError::MalformedEvent("unknown status"))
    );
}
