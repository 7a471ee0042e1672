//! Retention sweep, Art. 17 erasure and legal holds on the store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use caduceus_core::audit::{Action, AuditEntry};
use caduceus_core::retention::{Anchor, DEFAULT_POLICY, Date, Policy};
use caduceus_store::{HoldTarget, Store, StoreError};
use common::{Fixture, T0, TempDir, counts, record_id};

const YEAR: i64 = 365 * 24 * 3600;

fn audit_actions(store: &Store) -> Vec<(Action, Option<String>)> {
    let n = store.audit_size().unwrap();
    store
        .audit_entries(0, n)
        .unwrap()
        .iter()
        .map(|b| {
            let e = AuditEntry::from_bytes(b).unwrap().event;
            (e.action(), e.record_id().map(str::to_owned))
        })
        .collect()
}

#[test]
fn the_sweep_deletes_due_records_only_and_not_held_ones() {
    let dir = TempDir::new("sweep");
    let mut fx = Fixture::new();
    let policy = Policy::parse(DEFAULT_POLICY).unwrap();
    let a = fx.subject("patient-a");
    let b = fx.subject("patient-b");
    let mut store = Store::open(dir.db()).unwrap();
    // Chat messages: 3 years from creation (shred-key). Delivery 1 and 2
    // are from T0, delivery 3 is one year younger.
    store
        .commit_delivery(&fx.delivery(1, &a, "chat-messages", 10))
        .unwrap();
    store
        .commit_delivery(&fx.delivery(2, &b, "chat-messages", 10))
        .unwrap();
    let mut young = fx.delivery(3, &a, "chat-messages", 10);
    young.record.as_mut().unwrap().labels.created_at = T0 + YEAR;
    store.commit_delivery(&young).unwrap();
    // A clinical photo (over the media threshold): 10 years after the end
    // of treatment; without that anchor it is never due.
    store
        .commit_delivery(&fx.delivery(4, &a, "clinical-photos", 70_000))
        .unwrap();
    // A photo whose treatment ended: due 10 years after the end of 2014.
    store
        .commit_delivery(&fx.delivery(5, &b, "clinical-photos", 70_000))
        .unwrap();
    store
        .set_anchor(
            &record_id(5),
            Anchor::EndOfTreatment,
            "2014-06-30".parse().unwrap(),
        )
        .unwrap();
    let hold = store
        .add_hold(
            &HoldTarget::Subject(b.as_str().to_owned()),
            "case-2028-4",
            None,
            None,
        )
        .unwrap();
    let audit_before = store.audit_size().unwrap();
    let actor = fx.actor("retention-service");

    // Three years and a bit later: delivery 1 is due; 2 is due but held
    // (its subject), 3 not yet due, 4 lacks an anchor, 5 is held.
    let later = T0 + 3 * YEAR + 30 * 24 * 3600;
    let s = store.sweep(later, &policy, &actor).unwrap();
    assert_eq!(s.deleted, vec![record_id(1)]);
    assert_eq!(s.held, 2);
    assert_eq!(s.kept, 1);
    assert_eq!(s.unresolved, 1);
    assert!(store.record(&record_id(1)).unwrap().is_none());
    for n in 2..=5 {
        assert!(store.record(&record_id(n)).unwrap().is_some(), "record {n}");
    }
    let actions = audit_actions(&store);
    assert_eq!(actions.len() as u64, audit_before + 1);
    assert_eq!(
        actions.last().unwrap(),
        &(Action::Delete, Some(record_id(1)))
    );

    // The hold is lifted: the next sweep deletes 2 and the photo 5 (and its
    // media file), keeps 3 and 4.
    store
        .lift_hold(hold, Date::from_unix_berlin(later))
        .unwrap();
    let s = store.sweep(later + 24 * 3600, &policy, &actor).unwrap();
    assert_eq!(s.deleted, vec![record_id(2), record_id(5)]);
    assert_eq!(store.record_count().unwrap(), 2);
    assert_eq!(std::fs::read_dir(store.media_dir()).unwrap().count(), 1);
    assert!(store.open_record(&record_id(4), &fx.doctor).is_ok());
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    // Sweeping again deletes nothing and writes no audit entry.
    let size = store.audit_size().unwrap();
    assert!(
        store
            .sweep(later + 2 * 24 * 3600, &policy, &actor)
            .unwrap()
            .deleted
            .is_empty()
    );
    assert_eq!(store.audit_size().unwrap(), size);
}

