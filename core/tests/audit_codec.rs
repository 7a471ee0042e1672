//! The strict entry decoder: it accepts exactly the bytes the encoder writes
//! and returns the same value, and rejects every non-canonical variant of
//! valid entries (longer integer, string and array forms, trailing bytes,
//! truncation at every position) with a typed error at the right offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::audit::{
    Action, AuditEntry, AuditError, AuditEvent, AuditKey, BodyFault, ENTRY_HEADER_LEN, Outcome,
    PseudonymKind,
};
use proptest::prelude::*;

/// One MessagePack token of a body: where its marker is, the marker, and
/// the value carried in the marker or its length field.
#[derive(Debug, Clone, Copy)]
struct Token {
    at: usize,
    marker: u8,
    /// Integer value, or string or array length.
    value: u64,
    /// Length of marker plus length/integer field.
    head: usize,
}

/// Tokenize a canonical body (test-side, independent of the library).
fn tokens(entry: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = ENTRY_HEADER_LEN;
    let be = |s: &[u8]| s.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    while i < entry.len() {
        let m = entry[i];
        let (value, head, skip) = match m {
            0x00..=0x7f => (u64::from(m), 1, 0),
            0x90..=0x9f => (u64::from(m & 0x0f), 1, 0),
            0xa0..=0xbf => (u64::from(m & 0x1f), 1, usize::from(m & 0x1f)),
            0xc0 => (0, 1, 0),
            0xcc => (be(&entry[i + 1..i + 2]), 2, 0),
            0xcd => (be(&entry[i + 1..i + 3]), 3, 0),
            0xce => (be(&entry[i + 1..i + 5]), 5, 0),
            0xcf => (be(&entry[i + 1..i + 9]), 9, 0),
            0xd9 => {
                let n = be(&entry[i + 1..i + 2]);
                (n, 2, n as usize)
            }
            _ => panic!("unexpected marker {m:#x} in a canonical body"),
        };
        out.push(Token {
            at: i,
            marker: m,
            value,
            head,
        });
        i += head + skip;
    }
    out
}

/// The next longer encoding of a token's head, and the fault it must cause.
fn widen(t: Token) -> Option<(Vec<u8>, BodyFault)> {
    let v = t.value;
    let int = BodyFault::NonCanonicalInt;
    let len = BodyFault::NonCanonicalLength;
    Some(match t.marker {
        0x00..=0x7f => (vec![0xcc, v as u8], int),
        0xcc => (vec![0xcd, 0, v as u8], int),
        0xcd => (vec![0xce, 0, 0, (v >> 8) as u8, v as u8], int),
        0xce => {
            let mut b = vec![0xcf, 0, 0, 0, 0];
            b.extend_from_slice(&(v as u32).to_be_bytes());
            (b, int)
        }
        0x90..=0x9f => (vec![0xdc, 0, v as u8], len),
        0xa0..=0xbf => (vec![0xd9, v as u8], len),
        0xd9 => (vec![0xda, 0, v as u8], len),
        _ => return None,
    })
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9.-]{0,20}", "[!-~][ -~]{30,60}[!-~]"]
}

prop_compose! {
    fn event()(
        time in prop_oneof![0i64..=300, 0i64..=253_402_300_799_999],
        actor in "[a-z.]{1,20}",
        role in label(),
        action in 0usize..15,
        subject in proptest::option::of("[0-9]{1,8}"),
        opts in proptest::collection::vec(proptest::option::of(label()), 5),
        record in proptest::option::of("[a-z]([a-z._:-][0-9]{0,3}){0,15}"),
        outcome in (0u8..3, label()),
        source in label(),
    ) -> AuditEvent {
        let key = AuditKey::from_bytes([3; 32]);
        let mut e = AuditEvent::new(
            time,
            key.pseudonym(PseudonymKind::Staff, &actor),
            &role,
            Action::all().nth(action).unwrap(),
            &source,
        )
        .unwrap();
        if let Some(s) = subject {
            e = e.subject(key.pseudonym(PseudonymKind::Subject, &s));
        }
        if let Some(v) = &opts[0] { e = e.category(v).unwrap(); }
        if let Some(v) = &record { e = e.record(v).unwrap(); }
        if let Some(v) = &opts[2] { e = e.purpose(v).unwrap(); }
        if let Some(v) = &opts[3] { e = e.legal_basis(v).unwrap(); }
        if let Some(v) = &opts[4] { e = e.correlation(v).unwrap(); }
        match outcome.0 {
            0 => e,
            1 => e.outcome(Outcome::Denied(outcome.1)).unwrap(),
            _ => e.outcome(Outcome::Failed(outcome.1)).unwrap(),
        }
    }
}

prop_compose! {
    fn entry()(sequence in any::<u64>(), prev_leaf in any::<[u8; 32]>(), event in event())
        -> AuditEntry {
        AuditEntry { sequence, prev_leaf, event }
    }
}

