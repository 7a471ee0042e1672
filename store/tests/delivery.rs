//! One delivery is one transaction: whole, duplicate, injected failure,
//! conflicts, media files, opening, append-only rows, audit proofs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use caduceus_core::audit::merkle;
use caduceus_core::envelope::Labels;
use caduceus_core::whatsapp::SealedRecord;
use caduceus_store::{Committed, Store, StoreError, StoreOptions};
use common::{Fixture, T0, TempDir, counts, record_id, whole_or_absent};

#[test]
fn a_delivery_commits_whole() {
    let dir = TempDir::new("whole");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    let d = fx.delivery(7, &subject, "chat-messages", 100);
    let r = store.commit_delivery(&d).unwrap();
    assert_eq!(
        r,
        Committed::Stored {
            audit_indexes: vec![0],
            deletion_held: false
        }
    );
    assert!(whole_or_absent(&dir.db(), 7));
    assert!(store.seen(&common::dedupe(7)).unwrap());
    let rec = store.record(&record_id(7)).unwrap().unwrap();
    assert_eq!(rec.labels, d.record.as_ref().unwrap().labels);
    assert!(!rec.is_media_file);
    assert_eq!(store.consent_events().unwrap(), d.consent_events);
    assert_eq!(
        store
            .outbound_state()
            .unwrap()
            .last_inbound(subject.as_str()),
        Some(T0 + 7)
    );
    assert_eq!(store.keyrings().unwrap().len(), 1);
    assert!(store.verify_audit(&[]).unwrap().is_ok());
}

#[test]
fn a_duplicate_delivery_writes_nothing() {
    let dir = TempDir::new("dup");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    let d = fx.delivery(1, &subject, "chat-messages", 10);
    store.commit_delivery(&d).unwrap();
    let before = counts(&dir.db());
    // The redelivery carries the same dedupe key (its record was sealed
    // anew, with other bytes).
    let again = fx.delivery(1, &subject, "chat-messages", 10);
    assert_ne!(again.record, d.record);
    assert_eq!(store.commit_delivery(&again).unwrap(), Committed::Duplicate);
    assert_eq!(counts(&dir.db()), before);
}

#[test]
fn an_injected_failure_in_the_middle_leaves_the_database_unchanged() {
    let dir = TempDir::new("inject");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 10))
        .unwrap();
    // A trigger that fails the second audit append: the delivery's
    // keyring, envelope, consent event and window are written by then.
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER inject BEFORE INSERT ON audit_entries WHEN NEW.seq = 1
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let before = counts(&dir.db());
    let other = fx.subject("patient-b");
    let r = store.commit_delivery(&fx.delivery(2, &other, "chat-messages", 10));
    assert!(matches!(r, Err(StoreError::Sqlite(_))), "{r:?}");
    assert_eq!(counts(&dir.db()), before);
    assert!(!whole_or_absent(&dir.db(), 2));
    assert!(
        store
            .keyring(other.as_str(), "chat-messages")
            .unwrap()
            .is_none()
    );
    raw.execute_batch("DROP TRIGGER inject").unwrap();
    store
        .commit_delivery(&fx.delivery(2, &other, "chat-messages", 10))
        .unwrap();
    assert!(whole_or_absent(&dir.db(), 2));
    assert!(store.verify_audit(&[]).unwrap().is_ok());
}

#[test]
fn another_keyring_record_for_the_same_subject_and_category_is_refused() {
    let dir = TempDir::new("conflict");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 10))
        .unwrap();
    let before = counts(&dir.db());
    // A second intake decided the first contact too, with its own key.
    let mut other = Fixture::new();
    let mut d = other.delivery(2, &subject, "chat-messages", 10);
    d.audit_events.clear();
    assert!(matches!(
        store.commit_delivery(&d),
        Err(StoreError::KeyringConflict)
    ));
    assert_eq!(counts(&dir.db()), before);
}

