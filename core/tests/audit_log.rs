//! The audit log: tamper detection with the first bad index, resume,
//! signed checkpoints, and proof properties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use caduceus_core::audit::merkle::{self, CompactRange, MemoryTree};
use caduceus_core::audit::note::{self, NoteSigner, NoteVerifier};
use caduceus_core::audit::{
    Action, AuditEntry, AuditError, AuditEvent, AuditKey, AuditLog, Checkpoint, LogFault, Outcome,
    PseudonymKind, verify_log,
};
use caduceus_core::testing::DeterministicRng;
use proptest::prelude::*;

const ORIGIN: &str = "praxis.example/audit";

fn event(key: &AuditKey, i: u64) -> AuditEvent {
    AuditEvent::new(
        1_763_800_000_000 + i as i64,
        key.pseudonym(PseudonymKind::Staff, "dr.mueller"),
        "doctor",
        Action::all().nth((i % 15) as usize).unwrap(),
        "pms-reception",
    )
    .unwrap()
    .subject(key.pseudonym(PseudonymKind::Subject, &format!("patient-{}", i % 7)))
    .category("clinical-photos")
    .unwrap()
    .record(&format!("env-{i:x}"))
    .unwrap()
    .purpose("treatment")
    .unwrap()
    .legal_basis("gdpr-6-1-b;gdpr-9-2-h")
    .unwrap()
}

fn build(n: u64) -> (AuditLog, Vec<Vec<u8>>) {
    let key = AuditKey::from_bytes([9; 32]);
    let mut log = AuditLog::new(ORIGIN).unwrap();
    let entries = (0..n)
        .map(|i| log.append(&event(&key, i)).unwrap().bytes)
        .collect();
    (log, entries)
}

fn verify(entries: &[Vec<u8>], cps: &[Checkpoint]) -> Option<LogFault> {
    verify_log(entries.iter().map(Vec::as_slice), cps).fault
}

fn cp(entries: &[Vec<u8>], size: usize) -> Checkpoint {
    let mut edge = CompactRange::new();
    for e in &entries[..size] {
        edge.push(merkle::leaf_hash(e));
    }
    Checkpoint::new(ORIGIN, size as u64, edge.root()).unwrap()
}

#[test]
fn entries_round_trip_and_hold_no_identifiers() {
    let (_, entries) = build(20);
    let key = AuditKey::from_bytes([9; 32]);
    for (i, bytes) in entries.iter().enumerate() {
        let e = AuditEntry::from_bytes(bytes).unwrap();
        assert_eq!(e.sequence, i as u64);
        assert_eq!(e.event, event(&key, i as u64));
        assert_eq!(e.to_bytes().unwrap(), *bytes);
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("patient-") && !text.contains("mueller"));
    }
    // Free text and non-pseudonyms are refused.
    let actor = key.pseudonym(PseudonymKind::Staff, "x");
    assert_eq!(
        AuditEvent::new(0, actor.clone(), "doctor", Action::Read, "pms")
            .unwrap()
            .purpose(&"x".repeat(129))
            .unwrap_err(),
        AuditError::InvalidField("purpose")
    );
    assert!(AuditEvent::new(0, actor.clone(), "Dr. Müller", Action::Read, "pms").is_err());
    assert!(AuditEvent::new(-1, actor, "doctor", Action::Read, "pms").is_err());
}

#[test]
fn non_canonical_and_foreign_bytes_are_rejected() {
    let (_, entries) = build(1);
    let mut bad = entries[0].clone();
    bad.push(0);
    assert!(AuditEntry::from_bytes(&bad).is_err());
    let mut bad = entries[0].clone();
    bad[4] = 2;
    assert_eq!(
        AuditEntry::from_bytes(&bad).unwrap_err(),
        AuditError::UnsupportedVersion(2)
    );
    assert!(AuditEntry::from_bytes(b"CDAE").is_err());
}

#[test]
fn intact_log_verifies_against_checkpoints() {
    let (log, entries) = build(100);
    let cps = [
        cp(&entries, 0),
        cp(&entries, 37),
        cp(&entries, 64),
        log.checkpoint(),
    ];
    let report = verify_log(entries.iter().map(Vec::as_slice), &cps);
    assert!(report.is_ok(), "{:?}", report.fault);
    assert_eq!(
        (report.size, report.root, report.checkpoints_matched),
        (100, log.root(), 4)
    );
}

#[test]
fn modified_entry_is_found() {
    let (log, mut entries) = build(50);
    let key = AuditKey::from_bytes([9; 32]);
    // Replace entry 17 by a well-formed entry with the same sequence and link.
    let orig = AuditEntry::from_bytes(&entries[17]).unwrap();
    let forged = AuditEntry {
        event: event(&key, 99),
        ..orig
    };
    entries[17] = forged.to_bytes().unwrap();
    let f = verify(&entries, &[log.checkpoint()]).unwrap();
    assert_eq!(f, LogFault::BrokenLink { index: 18 });
    assert_eq!(f.first_bad_index(), 17);
    // A flipped bit anywhere in an entry is found too.
    let (_, mut entries) = build(50);
    entries[30][60] ^= 1;
    assert_eq!(verify(&entries, &[]).unwrap().first_bad_index(), 30);
}

