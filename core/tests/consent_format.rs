#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The consent event record and ledger file: round trips, the byte layout
//! of docs/CONSENT.md (a worked example reproduced byte for byte), and
//! strict parsing of malformed or truncated input.

use caduceus_core::consent::{
    ConsentError, ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, LEDGER_CHAIN_LEN,
    Ledger, LedgerReader, LedgerScope, NoticeRef,
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
    let bytes = l.to_bytes().unwrap();
    let back = Ledger::from_bytes(&bytes).unwrap();
    assert_eq!(back, l);
    assert_eq!(back.to_bytes().unwrap(), bytes);
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

/// The end offsets of the entries of a version-2 ledger file.
fn entry_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = 5;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        at += 5 + len + LEDGER_CHAIN_LEN;
        ends.push(at);
    }
    assert_eq!(at, bytes.len());
    ends
}

#[test]
fn a_cut_inside_an_entry_is_a_torn_tail_and_a_cut_between_entries_a_shorter_ledger() {
    let l = sample_ledger();
    let bytes = l.to_bytes().unwrap();
    let ends = entry_ends(&bytes);
    let policy_end = ends[0];
    for cut in 0..bytes.len() {
        let r = Ledger::from_bytes(&bytes[..cut]);
        if ends.contains(&cut) {
            // An append-only file cut at an entry boundary is the ledger as
            // it was then (docs/CONSENT.md 5.2: the audit log's references
            // to event hashes reveal lost events).
            let shorter = r.unwrap();
            assert_eq!(shorter.to_bytes().unwrap(), &bytes[..cut], "cut at {cut}");
        } else if cut > policy_end {
            let keep = *ends.iter().rev().find(|&&e| e < cut).unwrap();
            assert_eq!(
                r.unwrap_err(),
                ConsentError::TornTail {
                    keep_len: keep as u64,
                    cut_len: (cut - keep) as u64
                },
                "cut at {cut}"
            );
            // Repairing keeps exactly the complete entries.
            let mut reader = LedgerReader::new();
            reader.feed(&bytes[..cut]).unwrap();
            let (kept, torn) = reader.finish_repairing().unwrap();
            assert_eq!(torn.unwrap().keep_len, keep as u64);
            assert_eq!(kept.to_bytes().unwrap(), &bytes[..keep]);
        } else {
            assert!(
                matches!(r, Err(ConsentError::MalformedLedger(_))),
                "cut at {cut}: {r:?}"
            );
            let mut reader = LedgerReader::new();
            let fed = reader.feed(&bytes[..cut]);
            assert!(fed.is_err() || reader.finish_repairing().is_err());
        }
    }
    // Fewer than 5 bytes after the last entry are a torn entry header,
    // whatever they hold (a power loss can leave zeros); 5 or more with an
    // unknown tag are damage.
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        Ledger::from_bytes(&trailing),
        Err(ConsentError::TornTail {
            keep_len: bytes.len() as u64,
            cut_len: 1
        })
    );
    trailing.extend_from_slice(&[0; 4]);
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
    v[4] = 3;
    assert_eq!(
        Ledger::from_bytes(&v),
        Err(ConsentError::UnsupportedVersion(3))
    );
    assert!(Ledger::from_bytes(b"").is_err());
    assert!(Ledger::from_bytes(b"CDCL\x01").is_err(), "no end entry");
    assert!(Ledger::from_bytes(b"CDCL\x02").is_err(), "no policy entry");
}

#[test]
fn feeding_in_chunks_of_any_size_reads_the_same_ledger() {
    let l = sample_ledger();
    let bytes = l.to_bytes().unwrap();
    for chunk in [1, 2, 7, 64, bytes.len()] {
        let mut r = LedgerReader::new();
        for c in bytes.chunks(chunk) {
            r.feed(c).unwrap();
        }
        assert_eq!(r.complete_len(), bytes.len() as u64);
        assert_eq!(r.finish().unwrap(), l);
    }
}