#[test]
fn open_record_round_trips_with_a_staff_key_and_refuses_others() {
    let dir = TempDir::new("open");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(3, &subject, "chat-messages", 500))
        .unwrap();
    let opened = store.open_record(&record_id(3), &fx.doctor).unwrap();
    assert_eq!(opened.plaintext, common::plaintext(3, 500));
    assert_eq!(opened.header.labels.subject, subject.as_str());
    let by_practice = store.open_record(&record_id(3), &fx.practice).unwrap();
    assert_eq!(by_practice.plaintext, opened.plaintext);
    assert!(matches!(
        store.open_record(&record_id(3), &fx.finance),
        Err(StoreError::NoAccess)
    ));
    assert!(matches!(
        store.open_record(&record_id(4), &fx.doctor),
        Err(StoreError::RecordNotFound)
    ));
}

#[test]
fn large_envelopes_are_content_addressed_files_and_orphans_are_swept_on_open() {
    let dir = TempDir::new("media");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    let d = fx.delivery(5, &subject, "clinical-photos", 100_000);
    store.commit_delivery(&d).unwrap();
    let rec = store.record(&record_id(5)).unwrap().unwrap();
    assert!(rec.is_media_file);
    let envelope = &d.record.as_ref().unwrap().envelope;
    assert_eq!(rec.size, envelope.len() as u64);
    let files: Vec<_> = std::fs::read_dir(store.media_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1);
    let name = &files[0];
    assert_eq!(
        &std::fs::read(store.media_dir().join(name)).unwrap(),
        envelope
    );
    assert_eq!(
        store
            .open_record(&record_id(5), &fx.doctor)
            .unwrap()
            .plaintext,
        common::plaintext(5, 100_000)
    );
    // A crash between writing a file and committing its row leaves an
    // orphan and a temporary file: both go on the next open.
    let media = store.media_dir().to_path_buf();
    drop(store);
    std::fs::write(media.join("ab".repeat(32)), b"orphan").unwrap();
    std::fs::write(media.join(format!("{}.tmp-0011", "cd".repeat(32))), b"half").unwrap();
    let store = Store::open(dir.db()).unwrap();
    let mut left: Vec<_> = std::fs::read_dir(&media)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(&left, &files);
    // A damaged file is detected, not opened.
    std::fs::write(media.join(name), b"damaged").unwrap();
    assert!(matches!(
        store.open_record(&record_id(5), &fx.doctor),
        Err(StoreError::MediaDamaged)
    ));
}

#[test]
fn a_lower_media_threshold_moves_small_envelopes_to_files() {
    let dir = TempDir::new("threshold");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let opts = StoreOptions {
        media_threshold: 16,
        ..Default::default()
    };
    let mut store = Store::open_with(dir.db(), opts).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 40))
        .unwrap();
    assert!(store.record(&record_id(1)).unwrap().unwrap().is_media_file);
}

#[test]
fn append_only_triggers_refuse_update_and_delete_of_consent_and_audit_rows() {
    let dir = TempDir::new("append");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 10))
        .unwrap();
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    for sql in [
        "UPDATE consent_events SET time = 0",
        "DELETE FROM consent_events",
        "UPDATE audit_entries SET bytes = x'00'",
        "DELETE FROM audit_entries",
        "UPDATE audit_nodes SET hash = zeroblob(32)",
        "DELETE FROM audit_nodes",
        "DELETE FROM keyrings",
        "INSERT INTO audit_entries (seq, bytes, leaf_hash) VALUES (7, x'00', zeroblob(32))",
    ] {
        let e = raw.execute(sql, []).unwrap_err().to_string();
        assert!(
            e.contains("append-only")
                || e.contains("never deleted")
                || e.contains("sequence order"),
            "{sql}: {e}"
        );
    }
    let before = counts(&dir.db());
    assert!(before.iter().all(|(t, n)| {
        !matches!(t.as_str(), "consent_events" | "audit_entries" | "keyrings") || *n == 1
    }));
}