#[test]
fn modified_last_entry_is_caught_by_the_checkpoint() {
    let (log, mut entries) = build(50);
    let key = AuditKey::from_bytes([9; 32]);
    let orig = AuditEntry::from_bytes(&entries[49]).unwrap();
    entries[49] = AuditEntry {
        event: event(&key, 7),
        ..orig
    }
    .to_bytes()
    .unwrap();
    let f = verify(&entries, &[cp(&entries, 40), log.checkpoint()]).unwrap();
    assert_eq!(
        f,
        LogFault::RootMismatch {
            checkpoint_size: 50,
            from: 40
        }
    );
    assert_eq!(f.first_bad_index(), 40);
}

#[test]
fn deleted_entry_is_found() {
    let (_, mut entries) = build(50);
    entries.remove(23);
    let f = verify(&entries, &[]).unwrap();
    assert_eq!(
        f,
        LogFault::SequenceMismatch {
            index: 23,
            found: 24
        }
    );
    assert_eq!(f.first_bad_index(), 23);
}

#[test]
fn reordered_entries_are_found() {
    let (_, mut entries) = build(50);
    entries.swap(10, 11);
    assert_eq!(verify(&entries, &[]).unwrap().first_bad_index(), 10);
}

#[test]
fn truncation_against_a_checkpoint_is_found() {
    let (log, mut entries) = build(50);
    entries.truncate(45);
    let f = verify(&entries, &[log.checkpoint()]).unwrap();
    assert_eq!(
        f,
        LogFault::Truncated {
            size: 45,
            checkpoint_size: 50
        }
    );
    assert_eq!(f.first_bad_index(), 45);
}

#[test]
fn a_fork_is_found() {
    // The operator signed a checkpoint at 30, then rewrote entries 20.. and
    // signed a new checkpoint at 50 over the rewritten log.
    let (_, original) = build(50);
    let old_cp = cp(&original, 30);
    let key = AuditKey::from_bytes([9; 32]);
    let mut log = AuditLog::from_entries(ORIGIN, original[..20].iter().map(Vec::as_slice)).unwrap();
    let mut forked = original[..20].to_vec();
    for i in 20..50 {
        forked.push(log.append(&event(&key, i + 1000)).unwrap().bytes);
    }
    let new_cp = log.checkpoint();
    let ten = cp(&original, 10);
    let f = verify(&forked, &[ten, old_cp.clone(), new_cp.clone()]).unwrap();
    assert_eq!(
        f,
        LogFault::Fork {
            old_size: 30,
            new_size: 50,
            from: 10
        }
    );
    // The two checkpoints alone: no consistency proof can join them.
    let mut tree = MemoryTree::new();
    forked.iter().for_each(|e| tree.push(merkle::leaf_hash(e)));
    let p = merkle::consistency_proof(&tree, 30, 50).unwrap();
    assert!(merkle::verify_consistency(30, 50, &old_cp.root, &new_cp.root, &p).is_err());
    // Two checkpoints of one size with different roots.
    let other = Checkpoint::new(ORIGIN, 30, [1; 32]).unwrap();
    assert!(matches!(
        verify(&original, &[old_cp, other]),
        Some(LogFault::Fork { .. })
    ));
}

#[test]
fn resume_from_checkpoint_and_edge_gives_the_same_log() {
    let (full, entries) = build(77);
    let (part, _) = build(40);
    let cp = part.checkpoint();
    let mut resumed =
        AuditLog::resume(ORIGIN, part.edge().clone(), Some(&entries[39]), Some(&cp)).unwrap();
    let key = AuditKey::from_bytes([9; 32]);
    for i in 40..77 {
        assert_eq!(
            resumed.append(&event(&key, i)).unwrap().bytes,
            entries[i as usize]
        );
    }
    assert_eq!(resumed.root(), full.root());
    // A wrong last entry or checkpoint is refused.
    assert!(AuditLog::resume(ORIGIN, part.edge().clone(), Some(&entries[38]), Some(&cp)).is_err());
    let wrong = Checkpoint::new(ORIGIN, 40, [0; 32]).unwrap();
    assert!(
        AuditLog::resume(
            ORIGIN,
            part.edge().clone(),
            Some(&entries[39]),
            Some(&wrong)
        )
        .is_err()
    );
}

