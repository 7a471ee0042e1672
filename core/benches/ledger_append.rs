//! Saving one consent event to the ledger file: the bytes a host appends
//! (`Ledger::append` + `Ledger::unsaved` + `Ledger::mark_saved`), for the
//! 10th and the 1,000,000th event, side by side with the anchor, the cost of
//! the whole-file rewrite that ledger version 1 needed for every event
//! (`Ledger::to_bytes`).
//!
//! Run with `cargo bench -p caduceus-core --bench ledger_append`. Without
//! `--bench` (e.g. `cargo test --benches`) it runs a small smoke version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use caduceus_core::consent::{
    ConsentEvent, ConsentMethod, ConsentPolicy, ConsentStatus, Ledger, NoticeRef,
};

const T0: i64 = 1_763_800_000;

/// A subject id of letters only (a restricted identifier).
fn subject(mut i: usize) -> String {
    let mut s = String::from("p-");
    loop {
        s.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

fn event(i: usize, notice: &NoticeRef) -> ConsentEvent {
    ConsentEvent {
        id: format!("evt-{i:x}"),
        subject: subject(i),
        purposes: vec!["treatment-communication".to_owned(), "recall".to_owned()],
        status: ConsentStatus::Given,
        method: ConsentMethod::QrReception,
        notice: Some(notice.clone()),
        channel: "reception-qr".into(),
        evidence: Some(format!("form-{i}")),
        recorded_by: "staff-1".into(),
        time: T0 + i as i64,
        expires_at: None,
    }
}

/// A saved ledger of `n` events.
fn build(n: usize) -> (Ledger, NoticeRef) {
    let mut l = Ledger::new(ConsentPolicy::default()).unwrap();
    let notice = l
        .register_notice("privacy-chat", 1, "de", "Datenschutzhinweis ...", T0, T0)
        .unwrap();
    for i in 0..n {
        l.append(event(i, &notice), T0 + i as i64).unwrap();
    }
    let save = l.unsaved();
    l.mark_saved(&save).unwrap();
    (l, notice)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Nanoseconds per saved event, median of `rounds` rounds of `per` events,
/// appended after the ledger's `n` events; and the bytes appended per event.
fn append_cost(
    l: &mut Ledger,
    notice: &NoticeRef,
    n: usize,
    rounds: usize,
    per: usize,
) -> (f64, usize) {
    let mut next = n;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per {
            l.append(event(next, notice), T0 + next as i64).unwrap();
            let save = l.unsaved();
            assert!(save.is_append());
            bytes = save.bytes().len();
            black_box(save.bytes());
            l.mark_saved(&save).unwrap();
            next += 1;
        }
        times.push(start.elapsed().as_nanos() as f64 / per as f64);
    }
    (median(times), bytes)
}

/// Nanoseconds per whole-file encoding (the version-1 cost per event).
fn rewrite_cost(l: &Ledger, rounds: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut len = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let b = l.to_bytes().expect("a whole ledger");
        times.push(start.elapsed().as_nanos() as f64);
        len = b.len();
        black_box(b);
    }
    (median(times), len)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let big = if full { 1_000_000 } else { 10_000 };
    let (rounds, per) = if full { (15, 2_000) } else { (3, 100) };
    println!("ledger_append: saving one consent event (median of {rounds} rounds of {per})");
    let mut rows = Vec::new();
    for n in [10usize, big] {
        let (mut l, notice) = build(n);
        let (rewrite, file_len) = rewrite_cost(&l, if full { 9 } else { 3 });
        let (append, appended) = append_cost(&mut l, &notice, n, rounds, per);
        println!(
            "  event {:>9}: append {:>9.0} ns ({appended} bytes)   rewrite (v1, anchor) {:>13.0} ns ({file_len} bytes)   rewrite/append {:>9.1}x",
            n + 1,
            append,
            rewrite,
            rewrite / append
        );
        rows.push((append, rewrite));
    }
    let (a10, r10) = rows[0];
    let (abig, rbig) = rows[1];
    println!(
        "  growth from event 11 to event {}: append {:.2}x, rewrite {:.0}x",
        big + 1,
        abig / a10,
        rbig / r10
    );
}