#[test]
fn checkpoints_and_inclusion_proofs_come_from_the_stored_hashes() {
    let dir = TempDir::new("proofs");
    let mut fx = Fixture::new();
    let mut store = Store::open(dir.db()).unwrap();
    for n in 0..13 {
        let s = fx.subject(&format!("patient-{}", n % 3));
        store
            .commit_delivery(&fx.delivery(n, &s, "chat-messages", 10))
            .unwrap();
    }
    let cp = store.audit_checkpoint().unwrap();
    assert_eq!(cp.size, 13);
    let entries = store.audit_entries(0, 13).unwrap();
    let rebuilt =
        caduceus_core::audit::AuditLog::from_entries(&cp.origin, entries.iter().map(Vec::as_slice))
            .unwrap();
    assert_eq!(rebuilt.root(), cp.root);
    for i in [0u64, 5, 12] {
        let proof = store.inclusion_proof(i, 13).unwrap();
        let leaf = merkle::leaf_hash(&entries[i as usize]);
        merkle::verify_inclusion(&leaf, i, 13, &proof, &cp.root).unwrap();
    }
    let old = {
        let edge = caduceus_core::audit::AuditLog::from_entries(
            &cp.origin,
            entries[..6].iter().map(Vec::as_slice),
        )
        .unwrap();
        edge.root()
    };
    let proof = store.consistency_proof(6, 13).unwrap();
    merkle::verify_consistency(6, 13, &old, &cp.root, &proof).unwrap();
    // Signed, kept, and verified against.
    let signer =
        caduceus_core::audit::note::NoteSigner::generate(&cp.origin, &mut common::rng()).unwrap();
    let signed = cp.sign(&[&signer]).unwrap();
    let opened = caduceus_core::audit::Checkpoint::open(&signed, &[signer.verifier()]).unwrap();
    store.save_checkpoint(&opened, &signed).unwrap();
    assert_eq!(store.checkpoints().unwrap(), vec![signed]);
    let report = store.verify_audit(&[opened]).unwrap();
    assert!(report.is_ok());
    assert_eq!(report.checkpoints_matched, 1);
}

#[test]
fn a_deleted_message_is_removed_unless_held() {
    let dir = TempDir::new("delete");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "clinical-photos", 70_000))
        .unwrap();
    store
        .commit_delivery(&fx.delivery(2, &subject, "chat-messages", 10))
        .unwrap();
    store
        .add_hold(
            &caduceus_store::HoldTarget::Record(record_id(2)),
            "case-2025-17",
            None,
            None,
        )
        .unwrap();
    let mut del = caduceus_store::Delivery::new(T0 + 100);
    del.dedupe_key = Some(common::dedupe(100));
    del.delete_record = Some(record_id(1));
    assert!(matches!(
        store.commit_delivery(&del).unwrap(),
        Committed::Stored {
            deletion_held: false,
            ..
        }
    ));
    assert!(store.record(&record_id(1)).unwrap().is_none());
    assert_eq!(std::fs::read_dir(store.media_dir()).unwrap().count(), 0);
    let mut del = caduceus_store::Delivery::new(T0 + 101);
    del.dedupe_key = Some(common::dedupe(101));
    del.delete_record = Some(record_id(2));
    assert!(matches!(
        store.commit_delivery(&del).unwrap(),
        Committed::Stored {
            deletion_held: true,
            ..
        }
    ));
    assert!(store.record(&record_id(2)).unwrap().is_some());
}

#[test]
fn a_record_id_stored_under_another_dedupe_key_is_refused() {
    let dir = TempDir::new("exists");
    let mut fx = Fixture::new();
    let subject = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &subject, "chat-messages", 10))
        .unwrap();
    let mut d = fx.delivery(2, &subject, "chat-messages", 10);
    let labels: Labels = d.record.as_ref().unwrap().labels.clone();
    d.record = Some(SealedRecord {
        record_id: record_id(1),
        envelope: d.record.as_ref().unwrap().envelope.clone(),
        labels,
        replaces: None,
    });
    let before = counts(&dir.db());
    assert!(matches!(
        store.commit_delivery(&d),
        Err(StoreError::RecordExists)
    ));
    assert_eq!(counts(&dir.db()), before);
}