fn body_fault(bytes: &[u8]) -> Option<(usize, BodyFault)> {
    match AuditEntry::from_bytes(bytes) {
        Err(AuditError::MalformedBody { offset, fault }) => {
            assert_eq!(
                AuditEntry::validate(bytes),
                Err(AuditError::MalformedBody { offset, fault })
            );
            Some((offset, fault))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn accepts_exactly_the_encoder_output(e in entry()) {
        let bytes = e.to_bytes().unwrap();
        prop_assert_eq!(AuditEntry::from_bytes(&bytes).unwrap(), e.clone());
        prop_assert_eq!(
            AuditEntry::validate(&bytes).unwrap(),
            (e.sequence, e.prev_leaf)
        );
    }

    #[test]
    fn rejects_every_longer_form(e in entry()) {
        let bytes = e.to_bytes().unwrap();
        let toks = tokens(&bytes);
        prop_assert!(toks.len() >= 17);
        for t in toks {
            let Some((head, fault)) = widen(t) else { continue };
            let mut v = bytes[..t.at].to_vec();
            v.extend_from_slice(&head);
            v.extend_from_slice(&bytes[t.at + t.head..]);
            // Still valid MessagePack of the same value (rmp-serde reads it) ...
            let generic: serde_json::Value = rmp_serde::from_slice(&v[ENTRY_HEADER_LEN..]).unwrap();
            let canonical: serde_json::Value = rmp_serde::from_slice(&bytes[ENTRY_HEADER_LEN..]).unwrap();
            prop_assert_eq!(generic, canonical);
            // ... but not canonical: rejected where the longer form starts.
            prop_assert_eq!(body_fault(&v), Some((t.at, fault)), "token {:?}", t);
        }
    }

    #[test]
    fn rejects_trailing_bytes_and_every_truncation(e in entry(), extra in any::<u8>()) {
        let bytes = e.to_bytes().unwrap();
        let mut long = bytes.clone();
        long.push(extra);
        prop_assert_eq!(body_fault(&long), Some((bytes.len(), BodyFault::TrailingBytes)));
        for cut in 0..bytes.len() {
            let short = &bytes[..cut];
            if cut < ENTRY_HEADER_LEN {
                prop_assert!(matches!(
                    AuditEntry::from_bytes(short),
                    Err(AuditError::MalformedEntry(_))
                ));
            } else {
                let (offset, fault) = body_fault(short).unwrap();
                prop_assert_eq!(fault, BodyFault::Truncated);
                prop_assert!(offset <= cut);
            }
        }
    }
}

#[test]
fn typed_errors_for_foreign_shapes() {
    let key = AuditKey::from_bytes([3; 32]);
    let e = AuditEntry {
        sequence: 0,
        prev_leaf: [0; 32],
        event: AuditEvent::new(
            5,
            key.pseudonym(PseudonymKind::Staff, "a"),
            "doctor",
            Action::Read,
            "pms",
        )
        .unwrap(),
    };
    let bytes = e.to_bytes().unwrap();
    let h = ENTRY_HEADER_LEN;
    // The body starts with a fixarray of 9 and the time as positive fixint.
    assert_eq!(&bytes[h..h + 2], &[0x99, 0x05]);
    let with = |i: usize, b: &[u8]| {
        let mut v = bytes[..i].to_vec();
        v.extend_from_slice(b);
        v.extend_from_slice(&bytes[i + 1..]);
        v
    };
    let fault = |f| Some((h, f));
    // A map instead of the array, an array of 8, an array 16 of 9 elements.
    assert_eq!(
        body_fault(&with(h, &[0x89])),
        fault(BodyFault::UnexpectedType)
    );
    assert_eq!(
        body_fault(&with(h, &[0x98])),
        fault(BodyFault::WrongArrayLength)
    );
    assert_eq!(
        body_fault(&with(h, &[0xdc, 0x00, 0x09])),
        fault(BodyFault::NonCanonicalLength)
    );
    // 5 as uint 8, as int 8; a float; nil for the time.
    let t = Some((h + 1, BodyFault::NonCanonicalInt));
    assert_eq!(body_fault(&with(h + 1, &[0xcc, 0x05])), t);
    assert_eq!(body_fault(&with(h + 1, &[0xd0, 0x05])), t);
    assert_eq!(
        body_fault(&with(h + 1, &[0xca, 0x40, 0xa0, 0, 0])),
        Some((h + 1, BodyFault::UnexpectedType))
    );
    // A negative time is canonical MessagePack but not a valid time.
    assert_eq!(
        AuditEntry::from_bytes(&with(h + 1, &[0xff])),
        Err(AuditError::InvalidTime)
    );
    // The actor pseudonym as bin 8 instead of str 8.
    let mut bin = bytes.clone();
    assert_eq!(bin[h + 3], 0xd9);
    bin[h + 3] = 0xc4;
    assert_eq!(body_fault(&bin), Some((h + 3, BodyFault::UnexpectedType)));
}