#[test]
fn saving_appends_only_the_new_entries() {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    // A new ledger is saved whole.
    let first = l.unsaved();
    assert!(!first.is_append());
    assert_eq!(first.bytes(), l.to_bytes().unwrap());
    l.mark_saved(&first).unwrap();
    let mut file = first.bytes().to_vec();
    assert!(l.unsaved().is_empty());
    // Then each change is appended; the file always equals to_bytes.
    let n = l
        .register_notice("privacy", 1, "de", "Hinweis", T0, T0)
        .unwrap();
    let save = l.unsaved();
    assert!(save.is_append());
    file.extend_from_slice(save.bytes());
    l.mark_saved(&save).unwrap();
    for i in 0..20 {
        let e = ConsentEvent::new(
            &format!("e{i}"),
            &format!("p-{i}"),
            &["marketing"],
            ConsentStatus::Given,
            ConsentMethod::QrReception,
            Some(n.clone()),
            "qr",
            "staff-1",
            T0 + i,
        )
        .unwrap();
        l.append(e, T0 + i).unwrap();
        let save = l.unsaved();
        assert!(save.is_append());
        assert_eq!(
            save.bytes().len(),
            entry_ends(&l.to_bytes().unwrap()).last().unwrap() - file.len()
        );
        file.extend_from_slice(save.bytes());
        l.mark_saved(&save).unwrap();
        assert_eq!(file, l.to_bytes().unwrap());
        // A save is marked once: marking it again is refused.
        assert_eq!(l.mark_saved(&save), Err(ConsentError::SaveOutOfOrder));
    }
    let back = Ledger::from_bytes(&file).unwrap();
    assert_eq!(back, l);
    // A ledger read from its file appends to it.
    let mut back = back;
    back.retire_notice("privacy", 1, T0 + 100, T0 + 100)
        .unwrap();
    let save = back.unsaved();
    assert!(save.is_append());
    file.extend_from_slice(save.bytes());
    assert_eq!(file, back.to_bytes().unwrap());
    // A save that was never marked is not lost: the next one includes it.
    let e = marketing_withdrawn("w1", None, "ingest", T0 + 200);
    let mut other = Ledger::from_bytes(&file).unwrap();
    other
        .append(
            ConsentEvent {
                subject: "p-3".into(),
                ..e
            },
            T0 + 200,
        )
        .unwrap();
    let unsent = other.unsaved();
    other
        .append(
            marketing_withdrawn("w2", None, "ingest", T0 + 201),
            T0 + 201,
        )
        .unwrap();
    let both = other.unsaved();
    assert!(both.bytes().starts_with(unsent.bytes()));
    file.extend_from_slice(both.bytes());
    other.mark_saved(&both).unwrap();
    assert_eq!(Ledger::from_bytes(&file).unwrap(), other);
}

