//! Eight writers at once lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use caduceus_store::{Committed, Store};
use common::{Fixture, TempDir, whole_or_absent};

#[test]
fn eight_threads_committing_concurrently_lose_nothing() {
    let dir = TempDir::new("threads");
    drop(Store::open(dir.db()).unwrap());
    const THREADS: u64 = 8;
    const EACH: u64 = 25;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = dir.db();
            std::thread::spawn(move || {
                let mut fx = Fixture::new();
                let subject = fx.subject(&format!("patient-{t}"));
                let mut store = Store::open(&db).unwrap();
                let mut stored = 0;
                for i in 0..EACH {
                    // Every fourth delivery is sent twice, by this thread.
                    let n = t * 1000 + i;
                    let d = fx.delivery(n, &subject, "chat-messages", 64);
                    if let Committed::Stored { .. } = store.commit_delivery(&d).unwrap() {
                        stored += 1;
                    }
                    if i % 4 == 0 {
                        assert_eq!(store.commit_delivery(&d).unwrap(), Committed::Duplicate);
                    }
                }
                stored
            })
        })
        .collect();
    let stored: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(stored, THREADS * EACH);
    let store = Store::open(dir.db()).unwrap();
    assert_eq!(store.record_count().unwrap(), THREADS * EACH);
    assert_eq!(store.audit_size().unwrap(), THREADS * EACH);
    assert_eq!(store.consent_events().unwrap().len() as u64, THREADS * EACH);
    for t in 0..THREADS {
        for i in 0..EACH {
            assert!(whole_or_absent(&dir.db(), t * 1000 + i));
        }
    }
    assert!(store.verify_audit(&[]).unwrap().is_ok());
}
