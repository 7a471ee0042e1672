//! Retention sweep benchmark: records evaluated per second on one core.
//!
//! Run with `cargo bench -p caduceus-core --bench retention`. Criterion
//! reports the throughput of `sweep_into` over one million records of the
//! default policy (a mix of all 14 categories, one or two rules each, 1 %
//! of subjects under a hold); the binary then prints one line
//!
//! ```text
//! retention sweep: N records/s (median of R rounds, one core)
//! ```
//!
//! against the target of at least 5,000,000 records/s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use caduceus_core::retention::{
    ActiveHolds, Anchor, Anchors, CategoryId, DEFAULT_POLICY, Date, Hold, HoldScope, Outcome,
    Policy, Record, SubjectKey,
};
use criterion::{Criterion, Throughput};

const N: usize = 1_000_000;

fn records(p: &Policy) -> Vec<Record> {
    let cats = p.categories().len() as u64;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..N as u64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let day = |k: u64| Date::from_days(7_000 + ((x >> k) % 12_000) as i32);
            let mut a = Anchors::default();
            for (j, anchor) in Anchor::ALL.iter().enumerate() {
                a.set(*anchor, Some(day(j as u64 * 7)));
            }
            Record {
                id: i,
                subject: SubjectKey(x % 100_000),
                category: CategoryId((i % cats) as u16),
                anchors: a,
            }
        })
        .collect()
}

fn main() {
    let p = Policy::parse(DEFAULT_POLICY).unwrap();
    let recs = records(&p);
    let today: Date = "2026-06-01".parse().unwrap();
    let holds: Vec<Hold> = (0..1_000u64)
        .map(|s| Hold {
            scope: HoldScope::Subject(SubjectKey(s * 100)),
            reason: "bench".into(),
            from: None,
            until: None,
        })
        .collect();
    let active = ActiveHolds::new(&holds, today);
    let mut out: Vec<Outcome> = Vec::with_capacity(N);

    let mut c = Criterion::default().configure_from_args().sample_size(20);
    let mut g = c.benchmark_group("retention");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("sweep_1M_records", |b| {
        b.iter(|| {
            out.clear();
            p.sweep_into(black_box(&recs), today, &active, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
    c.final_summary();

    // Records per second, median of rounds, printed for the report.
    let mut rates: Vec<u64> = (0..15)
        .map(|_| {
            out.clear();
            let t = Instant::now();
            p.sweep_into(black_box(&recs), today, &active, &mut out);
            black_box(out.len());
            let ns = t.elapsed().as_nanos().max(1);
            (N as u128 * 1_000_000_000 / ns) as u64
        })
        .collect();
    rates.sort_unstable();
    let due = out.iter().filter(|o| o.verdict.erases()).count();
    println!(
        "retention sweep: {} records/s (median of {} rounds, one core; min {}, max {}; {} of {} due)",
        rates[rates.len() / 2],
        rates.len(),
        rates[0],
        rates[rates.len() - 1],
        due,
        N
    );
}