#[test]
fn a_version_1_file_is_read_and_saved_again_whole_as_version_2() {
    let l = sample_ledger();
    let v2 = l.to_bytes().unwrap();
    // Build the version-1 form: the policy, notices, retirements, events,
    // then the end entry [count, SHA-256 of everything before it].
    let mut entries: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut at = 5;
    while at < v2.len() {
        let len = u32::from_be_bytes(v2[at + 1..at + 5].try_into().unwrap()) as usize;
        entries.push((v2[at], v2[at + 5..at + 5 + len].to_vec()));
        at += 5 + len + LEDGER_CHAIN_LEN;
    }
    entries.sort_by_key(|(tag, _)| *tag);
    let mut v1 = b"CDCL\x01".to_vec();
    for (tag, body) in &entries {
        v1.push(*tag);
        v1.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v1.extend_from_slice(body);
    }
    let mut end = vec![0x92, entries.len() as u8, 0xc4, 0x20];
    end.extend_from_slice(&sha256(&[&v1]));
    v1.push(5);
    v1.extend_from_slice(&(end.len() as u32).to_be_bytes());
    v1.extend_from_slice(&end);
    // A scoped read of a version-1 file holds every event: its first save
    // rewrites the whole file, so nothing may be left out.
    let mut scoped = LedgerReader::scoped(LedgerScope::new().subject("p-1"));
    scoped.feed(&v1).unwrap();
    let scoped = scoped.finish().unwrap();
    assert!(scoped.scope().is_none());
    assert_eq!(scoped.history("p-2"), l.history("p-2"));
    let mut read = Ledger::from_bytes(&v1).unwrap();
    for subject in ["p-1", "p-2"] {
        assert_eq!(read.history(subject), l.history(subject));
        for at in [T0 + 10, T0 + 60, T0 + 2000] {
            assert_eq!(
                read.decide(subject, "marketing", at),
                l.decide(subject, "marketing", at)
            );
        }
    }
    // Its first save is a whole version-2 file, read back the same.
    let save = read.unsaved();
    assert!(!save.is_append());
    assert_eq!(save.bytes()[4], 2);
    read.mark_saved(&save).unwrap();
    let again = Ledger::from_bytes(save.bytes()).unwrap();
    assert_eq!(again.history("p-1"), l.history("p-1"));
    assert!(read.unsaved().is_empty());
    // A version-1 file cut anywhere is refused (its end entry is missing).
    for cut in 0..v1.len() {
        assert!(Ledger::from_bytes(&v1[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn every_single_byte_flip_is_refused() {
    let l = sample_ledger();
    let bytes = l.to_bytes().unwrap();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(
            Ledger::from_bytes(&b).is_err(),
            "flip at {i} went unnoticed"
        );
    }
}

/// Append an entry with a correct chain hash (the file's last 32 bytes are
/// the chain hash of its last entry).
fn append_entry(bytes: &[u8], tag: u8, body: &[u8]) -> Vec<u8> {
    let head = &bytes[bytes.len() - LEDGER_CHAIN_LEN..];
    let len = (body.len() as u32).to_be_bytes();
    let mut out = bytes.to_vec();
    out.push(tag);
    out.extend_from_slice(&len);
    out.extend_from_slice(body);
    out.extend_from_slice(&sha256(&[head, &[tag], &len, body]));
    out
}

#[test]
fn replayed_files_are_validated_like_appends() {
    let l = sample_ledger();
    let bytes = l.to_bytes().unwrap();
    // The chain hash of each entry is SHA-256(previous || tag || L || body),
    // from SHA-256("CDCL" || 0x02): the file reproduces exactly.
    let mut rebuilt = bytes[..5].to_vec();
    let mut head = sha256(&[&bytes[..5]]);
    let mut at = 5;
    while at < bytes.len() {
        let len = &bytes[at + 1..at + 5];
        let body_len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let body = &bytes[at + 5..at + 5 + body_len];
        head = sha256(&[&head, &bytes[at..at + 1], len, body]);
        rebuilt.extend_from_slice(&bytes[at..at + 5 + body_len]);
        rebuilt.extend_from_slice(&head);
        at += 5 + body_len + LEDGER_CHAIN_LEN;
    }
    assert_eq!(rebuilt, bytes);
    // Duplicate the last event entry: a duplicate id must be refused.
    let last = l.event_bytes(l.len() as u64 - 1).unwrap();
    let dup = append_entry(&bytes, 4, last);
    let err = Ledger::from_bytes(&dup).unwrap_err();
    assert!(
        matches!(&err, ConsentError::InvalidEntry { source, .. } if matches!(**source, ConsentError::DuplicateEventId(_))),
        "{err:?}"
    );
    // An unknown entry tag, and a version-1 end entry in a version-2 file.
    for tag in [9, 5, 0] {
        assert!(matches!(
            Ledger::from_bytes(&append_entry(&bytes, tag, &[])),
            Err(ConsentError::MalformedLedger(_))
        ));
    }
    // A wrong chain hash.
    let mut wrong = append_entry(&bytes, 4, last);
    let n = wrong.len();
    wrong[n - 1] ^= 1;
    assert!(matches!(
        Ledger::from_bytes(&wrong),
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

#[test]
fn a_complete_last_entry_with_a_damaged_length_is_damage_not_a_torn_tail() {
    let l = sample_ledger();
    let bytes = l.to_bytes().unwrap();
    let last = *entry_ends(&bytes).iter().rev().nth(1).unwrap();
    // Raise the last entry's length past the end of the file: it now looks
    // incomplete, but its body and chain hash are all there.
    let mut damaged = bytes.clone();
    let len = u32::from_be_bytes(damaged[last + 1..last + 5].try_into().unwrap());
    damaged[last + 1..last + 5].copy_from_slice(&(len + 100).to_be_bytes());
    assert!(
        matches!(
            Ledger::from_bytes(&damaged),
            Err(ConsentError::MalformedLedger(_))
        ),
        "{:?}",
        Ledger::from_bytes(&damaged)
    );
    let mut reader = LedgerReader::new();
    reader.feed(&damaged).unwrap();
    assert!(matches!(
        reader.finish_repairing(),
        Err(ConsentError::MalformedLedger(_))
    ));
    // A genuinely torn last entry is still repaired.
    let mut reader = LedgerReader::new();
    reader.feed(&bytes[..bytes.len() - 1]).unwrap();
    let (_, torn) = reader.finish_repairing().unwrap();
    assert_eq!(torn.unwrap().keep_len, last as u64);
}
