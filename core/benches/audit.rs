//! Audit log benchmarks: append and full verification of 200-byte entries,
//! and an inclusion proof in a 10-million-entry tree built from stored hashes.
//! `cargo bench -p caduceus-core --bench audit` (set AUDIT_BENCH_TREE to
//! change the proof tree size; default 10,000,000).
//!
//! The entries are exactly [`ENTRY_LEN`] = 200 bytes: a typical read event
//! (staff and patient pseudonyms, role, category, purpose, legal basis,
//! source) whose record id is padded to reach the size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use caduceus_core::audit::merkle::{self, MemoryTree};
use caduceus_core::audit::{
    Action, AuditEntry, AuditEvent, AuditKey, AuditLog, LogVerifier, Pseudonym, PseudonymKind,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const BATCH: u64 = 10_000;

/// The entry body as rmp-serde decodes it generically (tuples are arrays).
type GenericBody = (
    i64,
    (String, String),
    String,
    (Option<String>, Option<String>, Option<String>),
    Option<String>,
    Option<String>,
    (String, Option<String>),
    String,
    Option<String>,
);

/// The decoder this crate used before the strict reader, for comparison:
/// generic rmp-serde decode, re-encode and compare, then the builders'
/// field checks (allocating every string).
fn generic_decode(bytes: &[u8]) -> Option<AuditEvent> {
    AuditEntry::header(bytes).ok()?;
    let body = &bytes[caduceus_core::audit::ENTRY_HEADER_LEN..];
    let b: GenericBody = rmp_serde::from_slice(body).ok()?;
    if rmp_serde::to_vec(&b).ok()? != body {
        return None;
    }
    let actor = Pseudonym::parse(&b.1.0).ok()?;
    let mut ev = AuditEvent::new(b.0, actor, &b.1.1, Action::from_code(&b.2)?, &b.7).ok()?;
    if let Some(s) = b.3.0 {
        ev = ev.subject(Pseudonym::parse(&s).ok()?);
    }
    if let Some(c) = b.3.1 {
        ev = ev.category(&c).ok()?;
    }
    if let Some(r) = b.3.2 {
        ev = ev.record(&r).ok()?;
    }
    if let Some(p) = b.4 {
        ev = ev.purpose(&p).ok()?;
    }
    if let Some(l) = b.5 {
        ev = ev.legal_basis(&l).ok()?;
    }
    if let Some(c) = b.8 {
        ev = ev.correlation(&c).ok()?;
    }
    Some(ev)
}

/// Size of every benchmarked entry in bytes.
const ENTRY_LEN: usize = 200;

fn event_with_record(key: &AuditKey, record: &str) -> AuditEvent {
    AuditEvent::new(
        1_763_800_000_000,
        key.pseudonym(PseudonymKind::Staff, "dr.mueller"),
        "doctor",
        Action::Read,
        "pms",
    )
    .unwrap()
    .subject(key.pseudonym(PseudonymKind::Subject, "patient-4711"))
    .category("clinical-photos")
    .unwrap()
    .record(record)
    .unwrap()
    .purpose("treatment")
    .unwrap()
    .legal_basis("gdpr-9-2-h")
    .unwrap()
}

/// The event, its record id padded so that the entry is `ENTRY_LEN` bytes.
fn event(key: &AuditKey) -> AuditEvent {
    let size = |ev: &AuditEvent| {
        let mut log = AuditLog::new("praxis.example/audit").unwrap();
        log.append(ev).unwrap().bytes.len()
    };
    let base = size(&event_with_record(key, "e"));
    assert!(base <= ENTRY_LEN, "base entry is {base} bytes");
    let mut record = "e".to_owned();
    while size(&event_with_record(key, &record)) < ENTRY_LEN {
        record.push('0');
    }
    let ev = event_with_record(key, &record);
    assert_eq!(size(&ev), ENTRY_LEN, "cannot pad to {ENTRY_LEN} bytes");
    ev
}

fn bench(c: &mut Criterion) {
    let key = AuditKey::from_bytes([1; 32]);
    let ev = event(&key);
    let mut log = AuditLog::new("praxis.example/audit").unwrap();
    let entries: Vec<Vec<u8>> = (0..BATCH).map(|_| log.append(&ev).unwrap().bytes).collect();
    assert!(entries.iter().all(|e| e.len() == ENTRY_LEN));
    eprintln!("entry size: {} bytes", entries[0].len());

    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("append 10k entries", |b| {
        b.iter(|| {
            let mut log = AuditLog::new("praxis.example/audit").unwrap();
            for _ in 0..BATCH {
                black_box(log.append(&ev).unwrap());
            }
        })
    });
    g.bench_function("verify 10k entries (full decode)", |b| {
        b.iter(|| {
            let mut v = LogVerifier::new(&[]);
            for e in &entries {
                v.push(e).unwrap();
            }
            black_box(v.finish())
        })
    });
    g.bench_function("decode 10k entries to AuditEntry", |b| {
        b.iter(|| {
            for e in &entries {
                black_box(AuditEntry::from_bytes(e).unwrap());
            }
        })
    });
    assert!(entries.iter().all(|e| generic_decode(e).is_some()));
    g.bench_function(
        "verify 10k entries (old generic decode, for comparison)",
        |b| {
            b.iter(|| {
                let mut v = LogVerifier::new(&[]).headers_only();
                for e in &entries {
                    black_box(generic_decode(e).unwrap());
                    v.push(e).unwrap();
                }
                black_box(v.finish())
            })
        },
    );
    g.bench_function("verify 10k entries (headers, links, tree)", |b| {
        b.iter(|| {
            let mut v = LogVerifier::new(&[]).headers_only();
            for e in &entries {
                v.push(e).unwrap();
            }
            black_box(v.finish())
        })
    });
    g.finish();

    let n: u64 = std::env::var("AUDIT_BENCH_TREE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mut tree = MemoryTree::new();
    for i in 0..n {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let root = tree.root(n).unwrap();
    let mut g = c.benchmark_group("audit-proof");
    g.bench_function(format!("inclusion proof, tree of {n}"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7_919_993) % n;
            black_box(merkle::inclusion_proof(&tree, i, n).unwrap())
        })
    });
    let p = merkle::inclusion_proof(&tree, n / 3, n).unwrap();
    merkle::verify_inclusion(&tree.leaves()[(n / 3) as usize], n / 3, n, &p, &root).unwrap();
    g.bench_function(format!("consistency proof, tree of {n}"), |b| {
        b.iter(|| black_box(merkle::consistency_proof(&tree, n / 3 + 1, n).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