#[test]
fn signed_checkpoints_round_trip_and_reject_tampering() {
    let mut rng = DeterministicRng::new(5);
    let (log, _) = build(10);
    let signer = NoteSigner::generate(ORIGIN, &mut rng).unwrap();
    let witness = NoteSigner::generate("witness.example/w1", &mut rng).unwrap();
    let signed = log.checkpoint().sign(&[&signer, &witness]).unwrap();
    // Several signatures; unknown keys are ignored.
    let cp = Checkpoint::open(&signed, &[signer.verifier()]).unwrap();
    assert_eq!(cp, log.checkpoint());
    let opened = note::open(&signed, &[signer.verifier(), witness.verifier()]).unwrap();
    assert_eq!(opened.verified_by.len(), 2);
    // Wrong key (same name, other key): its id differs, so it is unknown.
    let other = NoteSigner::generate(ORIGIN, &mut rng).unwrap();
    assert_eq!(
        Checkpoint::open(&signed, &[other.verifier()]).unwrap_err(),
        AuditError::UnverifiedNote
    );
    // Same name and id but another public key: the signature fails.
    let imposter = NoteVerifier::new(ORIGIN, &other.verifier().public_key()).unwrap();
    assert!(Checkpoint::open(&signed, &[imposter]).is_err());
    // Changed body.
    let changed = signed.replacen("\n10\n", "\n11\n", 1);
    assert!(matches!(
        Checkpoint::open(&changed, &[signer.verifier()]),
        Err(AuditError::BadSignature(_))
    ));
    // Malformed signature lines.
    for bad in [
        signed.replacen('\u{2014}', "-", 1),
        signed.replacen(&format!("{ORIGIN} "), ORIGIN, 1),
        format!("{signed}\u{2014} x !!!\n"),
        signed.trim_end().to_owned(),
    ] {
        assert!(Checkpoint::open(&bad, &[signer.verifier()]).is_err());
    }
    // The signer key is redacted in Debug.
    assert!(!format!("{signer:?}").contains(&*signer.to_secret_string()));
    assert!(format!("{signer:?}").contains("REDACTED"));
}

#[test]
fn checkpoint_text_is_strict() {
    let cp = Checkpoint::new(ORIGIN, 5, [7; 32]).unwrap();
    assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    for bad in [
        "o\n05\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        "o\n5\nAAAA\n",
        "o\n5\n",
        "\n5\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn outcome_and_correlation_survive_the_round_trip() {
    let key = AuditKey::from_bytes([1; 32]);
    let ev = AuditEvent::new(
        5,
        key.pseudonym(PseudonymKind::Staff, "a"),
        "finance",
        Action::Read,
        "pms",
    )
    .unwrap()
    .outcome(Outcome::Denied("no-access".into()))
    .unwrap()
    .correlation("req-1")
    .unwrap();
    let mut log = AuditLog::new(ORIGIN).unwrap();
    let bytes = log.append(&ev).unwrap().bytes;
    assert_eq!(AuditEntry::from_bytes(&bytes).unwrap().event, ev);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_proof_verifies_and_any_altered_hash_fails(
        n in 1u64..300, a in any::<u64>(), b in any::<u64>(), flip in any::<u8>(), which in any::<usize>()
    ) {
        let mut tree = MemoryTree::new();
        for i in 0..n { tree.push(merkle::leaf_hash(&i.to_be_bytes())); }
        let m = 1 + a % n;
        let i = b % n;
        let root = tree.root(n).unwrap();
        let leaf = tree.leaves()[i as usize];
        let p = merkle::inclusion_proof(&tree, i, n).unwrap();
        prop_assert!(merkle::verify_inclusion(&leaf, i, n, &p, &root).is_ok());
        let c = merkle::consistency_proof(&tree, m, n).unwrap();
        let old = tree.root(m).unwrap();
        prop_assert!(merkle::verify_consistency(m, n, &old, &root, &c).is_ok());
        let bit = 1u8 << (flip % 8);
        // Altered leaf, root or proof node: rejected.
        let mut l2 = leaf; l2[(flip as usize) % 32] ^= bit;
        prop_assert!(merkle::verify_inclusion(&l2, i, n, &p, &root).is_err());
        let mut r2 = root; r2[0] ^= bit;
        prop_assert!(merkle::verify_inclusion(&leaf, i, n, &p, &r2).is_err());
        prop_assert!(merkle::verify_consistency(m, n, &old, &r2, &c).is_err());
        let mut o2 = old; o2[31] ^= bit;
        prop_assert!(merkle::verify_consistency(m, n, &o2, &root, &c).is_err());
        if !p.is_empty() {
            let mut p2 = p.clone(); let k = which % p2.len(); p2[k][5] ^= bit;
            prop_assert!(merkle::verify_inclusion(&leaf, i, n, &p2, &root).is_err());
        }
        if !c.is_empty() {
            let mut c2 = c.clone(); let k = which % c2.len(); c2[k][9] ^= bit;
            prop_assert!(merkle::verify_consistency(m, n, &old, &root, &c2).is_err());
        }
    }
}

/// Regression: a compact range restored at the largest size refuses to grow
/// instead of overflowing.
#[test]
fn compact_range_at_the_largest_size_does_not_overflow() {
    use caduceus_core::audit::merkle::CompactRange;
    let hashes = vec![[7u8; 32]; u64::MAX.count_ones() as usize];
    let mut range = CompactRange::from_parts(u64::MAX, hashes.clone()).unwrap();
    range.push([1u8; 32]);
    assert_eq!(range.size(), u64::MAX);
    assert_eq!(range.hashes(), &hashes[..]);
}
