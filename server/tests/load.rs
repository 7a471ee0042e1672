//! Load: 2,000 signed deliveries from 16 concurrent clients, a quarter of
//! them redeliveries and all in shuffled order. Afterwards every unique
//! message is stored exactly once, the audit log verifies and has exactly
//! one `create` entry per stored message, and no request failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use caduceus_core::audit::{Action, AuditEntry};
use caduceus_server::demo::text_body;
use common::{Practice, now};

const PATIENTS: u32 = 50;
const UNIQUE: usize = 1_500;
const DUPLICATES: usize = 500;
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_deliveries_from_sixteen_clients_are_stored_exactly_once() {
    let mut p = Practice::start("load").await;
    let mut patients = Vec::new();
    for n in 0..PATIENTS {
        patients.push(p.consented(100 + n).await);
    }
    let store = p.store();
    let audit_before = store.audit_size().unwrap();
    assert_eq!(store.record_count().unwrap(), 0);

    // 1,500 messages, 500 of them sent twice, in a shuffled order (a fixed
    // LCG, so a failure can be replayed).
    let t = now() - 300;
    let mut bodies: Vec<(usize, Vec<u8>)> = (0..UNIQUE)
        .map(|i| {
            let who = &patients[i % patients.len()];
            let text = format!("Nachricht {i} an die Praxis");
            (
                i,
                text_body(
                    who,
                    &format!("wamid.load-{i:05}"),
                    t + (i % 200) as i64,
                    &text,
                ),
            )
        })
        .collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    for _ in 0..DUPLICATES {
        let k = next() % UNIQUE;
        let copy = bodies[k].clone();
        bodies.push(copy);
    }
    for i in (1..bodies.len()).rev() {
        bodies.swap(i, next() % (i + 1));
    }
    assert_eq!(bodies.len(), 2_000);

    let queue = Arc::new(Mutex::new(bodies.into_iter().collect::<VecDeque<_>>()));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, client) = (queue.clone(), p.client.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = BTreeMap::<u16, usize>::new();
            loop {
                let Some((_, body)) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let st = client
                    .post_signed(&body, caduceus_server::demo::APP_SECRET.as_bytes())
                    .await;
                *statuses.entry(st).or_default() += 1;
            }
            statuses
        }));
    }
    let mut statuses = BTreeMap::<u16, usize>::new();
    for t in tasks {
        for (k, v) in t.await.unwrap() {
            *statuses.entry(k).or_default() += v;
        }
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(200, 2_000)]),
        "every request got 200"
    );

    // Every unique message once: per patient, as many records as messages.
    assert_eq!(store.record_count().unwrap(), UNIQUE as u64);
    let ids = store.record_ids().unwrap();
    let mut per_subject = BTreeMap::<String, usize>::new();
    for id in &ids {
        let r = store.record(id).unwrap().unwrap();
        *per_subject.entry(r.labels.subject).or_default() += 1;
    }
    assert_eq!(per_subject.len(), PATIENTS as usize);
    assert!(
        per_subject
            .values()
            .all(|n| *n == UNIQUE / PATIENTS as usize)
    );

    // The audit log verifies; exactly one create entry per stored record
    // and nothing else was added by the load.
    assert!(store.verify_audit(&[]).unwrap().is_ok());
    let size = store.audit_size().unwrap();
    let entries = store.audit_entries(audit_before, size).unwrap();
    let mut created = BTreeSet::new();
    for e in &entries {
        let e = AuditEntry::from_bytes(e).unwrap();
        assert_eq!(e.event.action(), Action::Create);
        assert!(
            created.insert(e.event.record_id().unwrap().to_owned()),
            "one entry per record"
        );
    }
    assert_eq!(created, ids.iter().cloned().collect::<BTreeSet<_>>());
    p.stop().await;
}