#[test]
fn erasure_shreds_keyring_records_and_then_open_record_fails_key_shredded() {
    let dir = TempDir::new("erase");
    let mut fx = Fixture::new();
    let a = fx.subject("patient-a");
    let b = fx.subject("patient-b");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &a, "chat-messages", 10))
        .unwrap();
    store
        .commit_delivery(&fx.delivery(2, &a, "clinical-photos", 10))
        .unwrap();
    store
        .commit_delivery(&fx.delivery(3, &b, "chat-messages", 10))
        .unwrap();
    let actor = fx.actor("dpo");
    let s = store
        .erase_subject(a.as_str(), &[], T0 + 50, &actor)
        .unwrap();
    assert_eq!(
        s.shredded,
        vec!["chat-messages".to_owned(), "clinical-photos".to_owned()]
    );
    for n in [1, 2] {
        assert!(matches!(
            store.open_record(&record_id(n), &fx.doctor),
            Err(StoreError::KeyShredded)
        ));
    }
    assert!(store.open_record(&record_id(3), &fx.doctor).is_ok());
    let k = store.keyring(a.as_str(), "chat-messages").unwrap().unwrap();
    assert!(matches!(
        k.state(),
        caduceus_core::keys::KeyringState::Shredded { at } if at == T0 + 50
    ));
    let actions: Vec<Action> = audit_actions(&store).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        &actions[3..],
        &[Action::Shred, Action::Shred, Action::ErasureCompleted]
    );
    // Again: nothing left to shred, no audit entry.
    let again = store
        .erase_subject(a.as_str(), &[], T0 + 60, &actor)
        .unwrap();
    assert!(again.shredded.is_empty());
    assert_eq!(again.already_shredded.len(), 2);
    assert_eq!(store.audit_size().unwrap(), 6);
    // A shredded keyring record cannot be changed back, even in SQL.
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    assert!(raw.execute("UPDATE keyrings SET shredded = 0", []).is_err());
}

#[test]
fn a_legal_hold_blocks_erasure_whole() {
    let dir = TempDir::new("hold");
    let mut fx = Fixture::new();
    let a = fx.subject("patient-a");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .commit_delivery(&fx.delivery(1, &a, "chat-messages", 10))
        .unwrap();
    store
        .commit_delivery(&fx.delivery(2, &a, "clinical-photos", 10))
        .unwrap();
    let actor = fx.actor("dpo");
    let hold = store
        .add_hold(&HoldTarget::Record(record_id(2)), "case-2026-9", None, None)
        .unwrap();
    let before = counts(&dir.db());
    match store.erase_subject(a.as_str(), &[], T0 + 50, &actor) {
        Err(StoreError::LegalHold { hold: h }) => assert_eq!(h, hold),
        other => panic!("expected LegalHold, got {other:?}"),
    }
    assert_eq!(counts(&dir.db()), before);
    // Chat messages only: not covered by the record hold.
    let s = store
        .erase_subject(a.as_str(), &["chat-messages"], T0 + 50, &actor)
        .unwrap();
    assert_eq!(s.shredded, vec!["chat-messages".to_owned()]);
    assert!(store.open_record(&record_id(2), &fx.doctor).is_ok());
    // A hold that starts later does not block today.
    let b = fx.subject("patient-b");
    store
        .commit_delivery(&fx.delivery(3, &b, "chat-messages", 10))
        .unwrap();
    store
        .add_hold(
            &HoldTarget::Category("chat-messages".into()),
            "audit-2030",
            Some("2030-01-01".parse().unwrap()),
            None,
        )
        .unwrap();
    assert!(
        store
            .erase_subject(b.as_str(), &[], T0 + 60, &actor)
            .is_ok()
    );
    assert!(matches!(
        store.add_hold(
            &HoldTarget::Subject(b.as_str().into()),
            "Herr Müller, Diabetes",
            None,
            None
        ),
        Err(StoreError::InvalidLabel(_))
    ));
    assert_eq!(store.holds().unwrap().len(), 2);
}
